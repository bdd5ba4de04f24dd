/**
 * Fetch pinned source tarballs into the content-addressed cache, verifying SHA-256.
 *
 * Candidates are tried in order (official URL, `--mirror`s, Debian's archive); the first one whose
 * bytes hash to the pinned SHA-256 wins. Downloads stream to a unique temp file while hashing, and are
 * fsync'ed and renamed into `sources/sha256/<hex>` only after the hash matched, so an interrupted or
 * refused download never leaves anything under the final name, and two processes racing for the same
 * file both succeed (renaming a file over an identical one is harmless).
 *
 * Cache hits re-hash the file every time (no network): ~10–20 ms for a 12 MB tarball here, negligible
 * next to a build, and it catches a corrupted or hand-edited cache entry instead of trusting metadata.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cachedSourcePath,
  sha256File,
  sourcesDir,
  sweepStaleTempFiles,
  tempDir,
} from './cache.js';
import { CandidateError, SourceFetchError, type AttemptFailureKind, type FetchAttempt } from './errors.js';
import { candidateUrls, validateSourceSpec, type CandidateOptions, type SourceSpec } from './spec.js';

export interface SourceProgress {
  name: string;
  url: string;
  receivedBytes: number;
  /** From Content-Length (or the local file size) when known. */
  totalBytes?: number;
}

export interface FetchOptions extends CandidateOptions {
  /** Cache root; verified sources live in `${cacheDir}/sources/sha256/<hex>`. */
  cacheDir: string;
  /** No network: use the cache, and local (`file://` / directory) mirrors only. */
  offline?: boolean;
  /** Injectable for tests; default global `fetch`. */
  fetchImpl?: typeof fetch;
  /** No response headers within this → next candidate. Default 15 000. */
  connectTimeoutMs?: number;
  /** No body bytes for this long → next candidate. Default 30 000. */
  stallTimeoutMs?: number;
  /** Refuse bodies larger than this (a broken mirror must not fill the disk). Default 2 GiB. */
  maxBytes?: number;
  /** Aborting (e.g. on Ctrl-C) stops at once, removes the temp file and rejects with the signal's reason. */
  signal?: AbortSignal;
  onProgress?: (e: SourceProgress) => void;
  log?: (msg: string) => void;
  /**
   * Where to try each source, in order, when the caller has already decided it (the build plan
   * lists these URLs); default {@link candidateUrls} from `mirrors` and `debianBase`.
   */
  urlsFor?: (spec: SourceSpec) => string[];
}

