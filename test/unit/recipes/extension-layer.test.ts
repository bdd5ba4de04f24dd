import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { paths } from '../../../src/paths.js';
import { formatPlan } from '../../../src/pipeline/plan.js';
import { loadCatalog, prepareTarget, type Catalog, type PrepareOptions } from '../../../src/pipeline/prepare.js';
import { checksToRun } from '../../../src/pipeline/steps/smoke.js';
import { resolveBuild, type ResolveOptions } from '../../../src/recipes/resolve.js';

// `php-ext-redis@6 --for php@8.2.32`: an extension as a layer of its own for a php layer.
let catalog: Catalog;
let opts: ResolveOptions;
beforeAll(async () => {
  catalog = await loadCatalog();
  opts = { platform: catalog.platforms.get('al2023-portable'), arch: 'x86_64' };
});

const resolve = (target: string, extra: Partial<ResolveOptions> = {}) => resolveBuild(catalog.recipes, target, { ...opts, ...extra });
const refusal = (target: string, extra: Partial<ResolveOptions>): string => {
  try {
    resolve(target, extra);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error(`expected ${target} ${JSON.stringify(extra)} to be refused`);
};
const prepare = (target: string, extra: Partial<PrepareOptions> = {}) =>
  prepareTarget(catalog, target, {
    platform: 'al2023-portable',
    arch: 'x86_64',
    outDir: '/tmp/lrb-extlayer-out',
    mirrors: [],
    maxUnzippedBytes: 262_144_000,
    today: '2026-12-02',
    ...extra,
  });

describe('resolving an extension layer', () => {
  it('is the php build it is for plus the extension, resolved against that exact PHP', () => {
    const spec = resolve('php-ext-redis@6', { for: 'php@8.2.32', profile: 'standard' });
    expect(spec.target).toBe('php-ext-redis@6');
    expect(spec.interpreter).toMatchObject({ name: 'php', version: '8.2.32', profile: 'standard' });
    expect(spec.extensionLayer!.for).toBe('php@8.2.32');
    expect(spec.extensionLayer!.extension).toMatchObject({ name: 'php-ext-redis', short: 'redis', version: '6.2.0', ini: { path: 'etc/php/conf.d/20-redis.ini' } });
    expect(spec.extensions.map((e) => e.short)).toEqual(['redis']);
  });

  it('--ext names what the php layer has: redis over a php layer with igbinary is built to use it and loads after it', () => {
    const spec = resolve('php-ext-redis', { for: 'php@8.2.32', extensions: ['igbinary'] });
    expect(spec.extensions.map((e) => `${e.short} ${e.ini.path}`)).toEqual(['igbinary etc/php/conf.d/20-igbinary.ini', 'redis etc/php/conf.d/21-redis.ini']);
    expect(spec.extensionLayer!.extension.args).toContain('--enable-redis-igbinary');
    // The php layer's own extension resolves exactly as in that layer's build.
    const phpLayer = resolve('php@8.2.32', { extensions: ['igbinary'] });
    expect(spec.extensions[0]).toEqual(phpLayer.extensions[0]);
  });

  it.each<[string, Partial<ResolveOptions>, string]>([
    ['php@8.2.32', { for: 'php@8.2.32' }, '--for php@8.2.32 is for extension targets, and php@8.2.32 is an interpreter: drop --for to build php@8.2.32, or build an extension layer, e.g. php-ext-apcu --for php@8.2.32'],
    ['openssl@3', { for: 'php@8.2.32' }, '--for php@8.2.32 is for extension targets, and openssl@3 is a library: drop --for to build openssl@3'],
    ['php-ext-redis@6', {}, 'php-ext-redis is an extension of php: build it into a php layer with --ext redis, e.g. php@VERSION --ext redis, or as a layer of its own for a php layer with --for, e.g. php-ext-redis@6 --for php@VERSION'],
    ['php-ext-redis@6', { for: 'php@7.3.33' }, `php-ext-redis@6: redis 6.2.0 supports php >=7.4.0 <8.5.0; not php 7.3.33 (give --for another php version, or pin a redis version for it in ${path.join(paths.recipes, 'php-ext-redis.json')})`],
    ['php-ext-apcu', { for: 'php@8.5.9' }, 'php-ext-apcu: apcu 5.1.24 supports php >=7.0.0 <8.5.0; not php 8.5.9 (give --for another php version'],
    ['php-ext-redis@7', { for: 'php@8.2.32' }, "php-ext-redis@7: no redis version matches '7': pinned versions are 6.2.0"],
    ['php-ext-redis', { for: 'lua@5.4.7' }, '--for lua@5.4.7: php-ext-redis is an extension of php, so --for names the php layer it is for, e.g. --for php@8.5.9'],
    ['php-ext-redis', { for: 'php-ext-apcu@5' }, '--for php-ext-apcu@5: php-ext-redis is an extension of php, so --for names the php layer it is for'],
    ['php-ext-redis', { for: 'php@9' }, "no php version matches '9'"],
    ['php-ext-redis', { for: 'php@8.2.32', extensions: ['redis'] }, '--ext redis with php-ext-redis: --ext names the extensions built into the php layer the extension layer is for, and redis is the extension layer itself: drop --ext redis'],
    [
      'php-ext-igbinary',
      { for: 'php@8.2.32', extensions: ['redis'] },
      "php-ext-igbinary: redis, built into the php layer (--ext redis), uses igbinary when both are built together (rule 'redis-serializer-igbinary'), so it would not be the same redis: build igbinary into the php layer with --ext igbinary instead",
    ],
  ])('%s %j is refused in one line', (target, extra, message) => {
    expect(refusal(target, extra)).toContain(message);
  });

  it('only the extension\'s own checks run in its smoke test', () => {
    const spec = resolve('php-ext-redis', { for: 'php@8.2.32', extensions: ['apcu'] });
    expect(checksToRun(spec).map((c) => c.check.name)).toEqual(['redis-client-connects']);
  });
});

describe('planning an extension layer', () => {
  it('is named after the extension and the full name of the php layer it is for', async () => {
    const cases: [string, Partial<PrepareOptions>, string][] = [
      ['php-ext-redis@6', { for: 'php@8.2.32' }, 'php-ext-redis-6.2.0-for-php-8.2.32-al2023-portable-x86_64.zip'],
      ['php-ext-redis@6', { for: 'php@8.2.32', profile: 'standard' }, 'php-ext-redis-6.2.0-for-php-8.2.32-standard-al2023-portable-x86_64.zip'],
      ['php-ext-redis', { for: 'php@8.2.32', extensions: ['igbinary'] }, 'php-ext-redis-6.2.0-for-php-8.2.32+igbinary-al2023-portable-x86_64.zip'],
    ];
    for (const [target, extra, zip] of cases) expect(path.basename((await prepare(target, extra)).plan.output.zip)).toBe(zip);
  });

  it("records the php layer's name and inputs hash, shares the image of php with that extension built in, and has inputs of its own", async () => {
    const layer = await prepare('php-ext-redis@6', { for: 'php@8.2.32', profile: 'standard' });
    const php = await prepare('php@8.2.32', { profile: 'standard' });
    const baked = await prepare('php@8.2.32', { profile: 'standard', extensions: ['redis'] });
    expect(layer.plan).toMatchObject({ kind: 'extension-layer', target: 'php-ext-redis@6', name: 'php-ext-redis', version: '6.2.0', profile: 'standard' });
    expect(layer.plan.for).toEqual({
      name: 'php',
      version: '8.2.32',
      profile: 'standard',
      extensions: [],
      platform: 'al2023-portable',
      arch: 'x86_64',
      zip: 'php-8.2.32-standard-al2023-portable-x86_64.zip',
      inputsHash: php.plan.inputsHash,
    });
    expect(php.plan.kind).toBe('runtime-layer');
    expect(php.plan.for).toBeUndefined();
    // The same Dockerfile as php with redis baked in: one image, the interpreter stage shared with the php layer's.
    expect(layer.plan.images.tag).toBe(baked.plan.images.tag);
    expect(layer.plan.imageHash).toBe(baked.plan.imageHash);
    expect(layer.rendered.stages).toEqual([...php.rendered.stages, 'ext-redis']);
    // Every instruction up to the php layer's interpreter stage is the php layer's: Docker's cache has them when that layer was built.
    const stages = (dockerfile: string) => dockerfile.slice(dockerfile.indexOf('\nFROM '), dockerfile.indexOf('\nCOPY scripts/finalize.sh'));
    expect(stages(layer.rendered.dockerfile).startsWith(stages(php.rendered.dockerfile) + '\n\nFROM interpreter AS ext-redis\n')).toBe(true);
    expect(new Set([layer.plan.inputsHash, php.plan.inputsHash, baked.plan.inputsHash]).size).toBe(3);
  });

  it('another php layer (profile, extensions) is another layer to be for: its inputs hash changes', async () => {
    const minimal = await prepare('php-ext-redis', { for: 'php@8.2.32' });
    const standard = await prepare('php-ext-redis', { for: 'php@8.2.32', profile: 'standard' });
    const withApcu = await prepare('php-ext-redis', { for: 'php@8.2.32', extensions: ['apcu'] });
    expect(new Set([minimal, standard, withApcu].map((p) => p.plan.for!.inputsHash)).size).toBe(3);
    expect(new Set([minimal, standard, withApcu].map((p) => p.plan.inputsHash)).size).toBe(3);
    expect(withApcu.plan.for!.extensions).toEqual(['apcu']);
  });

  it('--dry-run says what the layer is for and which extension it holds; versions not pinned are warned about', async () => {
    const p = await prepare('php-ext-redis', { for: 'php@>=8.2.32 <8.2.33', extensions: ['apcu'] });
    const text = formatPlan(p.plan);
    expect(text.split('\n').slice(0, 2)).toEqual([
      'php-ext-redis → php-ext-redis 6.2.0, an extension layer for php 8.2.32 (profile minimal)',
      `  for        php-8.2.32+apcu-al2023-portable-x86_64.zip (inputs ${p.plan.for!.inputsHash}): extracted first, this layer over it`,
    ]);
    expect(text).toContain('  extension  apcu 5.1.24 (php-ext-apcu, supports php >=7.0.0 <8.5.0): etc/php/conf.d/20-apcu.ini: extension=apcu; apc.enable_cli=1 [in php-8.2.32+apcu-al2023-portable-x86_64.zip]');
    expect(text).toContain('  extension  redis 6.2.0 (php-ext-redis, supports php >=7.4.0 <8.5.0): etc/php/conf.d/20-redis.ini: extension=redis [this layer]');
    expect(p.plan.warnings).toEqual([
      'php-ext-redis names no version: building the newest pinned one for php 8.2.32, php-ext-redis@6.2.0 (write php-ext-redis@6.2.0 to pin it)',
      '--for php@>=8.2.32 <8.2.33 names no exact version: building for php@8.2.32 (write --for php@8.2.32 to pin it)',
    ]);
  });
});
