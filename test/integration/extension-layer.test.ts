import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { UserError } from '../../src/errors.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { BuildResult, Manifest } from '../../src/pipeline/manifest.js';
import { execFileP, jsonBodies, ourContainers, REPO_ROOT, requireEngine, tempDir, writeHandler } from './helpers.js';

// APCu as a layer of its own for php@8.2.32 standard on al2023-portable: `php-ext-apcu --for
// php@8.2.32 --profile standard`. That php layer is what catalog-builds.test.ts builds, and its
// image is reused here (no PHP compile of its own); the extension layer's image is the same
// Dockerfile with an ext-apcu stage after the interpreter's, the very stage extensions.test.ts
// builds first, so Docker's cache makes the interpreter (and, after that file, APCu) free. The
// build's smoke test already ran APCu's check with both layers in the glibc-only image; here a
// function runs over both, as Lambda would extract them, and invoke refuses a mismatched pair.
const EXT_DIR = 'lib/php/extensions/no-debug-non-zts-20220829';
const BUILD = { platform: 'al2023-portable', profile: 'standard', renderer: 'silent' as const };
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let php: BuildResult;
let apcu: BuildResult;
let phpManifest: Manifest;
let apcuManifest: Manifest;

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-extlayer-');
  [php] = (await buildRuntimes({ ...BUILD, targets: ['php@8.2.32'], outDir: out.dir, engine })).results as [BuildResult];
  [apcu] = (await buildRuntimes({ ...BUILD, targets: ['php-ext-apcu'], for: 'php@8.2.32', outDir: out.dir, engine })).results as [BuildResult];
  phpManifest = JSON.parse(await readFile(php.manifest, 'utf8')) as Manifest;
  apcuManifest = JSON.parse(await readFile(apcu.manifest, 'utf8')) as Manifest;
}, 60 * 60_000);

afterAll(async () => {
  await out?.cleanup();
});

