import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SourceFetchError,
  SourceSpecError,
  cachedSourcePath,
  ensureSource,
  ensureSources,
  type FetchOptions,
  type SourceSpec,
} from '../../../src/sources/index.js';
import { BAD_SHA, GOOD, GOOD_SHA, GZ, listFiles, sandboxFetch, sha256, startServer, type TestServer } from './server.js';

const NAME = 'php-7.4.33.tar.xz';
const OFFICIAL = `https://www.php.net/distributions/${NAME}`;

let server: TestServer;
let base: string;
let cacheDir: string;

beforeAll(async () => {
  server = await startServer();
  base = server.base;
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lrb-sources-'));
  server.requests.length = 0;
});
afterEach(async () => {
  await fs.rm(cacheDir, { recursive: true, force: true });
});

function spec(over: Partial<SourceSpec> = {}): SourceSpec {
  return { name: NAME, url: OFFICIAL, sha256: GOOD_SHA, ...over };
}

function opts(over: Partial<FetchOptions> = {}): FetchOptions {
  return {
    cacheDir,
    fetchImpl: sandboxFetch(),
    connectTimeoutMs: 2_000,
    stallTimeoutMs: 2_000,
    ...over,
  };
}

/** The cache holds exactly the verified file (or nothing) and no temp leftovers. */
async function expectCacheHolds(...shas: string[]): Promise<void> {
  expect(await listFiles(cacheDir)).toEqual(shas.map((s) => path.join('sources', 'sha256', s)).sort());
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('ensureSource: download and verify', () => {
  it('downloads from the official URL, verifies, caches content-addressed', async () => {
    const progress: number[] = [];
    const r = await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts({ onProgress: (e) => progress.push(e.receivedBytes) }));
    expect(r).toMatchObject({ sha256: GOOD_SHA, sizeBytes: GOOD.length, from: `${base}/good/${NAME}` });
    expect(r.path).toBe(cachedSourcePath(cacheDir, GOOD_SHA));
    expect(sha256(await fs.readFile(r.path))).toBe(GOOD_SHA);
    expect(progress.at(-1)).toBe(GOOD.length);
    await expectCacheHolds(GOOD_SHA);
  });

  it('tries official, then mirrors in order, then Debian; first verified one wins', async () => {
    const calls: string[] = [];
    const r = await ensureSource(
      spec({ debianPath: 'pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz' }),
      opts({
        fetchImpl: sandboxFetch(calls),
        mirrors: [`${base}/missing`, `${base}/bad/`, `${base}/drop`],
        debianBase: `${base}/debian/`,
      }),
    );
    expect(calls).toEqual([
      OFFICIAL,
      `${base}/missing/${NAME}`,
      `${base}/bad/${NAME}`,
      `${base}/drop/${NAME}`,
      `${base}/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz`,
    ]);
    expect(r.from).toBe(`${base}/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz`);
    await expectCacheHolds(GOOD_SHA);
  });

  it('stops at the first good candidate', async () => {
    const calls: string[] = [];
    await ensureSource(spec(), opts({ fetchImpl: sandboxFetch(calls), mirrors: [`${base}/good`, `${base}/bad`] }));
    expect(calls).toEqual([OFFICIAL, `${base}/good/${NAME}`]);
  });

  it('refuses a checksum mismatch: both hashes in the error, nothing cached, no temp files', async () => {
    const err = await rejection(ensureSource(spec({ url: `${base}/bad/${NAME}` }), opts()));
    expect(err).toBeInstanceOf(SourceFetchError);
    const e = err as SourceFetchError;
    expect(e.message).toContain('CHECKSUM MISMATCH');
    expect(e.message).toContain(`expected sha256 ${GOOD_SHA}`);
    expect(e.message).toContain(`actual   sha256 ${BAD_SHA}`);
    expect(e.checksumMismatches).toEqual([
      expect.objectContaining({ url: `${base}/bad/${NAME}`, expectedSha256: GOOD_SHA, actualSha256: BAD_SHA }),
    ]);
    await expectCacheHolds();
  });

  it('a mismatch stays prominent among other failures; each URL is listed with its reason and advice', async () => {
    const err = (await rejection(
      ensureSource(spec(), opts({ mirrors: [`${base}/missing`, `${base}/bad`, `${base}/hang`], connectTimeoutMs: 150 })),
    )) as SourceFetchError;
    expect(err).toBeInstanceOf(SourceFetchError);
    expect(err.attempts.map((a) => a.kind)).toEqual(['dns', 'http', 'checksum', 'timeout']);
    const msg = err.message;
    // The mismatch block comes before the chronological list.
    expect(msg.indexOf('CHECKSUM MISMATCH')).toBeLessThan(msg.indexOf('Tried, in order'));
    expect(msg).toMatch(/1\. https:\/\/www\.php\.net\/distributions\/php-7\.4\.33\.tar\.xz\n\s+-> DNS lookup failed for www\.php\.net \(ENOTFOUND\)/);
    expect(msg).toContain(`2. ${base}/missing/${NAME}\n     -> HTTP 404 Not Found`);
    expect(msg).toContain(`3. ${base}/bad/${NAME}\n     -> checksum mismatch: expected sha256 ${GOOD_SHA}, actual ${BAD_SHA}`);
    expect(msg).toContain(`4. ${base}/hang/${NAME}\n     -> timed out: no response within 150 ms`);
    expect(msg).toContain('--mirror <base-url>');
    expect(msg).toContain(cachedSourcePath(cacheDir, GOOD_SHA));
    await expectCacheHolds();
  });

  it('falls back when the connection drops halfway (with and without Content-Length)', async () => {
    const r = await ensureSource(spec({ url: `${base}/drop/${NAME}` }), opts({ mirrors: [`${base}/drop-chunked`, `${base}/good`] }));
    expect(r.from).toBe(`${base}/good/${NAME}`);
    await expectCacheHolds(GOOD_SHA);

    await fs.rm(cacheDir, { recursive: true });
    const err = (await rejection(
      ensureSource(spec({ url: `${base}/drop/${NAME}` }), opts({ mirrors: [`${base}/drop-chunked`] })),
    )) as SourceFetchError;
    expect(err.attempts.map((a) => a.kind)).toEqual(['network', 'network']);
    expect(err.attempts[0]!.reason).toMatch(/after \d+ of \d+ bytes|received \d+ of \d+ bytes/);
    await expectCacheHolds();
  });

  it('a stalled body times out and the next candidate is used', async () => {
    const t0 = Date.now();
    const r = await ensureSource(spec({ url: `${base}/stall/${NAME}` }), opts({ stallTimeoutMs: 200, mirrors: [`${base}/good`] }));
    expect(r.from).toBe(`${base}/good/${NAME}`);
    expect(Date.now() - t0).toBeLessThan(1_500);
    await expectCacheHolds(GOOD_SHA);
  });

  it('reports a stall with the bytes received so far', async () => {
    const err = (await rejection(ensureSource(spec({ url: `${base}/stall/${NAME}` }), opts({ stallTimeoutMs: 150 })))) as SourceFetchError;
    expect(err.attempts[0]).toMatchObject({ kind: 'timeout' });
    expect(err.attempts[0]!.reason).toBe(`stalled: no data for 150 ms after ${GOOD.length >> 1} of ${GOOD.length} bytes`);
    await expectCacheHolds();
  });

  it('a slow but steady body is not a stall (the timer resets on each chunk)', async () => {
    // 8 pieces 60 ms apart: ~480 ms in total, well over the 200 ms stall limit.
    const r = await ensureSource(spec({ url: `${base}/trickle/${NAME}` }), opts({ stallTimeoutMs: 200 }));
    expect(r.from).toBe(`${base}/trickle/${NAME}`);
  });

  it('no response headers within connectTimeoutMs → next candidate', async () => {
    const r = await ensureSource(spec({ url: `${base}/hang/${NAME}` }), opts({ connectTimeoutMs: 150, mirrors: [`${base}/good`] }));
    expect(r.from).toBe(`${base}/good/${NAME}`);
  });

  it('uses the real global fetch by default (connection refused is reported)', async () => {
    // A port nothing listens on: grab a free one and close it.
    const s = await startServer();
    const dead = s.base;
    await s.close();
    const err = (await rejection(
      ensureSource(spec({ url: `${dead}/good/${NAME}` }), { cacheDir, connectTimeoutMs: 2_000 }),
    )) as SourceFetchError;
    expect(err.attempts[0]).toMatchObject({ kind: 'connect' });
    expect(err.attempts[0]!.reason).toContain('ECONNREFUSED');
  });

  it('explains a bogus Content-Encoding that fetch decoded', async () => {
    const err = (await rejection(ensureSource(spec({ url: `${base}/gzip-enc/${NAME}` }), opts()))) as SourceFetchError;
    expect(err.attempts).toHaveLength(1);
    expect(err.attempts[0]!.reason).toContain('Content-Encoding: gzip');
    await expectCacheHolds();
    // The classic misconfiguration: a real .tar.gz labelled gzip-encoded; fetch hands us the decoded tar.
    const err2 = (await rejection(
      ensureSource(spec({ name: 'x.tar.gz', url: `${base}/gzip-real/x.tar.gz`, sha256: sha256(GZ) }), opts()),
    )) as SourceFetchError;
    expect(err2.attempts[0]).toMatchObject({ kind: 'checksum', expectedSha256: sha256(GZ) });
    expect(err2.attempts[0]!.reason).toContain('Content-Encoding: gzip');
    await expectCacheHolds();
  });

  it('refuses bodies over maxBytes', async () => {
    const err = (await rejection(ensureSource(spec({ url: `${base}/good/${NAME}` }), opts({ maxBytes: 1000 })))) as SourceFetchError;
    expect(err.attempts[0]).toMatchObject({ kind: 'too-large' });
    await expectCacheHolds();
  });

  it('sends Accept-Encoding: identity', async () => {
    let seen: Headers | undefined;
    const spy: typeof fetch = async (input, init) => {
      seen = new Headers(init?.headers);
      return fetch(input, init);
    };
    await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts({ fetchImpl: spy }));
    expect(seen?.get('accept-encoding')).toBe('identity');
  });
});

