/**
 * Tar input and output for layer contents.
 *
 * Input is typically Docker's `GET /containers/{id}/archive?path=/opt`, whose entries are named
 * `opt/`, `opt/bin/php`, …; output feeds Docker's `PUT /containers/{id}/archive` (putArchive).
 */
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import {
  type LayerEntry,
  PERMISSION_MASK,
  UnsafeEntryError,
  assertValidEntries,
  findEntriesBelowNonDirectories,
  findEscapingSymlinks,
  rewriteAbsoluteTarget,
  sortEntries,
} from './entries.js';

/** A tar entry that escapes the layer root or cannot be represented safely. */
export class UnsafeTarEntryError extends UnsafeEntryError {
  override name = 'UnsafeTarEntryError';
  constructor(entryName: string, reason: string) {
    super(entryName, reason, 'tar');
  }
}

export interface ReadTarOptions {
  /**
   * Leading directory to remove from every entry name (`opt` for Docker's archive of `/opt`).
   * Accepted as `opt`, `opt/`, `/opt` or `./opt`. The entry naming the prefix itself is dropped;
   * an entry outside the prefix is rejected.
   */
  stripPrefix?: string;
  /**
   * The absolute directory the layer root corresponds to, used to rewrite absolute symlink
   * targets (`/opt/lib/x` → relative). Defaults to `/` + stripPrefix (so `/opt` for `opt`).
   * Without either, every absolute symlink target is rejected.
   */
  symlinkRoot?: string;
}

/** Metadata of one tar entry, without its body. */
export interface TarListing {
  /** Layer-relative path (prefix stripped); `''` for the prefix directory itself. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** tar-stream's type name (`character-device`, `fifo`, …), useful when `type` is `other`. */
  tarType: string;
  mode: number;
  size: number;
  /** Raw link name for symlinks and hardlinks, exactly as stored. */
  linkTarget?: string;
}

const trimPrefix = (prefix: string | undefined): string[] =>
  (prefix ?? '').split('/').filter((s) => s !== '' && s !== '.');

/**
 * Maps an archive name to a layer path. Returns `''` for the prefix directory (the root).
 * Throws UnsafeTarEntryError for absolute names, `..` segments, NUL bytes, names outside the prefix.
 */
function archiveNameToPath(name: string, prefix: readonly string[], what = 'name'): string {
  if (name.includes('\0')) throw new UnsafeTarEntryError(name, `${what} contains a NUL byte`);
  if (name.startsWith('/')) throw new UnsafeTarEntryError(name, `absolute ${what} escapes the layer root`);
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new UnsafeTarEntryError(name, `${what} contains ".." and could escape the layer root`);
  for (let i = 0; i < prefix.length; i++) {
    if (segments[i] !== prefix[i]) {
      throw new UnsafeTarEntryError(name, `${what} is outside the expected prefix ${JSON.stringify(prefix.join('/') + '/')}`);
    }
  }
  return segments.slice(prefix.length).join('/');
}

/** tar-stream's header, typed as it is at run time (nulls included, any type flag). */
interface TarHeader {
  name: string;
  mode?: number | null;
  size?: number | null;
  type?: string | null;
  linkname?: string | null;
}
type TarEntryStream = AsyncIterable<unknown> & { header: TarHeader };

async function* tarEntries(stream: NodeJS.ReadableStream): AsyncGenerator<TarEntryStream> {
  const extract = tar.extract();
  const source = stream as NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
  const onSourceError = (err: Error): void => {
    extract.destroy(err);
  };
  source.on('error', onSourceError);
  source.pipe(extract as unknown as NodeJS.WritableStream);
  let completed = false;
  try {
    for await (const entry of extract) yield entry as unknown as TarEntryStream;
    completed = true;
  } finally {
    source.removeListener('error', onSourceError);
    if (!completed) {
      source.unpipe(extract as unknown as NodeJS.WritableStream);
      source.destroy?.();
    }
  }
}

async function readBody(entry: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of entry) {
    // discard
  }
}