describe('php-ext-apcu --for php@8.2.32 --profile standard on al2023-portable', () => {
  it('is named after the php layer it is for, and its manifest names that build by inputs hash', () => {
    expect(path.basename(apcu.zip)).toBe('php-ext-apcu-5.1.24-for-php-8.2.32-standard-al2023-portable-x86_64.zip');
    expect(apcuManifest.kind).toBe('extension-layer');
    expect(apcuManifest.for).toEqual({
      name: 'php',
      version: '8.2.32',
      profile: 'standard',
      extensions: [],
      platform: 'al2023-portable',
      arch: 'x86_64',
      zip: path.basename(php.zip),
      inputsHash: phpManifest.inputsHash,
    });
    expect(phpManifest.kind).toBe('runtime-layer');
    expect(apcuManifest.recipe).toMatchObject({ name: 'php-ext-apcu', version: '5.1.24', profile: 'standard', license: 'PHP-3.01' });
    expect(apcuManifest.extensions!.map((e) => `${e.name}@${e.version} ${e.ini.path}`)).toEqual(['apcu@5.1.24 etc/php/conf.d/20-apcu.ini']);
    expect(apcuManifest.platform).toMatchObject({ name: 'al2023-portable', lambdaRuntime: 'provided.al2023' });
    // Its smoke test ran APCu's check over the php layer, and nothing of the php layer's own.
    expect(apcuManifest.smoke.checks).toEqual([{ name: 'apcu-store-fetch', output: 'enabled stored 42' }]);
    expect(apcuManifest.smoke.modules).toContain('apcu');
    expect(apcuManifest.libraries).toMatchObject({ builtFromSource: [], bundled: [] });
  });

  it('holds only apcu.so in the php layer\'s extension directory and its ini in the scan dir', async () => {
    const files = (await readZipEntries(apcu.zip)).filter((e) => e.type === 'file');
    expect(files.map((e) => e.path).sort()).toEqual(['etc/php/conf.d/20-apcu.ini', `${EXT_DIR}/apcu.so`]);
    const ini = files.find((e) => e.path.endsWith('.ini'));
    expect(ini?.type === 'file' && ini.data.toString()).toBe('extension=apcu\napc.enable_cli=1\n');
    // The same directory the php layer's own shared extension (OPcache) is in; the php layer has no APCu.
    const phpFiles = (await readZipEntries(php.zip)).map((e) => e.path);
    expect(phpFiles).toContain(`${EXT_DIR}/opcache.so`);
    expect(phpFiles.filter((p) => /apcu/.test(p))).toEqual([]);
    expect(apcu.unzippedBytes).toBeLessThan(1024 * 1024);
    expect(apcu.zippedBytes).toBeLessThan(apcu.unzippedBytes);
  });

  it('the summary shows its size and the layer it is for (an up-to-date run, without Docker)', async () => {
    const { stderr, stdout } = await execFileP(
      process.execPath,
      ['--import', 'tsx', 'src/cli/build-runtime.ts', 'php-ext-apcu', '--for', 'php@8.2.32', '--profile', 'standard', '--platform', 'al2023-portable', '--out', out.dir],
      { cwd: REPO_ROOT, env: { ...process.env, DOCKER_HOST: 'tcp://127.0.0.1:1' } },
    );
    expect(stdout.trim()).toBe(apcu.zip);
    expect(stderr).toContain(`up to date: ${apcu.zip}`);
    expect(stderr).toMatch(new RegExp(`^  size   ${apcu.zippedBytes} bytes zipped, ${apcu.unzippedBytes} bytes unzipped \\(0\\.\\d% of Lambda's 250 MB\\)$`, 'm'));
    expect(stderr).toContain(`  extension apcu 5.1.24\n`);
    expect(stderr).toContain(`  for    ${path.basename(php.zip)} (inputs ${phpManifest.inputsHash.slice(0, 12)}): extract that layer first, this one over it\n`);
  });

  it('serves a function that counts in APCu across invocations with both layers at /opt, as Lambda extracts them', async () => {
    const fn = await writeHandler(
      out.dir,
      `<?php
function handler($event, $context)
{
    apcu_add('invocations', 0);
    return ['invocation' => apcu_inc('invocations'), 'apcu' => phpversion('apcu'), 'cli' => ini_get('apc.enable_cli'), 'php' => PHP_VERSION];
}
`,
    );
    const result = await invokeLayer({ layer: [php.zip, apcu.zip], engine, functionPath: fn, handler: 'handler.handler', events: ['{}', '{}'] });
    expect(jsonBodies(result)).toEqual([
      { invocation: 1, apcu: '5.1.24', cli: '1', php: '8.2.32' },
      { invocation: 2, apcu: '5.1.24', cli: '1', php: '8.2.32' },
    ]);
    expect(result.sizeBudget.layers).toEqual([
      { zip: php.zip, unzippedBytes: php.unzippedBytes },
      { zip: apcu.zip, unzippedBytes: apcu.unzippedBytes },
    ]);
    expect(await ourContainers(engine)).toEqual([]);
  });

  it('invoke refuses it over another php build, or with no php layer before it, in one line', async () => {
    // The same php zip under another name whose manifest records other inputs: another build, as far as anyone can tell.
    const other = path.join(out.dir, 'php-other.zip');
    await copyFile(php.zip, other);
    await writeFile(`${other}.json`, JSON.stringify({ ...phpManifest, inputsHash: '0'.repeat(64), zip: { ...phpManifest.zip, file: 'php-other.zip' } }));
    const fn = path.join(out.dir, 'function');
    const refusal = (layer: string[]) =>
      invokeLayer({ layer, engine, functionPath: fn, handler: 'handler.handler', events: ['{}'] }).then(
        () => {
          throw new Error(`expected invoke --layer ${layer.join(' --layer ')} to be refused`);
        },
        (err: unknown) => err as Error,
      );
    const wrong = await refusal([other, apcu.zip]);
    expect(wrong).toBeInstanceOf(UserError);
    expect(wrong.message).toBe(
      `${apcu.zip} is an extension layer for ${path.basename(php.zip)} (inputs ${phpManifest.inputsHash.slice(0, 12)}), not for ${other} (inputs 000000000000), the runtime layer before it: ` +
        'give the layer it was built for, or build it for this one: npm run build-runtime -- php-ext-apcu@5.1.24 --for php@8.2.32 --profile standard --platform al2023-portable --arch x86_64',
    );
    expect((await refusal([apcu.zip, php.zip])).message).toMatch(/and no runtime layer with a manifest is given before it: give that layer first/);
    expect(await ourContainers(engine)).toEqual([]);
  });
});