describe('ensureSource: cache', () => {
  it('a cache hit needs no network (server closed, fetch never called)', async () => {
    const s = await startServer();
    const url = `${s.base}/good/${NAME}`;
    await ensureSource(spec({ url }), opts());
    await s.close();
    let called = 0;
    const noNet: typeof fetch = async () => {
      called++;
      throw new Error('network used');
    };
    const r = await ensureSource(spec({ url }), opts({ fetchImpl: noNet }));
    expect(r).toMatchObject({ from: 'cache', sha256: GOOD_SHA, sizeBytes: GOOD.length });
    expect(called).toBe(0);
    // Also under another name: the cache is content-addressed.
    const r2 = await ensureSource(spec({ name: 'renamed.tar.xz', url }), opts({ fetchImpl: noNet, offline: true }));
    expect(r2.from).toBe('cache');
  });

  it('a cache hit bumps the mtime (used by pruneCache olderThanDays)', async () => {
    await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts());
    const p = cachedSourcePath(cacheDir, GOOD_SHA);
    const old = new Date(Date.now() - 10 * 86_400_000);
    await fs.utimes(p, old, old);
    await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts());
    expect((await fs.stat(p)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a corrupted cache entry is re-hashed, moved aside and fetched again', async () => {
    const p = cachedSourcePath(cacheDir, GOOD_SHA);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, 'garbage');
    const r = await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts());
    expect(r.from).toBe(`${base}/good/${NAME}`);
    expect(sha256(await fs.readFile(p))).toBe(GOOD_SHA);
  });

  it('a corrupted cache entry offline: error names the mismatch', async () => {
    const p = cachedSourcePath(cacheDir, GOOD_SHA);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, 'garbage');
    const err = (await rejection(ensureSource(spec(), opts({ offline: true })))) as SourceFetchError;
    expect(err.message).toContain('CHECKSUM MISMATCH');
    expect(err.message).toContain(sha256(Buffer.from('garbage')));
    await expect(fs.stat(p)).rejects.toThrow(/ENOENT/);
  });

  it('sweeps temp files older than a day, keeps fresh ones', async () => {
    const tmp = path.join(cacheDir, 'sources', 'tmp');
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'old.part'), 'x');
    await fs.writeFile(path.join(tmp, 'fresh.part'), 'y');
    const old = new Date(Date.now() - 25 * 3_600_000);
    await fs.utimes(path.join(tmp, 'old.part'), old, old);
    await ensureSource(spec({ url: `${base}/good/${NAME}` }), opts());
    expect(await fs.readdir(tmp)).toEqual(['fresh.part']);
  });
});

