/**
 * The in-memory model of a Lambda layer's contents.
 *
 * A layer is extracted by Lambda into `/opt`; every `LayerEntry.path` is relative to that root.
 * Paths are normalized POSIX paths: no leading `/`, no `.` or `..` segments, no empty segments,
 * no trailing slash (`bin/php`, `lib/libssl.so.1.1`). `mode` holds permission bits only
 * (`0o7777` at most: rwx for user/group/other plus setuid/setgid/sticky), never file-type bits.
 */

export type LayerEntry =
  | { type: 'file'; path: string; mode: number; data: Buffer }
  | { type: 'directory'; path: string; mode: number }
  | { type: 'symlink'; path: string; mode: number; target: string };

export type LayerEntryType = LayerEntry['type'];

/** Mode given to parent directories that are created implicitly. */
export const DEFAULT_DIR_MODE = 0o755;
/** Permission bits kept in `LayerEntry.mode`. */
export const PERMISSION_MASK = 0o7777;
/** Linux's limit on symlink hops while resolving one path (ELOOP). */
const MAX_SYMLINK_HOPS = 40;

/** A path that cannot be a layer path (absolute, `..`, empty, NUL byte, …). */
export class LayerPathError extends Error {
  override readonly name = 'LayerPathError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`invalid layer path ${JSON.stringify(path)}: ${reason}`);
  }
}

/**
 * An archive entry that would write (or point) outside the layer root, or that cannot be
 * represented safely. Subclassed per archive format so callers can catch either.
 */
export class UnsafeEntryError extends Error {
  override name = 'UnsafeEntryError';
  constructor(
    /** The entry's name as it appears in the archive (or its layer path). */
    readonly entryName: string,
    readonly reason: string,
    kind = 'archive',
  ) {
    super(`unsafe ${kind} entry ${JSON.stringify(entryName)}: ${reason}`);
  }
}

/**
 * Splits a relative POSIX path into segments, dropping empty and `.` segments.
 * Returns `[]` for the root (`''`, `.`, `./`). Throws `LayerPathError` for absolute paths,
 * `..` segments and NUL bytes. Does not resolve anything.
 */
export function splitLayerPath(path: string): string[] {
  if (typeof path !== 'string') throw new LayerPathError(String(path), 'not a string');
  if (path.includes('\0')) throw new LayerPathError(path, 'contains a NUL byte');
  if (path.startsWith('/')) throw new LayerPathError(path, 'absolute paths are not allowed');
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') throw new LayerPathError(path, '".." segments are not allowed');
    segments.push(segment);
  }
  return segments;
}

/**
 * Normalizes a relative path to the canonical layer form (`./bin//php/` → `bin/php`).
 * Throws `LayerPathError` (naming the path) if it is absolute, contains `..` or a NUL byte,
 * or names the layer root itself.
 */
export function normalizeLayerPath(path: string): string {
  const segments = splitLayerPath(path);
  if (segments.length === 0) throw new LayerPathError(path, 'names the layer root, not an entry');
  return segments.join('/');
}

/** True when `path` is already in canonical layer form. */
export function isNormalizedLayerPath(path: string): boolean {
  try {
    return normalizeLayerPath(path) === path;
  } catch {
    return false;
  }
}

/** Throws `LayerPathError` unless `path` is already canonical (does not rewrite it). */
export function assertNormalizedLayerPath(path: string): void {
  const normalized = normalizeLayerPath(path);
  if (normalized !== path) {
    throw new LayerPathError(path, `not normalized (expected ${JSON.stringify(normalized)})`);
  }
}

/** Parent path of a layer path (`''` for a top-level entry). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

/** All proper ancestors of a layer path, shallowest first (`a/b/c` → `a`, `a/b`). */
export function ancestorPaths(path: string): string[] {
  const out: string[] = [];
  let i = path.indexOf('/');
  while (i !== -1) {
    out.push(path.slice(0, i));
    i = path.indexOf('/', i + 1);
  }
  return out;
}

