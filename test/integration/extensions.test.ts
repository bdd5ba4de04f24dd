import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { Manifest } from '../../src/pipeline/manifest.js';
import { freePort, jsonBodies, ourContainers, requireEngine, runInRuntimeImage, tempDir, writeHandler, X86_PHP, HEAVY_BUILDS } from './helpers.js';

// php@8.2.32 minimal on al2023-portable with apcu, igbinary and redis built in (--ext), built once.
// The interpreter is X86_PHP, which build-php.test.ts and the others build, so CI compiles only
// the three extension stages on top of it: the build's own smoke test already ran every check of the three recipes and OPcache's in the
// glibc-only image. These tests look at the layer, and serve invocations whose handler uses APCu
// across invocations and talks to a real redis-server (Debian's, started here on loopback; the
// sandbox has host networking) through phpredis with the igbinary serializer.
const PORTABLE_IMAGE = 'lambda-runtime-builder/glibc-only:bullseye-x86_64';
const EXT_DIR = 'lib/php/extensions/no-debug-non-zts-20220829';
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let zip: string;
let manifest: Manifest;
let redis: ChildProcess | undefined;
let redisPort: number;

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-ext-');
  const report = await buildRuntimes({
    ...HEAVY_BUILDS.x86Minimal,
    extensions: ['apcu', 'redis', 'igbinary'],
    outDir: out.dir,
    renderer: 'silent',
    engine,
  });
  zip = report.results[0]!.zip;
  manifest = JSON.parse(await readFile(report.results[0]!.manifest, 'utf8')) as Manifest;
}, 60 * 60_000);

afterAll(async () => {
  if (redis && redis.exitCode === null) redis.kill('SIGTERM');
  await out?.cleanup();
});

describe(`${X86_PHP.target} minimal + apcu, igbinary, redis on al2023-portable`, () => {
  it('is named after its extensions and its manifest lists them with their sources, rules and ini files', () => {
    expect(path.basename(zip)).toBe('php-8.2.32+apcu+igbinary+redis-al2023-portable-x86_64.zip');
    expect(manifest.recipe).toMatchObject({ version: X86_PHP.version, profile: 'minimal' });
    expect(manifest.extensions!.map((e) => `${e.name}@${e.version} ${e.ini.path}`)).toEqual([
      'apcu@5.1.24 etc/php/conf.d/20-apcu.ini',
      'igbinary@3.2.16 etc/php/conf.d/21-igbinary.ini',
      'redis@6.2.0 etc/php/conf.d/22-redis.ini',
    ]);
    expect(manifest.extensions!.find((e) => e.name === 'redis')!.rules).toEqual(['redis-without-session-handler', 'redis-serializer-igbinary']);
    expect(manifest.extensions!.map((e) => e.sources[0]!.sha256)).toEqual([
      '5c28a55b27082c69657e25b7ecf553e2cf6b74ec3fa77d6b76f4fb982e001e43',
      '8bf25d465abc7973d9e2c9a3039a5f8eea635b23bc1477017ff3999ff95836da',
      '5069c13dd22bd9e494bb246891052cb6cc0fc9a1b45c6a572a8be61773101363',
    ]);
    expect(manifest.recipe.rules).toContain('opcache-shared-before-php-8.5');
  });

  it("passed the build's smoke test: modules and every extension's and OPcache's check", () => {
    expect(manifest.smoke.modules).toEqual(expect.arrayContaining(['zend opcache', 'apcu', 'igbinary', 'redis']));
    const checks = Object.fromEntries(manifest.smoke.checks!.map((c) => [c.name, c.output]));
    expect(checks['apcu-store-fetch']).toBe('enabled stored 42');
    expect(checks['igbinary-round-trip']).toBe('round-trip-ok');
    expect(checks['redis-client-connects']).toBe('Redis 6.2.0 refused');
    expect(checks['opcache-jit-available-but-off']).toBe('opcache-on script-cached validate_timestamps=0 interned=4M jit-off jit-when-enabled-on-compiled');
  });

  it('ships the .so files and their ini files, and none of the build tools', async () => {
    const names = (await readZipEntries(zip)).map((e) => e.path);
    for (const m of ['opcache', 'apcu', 'igbinary', 'redis']) expect(names).toContain(`${EXT_DIR}/${m}.so`);
    for (const ini of ['10-opcache', '20-apcu', '21-igbinary', '22-redis']) expect(names).toContain(`etc/php/conf.d/${ini}.ini`);
    expect(names.filter((n) => /^(include\/|bin\/php(ize|-config)$|lib\/php\/build\/)/.test(n))).toEqual([]);
  });

  it('loads in the glibc-only image: phpredis has the igbinary serializer, APCu the CLI switch', async () => {
    const [modules, probe] = await runInRuntimeImage(engine, PORTABLE_IMAGE, zip, [
      ['/opt/bin/php', '-m'],
      ['/opt/bin/php', '-r', "echo defined('Redis::SERIALIZER_IGBINARY') ? 'igbinary-serializer' : 'none', ' ', ini_get('apc.enable_cli'), ' ', extension_loaded('session') ? 'session' : 'no-session';"],
    ]);
    expect(modules!.exitCode).toBe(0);
    expect(modules!.stdout).toMatch(/\[Zend Modules\]\nZend OPcache/);
    expect(probe!.stdout).toBe('igbinary-serializer 1 no-session');
  });

  it('serves invocations whose handler keeps a count in APCu and round-trips the event through a real redis-server', async () => {
    redisPort = await freePort();
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redis.on('error', (err) => {
      throw new Error(`cannot start redis-server (Debian's redis-server package; run .ci/setup-machine.sh): ${err.message}`);
    });
    await waitForPort(redisPort, 10_000);

    const fn = await writeHandler(
      out.dir,
      `<?php
function handler($event, $context)
{
    apcu_add('invocations', 0);
    $count = apcu_inc('invocations');
    $redis = new Redis();
    $redis->connect('127.0.0.1', (int) getenv('REDIS_PORT'), 2.0);
    $redis->setOption(Redis::OPT_SERIALIZER, Redis::SERIALIZER_IGBINARY);
    $redis->set('lrb:event', $event);
    $back = $redis->get('lrb:event');
    $redis->setOption(Redis::OPT_SERIALIZER, Redis::SERIALIZER_NONE);
    $raw = $redis->get('lrb:event');
    return [
        'invocation' => $count,
        'roundTrip' => $back === $event,
        'storedAs' => $raw === igbinary_serialize($event) ? 'igbinary' : bin2hex(substr((string) $raw, 0, 8)),
        'server' => $redis->info('server')['redis_version'],
    ];
}
`,
    );
    const result = await invokeLayer({
      layer: zip,
      engine,
      functionPath: fn,
      handler: 'handler.handler',
      env: { REDIS_PORT: String(redisPort) },
      events: ['{"name":"first","n":[1,2.5,true,null]}', '{"name":"second"}'],
    });
    const bodies = jsonBodies(result);
    const server = (await new Promise<string>((resolve, reject) => {
      const p = spawn('redis-server', ['--version']);
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.on('close', () => resolve(text));
      p.on('error', reject);
    })).match(/v=(\S+)/)![1];
    expect(bodies).toEqual([
      { invocation: 1, roundTrip: true, storedAs: 'igbinary', server },
      { invocation: 2, roundTrip: true, storedAs: 'igbinary', server },
    ]);
    expect(await ourContainers(engine)).toEqual([]);
  });
});