export interface FetchedSource {
  spec: SourceSpec;
  /** Absolute path of the verified file in the cache. */
  path: string;
  sha256: string;
  sizeBytes: number;
  /** `'cache'`, or the URL the bytes came from. */
  from: 'cache' | (string & {});
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
export const DEFAULT_CONCURRENCY = 3;
const USER_AGENT = 'lambda-runtime-builder (source fetch)';

/** Makes sure the verified file for `spec` is in the cache, downloading it if needed. */
export async function ensureSource(spec: SourceSpec, opts: FetchOptions): Promise<FetchedSource> {
  validateSourceSpec(spec);
  const candidates = opts.urlsFor ? opts.urlsFor(spec) : candidateUrls(spec, opts); // also validates the mirrors
  const log = opts.log ?? (() => {});
  const cacheDir = path.resolve(opts.cacheDir);
  const finalPath = cachedSourcePath(cacheDir, spec.sha256);
  opts.signal?.throwIfAborted();

  await sweepStaleTempFiles(cacheDir);
  const attempts: FetchAttempt[] = [];

  // 1. Cache: no network at all.
  const cached = await checkCached(finalPath, spec.sha256);
  if (cached.state === 'hit') {
    log(`${spec.name}: cached (${finalPath})`);
    return { spec, path: finalPath, sha256: spec.sha256, sizeBytes: cached.sizeBytes, from: 'cache' };
  }
  if (cached.state === 'corrupt') {
    log(`${spec.name}: cached file ${finalPath} has sha256 ${cached.actual}, expected ${spec.sha256}; moved aside, fetching again`);
    attempts.push({
      url: `cache ${finalPath}`,
      kind: 'checksum',
      reason: `cached file is corrupt: expected sha256 ${spec.sha256}, actual ${cached.actual} (moved aside)`,
      expectedSha256: spec.sha256,
      actualSha256: cached.actual,
    });
  }

  // 2. Candidates, in order.
  await fs.mkdir(sourcesDir(cacheDir), { recursive: true });
  await fs.mkdir(tempDir(cacheDir), { recursive: true });
  for (const url of candidates) {
    opts.signal?.throwIfAborted();
    if (opts.offline && !url.startsWith('file:')) {
      attempts.push({ url, kind: 'offline', reason: 'not tried: offline mode' });
      continue;
    }
    log(`${spec.name}: fetching ${url}`);
    try {
      const { sizeBytes } = await fetchCandidate(spec, url, cacheDir, finalPath, opts);
      log(`${spec.name}: verified sha256 ${spec.sha256} (${sizeBytes} bytes) from ${url}`);
      return { spec, path: finalPath, sha256: spec.sha256, sizeBytes, from: url };
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      const ce = err instanceof CandidateError ? err : new CandidateError('io', describeError(err));
      attempts.push({ url, kind: ce.kind, reason: ce.message, ...ce.extra });
      log(`${spec.name}: ${url} failed: ${ce.message}`);
    }
  }
  throw new SourceFetchError({ spec, attempts, cachePath: finalPath, offline: opts.offline === true });
}

/**
 * {@link ensureSource} for several specs, `concurrency` at a time (default 3); specs sharing a SHA-256
 * are fetched once. All are attempted (so what can be cached is); then, if one failed its
 * {@link SourceFetchError} is thrown, if several an `AggregateError` of them. Results keep input order.
 */
export async function ensureSources(
  specs: readonly SourceSpec[],
  opts: FetchOptions & { concurrency?: number },
): Promise<FetchedSource[]> {
  for (const s of specs) validateSourceSpec(s);
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_CONCURRENCY));
  const unique = new Map<string, SourceSpec>();
  for (const s of specs) if (!unique.has(s.sha256)) unique.set(s.sha256, s);

  const queue = [...unique.values()];
  const results = new Map<string, FetchedSource>();
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      if (opts.signal?.aborted) return;
      try {
        results.set(s.sha256, await ensureSource(s, opts));
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  opts.signal?.throwIfAborted();
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const msgs = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new AggregateError(errors, `${errors.length} of ${unique.size} sources could not be fetched:\n\n${msgs.join('\n\n')}`);
  }
  return specs.map((s) => ({ ...(results.get(s.sha256) as FetchedSource), spec: s }));
}

type CacheCheck = { state: 'miss' } | { state: 'hit'; sizeBytes: number } | { state: 'corrupt'; actual: string };

