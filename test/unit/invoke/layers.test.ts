import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { checkExtensionLayers, combineLayers, formatBudget, sizeBudget, type LayerInput } from '../../../src/invoke/layers.js';
import type { LayerEntry } from '../../../src/layer/entries.js';

const file = (path: string, bytes: number | string, mode = 0o644): LayerEntry => ({
  type: 'file',
  path,
  mode,
  data: typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.alloc(bytes),
});
const php: LayerInput = {
  zip: 'php.zip',
  entries: [file('bootstrap', '#!/bin/sh\n', 0o755), file('bin/php', 1000, 0o755), file('etc/php/conf.d/00-base.ini', 'a=1\n')],
  manifest: { platform: { name: 'al2023-portable' }, arch: 'x86_64' },
};
const ext: LayerInput = {
  zip: 'redis.zip',
  entries: [file('lib/php/extensions/redis.so', 300), file('etc/php/conf.d/50-redis.ini', 'extension=redis\n')],
  manifest: { platform: { name: 'al2023-portable' }, arch: 'x86_64' },
};
const fn = [file('index.php', 20)];

describe('combineLayers', () => {
  it('extracts layers in order into one /opt, a later file over an earlier one', () => {
    const override: LayerInput = { zip: 'mine.zip', entries: [file('etc/php/conf.d/00-base.ini', 'a=2\n')], manifest: undefined };
    const c = combineLayers([php, ext, override], fn);
    const byPath = new Map(c.entries.map((e) => [e.path, e]));
    expect(byPath.has('lib/php/extensions/redis.so')).toBe(true);
    expect(byPath.has('bin/php')).toBe(true);
    const ini = byPath.get('etc/php/conf.d/00-base.ini');
    expect(ini?.type === 'file' && ini.data.toString()).toBe('a=2\n');
    expect(c.manifest).toBe(php.manifest);
    expect(c.manifestZip).toBe('php.zip');
  });

  it('takes the platform from the first layer whose manifest names one', () => {
    const plain: LayerInput = { zip: 'plain.zip', entries: [file('x', 1)], manifest: undefined };
    expect(combineLayers([plain, php], fn).manifestZip).toBe('php.zip');
  });

  it('counts every layer and the function against 250 MB, as Lambda does (overwritten files too)', () => {
    const b = sizeBudget([php, ext], fn);
    expect(b.layers).toEqual([
      { zip: 'php.zip', unzippedBytes: 10 + 1000 + 4 },
      { zip: 'redis.zip', unzippedBytes: 300 + 16 },
    ]);
    expect(b.functionBytes).toBe(20);
    expect(b.totalBytes).toBe(1014 + 316 + 20);
    expect(b.limitBytes).toBe(262_144_000);
    expect(formatBudget(b)).toBe('php.zip 0.00 MB + redis.zip 0.00 MB + function 0.00 MB = 0.00 MB of 250 MB unzipped');
  });

  it('refuses what Lambda refuses, in one line naming the layers', () => {
    const big: LayerInput = { zip: 'big.zip', entries: [file('blob', 262_144_000)], manifest: undefined };
    expect(() => combineLayers([php, big], fn)).toThrow(/^the function and its layers are over Lambda's limit: php\.zip 0\.00 MB \+ big\.zip 250\.00 MB \+ function 0\.00 MB = 250\.00 MB of 250 MB unzipped; drop a layer/);
    const six = Array.from({ length: 6 }, (_, i) => ({ zip: `l${i}.zip`, entries: [file(`f${i}`, 1)], manifest: undefined }));
    expect(() => combineLayers(six, fn)).toThrow(/^6 layers given: a Lambda function takes at most 5/);
    expect(() => combineLayers([php, php], fn)).toThrow(/--layer php\.zip is given twice/);
    expect(() => combineLayers([], fn)).toThrow(/--layer is required/);
  });

  it('refuses layers of different platforms or architectures', () => {
    const bookworm: LayerInput = { ...ext, zip: 'b.zip', manifest: { platform: { name: 'debian-bookworm' }, arch: 'x86_64' } };
    expect(() => combineLayers([php, bookworm], fn)).toThrow(/^b\.zip is built for platform debian-bookworm but php\.zip for al2023-portable: the layers of one function must share a platform$/);
    const arm: LayerInput = { ...ext, zip: 'arm.zip', manifest: { platform: { name: 'al2023-portable' }, arch: 'aarch64' } };
    expect(() => combineLayers([php, arm], fn)).toThrow(/^arm\.zip is built for arm64 but php\.zip for x86_64/);
  });

  it('refuses a file where an earlier layer has a directory, naming both', () => {
    const clash: LayerInput = { zip: 'clash.zip', entries: [file('etc/php', 'oops')], manifest: undefined };
    const err = (() => {
      try {
        combineLayers([php, clash], fn);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/^the layers cannot be combined: .*clash\.zip.*php\.zip/);
  });
});

describe('an extension layer goes over the runtime layer it was built for', () => {
  const PHP_HASH = 'a'.repeat(64);
  const OTHER_HASH = 'b'.repeat(64);
  const runtime = (zip: string, inputsHash: string, extensions: string[] = []): LayerInput => ({
    zip,
    entries: php.entries,
    manifest: {
      kind: 'runtime-layer',
      platform: { name: 'al2023-portable' },
      arch: 'x86_64',
      inputsHash,
      recipe: { name: 'php', version: '8.2.32', profile: 'standard' },
      extensions: extensions.map((name) => ({ name })),
    },
  });
  const extLayer = (zip: string, recipe: string, module: string, forHash: string): LayerInput => ({
    zip,
    entries: [file(`lib/php/extensions/${module}.so`, 300), file(`etc/php/conf.d/20-${module}.ini`, `extension=${module}\n`)],
    manifest: {
      kind: 'extension-layer',
      platform: { name: 'al2023-portable' },
      arch: 'x86_64',
      inputsHash: 'c'.repeat(64),
      recipe: { name: recipe, version: '6.2.0', profile: 'standard' },
      for: { name: 'php', version: '8.2.32', profile: 'standard', zip: 'php-8.2.32-standard-al2023-portable-x86_64.zip', inputsHash: forHash },
    },
  });
  const redis = extLayer('redis.zip', 'php-ext-redis', 'redis', PHP_HASH);
  const refusal = (layers: LayerInput[]): string => {
    try {
      combineLayers(layers, fn);
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).not.toContain('\n');
      return (err as Error).message;
    }
    throw new Error('expected the layers to be refused');
  };

  it('is accepted over that build, also with a layer of your own between them and another extension layer after it', () => {
    const mine: LayerInput = { zip: 'mine.zip', entries: [file('etc/php/conf.d/99-mine.ini', 'a=1\n')], manifest: undefined };
    const apcu = extLayer('apcu.zip', 'php-ext-apcu', 'apcu', PHP_HASH);
    const c = combineLayers([runtime('php.zip', PHP_HASH), mine, redis, apcu], fn);
    expect(c.entries.map((e) => e.path)).toEqual(expect.arrayContaining(['bin/php', 'lib/php/extensions/redis.so', 'lib/php/extensions/apcu.so', 'etc/php/conf.d/99-mine.ini']));
    expect(() => checkExtensionLayers([runtime('php.zip', PHP_HASH), redis])).not.toThrow();
  });

  it('a vendor layer between them is not taken for the runtime layer', () => {
    const vendor: LayerInput = {
      zip: 'vendor.zip',
      entries: [file('vendor/autoload.php', '<?php\n')],
      manifest: { kind: 'vendor-layer', platform: { name: 'al2023-portable' }, arch: 'x86_64', inputsHash: 'd'.repeat(64), for: { name: 'php', inputsHash: PHP_HASH } },
    };
    const c = combineLayers([runtime('php.zip', PHP_HASH), vendor, redis], fn);
    expect(c.entries.map((e) => e.path)).toEqual(expect.arrayContaining(['bin/php', 'vendor/autoload.php', 'lib/php/extensions/redis.so']));
    expect(refusal([vendor, redis])).toMatch(/^redis\.zip is an extension layer for .*, and no runtime layer with a manifest is given before it/);
  });

  it('is refused over another php build, in one line naming both, their inputs and the command that builds one for it', () => {
    expect(refusal([runtime('php-other.zip', OTHER_HASH, ['apcu']), redis])).toBe(
      'redis.zip is an extension layer for php-8.2.32-standard-al2023-portable-x86_64.zip (inputs aaaaaaaaaaaa), not for php-other.zip (inputs bbbbbbbbbbbb), the runtime layer before it: ' +
        'give the layer it was built for, or build it for this one: npm run build-runtime -- php-ext-redis@6.2.0 --for php@8.2.32 --profile standard --ext apcu --platform al2023-portable --arch x86_64',
    );
  });

  it('is judged against the nearest runtime layer before it, not any earlier one', () => {
    expect(refusal([runtime('php.zip', PHP_HASH), runtime('php-other.zip', OTHER_HASH), redis])).toMatch(/^redis\.zip is an extension layer .* not for php-other\.zip/);
  });

  it('is refused with no runtime layer before it, or one whose manifest records no inputs hash', () => {
    expect(refusal([redis, runtime('php.zip', PHP_HASH)])).toBe(
      'redis.zip is an extension layer for php-8.2.32-standard-al2023-portable-x86_64.zip (inputs aaaaaaaaaaaa), and no runtime layer with a manifest is given before it: ' +
        'give that layer first (--layer php-8.2.32-standard-al2023-portable-x86_64.zip --layer redis.zip)',
    );
    const plain: LayerInput = { zip: 'plain.zip', entries: [file('bin/php', 10)], manifest: undefined };
    expect(refusal([plain, redis])).toMatch(/and no runtime layer with a manifest is given before it/);
    expect(refusal([{ ...php, zip: 'old.zip' }, redis])).toMatch(/not for old\.zip \(inputs none recorded\)/);
  });
});
