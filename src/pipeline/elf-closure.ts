/**
 * The libraries ELF files load, computed from their DT_NEEDED entries the way the dynamic loader
 * resolves them, without running anything: what `ldd` says, for files `ldd` cannot run (a
 * foreign architecture's, in a cross build). Pure logic; finding a library in an image is the
 * caller's `locate`.
 */
import type { ElfInfo } from '../elf/elf.js';
import type { LddDependency } from './libraries.js';

/** An ELF file by its absolute path, with the dynamic entries that decide what it loads. */
export interface ElfObject {
  path: string;
  info: Pick<ElfInfo, 'needed' | 'rpath' | 'runpath'>;
}

export interface SearchOptions {
  /** `LD_LIBRARY_PATH` for the lookup: the build's `/opt/lib`, as `ldd` is run in a native build (what to bundle, not how Lambda orders it). */
  libraryPath: readonly string[];
  /** The system's library directories, searched last (the loader's default paths). */
  systemDirs: readonly string[];
}

function directoryOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i <= 0 ? '/' : file.slice(0, i);
}

function normalize(dir: string): string {
  const parts: string[] = [];
  for (const seg of dir.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

function pathList(list: string | null, origin: string): string[] {
  if (!list) return [];
  return list
    .split(':')
    .filter((d) => d !== '')
    .map((d) => normalize(d.replace(/\$\{ORIGIN\}|\$ORIGIN/g, origin)));
}

/**
 * Where the loader looks for the libraries `from` needs, in order (ld.so(8)): DT_RPATH when there
 * is no DT_RUNPATH, then LD_LIBRARY_PATH, then DT_RUNPATH, then the system's directories.
 * `$ORIGIN` is the directory of `from`. Duplicates are dropped, first place kept.
 */
export function searchDirs(from: ElfObject, o: SearchOptions): string[] {
  const origin = directoryOf(from.path);
  const runpath = pathList(from.info.runpath, origin);
  const rpath = runpath.length ? [] : pathList(from.info.rpath, origin);
  return [...new Set([...rpath, ...o.libraryPath.map(normalize), ...runpath, ...o.systemDirs.map(normalize)])];
}

/**
 * The file a soname resolves to in the first of `dirs` that has it (following symbolic links), with
 * its ELF information; null when none has it.
 */
export type Locate = (soname: string, dirs: readonly string[]) => Promise<ElfObject | null>;

export interface ClosureOptions extends SearchOptions {
  locate: Locate;
  /** Sonames never looked up: the dynamic loader itself, which `ldd` lists without a path. */
  skip: (soname: string) => boolean;
}

/**
 * For each root, every library it loads directly or through its libraries, each soname once, in
 * breadth-first order, resolved as `ldd` would (path null: not found). Each lookup is made once.
 */
export async function libraryClosure(roots: readonly ElfObject[], o: ClosureOptions): Promise<Map<string, LddDependency[]>> {
  const located = new Map<string, Promise<ElfObject | null>>();
  const locate = (soname: string, from: ElfObject): Promise<ElfObject | null> => {
    // A soname with a slash is a path, loaded as it is.
    const [name, dirs] = soname.includes('/') ? [soname.slice(soname.lastIndexOf('/') + 1), [directoryOf(soname)]] : [soname, searchDirs(from, o)];
    const key = `${name}\n${dirs.join(':')}`;
    let found = located.get(key);
    if (!found) {
      found = o.locate(name, dirs);
      located.set(key, found);
    }
    return found;
  };
  const result = new Map<string, LddDependency[]>();
  for (const root of roots) {
    const deps: LddDependency[] = [];
    const seen = new Set<string>();
    let level: ElfObject[] = [root];
    while (level.length) {
      const next: ElfObject[] = [];
      for (const from of level) {
        for (const soname of from.info.needed) {
          if (seen.has(soname) || o.skip(soname)) continue;
          seen.add(soname);
          const lib = await locate(soname, from);
          deps.push({ soname, path: lib?.path ?? null });
          if (lib) next.push(lib);
        }
      }
      level = next;
    }
    result.set(root.path, deps);
  }
  return result;
}

/** `ldd`-like text of a closure, for the build log. */
export function formatClosure(closure: ReadonlyMap<string, readonly LddDependency[]>): string {
  const lines: string[] = [];
  for (const [file, deps] of closure) {
    lines.push(`${file}:`);
    for (const d of deps) lines.push(`\t${d.soname} => ${d.path ?? 'not found'}`);
  }
  return lines.join('\n');
}
