import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { OutputPathError } from '../errors.js';

/** What to do about a file-system error, by errno code. */
const REMEDIES: Record<string, string> = {
  ENOSPC: 'the disk is full: free some space or choose another location',
  EDQUOT: 'the disk quota is exhausted: free some space or choose another location',
  EROFS: 'the file system is read-only: choose a writable location',
  EACCES: 'permission denied: choose a location you can write to',
  EPERM: 'permission denied: choose a location you can write to',
  ENOTDIR: 'a part of the path is a file, not a directory: choose a directory',
  EISDIR: 'it is a directory: remove it or choose another location',
  EEXIST: 'something else is in the way: remove it or choose another location',
  ENOENT: 'the location does not exist and cannot be created: choose an existing, writable location',
  ENAMETOOLONG: 'the path is too long: choose a shorter one',
};

/**
 * Turn a file-system error on `file` into one line naming the path and what to do.
 * `what` says what the path is for (`--out`, `--cache-dir`, `the build log`...).
 */
export function describeFsError(err: unknown, file: string, what: string): OutputPathError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const remedy = (code && REMEDIES[code]) ?? (err as Error)?.message ?? String(err);
  return new OutputPathError(file, code, `cannot write ${what} ${file}: ${remedy}${code ? ` (${code})` : ''}`, { cause: err });
}

/**
 * `mkdir -p` under a read-only mount reports ENOENT; ask the nearest existing ancestor for the
 * real reason (EROFS, EACCES...) by creating a directory in it.
 */
async function realCause(err: unknown, dir: string): Promise<unknown> {
  const code = (err as NodeJS.ErrnoException)?.code;
  // `mkdir -p` over an existing file says EEXIST: the real trouble is that it is not a directory.
  if (code === 'EEXIST') return Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  if (code !== 'ENOENT') return err;
  let parent = path.dirname(path.resolve(dir));
  for (;;) {
    const info = await stat(parent).catch(() => null);
    if (info) break;
    const up = path.dirname(parent);
    if (up === parent) return err;
    parent = up;
  }
  const probe = tempNameFor(path.join(parent, 'mkdir-probe'));
  try {
    await mkdir(probe);
    await rm(probe, { recursive: true, force: true });
    return err;
  } catch (probeErr) {
    return probeErr;
  }
}

/** Remove a file if it is there; never throws (for cleanup paths). */
export async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => {});
}

/** A temporary name beside `file`, so the final rename stays on one file system. */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write `data` to `file` through a temporary name beside it, fsync and a rename: readers see the
 * old file or the whole new one, never a part; a failure leaves the old file and no temporary.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, what = 'file'): Promise<void> {
  const tmp = tempNameFor(file);
  let renamed = false;
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    renamed = true;
  } catch (err) {
    throw describeFsError(err, file, what);
  } finally {
    if (!renamed) await removeQuietly(tmp);
  }
  try {
    const dir = await open(path.dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Directory fsync is not supported everywhere; the rename itself has succeeded.
  }
}

/**
 * Make sure `dir` exists and a file can be created in it (a probe file, removed at once), so a
 * bad `--out` or `--cache-dir` fails before any work instead of after a 10-minute build.
 */
export async function ensureWritableDir(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const info = await stat(dir);
    if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw describeFsError(await realCause(err, dir), dir, what);
  }
  const probe = tempNameFor(path.join(dir, 'write-probe'));
  try {
    const fh = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    await fh.close();
  } catch (err) {
    throw describeFsError(err, dir, what);
  } finally {
    await removeQuietly(probe);
  }
}
