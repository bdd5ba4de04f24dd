/**
 * An extension layer's name, what it records of the runtime layer it is for, and its files (pure).
 * Its build is the runtime layer's build with the extension built in (the same Dockerfile stages,
 * so the same phpize and php-config); from that `/opt` the layer takes
 * what the extension adds: its shared object in the interpreter's extension directory, its ini file
 * in the scan dir, and the libraries that nothing of the runtime layer needs (bundled from the build
 * image, or built into the prefix by the extension's dependency stages). The rest is the
 * runtime layer it goes over, as this build has it (the smoke test extracts that first).
 */
import path from 'node:path';
import { ancestorPaths, DEFAULT_DIR_MODE, sortEntries, type LayerEntry } from '../layer/entries.js';
import { parseElf } from '../elf/elf.js';
import { PREFIX } from '../lambda.js';
import type { ResolvedExtension } from '../recipes/resolve.js';
import type { BundlePlan } from './libraries.js';

export interface ExtensionLayerSplit {
  /** What the extension layer holds, with the directories above each file. */
  layer: LayerEntry[];
  /** Everything else: the runtime layer the extension layer goes over. */
  beneath: LayerEntry[];
  /** Sonames of the bundled libraries the extension layer carries. */
  libraries: string[];
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/**
 * `php-ext-redis-6.2.0-for-php-8.2.32-standard-al2023-portable-x86_64`: the extension and the full
 * name of the runtime layer it is for (profile, its own extensions, platform, arch).
 */
export function extensionLayerBaseName(extension: { name: string; version: string }, runtimeZip: string): string {
  return `${extension.name}-${extension.version}-for-${path.basename(runtimeZip, '.zip')}`;
}

/** The sonames an ELF file needs (DT_NEEDED); null when the file is not ELF. */
export type NeededOf = (file: Extract<LayerEntry, { type: 'file' }>) => string[] | null;

const elfNeeded: NeededOf = (f) => parseElf(f.data)?.needed ?? null;

/**
 * The prefix's own libraries (`lib/`, built from pinned sources by the extension's dependency stages:
 * libpq for pgsql) that only `object` needs, directly or through each other: what nothing else in
 * `/opt` loads. Returned as layer paths: each library file and the symbolic links in `lib/` to it
 * (its soname, the `.so` link), with the sonames `object`'s closure named.
 */
export function prefixLibrariesOnlyFor(full: readonly LayerEntry[], object: string, neededOf: NeededOf = elfNeeded): { paths: string[]; sonames: string[] } {
  const files = new Map(full.flatMap((e) => (e.type === 'file' ? [[e.path, e] as const] : [])));
  const links = new Map(full.flatMap((e) => (e.type === 'symlink' ? [[e.path, e.target] as const] : [])));
  const resolve = (p: string): string | undefined => {
    for (let hops = 0; hops < 8; hops++) {
      if (files.has(p)) return p;
      const target = links.get(p);
      if (target === undefined) return undefined;
      p = target.startsWith('/') ? target.slice(PREFIX.length + 1) : `${p.slice(0, p.lastIndexOf('/'))}/${target}`;
    }
    return undefined;
  };
  const needs = new Map<string, string[]>();
  for (const [p, f] of files) {
    const n = neededOf(f);
    if (n) needs.set(p, n);
  }
  const closure = (roots: readonly string[], named?: Set<string>): Set<string> => {
    const seen = new Set<string>();
    const queue = [...roots];
    while (queue.length) {
      for (const soname of needs.get(queue.pop()!) ?? []) {
        const lib = resolve(`lib/${soname}`);
        if (!lib) continue;
        named?.add(soname);
        if (!seen.has(lib)) {
          seen.add(lib);
          queue.push(lib);
        }
      }
    }
    return seen;
  };
  const named = new Set<string>();
  const mine = closure([object], named);
  const others = [...needs.keys()].filter((p) => p !== object && !mine.has(p));
  const theirs = new Set([...others, ...closure(others)]);
  const own = [...mine].filter((p) => !theirs.has(p));
  const linksTo = [...links.keys()].filter((l) => l.startsWith('lib/') && own.includes(resolve(l) ?? ''));
  return { paths: [...own, ...linksTo], sonames: [...named].filter((s) => own.includes(resolve(`lib/${s}`)!)).sort() };
}

/**
 * Split a build's assembled `/opt` into the extension layer and the runtime layer beneath it. A build
 * whose `/opt` has no (or several) `<module>.so`, or lacks the extension's ini file, fails naming it.
 */
export function splitExtensionLayer(
  full: readonly LayerEntry[],
  ext: Pick<ResolvedExtension, 'short' | 'module' | 'ini'>,
  bundled: BundlePlan['bundle'],
  neededOf: NeededOf = elfNeeded,
): ExtensionLayerSplit {
  const files = new Map(full.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const objects = [...files.keys()].filter((p) => baseName(p) === `${ext.module}.so`);
  if (objects.length !== 1) {
    throw new Error(
      `the extension layer of ${ext.short} takes its ${ext.module}.so from the build's ${PREFIX}, which has ${objects.length ? objects.join(', ') : 'none'}: expected exactly one, in the interpreter's extension directory`,
    );
  }
  const object = objects[0]!;
  if (!files.has(ext.ini.path)) throw new Error(`the extension layer of ${ext.short} needs its ini file ${ext.ini.path}, which the build's ${PREFIX} lacks`);
  // Bundled libraries that only the extension's object needs (ldd lists every library a file loads).
  const only = bundled.filter((b) => b.neededBy.every((f) => f === `${PREFIX}/${object}`));
  const own = new Set([object, ext.ini.path]);
  for (const b of only) {
    const lib = `lib/${baseName(b.path)}`;
    if (!files.has(lib)) throw new Error(`the bundled library ${b.soname} of ${ext.short} is not at ${lib} in the assembled layer`);
    own.add(lib);
  }
  // Libraries the extension's own dependency stages built into the prefix (libpq for pgsql).
  const built = prefixLibrariesOnlyFor(full, object, neededOf);
  for (const p of built.paths) own.add(p);
  const dirs = new Map(full.filter((e) => e.type === 'directory').map((e) => [e.path, e]));
  const above = new Set([...own].flatMap(ancestorPaths));
  const entries = new Map(full.map((e) => [e.path, e]));
  const layer = sortEntries([
    ...[...above].map((d): LayerEntry => dirs.get(d) ?? { type: 'directory', path: d, mode: DEFAULT_DIR_MODE }),
    ...[...own].map((p) => entries.get(p)!),
  ]);
  return { layer, beneath: full.filter((e) => !own.has(e.path)), libraries: [...new Set([...only.map((b) => b.soname), ...built.sonames])] };
}
