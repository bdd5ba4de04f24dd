import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { UserError } from '../../src/errors.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { BuildResult } from '../../src/pipeline/manifest.js';
import { buildVendorLayer } from '../../src/vendor/run.js';
import type { VendorManifest } from '../../src/vendor/plan.js';
import { ourContainers, requireEngine, tempDir } from './helpers.js';

// Vendor layers over php@8.2.32 standard layers: the one catalog-builds.test.ts builds (its image is
// reused) and the same with apcu, igbinary and redis, whose three extension stages compile here
// (extensions.test.ts bakes them into the minimal layer; Composer needs the standard profile).
// Composer is Debian 13's, pinned; the projects use path repositories (packagist is unreachable).
const FIXTURES = path.resolve('test/fixtures/vendor');
const execFileP = promisify(execFile);
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let php: BuildResult;
let phpRedis: BuildResult;

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-vendor-');
  const build = async (extensions: string[]) =>
    (await buildRuntimes({ targets: ['php@8.2.32'], platform: 'al2023-portable', profile: 'standard', extensions, outDir: out.dir, renderer: 'silent', engine })).results[0]!;
  php = await build([]);
  phpRedis = await build(['apcu', 'redis', 'igbinary']);
}, 60 * 60_000);

afterAll(async () => {
  await out?.cleanup();
});

describe('build-runtime vendor: composer install with the layer’s own php, as a layer', () => {
  let first: Awaited<ReturnType<typeof buildVendorLayer>>;

  it('builds vendor/ for a project with a path-repository package, and writes the lock it installed', async () => {
    first = await buildVendorLayer({ composerJson: path.join(FIXTURES, 'greeter-app/composer.json'), forManifest: php.manifest, outDir: path.join(out.dir, 'a'), engine });
    expect(path.basename(first.zip)).toMatch(/^vendor-[0-9a-f]{12}-for-php-8\.2\.32-standard-al2023-portable-x86_64\.zip$/);
    const names = (await readZipEntries(first.zip)).map((e) => e.path);
    expect(names).toEqual(expect.arrayContaining(['vendor/autoload.php', 'vendor/composer/autoload_static.php', 'vendor/acme/greeter/src/Greeter.php']));
    expect(names.every((n) => n === 'vendor' || n.startsWith('vendor/'))).toBe(true);
    // --optimize-autoloader: the class is in the class map.
    const classmap = (await readZipEntries(first.zip)).find((e) => e.path === 'vendor/composer/autoload_classmap.php');
    expect(classmap?.type === 'file' && classmap.data.toString()).toContain("'Acme\\\\Greeter\\\\Greeter' => $vendorDir . '/acme/greeter/src/Greeter.php'");
    const m = JSON.parse(await readFile(first.manifest, 'utf8')) as VendorManifest;
    expect(m).toMatchObject({
      kind: 'vendor-layer',
      for: { name: 'php', version: '8.2.32', profile: 'standard', platform: 'al2023-portable', arch: 'x86_64', inputsHash: JSON.parse(await readFile(php.manifest, 'utf8')).inputsHash },
      composer: { version: '2.8.8', from: 'debian trixie packages' },
      packages: [{ name: 'acme/greeter', version: '1.0.0' }],
      arch: 'x86_64',
      zip: { file: path.basename(first.zip), sha256: first.zipSha256, bytes: first.zippedBytes },
    });
    expect(m.composer.sources.map((s) => s.package)).toContain('composer');
    expect(JSON.parse(await readFile(first.lock, 'utf8')).packages[0].name).toBe('acme/greeter');
    expect(await ourContainers(engine)).toEqual([]);
  });

  it('the same lock gives a byte-identical zip', async () => {
    const again = await buildVendorLayer({
      composerJson: path.join(FIXTURES, 'greeter-app/composer.json'),
      lock: first.lock,
      forManifest: php.manifest,
      outDir: path.join(out.dir, 'b'),
      engine,
    });
    expect(path.basename(again.zip)).toBe(path.basename(first.zip));
    expect(again.zipSha256).toBe(first.zipSha256);
    expect(await readFile(again.zip)).toEqual(await readFile(first.zip));
  });

  it('invoke --layer php --layer vendor: the handler uses the package with no require of its own', async () => {
    const result = await invokeLayer({
      layer: [php.zip, first.zip],
      engine,
      functionPath: path.join(FIXTURES, 'function'),
      handler: 'greet.greet',
      events: ['{"name":"Ada"}'],
    });
    expect(result.invocations.map((i) => JSON.parse(i.body.toString()) as unknown)).toEqual([{ greeting: 'Hello from the vendor layer, Ada!' }]);
    expect(result.sizeBudget.layers.map((l) => l.zip)).toEqual([php.zip, first.zip]);
  });

  it('a package requiring ext-redis is refused with a layer that lacks redis, naming it, and nothing is written', async () => {
    const dir = path.join(out.dir, 'refused');
    const attempt = buildVendorLayer({ composerJson: path.join(FIXTURES, 'redis-app/composer.json'), forManifest: php.manifest, outDir: dir, engine });
    await expect(attempt).rejects.toThrow(UserError);
    await expect(attempt).rejects.toThrow(/composer install failed \(exit 2\) with the php of php-8\.2\.32-standard-al2023-portable-x86_64\.zip: .*acme\/redis-cache 1\.0\.0 requires ext-redis \* -> it is missing from your system/);
    expect((await readdir(dir)).filter((f) => !f.endsWith('.log'))).toEqual([]);
    expect(await ourContainers(engine)).toEqual([]);
  });

  it('and accepted with --ext redis', async () => {
    const r = await buildVendorLayer({ composerJson: path.join(FIXTURES, 'redis-app/composer.json'), forManifest: phpRedis.manifest, outDir: path.join(out.dir, 'redis'), engine });
    expect(r.packages).toEqual([{ name: 'acme/redis-cache', version: '1.0.0' }]);
    expect(r.for.extensions).toEqual(['apcu', 'igbinary', 'redis']);
  });

  it('the CLI: one line and exit 2 for a minimal-profile layer (no mbstring or iconv for Composer)', async () => {
    const fake = path.join(out.dir, 'minimal.zip.json');
    const phpManifest = JSON.parse(await readFile(php.manifest, 'utf8'));
    await (await import('node:fs/promises')).writeFile(
      fake,
      JSON.stringify({ ...phpManifest, recipe: { ...phpManifest.recipe, profile: 'minimal' }, smoke: { ...phpManifest.smoke, modules: ['core', 'curl', 'json', 'openssl', 'zlib'] } }),
    );
    const r = await execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', 'vendor', '--composer', path.join(FIXTURES, 'greeter-app/composer.json'), '--for', fake, '--out', out.dir]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `lambda-runtime-builder: --for ${fake}: php 8.2.32 minimal has neither mbstring nor iconv, and Composer needs one: build the php layer with --profile standard`,
    ]);
  });
});