/** Returns a copy of the entry with its path normalized and its mode reduced to permission bits. */
export function normalizeEntry(entry: LayerEntry): LayerEntry {
  const path = normalizeLayerPath(entry.path);
  const mode = entry.mode & PERMISSION_MASK;
  switch (entry.type) {
    case 'file':
      if (!Buffer.isBuffer(entry.data)) throw new LayerPathError(entry.path, 'file entry without a data Buffer');
      return { type: 'file', path, mode, data: entry.data };
    case 'directory':
      return { type: 'directory', path, mode };
    case 'symlink':
      if (typeof entry.target !== 'string' || entry.target === '') {
        throw new LayerPathError(entry.path, 'symlink with an empty target');
      }
      if (entry.target.includes('\0')) throw new LayerPathError(entry.path, 'symlink target contains a NUL byte');
      return { type: 'symlink', path, mode, target: entry.target };
    default: {
      const unknown: { type?: unknown; path?: unknown } = entry;
      throw new LayerPathError(String(unknown.path), `unknown entry type ${JSON.stringify(unknown.type)}`);
    }
  }
}

/** Code-unit order on paths. A parent is a prefix of its children, so it always sorts first. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Returns a new array sorted by path (plain code-unit order, independent of locale), which puts
 * every directory before its children. Stable for equal paths.
 */
export function sortEntries<T extends { path: string }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * Validates a list of entries for packing: every path canonical, no duplicate paths, no entry
 * below a file or symlink (`LayerPathError`), and no symlink whose target is absolute or leaves
 * the layer root (`UnsafeEntryError` naming the link and its target; see `findEscapingSymlinks`).
 */
export function assertValidEntries(entries: readonly LayerEntry[]): void {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    assertNormalizedLayerPath(entry.path);
    normalizeEntry(entry); // type / data / target checks
    if (byPath.has(entry.path)) throw new LayerPathError(entry.path, 'duplicate path');
    byPath.set(entry.path, entry);
  }
  for (const entry of entries) {
    for (const ancestor of ancestorPaths(entry.path)) {
      const parent = byPath.get(ancestor);
      if (parent && parent.type !== 'directory') {
        throw new LayerPathError(entry.path, `its parent ${JSON.stringify(ancestor)} is a ${parent.type}, not a directory`);
      }
    }
  }
  const escaping = findEscapingSymlinks(entries)[0];
  if (escaping) throw new UnsafeEntryError(escaping.path, escaping.reason, 'layer');
}

/** A list of entries with a name for messages (`image /opt`, `runtime files`, …). */
export interface NamedLayer {
  name: string;
  entries: readonly LayerEntry[];
}

/** Where one side of a `LayerConflictError` comes from. */
export interface LayerConflictSide {
  layer: string;
  path: string;
  type: LayerEntryType;
}

/**
 * Two layers disagree on whether a path is a directory: merging them would hide or drop files
 * of the earlier one, or write through its file or symlink.
 */
export class LayerConflictError extends Error {
  override readonly name = 'LayerConflictError';
  constructor(
    readonly earlier: LayerConflictSide,
    readonly later: LayerConflictSide,
    detail: string,
  ) {
    super(
      `${later.layer} has ${later.type} ${JSON.stringify(later.path)}, but ${earlier.layer} has ` +
        `${earlier.type} ${JSON.stringify(earlier.path)}: ${detail}; rename or remove one of them`,
    );
  }
}

/**
 * Merges layer contents the way Lambda extracts layers into `/opt`: later lists (and later
 * entries within a list) override earlier entries at the same path. A list may be given a name
 * (`{ name, entries }`) for error messages; a plain array is called `layer <n>`.
 *
 * - Paths are normalized (throws `LayerPathError` on bad paths); modes are masked to permission bits.
 * - Missing parent directories are added with mode 0o755. An explicit directory entry keeps (or
 *   sets) its own mode; an implicit parent never overrides an existing directory's mode.
 * - A file or symlink replaces a file or symlink at the same path.
 * - A path that changes between directory and non-directory is a `LayerConflictError` naming
 *   both layers' entries: a file or symlink where an earlier layer has a directory (with or
 *   without entries below it), and an entry (or explicit directory) at or below an earlier file
 *   or symlink.
 *
 * Why an error and not "the later layer wins": Lambda extracts each layer's zip over `/opt` in
 * order, so a later symlink `lib` over an earlier directory `lib/` would at best leave the
 * earlier files unreachable (they sit behind the link), and a later `lib/x.so` below an earlier
 * symlink `lib -> lib64` would be written through the link into `lib64/`. Neither outcome can be
 * represented by one list of entries, and which one an extractor picks (replace, refuse, follow)
 * is not documented, so the merged layer would not be what Lambda sees. Refusing names the two
 * entries so the recipe can be fixed; nothing is dropped silently.
 *
 * Returns the merged entries sorted with `sortEntries`. File data Buffers are shared, not copied.
 */