describe('ensureSource: interruption and races', () => {
  it('aborting midway rejects with the abort reason and leaves neither a final nor a temp file', async () => {
    const ac = new AbortController();
    const reason = new Error('interrupted by user');
    const err = await rejection(
      ensureSource(
        spec({ url: `${base}/stall/${NAME}` }),
        opts({
          signal: ac.signal,
          mirrors: [`${base}/good`],
          onProgress: (e) => {
            if (e.receivedBytes > 0) ac.abort(reason);
          },
        }),
      ),
    );
    expect(err).toBe(reason); // not a SourceFetchError, and the good mirror was not tried
    expect(server.requests).toEqual([`/stall/${NAME}`]);
    await expectCacheHolds();
  });

  it('an already aborted signal does nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(ensureSource(spec({ url: `${base}/good/${NAME}` }), opts({ signal: ac.signal }))).rejects.toThrow();
    expect(server.requests).toEqual([]);
  });

  it('concurrent ensureSource calls for the same spec both succeed, one file', async () => {
    const s = spec({ url: `${base}/delay/${NAME}` });
    const results = await Promise.all([ensureSource(s, opts()), ensureSource(s, opts()), ensureSource(s, opts())]);
    for (const r of results) {
      expect(r.path).toBe(cachedSourcePath(cacheDir, GOOD_SHA));
      expect(r.sha256).toBe(GOOD_SHA);
    }
    // All downloaded in parallel (none saw the cache), each renamed over the same name.
    expect(server.requests.length).toBe(3);
    await expectCacheHolds(GOOD_SHA);
    expect(sha256(await fs.readFile(results[0]!.path))).toBe(GOOD_SHA);
  });
});