async function checkCached(finalPath: string, sha256: string): Promise<CacheCheck> {
  try {
    const st = await fs.stat(finalPath);
    if (!st.isFile()) return { state: 'miss' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'miss' };
    throw err;
  }
  const { sha256: actual, sizeBytes } = await sha256File(finalPath);
  if (actual === sha256) {
    // Record the use for pruneCache({ olderThanDays }); a read-only cache is fine too.
    const now = new Date();
    await fs.utimes(finalPath, now, now).catch(() => {});
    return { state: 'hit', sizeBytes };
  }
  // Move it aside (atomically) rather than delete: keeps evidence; swept with stale temp files.
  const aside = path.join(path.dirname(path.dirname(finalPath)), 'tmp', `corrupt-${sha256.slice(0, 16)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await fs.mkdir(path.dirname(aside), { recursive: true });
  await fs.rename(finalPath, aside).catch(() => fs.rm(finalPath, { force: true }));
  return { state: 'corrupt', actual };
}

/** Downloads one candidate to a temp file, verifies it and renames it into place. */
async function fetchCandidate(
  spec: SourceSpec,
  url: string,
  cacheDir: string,
  finalPath: string,
  opts: FetchOptions,
): Promise<{ sizeBytes: number }> {
  const tmpPath = path.join(
    tempDir(cacheDir),
    `${spec.sha256.slice(0, 16)}.${process.pid}.${randomBytes(6).toString('hex')}.part`,
  );
  const fh = await fs.open(tmpPath, 'wx', 0o644);
  let closed = false;
  let renamed = false;
  try {
    const hash = createHash('sha256');
    const { sizeBytes, contentEncoding } = await transfer(spec, url, opts, async (chunk) => {
      hash.update(chunk);
      for (let off = 0; off < chunk.byteLength; ) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    });
    const actual = hash.digest('hex');
    if (actual !== spec.sha256) {
      const ce = contentEncoding && contentEncoding !== 'identity' ? encodingHint(contentEncoding) : '';
      throw new CandidateError(
        'checksum',
        `checksum mismatch: expected sha256 ${spec.sha256}, actual ${actual} (${sizeBytes} bytes)${ce}`,
        { expectedSha256: spec.sha256, actualSha256: actual },
      );
    }
    await fh.sync();
    await fh.close();
    closed = true;
    try {
      await fs.rename(tmpPath, finalPath);
      renamed = true;
    } catch (err) {
      // Some platforms refuse to replace a file another process just put there; accept it if it is valid.
      if ((await checkCached(finalPath, spec.sha256).catch(() => undefined))?.state !== 'hit') {
        throw new CandidateError('io', `cannot move the verified file into the cache: ${describeError(err)}`);
      }
    }
    await fsyncDir(path.dirname(finalPath));
    return { sizeBytes };
  } finally {
    if (!closed) await fh.close().catch(() => {});
    if (!renamed) await fs.rm(tmpPath, { force: true }).catch(() => {});
  }
}

/**
 * Streams `url` into `sink`, enforcing the connect and stall timeouts and the external signal.
 * Rejects with a {@link CandidateError} (or the external signal's reason).
 */
async function transfer(
  spec: SourceSpec,
  url: string,
  opts: FetchOptions,
  sink: (chunk: Uint8Array) => Promise<void>,
): Promise<{ sizeBytes: number; contentEncoding?: string }> {
  const connectMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const stallMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;

  const ac = new AbortController();
  const external = opts.signal;
  const onExternalAbort = (): void => ac.abort(external?.reason);
  external?.addEventListener('abort', onExternalAbort, { once: true });
  if (external?.aborted) ac.abort(external.reason);
  // Everything we await is raced against this, so a fetchImpl or stream that ignores the signal cannot hang us.
  const aborted = new Promise<never>((_, reject) => {
    const fire = (): void => reject(ac.signal.reason);
    if (ac.signal.aborted) fire();
    else ac.signal.addEventListener('abort', fire, { once: true });
  });
  aborted.catch(() => {});
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);

  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, make: () => CandidateError): void => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(make()), ms);
  };

  let phase: 'connect' | 'body' = 'connect';
  let received = 0;
  let total: number | undefined;
  let read: () => Promise<Uint8Array | undefined>;
  let cancel: () => void = () => {};
  let contentEncoding: string | undefined;
  let finished = false;
  try {
    const protocol = new URL(url).protocol;
    if (protocol === 'file:') {
      const file = fileURLToPath(url);
      const st = await fs.stat(file).catch((err: NodeJS.ErrnoException) => {
        throw new CandidateError(err.code === 'ENOENT' ? 'not-found' : 'io', `${err.code === 'ENOENT' ? 'file not found' : describeError(err)}: ${file}`);
      });
      if (!st.isFile()) throw new CandidateError('io', `not a regular file: ${file}`);
      total = st.size;
      const it = createReadStream(file, { highWaterMark: 1 << 20, signal: ac.signal })[Symbol.asyncIterator]();
      read = async () => {
        const r = await it.next();
        return r.done ? undefined : (r.value as Buffer);
      };
      cancel = () => void it.return?.().catch(() => {});
    } else if (protocol === 'http:' || protocol === 'https:') {
      const fetchImpl = opts.fetchImpl ?? fetch;
      arm(connectMs, () => new CandidateError('timeout', `timed out: no response within ${connectMs} ms`));
      const res = await race(
        fetchImpl(url, {
          signal: ac.signal,
          redirect: 'follow',
          // Never let a server apply a transfer encoding that fetch would silently decode.
          headers: { 'accept-encoding': 'identity', 'user-agent': USER_AGENT },
        }),
      );
      clearTimeout(timer);
      if (!res.ok) {
        void res.body?.cancel().catch(() => {});
        throw new CandidateError('http', `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      }
      const len = res.headers.get('content-length');
      if (len !== null && /^\d+$/.test(len)) total = Number(len);
      contentEncoding = res.headers.get('content-encoding') ?? undefined;
      if (total !== undefined && total > maxBytes) {
        void res.body?.cancel().catch(() => {});
        throw new CandidateError('too-large', `refused: Content-Length ${total} exceeds the limit of ${maxBytes} bytes`);
      }
      const reader = res.body?.getReader();
      read = async () => {
        if (!reader) return undefined;
        const r = await reader.read();
        return r.done ? undefined : r.value;
      };
      cancel = () => void reader?.cancel().catch(() => {});
    } else {
      throw new CandidateError('io', `unsupported URL scheme ${protocol}`);
    }

    phase = 'body';
    const stalled = (): CandidateError =>
      new CandidateError('timeout', `stalled: no data for ${stallMs} ms after ${received}${total !== undefined ? ` of ${total}` : ''} bytes`);
    opts.onProgress?.({ name: spec.name, url, receivedBytes: 0, totalBytes: total });
    arm(stallMs, stalled);
    for (let chunk = await race(read()); chunk !== undefined; chunk = await race(read())) {
      arm(stallMs, stalled);
      received += chunk.byteLength;
      if (received > maxBytes) throw new CandidateError('too-large', `refused: body exceeds the limit of ${maxBytes} bytes`);
      await sink(chunk);
      opts.onProgress?.({ name: spec.name, url, receivedBytes: received, totalBytes: total });
    }
    clearTimeout(timer);
    const decoded = contentEncoding !== undefined && contentEncoding !== 'identity';
    if (total !== undefined && received !== total && !decoded) {
      throw new CandidateError('network', `connection closed early: received ${received} of ${total} bytes`);
    }
    finished = true;
    return { sizeBytes: received, contentEncoding };
  } catch (err) {
    if (external?.aborted) throw external.reason ?? err;
    if (err instanceof CandidateError) throw err;
    const ce = classify(err, phase, received, total);
    if (contentEncoding && contentEncoding !== 'identity') ce.message += encodingHint(contentEncoding);
    throw ce;
  } finally {
    clearTimeout(timer);
    external?.removeEventListener('abort', onExternalAbort);
    if (!finished) {
      ac.abort(new Error('download abandoned'));
      cancel();
    }
  }
}

