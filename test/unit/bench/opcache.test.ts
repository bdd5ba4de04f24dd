import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOpcacheBench, writeAutoloadFunction, type OpcacheBenchResult } from '../../../bench/opcache-bench.js';

describe('the OPcache bench', () => {
  it("writes a handler that autoloads n classes and includes the views, which the host's php runs", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-opcache-fn-'));
    try {
      await writeAutoloadFunction(dir, 25, true, 3);
      expect((await readdir(path.join(dir, 'classes'))).length).toBe(25);
      expect((await readdir(path.join(dir, 'views'))).sort()).toEqual(['v1.php', 'v2.php', 'v3.php']);
      expect(await readdir(path.join(dir, 'php', 'conf.d'))).toEqual(['99-bench.ini']);
      const out = execFileSync('php', ['-r', `$h = require '${dir}/handler.php'; $r = $h([]); $r['bytes'] = $r['bytes'] > 3000; echo json_encode($r), ' ', count(array_filter(get_declared_classes(), function ($c) { return strpos($c, 'Bench\\\\') === 0; }));`]).toString();
      expect(out).toMatch(/^\{"sum":325,"bytes":true,"opcache":(true|false)\} 25$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports each configuration and the on/off ratios; warm on must not be slower', () => {
    const warm = (p50Ms: number) => ({ p50Ms, p90Ms: p50Ms, p99Ms: p50Ms, meanMs: p50Ms, minMs: p50Ms, maxMs: p50Ms });
    const r = {
      layer: 'l.zip', image: 'i', classes: 300, views: 20, coldStarts: 9, invocations: 200,
      configs: [
        { config: 'on', initMs: 7, firstInvokeMs: 12, warm: warm(0.5), opcacheEnabled: true },
        { config: 'off', initMs: 7.7, firstInvokeMs: 20, warm: warm(0.4), opcacheEnabled: false },
      ],
    } as unknown as OpcacheBenchResult;
    const rows = formatOpcacheBench(r);
    expect(rows.map((x) => [x.measure, x.result])).toEqual([
      ['opcache on: init / first invoke (300 classes autoloaded) / warm p50 (20 views included)', '7.00 ms / 12.00 ms / 0.500 ms'],
      ['opcache off (inactive): init / first invoke (300 classes autoloaded) / warm p50 (20 views included)', '7.70 ms / 20.00 ms / 0.400 ms'],
      ['opcache on / off: init', '0.909'],
      ['opcache on / off: first invoke (autoload)', '0.600'],
      ['opcache on / off: warm p50 (20 views included per invocation)', '1.250'],
    ]);
    expect(rows.at(-1)!.met).toBe(false);
  });
});