describe('ensureSource: local mirrors and offline', () => {
  let mirrorDir: string;
  beforeEach(async () => {
    mirrorDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lrb-mirror-'));
    await fs.writeFile(path.join(mirrorDir, NAME), GOOD);
  });
  afterEach(async () => {
    await fs.rm(mirrorDir, { recursive: true, force: true });
  });

  it('file:// mirror', async () => {
    const mirror = pathToFileURL(mirrorDir).href;
    const r = await ensureSource(spec(), opts({ mirrors: [mirror] }));
    expect(r.from).toBe(`${mirror}/${NAME}`);
    await expectCacheHolds(GOOD_SHA);
    // The mirror file is copied, not moved.
    expect((await fs.stat(path.join(mirrorDir, NAME))).size).toBe(GOOD.length);
  });

  it('plain directory mirror, missing file reported as not found', async () => {
    const empty = path.join(mirrorDir, 'empty');
    await fs.mkdir(empty);
    const r = await ensureSource(spec(), opts({ mirrors: [empty, mirrorDir] }));
    expect(r.from).toBe(pathToFileURL(path.join(mirrorDir, NAME)).href);
  });

  it('local mirror with wrong bytes is refused', async () => {
    await fs.writeFile(path.join(mirrorDir, NAME), 'not it');
    const err = (await rejection(ensureSource(spec(), opts({ mirrors: [mirrorDir] })))) as SourceFetchError;
    expect(err.checksumMismatches).toHaveLength(1);
    await expectCacheHolds();
  });

  it('offline without the file: clear error, no network', async () => {
    let called = 0;
    const noNet: typeof fetch = async () => {
      called++;
      throw new Error('network used');
    };
    const err = (await rejection(
      ensureSource(spec(), opts({ offline: true, fetchImpl: noNet, mirrors: [`${base}/good`] })),
    )) as SourceFetchError;
    expect(err).toBeInstanceOf(SourceFetchError);
    expect(err.offline).toBe(true);
    expect(err.message).toContain('offline mode and it is not in the cache');
    expect(err.message).toContain(cachedSourcePath(cacheDir, GOOD_SHA));
    expect(err.message).toContain('without --offline');
    expect(err.attempts.every((a) => a.kind === 'offline')).toBe(true);
    expect(called).toBe(0);
    expect(server.requests).toEqual([]);
  });

  it('offline still uses local mirrors (no network involved)', async () => {
    const r = await ensureSource(spec(), opts({ offline: true, mirrors: [`${base}/good`, mirrorDir] }));
    expect(r.from).toBe(pathToFileURL(path.join(mirrorDir, NAME)).href);
    expect(server.requests).toEqual([]);
  });
});