export function mergeLayers(...lists: ReadonlyArray<readonly LayerEntry[] | NamedLayer>): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  /** Which layer each path came from (implicit parents: the layer that needed them). */
  const origin = new Map<string, string>();
  const side = (path: string): LayerConflictSide => {
    const e = byPath.get(path) as LayerEntry;
    return { layer: origin.get(path) ?? 'an earlier layer', path, type: e.type };
  };
  const firstBelow = (dir: string): string | undefined => {
    const prefix = `${dir}/`;
    for (const key of byPath.keys()) if (key.startsWith(prefix)) return key;
    return undefined;
  };
  lists.forEach((list, index) => {
    const layer = Array.isArray(list) ? `layer ${index + 1}` : (list as NamedLayer).name;
    const entries = Array.isArray(list) ? (list as readonly LayerEntry[]) : (list as NamedLayer).entries;
    for (const raw of entries) {
      const entry = normalizeEntry(raw);
      const later: LayerConflictSide = { layer, path: entry.path, type: entry.type };
      for (const ancestor of [...ancestorPaths(entry.path), ...(entry.type === 'directory' ? [entry.path] : [])]) {
        const existing = byPath.get(ancestor);
        if (existing === undefined) {
          byPath.set(ancestor, { type: 'directory', path: ancestor, mode: DEFAULT_DIR_MODE });
          origin.set(ancestor, layer);
        } else if (existing.type !== 'directory') {
          const how = existing.type === 'symlink' ? 'extracting it would write through the symlink' : 'a file cannot hold entries';
          throw new LayerConflictError(side(ancestor), later, `${JSON.stringify(ancestor)} must be a directory (${how})`);
        }
      }
      const existing = byPath.get(entry.path);
      if (existing?.type === 'directory' && entry.type !== 'directory') {
        const below = firstBelow(entry.path);
        const detail =
          below === undefined
            ? 'a directory cannot be replaced by a file or symlink'
            : `it would hide ${side(below).type} ${JSON.stringify(below)} of ${side(below).layer}`;
        throw new LayerConflictError(side(entry.path), later, detail);
      }
      byPath.set(entry.path, entry);
      origin.set(entry.path, layer);
    }
  });
  return sortEntries([...byPath.values()]);
}

/** A symlink that resolves (or may resolve) outside the layer root. */
export interface SymlinkProblem {
  path: string;
  target: string;
  reason: string;
}

/**
 * Why a symlink at `linkPath` pointing at `target` leaves the layer root, judged lexically:
 * an absolute target, or `..` segments that climb above the root when the target is resolved
 * from the link's directory. Null when it stays inside (dangling targets are fine).
 */
export function symlinkTargetEscape(linkPath: string, target: string): string | null {
  if (target.startsWith('/')) return `symlink target ${JSON.stringify(target)} is absolute`;
  let depth = splitLayerPath(parentPath(linkPath)).length;
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') depth++;
    else if (depth-- === 0) return `symlink target ${JSON.stringify(target)} leaves the layer root`;
  }
  return null;
}

/**
 * Resolves a relative symlink target the way the kernel would, starting in `fromDir` (segments
 * from the root), following every symlink found in `links` (path → relative target).
 * Returns null when the walk stays inside the root, or a reason string otherwise.
 * Components that are not known symlinks are treated as plain directories/files.
 */
