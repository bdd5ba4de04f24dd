import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { combineLayers, formatBudget, sizeBudget, type LayerInput } from '../../../src/invoke/layers.js';
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
