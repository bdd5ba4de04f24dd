/**
 * What OPcache does for a function on the BUILT layer: `/opt/bootstrap` in the platform's runtime
 * image against the local Runtime API emulator (as `npm run invoke`), with a handler that autoloads
 * `classes` generated classes (a PSR-4-style autoloader, one file per class) on each invocation and
 * renders a page from `views` PHP templates that it `include`s on every invocation (as compiled
 * Blade or plain PHP views are: the case where a long-lived process compiles the same file again
 * and again without OPcache):
 *
 *   npx tsx bench/opcache-bench.ts [--layer dist/php-7.4.33-debian-bookworm-x86_64.zip] [--json]
 *
 * Two configurations, the same container image and function, interleaved:
 *   on   the layer's own ini (OPcache loaded, enable_cli=1, validate_timestamps=0)
 *   off  the same, plus the function's php/conf.d/99-bench.ini: opcache.enable_cli=0
 *        (the runtime's scan dir includes /var/task/php/conf.d)
 * Measured per configuration: init (process start -> first /next, median over the cold starts),
 * the first invocation after each cold start (it autoloads and compiles every class: median),
 * and warm round trips (p50/p90 over `invocations`; the classes are loaded by then, the views are
 * included again each time).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DockerodeEngine } from '../src/docker/engine.js';
import type { RuntimeApiServer } from '../src/emulator/index.js';
import { type Sandbox, chooseRuntimeImage, packFunction, packLayer, readLayerManifest } from '../src/invoke/index.js';
import { paths } from '../src/paths.js';
import { PlatformRegistry } from '../src/platforms/registry.js';
import { runIfMain } from './cli.js';
import { createBenchSubject } from './sandbox.js';
import { DEFAULT_LAYER } from './invoke-layer-bench.js';
import { percentile, stats, type LatencyStats } from './invoke-bench.js';

export type OpcacheConfig = 'on' | 'off';

export interface OpcacheBenchResult {
  layer: string;
  image: string;
  classes: number;
  views: number;
  coldStarts: number;
  invocations: number;
  configs: { config: OpcacheConfig; initMs: number; firstInvokeMs: number; warm: LatencyStats; opcacheEnabled: boolean }[];
}

/** A view template: a table of the rows it is given, with a few conditionals, like a compiled Blade view. */
function viewTemplate(v: number): string {
  const cells = Array.from({ length: 12 }, (_, k) => `        <td class="c${k}"><?= htmlspecialchars((string) ($row[${k % 3}] ?? ''), ENT_QUOTES) ?><?php if ($i % ${k + 2} === 0): ?> *<?php endif; ?></td>`).join('\n');
  return `<section id="v${v}">\n<h2><?= htmlspecialchars($title, ENT_QUOTES) ?> ${v}</h2>\n<table>\n<?php foreach ($rows as $i => $row): ?>\n    <tr>\n${cells}\n    </tr>\n<?php endforeach; ?>\n</table>\n</section>\n`;
}

/**
 * A function whose handler autoloads `n` classes (each with a few methods, so there is something to
 * compile) and includes `views` templates on every invocation.
 */
export async function writeAutoloadFunction(dir: string, n: number, opcacheOff: boolean, views = 0): Promise<void> {
  await mkdir(path.join(dir, 'classes'), { recursive: true });
  await mkdir(path.join(dir, 'views'), { recursive: true });
  for (let v = 1; v <= views; v++) await writeFile(path.join(dir, 'views', `v${v}.php`), viewTemplate(v));
  for (let i = 1; i <= n; i++) {
    const methods = Array.from({ length: 6 }, (_, k) => `    public function m${k}(array $xs): int\n    {\n        $t = ${k};\n        foreach ($xs as $x) {\n            $t += is_int($x) ? $x * ${k + 1} : strlen((string) $x);\n        }\n        return $t;\n    }\n`).join('\n');
    await writeFile(path.join(dir, 'classes', `C${i}.php`), `<?php\nnamespace Bench;\n\nfinal class C${i}\n{\n    const ID = ${i};\n\n${methods}\n    public static function value(): int\n    {\n        return self::ID;\n    }\n}\n`);
  }
  await writeFile(
    path.join(dir, 'handler.php'),
    `<?php
spl_autoload_register(function ($class) {
    if (strncmp($class, 'Bench\\\\', 6) === 0) {
        require __DIR__ . '/classes/' . substr($class, 6) . '.php';
    }
});
return function ($event) {
    $sum = 0;
    for ($i = 1; $i <= ${n}; $i++) {
        $c = 'Bench\\\\C' . $i;
        $sum += $c::value();
    }
    $title = 'Page';
    $rows = [[1, 'a', 2.5], [2, 'b<', null], [3, 'c&', 7]];
    ob_start();
    for ($v = 1; $v <= ${views}; $v++) {
        include __DIR__ . '/views/v' . $v . '.php';
    }
    $html = ob_get_clean();
    return ['sum' => $sum, 'bytes' => strlen($html), 'opcache' => function_exists('opcache_get_status') && (bool) ini_get('opcache.enable_cli')];
};
`,
  );
  if (opcacheOff) {
    await mkdir(path.join(dir, 'php', 'conf.d'), { recursive: true });
    await writeFile(path.join(dir, 'php', 'conf.d', '99-bench.ini'), 'opcache.enable_cli=0\n');
  }
}