function resolveWithin(fromDir: string[], target: string, links: ReadonlyMap<string, string>): string | null {
  const stack = [...fromDir];
  const queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const component = queue.shift() as string;
    if (component === '' || component === '.') continue;
    if (component === '..') {
      if (stack.length === 0) return `symlink target ${JSON.stringify(target)} leaves the layer root through other links`;
      stack.pop();
      continue;
    }
    stack.push(component);
    const link = links.get(stack.join('/'));
    if (link !== undefined) {
      if (++hops > MAX_SYMLINK_HOPS) return `too many levels of symbolic links resolving ${JSON.stringify(target)}`;
      stack.pop();
      if (link.startsWith('/')) return `symlink target ${JSON.stringify(target)} resolves through absolute link ${JSON.stringify(link)}`;
      queue.unshift(...link.split('/'));
    }
  }
  return null;
}

/**
 * The one rule for symlinks in a layer, used when packing (zip, tar) and when reading (zip, tar,
 * and so `invoke`'s layer reader): a symlink is refused when its target is absolute or climbs
 * above the layer root — lexically, from the link's directory (`symlinkTargetEscape`) — or when
 * it does so by way of the set's other symlinks (`a -> b/..` where `b -> ..`), or loops.
 * Dangling targets inside the root are fine. Returns every problem, in entry order.
 */
export function findEscapingSymlinks(entries: readonly LayerEntry[]): SymlinkProblem[] {
  const links = new Map<string, string>();
  for (const e of entries) if (e.type === 'symlink') links.set(e.path, e.target);
  const problems: SymlinkProblem[] = [];
  for (const [path, target] of links) {
    const reason = symlinkTargetEscape(path, target) ?? resolveWithin(splitLayerPath(parentPath(path)), target, links);
    if (reason !== null) problems.push({ path, target, reason });
  }
  return problems;
}

/**
 * Entries that sit below a file or symlink of the same set. Below a symlink, extracting would
 * write through the link; below a file, the archive is self-contradictory.
 */
export function findEntriesBelowNonDirectories(
  entries: readonly LayerEntry[],
): Array<{ path: string; parent: string; parentType: 'file' | 'symlink' }> {
  const nonDirs = new Map<string, 'file' | 'symlink'>();
  for (const e of entries) if (e.type !== 'directory') nonDirs.set(e.path, e.type);
  const out: Array<{ path: string; parent: string; parentType: 'file' | 'symlink' }> = [];
  if (nonDirs.size === 0) return out;
  for (const e of entries) {
    for (const ancestor of ancestorPaths(e.path)) {
      const parentType = nonDirs.get(ancestor);
      if (parentType !== undefined) {
        out.push({ path: e.path, parent: ancestor, parentType });
        break;
      }
    }
  }
  return out;
}

/**
 * Computes a relative symlink target that reaches `targetSegments` (from the root) from a link
 * located in `linkDir` (segments from the root). When the target contains no `..`, the shortest
 * path is produced (`lib/a -> lib/x` gives `x`); otherwise the walk goes up to the root first and
 * keeps the remainder verbatim, so symlink semantics are preserved exactly.
 */
export function relativeTarget(linkDir: readonly string[], targetSegments: readonly string[]): string {
  let parts: string[];
  if (targetSegments.includes('..')) {
    parts = [...linkDir.map(() => '..'), ...targetSegments];
  } else {
    let common = 0;
    while (common < linkDir.length && common < targetSegments.length && linkDir[common] === targetSegments[common]) common++;
    parts = [...linkDir.slice(common).map(() => '..'), ...targetSegments.slice(common)];
  }
  return parts.length === 0 ? '.' : parts.join('/');
}

/**
 * Rewrites an absolute symlink target that points inside `rootDir` (the absolute directory the
 * layer root corresponds to, e.g. `/opt`) into a relative one. Returns null when the target is
 * outside `rootDir`. Only `.` and empty segments are removed before matching; `..` segments after
 * the root are kept and judged later by full resolution.
 */
export function rewriteAbsoluteTarget(linkPath: string, target: string, rootDir: string): string | null {
  if (!target.startsWith('/')) return target;
  const rootSegs = rootDir.split('/').filter((s) => s !== '' && s !== '.');
  if (rootSegs.includes('..')) return null;
  const targetSegs = target.split('/').filter((s) => s !== '' && s !== '.');
  for (let i = 0; i < rootSegs.length; i++) if (targetSegs[i] !== rootSegs[i]) return null;
  return relativeTarget(splitLayerPath(parentPath(linkPath)), targetSegs.slice(rootSegs.length));
}