/**
 * Reads a tar stream into layer entries.
 *
 * - Names are made relative to `stripPrefix`; the prefix directory itself is dropped.
 * - Absolute names, `..` segments, names outside the prefix → `UnsafeTarEntryError`.
 * - Symlinks: absolute targets inside `symlinkRoot` (default `/<stripPrefix>`) are rewritten to
 *   relative ones; other absolute targets, and relative targets resolving outside the root
 *   (following the archive's other symlinks), → `UnsafeTarEntryError`.
 * - Entries below a symlink → `UnsafeTarEntryError` (extraction would write through the link).
 * - Hardlinks become copies of their target, which must be a file or symlink appearing earlier.
 * - Character/block devices, fifos and unknown types → `UnsafeTarEntryError`.
 * - A name appearing twice: the later entry wins (like tar extraction).
 *
 * Returns entries sorted by path. Keeps every file body in memory.
 */
export async function readTarEntries(stream: NodeJS.ReadableStream, opts: ReadTarOptions = {}): Promise<LayerEntry[]> {
  const prefix = trimPrefix(opts.stripPrefix);
  const symlinkRoot =
    opts.symlinkRoot !== undefined ? opts.symlinkRoot : prefix.length > 0 ? `/${prefix.join('/')}` : undefined;
  const byPath = new Map<string, LayerEntry>();
  const rawNames = new Map<string, string>();
  const rawLinkTargets = new Map<string, string>();
  const symlinkEntry = (name: string, path: string, target: string): LayerEntry => {
    if (target === '') throw new UnsafeTarEntryError(name, 'symlink with an empty target');
    if (target.includes('\0')) throw new UnsafeTarEntryError(name, 'symlink target contains a NUL byte');
    let relative: string | null = target;
    if (target.startsWith('/')) {
      relative = symlinkRoot === undefined ? null : rewriteAbsoluteTarget(path, target, symlinkRoot);
      if (relative === null) {
        throw new UnsafeTarEntryError(
          name,
          `symlink target ${JSON.stringify(target)} is absolute and outside ${symlinkRoot ?? 'the layer root'}`,
        );
      }
    }
    rawLinkTargets.set(path, target);
    return { type: 'symlink', path, mode: 0o777, target: relative };
  };

  for await (const entry of tarEntries(stream)) {
    const h = entry.header;
    const name = h.name;
    const path = archiveNameToPath(name, prefix);
    const mode = (h.mode ?? 0) & PERMISSION_MASK;
    const type = h.type ?? 'file';
    if (path === '' && type !== 'directory') {
      await drain(entry);
      throw new UnsafeTarEntryError(name, `a ${type} entry cannot replace the layer root`);
    }
    switch (type) {
      case 'file':
      case 'contiguous-file': {
        const data = await readBody(entry);
        byPath.set(path, { type: 'file', path, mode, data });
        break;
      }
      case 'directory':
        await drain(entry);
        if (path !== '') byPath.set(path, { type: 'directory', path, mode });
        break;
      case 'symlink': {
        await drain(entry);
        byPath.set(path, symlinkEntry(name, path, h.linkname ?? ''));
        break;
      }
      case 'link': {
        await drain(entry);
        const linkname = h.linkname ?? '';
        if (linkname === '') throw new UnsafeTarEntryError(name, 'hardlink with an empty target');
        const targetPath = archiveNameToPath(linkname, prefix, 'hardlink target');
        const target = byPath.get(targetPath);
        if (target === undefined || target.type === 'directory') {
          throw new UnsafeTarEntryError(
            name,
            `hardlink target ${JSON.stringify(linkname)} is not a file or symlink appearing earlier in the archive`,
          );
        }
        // A hardlinked symlink shares the link text, which is interpreted from the new location.
        byPath.set(
          path,
          target.type === 'symlink'
            ? symlinkEntry(name, path, rawLinkTargets.get(targetPath) ?? target.target)
            : { type: 'file', path, mode: target.mode, data: target.data },
        );
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        await drain(entry);
        throw new UnsafeTarEntryError(name, `${type} entries are not allowed in a layer`);
      default:
        await drain(entry);
        throw new UnsafeTarEntryError(name, `unsupported tar entry type ${JSON.stringify(type)}`);
    }
    rawNames.set(path, name);
  }

  const entries = [...byPath.values()];
  const below = findEntriesBelowNonDirectories(entries)[0];
  if (below) {
    throw new UnsafeTarEntryError(
      rawNames.get(below.path) ?? below.path,
      `is below ${JSON.stringify(below.parent)}, which is a ${below.parentType}, not a directory`,
    );
  }
  const escaping = findEscapingSymlinks(entries)[0];
  if (escaping) throw new UnsafeTarEntryError(rawNames.get(escaping.path) ?? escaping.path, escaping.reason);
  return sortEntries(entries);
}

/**
 * Lists a tar's entries without keeping bodies (for large directories such as `/usr/lib64`).
 * Names are checked and prefix-stripped like `readTarEntries` (throws `UnsafeTarEntryError` for
 * absolute/`..`/out-of-prefix names), but link targets and entry types are only reported, not
 * judged. The prefix directory itself is listed with path `''`. Order is archive order.
 */
export async function listTarEntries(stream: NodeJS.ReadableStream, opts: Pick<ReadTarOptions, 'stripPrefix'> = {}): Promise<TarListing[]> {
  const prefix = trimPrefix(opts.stripPrefix);
  const out: TarListing[] = [];
  for await (const entry of tarEntries(stream)) {
    const h = entry.header;
    await drain(entry);
    const path = archiveNameToPath(h.name, prefix);
    const tarType = h.type ?? 'unknown';
    const type: TarListing['type'] =
      tarType === 'file' || tarType === 'contiguous-file'
        ? 'file'
        : tarType === 'directory'
          ? 'directory'
          : tarType === 'symlink'
            ? 'symlink'
            : tarType === 'link'
              ? 'hardlink'
              : 'other';
    const listing: TarListing = { path, type, tarType, mode: (h.mode ?? 0) & PERMISSION_MASK, size: h.size ?? 0 };
    if ((type === 'symlink' || type === 'hardlink') && h.linkname) listing.linkTarget = h.linkname;
    out.push(listing);
  }
  return out;
}

/** Only the layer-relative names of a tar's entries (the prefix directory itself excluded). */
export async function listTarNames(stream: NodeJS.ReadableStream, opts: Pick<ReadTarOptions, 'stripPrefix'> = {}): Promise<string[]> {
  return (await listTarEntries(stream, opts)).map((e) => e.path).filter((p) => p !== '');
}

export interface PackTarOptions {
  /** Directory name every entry is placed under (`opt` → `opt/bin/php`). No entry for the prefix itself. */
  prefix?: string;
  /** Timestamp of every entry. Default 2000-01-01T00:00:00Z. */
  mtime?: Date;
}

/** Default tar timestamp: 2000-01-01T00:00:00Z (the same wall-clock time as the zips' entries). */
export const DEFAULT_TAR_MTIME = new Date(Date.UTC(2000, 0, 1));

/**
 * Packs entries into a tar stream (for Docker's putArchive): entries validated
 * (`assertValidEntries`: no symlink may point outside the layer root, whatever the prefix) and sorted so directories precede their children, fixed mtime,
 * uid/gid 0, no user/group names. Long or non-ASCII names use pax headers (tar-stream).
 * Note: tar-stream substitutes its default mode (0644/0755) for a mode of exactly 0.
 */
export function packTar(entries: LayerEntry[], opts: PackTarOptions = {}): Readable {
  assertValidEntries(entries);
  const prefix = trimPrefix(opts.prefix).join('/');
  if (trimPrefix(opts.prefix).includes('..')) throw new UnsafeTarEntryError(opts.prefix ?? '', 'prefix contains ".."');
  const mtime = opts.mtime ?? DEFAULT_TAR_MTIME;
  const pack = tar.pack();
  const sorted = sortEntries(entries);
  const name = (p: string): string => (prefix === '' ? p : `${prefix}/${p}`);

  // Add entries one at a time so a large layer is not duplicated in tar-stream's queue.
  let i = 0;
  const addNext = (err?: Error | null): void => {
    if (err) {
      pack.destroy(err);
      return;
    }
    const entry = sorted[i++];
    if (entry === undefined) {
      pack.finalize();
      return;
    }
    const base = { name: name(entry.path), mode: entry.mode & PERMISSION_MASK, uid: 0, gid: 0, mtime };
    switch (entry.type) {
      case 'file':
        pack.entry({ ...base, type: 'file', size: entry.data.length }, entry.data, addNext);
        break;
      case 'directory':
        // Directory names end with '/', as GNU tar and Docker write them.
        pack.entry({ ...base, name: `${base.name}/`, type: 'directory' }, addNext);
        break;
      case 'symlink':
        pack.entry({ ...base, type: 'symlink', linkname: entry.target }, addNext);
        break;
    }
  };
  addNext();
  return Readable.from(pack, { objectMode: false });
}