function encodingHint(contentEncoding: string): string {
  return ` (the server sent Content-Encoding: ${contentEncoding} although identity was asked for; fetch decodes it, so the bytes are not the file: the mirror is misconfigured)`;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN', 'ENETDOWN']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const DROP_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

/** Maps a fetch/stream error to a candidate failure with a short, specific reason. */
function classify(err: unknown, phase: 'connect' | 'body', received: number, total: number | undefined): CandidateError {
  const { code, host } = findCode(err);
  const where = phase === 'body' ? ` after ${received}${total !== undefined ? ` of ${total}` : ''} bytes` : '';
  let kind: AttemptFailureKind = 'network';
  let what: string;
  if (code && DNS_CODES.has(code)) {
    kind = 'dns';
    what = `DNS lookup failed${host ? ` for ${host}` : ''} (${code})`;
  } else if (code && CONNECT_CODES.has(code)) {
    kind = 'connect';
    what = code === 'ECONNREFUSED' ? 'connection refused (ECONNREFUSED)' : `cannot connect (${code})`;
  } else if (code && TIMEOUT_CODES.has(code)) {
    kind = 'timeout';
    what = `timed out (${code})`;
  } else if (code && DROP_CODES.has(code)) {
    what = `connection dropped by the server (${code})`;
  } else if (code && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_/.test(code)) {
    kind = 'tls';
    what = `TLS error (${code})`;
  } else {
    what = describeError(err);
  }
  return new CandidateError(kind, `${what}${where}`);
}

function findCode(err: unknown): { code?: string; host?: string } {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const o = e as { code?: unknown; hostname?: unknown; cause?: unknown; errors?: unknown };
    if (typeof o.code === 'string' && o.code !== 'ABORT_ERR') {
      return { code: o.code, host: typeof o.hostname === 'string' ? o.hostname : undefined };
    }
    e = o.cause ?? (Array.isArray(o.errors) ? o.errors[0] : undefined);
  }
  return {};
}

function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as NodeJS.ErrnoException).code;
      parts.push(code && !e.message.includes(code) ? `${e.message} (${code})` : e.message);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.filter(Boolean).join(': ') || 'unknown error';
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable on Linux; not supported everywhere (e.g. Windows), so best effort.
  let dh: FileHandle | undefined;
  try {
    dh = await fs.open(dir, 'r');
    await dh.sync();
  } catch {
    // ignore
  } finally {
    await dh?.close().catch(() => {});
  }
}