describe('ensureSource: validation', () => {
  it.each([
    [{ sha256: 'abc' }, /64 lowercase hex/],
    [{ sha256: GOOD_SHA.toUpperCase() }, /use lowercase/],
    [{ name: '../etc/passwd' }, /plain file name/],
    [{ name: 'a/b.tar.gz' }, /plain file name/],
    [{ name: 'a..b.tar.gz' }, /\.\./],
    [{ name: '' }, /plain file name/],
    [{ url: 'ftp://example.org/x.tar.gz' }, /not supported/],
    [{ debianPath: '/pool/x' }, /relative archive path/],
    [{ debianPath: 'pool/../x' }, /relative archive path/],
  ] as const)('rejects %o before any network access', async (over, re) => {
    const calls: string[] = [];
    await expect(ensureSource(spec(over), opts({ fetchImpl: sandboxFetch(calls) }))).rejects.toThrow(re);
    await expect(ensureSource(spec(over), opts())).rejects.toBeInstanceOf(SourceSpecError);
    expect(calls).toEqual([]);
  });
});

describe('ensureSources', () => {
  it('fetches several with limited concurrency, dedupes by sha256, keeps order', async () => {
    const other = Buffer.from('another tarball');
    const mirrorDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lrb-mirror-'));
    try {
      await fs.writeFile(path.join(mirrorDir, 'other.tar.gz'), other);
      const specs: SourceSpec[] = [
        spec({ name: 'a.tar.xz', url: `${base}/delay/a.tar.xz` }),
        spec({ name: 'other.tar.gz', url: `${base}/missing/other.tar.gz`, sha256: sha256(other) }),
        spec({ name: 'b.tar.xz', url: `${base}/delay/b.tar.xz` }), // same sha as a: fetched once
      ];
      const rs = await ensureSources(specs, opts({ mirrors: [mirrorDir], concurrency: 1 } as Partial<FetchOptions>));
      expect(rs.map((r) => r.spec.name)).toEqual(['a.tar.xz', 'other.tar.gz', 'b.tar.xz']);
      expect(rs[0]!.path).toBe(rs[2]!.path);
      expect(server.requests).toEqual(['/delay/a.tar.xz', '/missing/other.tar.gz']);
      expect(server.maxInFlight).toBeGreaterThanOrEqual(1);
      await expectCacheHolds(...[GOOD_SHA, sha256(other)].sort());
    } finally {
      await fs.rm(mirrorDir, { recursive: true, force: true });
    }
  });

  it('respects the concurrency limit', async () => {
    const s = await startServer();
    try {
      const specs = Array.from({ length: 5 }, (_, i) =>
        spec({ name: `f${i}.tar.gz`, url: `${s.base}/delay/f${i}.tar.gz`, sha256: i === 0 ? GOOD_SHA : sha256(Buffer.from(`x${i}`)) }),
      );
      // Only f0 verifies; the rest mismatch. All are attempted, 2 at a time.
      const err = await rejection(ensureSources(specs, { ...opts(), concurrency: 2 }));
      expect(err).toBeInstanceOf(AggregateError);
      expect((err as AggregateError).errors).toHaveLength(4);
      expect((err as Error).message).toMatch(/^4 of 5 sources could not be fetched/);
      expect(s.requests).toHaveLength(5);
      expect(s.maxInFlight).toBe(2);
      await expectCacheHolds(GOOD_SHA);
    } finally {
      await s.close();
    }
  });

  it('a single failure is rethrown as its SourceFetchError', async () => {
    const err = await rejection(ensureSources([spec({ url: `${base}/bad/${NAME}` })], opts()));
    expect(err).toBeInstanceOf(SourceFetchError);
  });
});
