/**
 * Where a layer's ELF files find libraries inside the layer (pure): its files and symbolic links by
 * path, and the layer directories a run path (DT_RPATH, DT_RUNPATH) names once the layer is at its
 * root (`/opt`). Shared by the library policy and the load-order check.
 */
import type { LayerEntry } from '../layer/entries.js';
import type { ElfInfo } from './elf.js';

export interface LayerIndex {
  files: Map<string, LayerEntry & { type: 'file' }>;
  links: Map<string, string>;
}

export function indexLayer(entries: readonly LayerEntry[]): LayerIndex {
  const files = new Map<string, LayerEntry & { type: 'file' }>();
  const links = new Map<string, string>();
  for (const e of entries) {
    if (e.type === 'file') files.set(e.path, e);
    else if (e.type === 'symlink') links.set(e.path, e.target);
  }
  return { files, links };
}

/** Follows symlinks inside the layer; the path of the regular file reached, or null. */
export function resolveFile(index: LayerIndex, path: string): string | null {
  let current = path;
  for (let hops = 0; hops <= 40; hops++) {
    if (index.files.has(current)) return current;
    const target = index.links.get(current);
    if (target === undefined || target.startsWith('/')) return null;
    const parts = current.split('/').slice(0, -1);
    for (const seg of target.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (parts.length === 0) return null;
        parts.pop();
      } else parts.push(seg);
    }
    current = parts.join('/');
  }
  return null;
}

/**
 * The layer directories (relative, `lib`) a run path names: `$ORIGIN` entries relative to the
 * file's directory, absolute ones under `root`; entries outside the layer are left out.
 */
export function runPathDirs(filePath: string, list: string | null, root: string): string[] {
  const origin = filePath.split('/').slice(0, -1).join('/');
  const rootSlash = root.endsWith('/') ? root : `${root}/`;
  const dirs: string[] = [];
  for (const raw of (list ?? '').split(':')) {
    let dir: string | null = null;
    if (raw.startsWith('$ORIGIN') || raw.startsWith('${ORIGIN}')) {
      dir = [origin, raw.replace(/^\$\{?ORIGIN\}?/, '')].filter(Boolean).join('/');
    } else if (raw === root || raw.startsWith(rootSlash)) {
      dir = raw.slice(rootSlash.length);
    }
    if (dir === null) continue;
    const parts: string[] = [];
    for (const seg of dir.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') parts.pop();
      else parts.push(seg);
    }
    const d = parts.join('/');
    if (!dirs.includes(d)) dirs.push(d);
  }
  return dirs;
}

/** Layer directories a file's libraries are looked up in: `lib`, then its RPATH/RUNPATH under the root. */
export function searchDirs(filePath: string, info: Pick<ElfInfo, 'rpath' | 'runpath'>, root: string): string[] {
  return [...new Set(['lib', ...runPathDirs(filePath, info.rpath, root), ...runPathDirs(filePath, info.runpath, root)])];
}

/** The layer file `library` (a DT_NEEDED entry) resolves to from `dirs`, following links; null if none. */
export function findInLayer(index: LayerIndex, library: string, dirs: readonly string[], root: string): string | null {
  // A DT_NEEDED with a slash is a path, loaded as is: it must be inside the layer.
  const candidates = library.includes('/')
    ? library.startsWith(`${root}/`) ? [library.slice(root.length + 1)] : []
    : dirs.map((d) => (d ? `${d}/${library}` : library));
  for (const c of candidates) {
    const found = resolveFile(index, c);
    if (found !== null) return found;
  }
  return null;
}