export async function runOpcacheBench(o: { layer?: string; classes?: number; views?: number; coldStarts?: number; invocations?: number } = {}): Promise<OpcacheBenchResult> {
  const layerPath = o.layer ?? DEFAULT_LAYER;
  const n = o.classes ?? 300;
  const views = o.views ?? 20;
  const coldStarts = o.coldStarts ?? 9;
  const invocations = o.invocations ?? 200;
  const engine = new DockerodeEngine();
  const registry = await PlatformRegistry.load(paths.platforms);
  const choice = chooseRuntimeImage({ layer: layerPath, manifest: await readLayerManifest(layerPath), registry });
  const layer = await packLayer(layerPath);
  const work = await mkdtemp(path.join(os.tmpdir(), 'lrb-opcache-bench-'));
  const expected = (n * (n + 1)) / 2;
  const runId = `opcache-bench-${Date.now()}`;
  const subjects: { config: OpcacheConfig; api: RuntimeApiServer; sandbox: Sandbox; init: number[]; first: number[]; warm: number[]; enabled: boolean }[] = [];
  try {
    for (const config of ['on', 'off'] as const) {
      const dir = path.join(work, config);
      await writeAutoloadFunction(dir, n, config === 'off', views);
      const fn = await packFunction(dir);
      const { api, sandbox } = await createBenchSubject({
        engine,
        image: choice.image,
        functionName: `opcache-${config}`,
        archives: [layer.archive, fn.archive],
        entrypoint: ['/opt/bootstrap'],
        runId,
        timeoutMs: 60_000,
      });
      subjects.push({ config, api, sandbox, init: [], first: [], warm: [], enabled: false });
    }
    const invoke = async (s: (typeof subjects)[number]) => {
      const r = await s.api.invoke('{}');
      const body = JSON.parse(r.body.toString()) as { sum?: number; opcache?: boolean };
      if (r.status !== 'success' || body.sum !== expected) throw new Error(`opcache ${s.config}: unexpected result ${r.status} ${r.body.toString().slice(0, 200)}`);
      s.enabled = body.opcache === true;
    };
    for (let i = 0; i < coldStarts; i++) {
      for (const s of subjects) {
        if (i > 0) await s.sandbox.stop();
        const init = await s.sandbox.start();
        if (init.status !== 'ready') throw new Error(`opcache ${s.config}: the runtime did not start (${JSON.stringify(init)})`);
        s.init.push(init.initDurationMs);
        const t = performance.now();
        await invoke(s);
        s.first.push(performance.now() - t);
      }
    }
    for (let i = 0; i < invocations + 20; i++) {
      for (const s of subjects) {
        const t = performance.now();
        await invoke(s);
        if (i >= 20) s.warm.push(performance.now() - t);
      }
    }
    return {
      layer: layerPath,
      image: choice.image,
      classes: n,
      views,
      coldStarts,
      invocations,
      configs: subjects.map((s) => ({ config: s.config, initMs: percentile(s.init, 50), firstInvokeMs: percentile(s.first, 50), warm: stats(s.warm), opcacheEnabled: s.enabled })),
    };
  } finally {
    for (const s of subjects) {
      await s.sandbox.remove().catch(() => undefined);
      await s.api.close();
    }
    await rm(work, { recursive: true, force: true });
  }
}

/** Rows for the bench table: each configuration's numbers, and on/off ratios. */
export function formatOpcacheBench(r: OpcacheBenchResult): { measure: string; result: string; goal: string; met?: boolean }[] {
  const by = Object.fromEntries(r.configs.map((c) => [c.config, c]));
  const on = by['on']!;
  const off = by['off']!;
  return [
    ...r.configs.map((c) => ({
      measure: `opcache ${c.config}${c.opcacheEnabled ? '' : ' (inactive)'}: init / first invoke (${r.classes} classes autoloaded) / warm p50 (${r.views} views included)`,
      result: `${c.initMs.toFixed(2)} ms / ${c.firstInvokeMs.toFixed(2)} ms / ${c.warm.p50Ms.toFixed(3)} ms`,
      goal: '',
    })),
    { measure: 'opcache on / off: init', result: (on.initMs / off.initMs).toFixed(3), goal: '' },
    { measure: 'opcache on / off: first invoke (autoload)', result: (on.firstInvokeMs / off.firstInvokeMs).toFixed(3), goal: '' },
    { measure: `opcache on / off: warm p50 (${r.views} views included per invocation)`, result: (on.warm.p50Ms / off.warm.p50Ms).toFixed(3), goal: '<= 1.0 (no slower warm)', met: on.warm.p50Ms <= off.warm.p50Ms },
  ];
}

runIfMain(import.meta.url, async () => {
  const layerArg = process.argv.indexOf('--layer');
  const r = await runOpcacheBench(layerArg > 0 ? { layer: process.argv[layerArg + 1]! } : {});
  if (process.argv.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else for (const row of formatOpcacheBench(r)) console.log(`${row.measure}: ${row.result}${row.goal ? ` (goal ${row.goal})` : ''}`);
});
