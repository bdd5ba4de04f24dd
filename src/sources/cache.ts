/**
 * Content-addressed source cache:
 *
 *   <cacheDir>/sources/sha256/<64-hex>   verified files, named by their SHA-256
 *   <cacheDir>/sources/tmp/<...>.part    downloads in progress (same file system → atomic rename)
 *
 * A file only ever appears under `sha256/` via rename(2) after its hash was verified and its data
 * fsync'ed, so a reader never sees a partial file under the final name. The mtime of a cached file is
 * bumped on every cache hit, so `pruneCache({ olderThanDays })` removes files not *used* for that long.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isSha256Hex } from './spec.js';

export const CACHE_APP_DIR = 'lambda-runtime-builder';
/** Temp files older than this are considered abandoned (crashed or killed process) and swept. */
export const STALE_TEMP_MS = 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** `$XDG_CACHE_HOME/lambda-runtime-builder`, or `~/.cache/lambda-runtime-builder`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, CACHE_APP_DIR);
  const home = env.HOME || os.homedir();
  return path.join(home, '.cache', CACHE_APP_DIR);
}

export function sourcesDir(cacheDir: string): string {
  return path.join(cacheDir, 'sources', 'sha256');
}

export function tempDir(cacheDir: string): string {
  return path.join(cacheDir, 'sources', 'tmp');
}

/** Where the verified file with this SHA-256 lives (whether or not it exists yet). */
export function cachedSourcePath(cacheDir: string, sha256: string): string {
  return path.join(sourcesDir(cacheDir), sha256);
}

/** Streams a file through SHA-256 (≈10–20 ms for a 12 MB tarball on a current x86 core). */
export async function sha256File(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}

/** Removes temp files older than `maxAgeMs` (by mtime; live downloads keep theirs fresh). Never throws. */
export async function sweepStaleTempFiles(cacheDir: string, maxAgeMs = STALE_TEMP_MS): Promise<string[]> {
  const dir = tempDir(cacheDir);
  const removed: string[] = [];
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return removed;
  }
  const cutoff = Date.now() - maxAgeMs;
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      const st = await fs.lstat(p);
      if (st.isFile() && st.mtimeMs < cutoff) {
        await fs.rm(p, { force: true });
        removed.push(p);
      }
    } catch {
      // Raced with another process: fine.
    }
  }
  return removed;
}

export interface PruneOptions {
  /** Never remove these (e.g. every SHA-256 pinned by the current recipes). */
  keepSha256?: ReadonlySet<string>;
  /** Only remove files not used (mtime, bumped on each cache hit) for at least this many days. */
  olderThanDays?: number;
  /** Report what would be removed, remove nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  removed: string[];
  freedBytes: number;
}

/**
 * Removes cached sources not in `keepSha256` (and, if given, unused for `olderThanDays`), plus temp
 * files abandoned for more than a day. With neither option every cached source is removed.
 * Only `<64-hex>` files under `sources/sha256/` are considered; anything else there is left alone.
 */
export async function pruneCache(cacheDir: string, opts: PruneOptions = {}): Promise<PruneResult> {
  const { keepSha256, olderThanDays, dryRun = false } = opts;
  if (olderThanDays !== undefined && !(Number.isFinite(olderThanDays) && olderThanDays >= 0)) {
    throw new RangeError(`olderThanDays must be a non-negative number, got ${olderThanDays}`);
  }
  const now = Date.now();
  const result: PruneResult = { removed: [], freedBytes: 0 };

  const consider = async (p: string, shouldRemove: (st: import('node:fs').Stats) => boolean): Promise<void> => {
    let st;
    try {
      st = await fs.lstat(p);
    } catch {
      return;
    }
    if (!st.isFile() || !shouldRemove(st)) return;
    if (!dryRun) {
      try {
        await fs.rm(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
    result.removed.push(p);
    result.freedBytes += st.size;
  };

  const dir = sourcesDir(cacheDir);
  for (const name of (await readdirOrEmpty(dir)).sort()) {
    if (!isSha256Hex(name) || keepSha256?.has(name)) continue;
    await consider(path.join(dir, name), (st) => olderThanDays === undefined || now - st.mtimeMs >= olderThanDays * DAY_MS);
  }
  const tmp = tempDir(cacheDir);
  for (const name of (await readdirOrEmpty(tmp)).sort()) {
    await consider(path.join(tmp, name), (st) => now - st.mtimeMs >= STALE_TEMP_MS);
  }
  return result;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
