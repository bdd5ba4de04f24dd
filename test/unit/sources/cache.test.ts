import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedSourcePath, defaultCacheDir, pruneCache, sha256File } from '../../../src/sources/index.js';
import { listFiles, sha256 } from './server.js';

describe('defaultCacheDir', () => {
  it('uses $XDG_CACHE_HOME when absolute, else ~/.cache', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/lambda-runtime-builder');
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/lambda-runtime-builder');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/lambda-runtime-builder');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '', HOME: '/home/u' })).toBe('/home/u/.cache/lambda-runtime-builder');
    expect(path.isAbsolute(defaultCacheDir({}))).toBe(true);
  });
});

describe('pruneCache', () => {
  let cacheDir: string;
  const DAY = 86_400_000;
  const files = ['a', 'b', 'c'].map((s) => ({ content: Buffer.from(s), sha: sha256(Buffer.from(s)) }));
  const [a, b, c] = files as [(typeof files)[0], (typeof files)[0], (typeof files)[0]];

  beforeEach(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lrb-prune-'));
    const ages = [1, 10, 40];
    for (const [i, f] of files.entries()) {
      const p = cachedSourcePath(cacheDir, f.sha);
      await fs.mkdir(path.dirname(p), { recursive: true });
      await fs.writeFile(p, f.content);
      const t = new Date(Date.now() - ages[i]! * DAY);
      await fs.utimes(p, t, t);
    }
    const tmp = path.join(cacheDir, 'sources', 'tmp');
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'stale.part'), 'xx');
    await fs.writeFile(path.join(tmp, 'live.part'), 'yy');
    const old = new Date(Date.now() - 2 * DAY);
    await fs.utimes(path.join(tmp, 'stale.part'), old, old);
    await fs.writeFile(path.join(cacheDir, 'sources', 'sha256', 'README'), 'not a cache entry');
  });
  afterEach(async () => {
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('removes everything not kept, plus stale temp files; leaves other files alone', async () => {
    const r = await pruneCache(cacheDir, { keepSha256: new Set([b.sha]) });
    expect(r.removed.sort()).toEqual(
      [cachedSourcePath(cacheDir, a.sha), cachedSourcePath(cacheDir, c.sha), path.join(cacheDir, 'sources', 'tmp', 'stale.part')].sort(),
    );
    expect(r.freedBytes).toBe(1 + 1 + 2);
    expect(await listFiles(cacheDir)).toEqual(
      [path.join('sources', 'sha256', b.sha), path.join('sources', 'sha256', 'README'), path.join('sources', 'tmp', 'live.part')].sort(),
    );
  });

  it('olderThanDays removes only files unused for that long', async () => {
    const r = await pruneCache(cacheDir, { olderThanDays: 7, keepSha256: new Set([c.sha]) });
    expect(r.removed).toContain(cachedSourcePath(cacheDir, b.sha));
    expect(r.removed).not.toContain(cachedSourcePath(cacheDir, a.sha));
    expect(r.removed).not.toContain(cachedSourcePath(cacheDir, c.sha));
  });

  it('dryRun reports without removing', async () => {
    const before = await listFiles(cacheDir);
    const r = await pruneCache(cacheDir, { dryRun: true });
    expect(r.removed).toHaveLength(4);
    expect(r.freedBytes).toBe(5);
    expect(await listFiles(cacheDir)).toEqual(before);
  });

  it('an empty or missing cache is fine; bad olderThanDays is refused', async () => {
    expect(await pruneCache(path.join(cacheDir, 'nope'))).toEqual({ removed: [], freedBytes: 0 });
    await expect(pruneCache(cacheDir, { olderThanDays: -1 })).rejects.toThrow(RangeError);
  });
});

describe('sha256File', () => {
  it('hashes a file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lrb-hash-'));
    try {
      const p = path.join(dir, 'f');
      await fs.writeFile(p, 'hello');
      expect(await sha256File(p)).toEqual({ sha256: sha256(Buffer.from('hello')), sizeBytes: 5 });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
