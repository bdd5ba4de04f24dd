/**
 * Whether a layer's programs load the libraries the layer bundles, and not the system's libraries
 * of the same names, where Lambda runs them (pure: a check over the layer's entries).
 *
 * Lambda starts a `provided*` runtime with
 * `LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:...:/opt/lib` (src/lambda.ts), and the dynamic
 * loader searches LD_LIBRARY_PATH before a program's DT_RUNPATH; only DT_RPATH comes before it
 * (ld.so(8)). provided.al2023's /lib64 holds its own libz, libssl, libcrypto, libcurl, libxml2,
 * libsqlite3, libstdc++ and more, so a program that finds its bundled libraries through DT_RUNPATH
 * or LD_LIBRARY_PATH gets Amazon Linux's instead. A program's DT_RPATH also serves the libraries it
 * loads and the modules it opens (glibc searches the DT_RPATH of each object up the loading chain
 * to the program, while none of them has a DT_RUNPATH), so it is checked on programs: every
 * dynamically linked executable that needs a bundled library must name that library's layer
 * directory in its DT_RPATH, and have no DT_RUNPATH (which would turn its DT_RPATH off).
 */
import { PREFIX } from '../lambda.js';
import type { LayerEntry } from '../layer/entries.js';
import { scanElfEntries } from './checks.js';
import { findInLayer, indexLayer, runPathDirs, searchDirs } from './layer-paths.js';

export interface LoadOrderViolation {
  /** The program, a path in the layer (`bin/php`). */
  path: string;
  /** The bundled libraries it needs that the system's would replace. */
  libraries: string[];
  /** `runpath`: it has a DT_RUNPATH; `no-rpath`: no DT_RPATH names where those libraries are. */
  problem: 'runpath' | 'no-rpath';
  /** Its DT_RUNPATH or DT_RPATH as written (null: none). */
  value: string | null;
}

/** Every program of the layer whose bundled libraries a system library of the same name would replace, by path. */
export function checkBundledLoadOrder(entries: readonly LayerEntry[], opts: { root?: string } = {}): LoadOrderViolation[] {
  const root = opts.root ?? PREFIX;
  const index = indexLayer(entries);
  const out: LoadOrderViolation[] = [];
  for (const { path, info } of scanElfEntries(entries).elf) {
    if (info.interpreter === null) continue; // a shared library, or a static program
    const dirs = searchDirs(path, info, root);
    const bundled = info.needed.filter((library) => findInLayer(index, library, dirs, root) !== null);
    if (!bundled.length) continue;
    if (info.runpath !== null) {
      out.push({ path, libraries: bundled, problem: 'runpath', value: info.runpath });
      continue;
    }
    const rpathDirs = runPathDirs(path, info.rpath, root);
    const unserved = bundled.filter((library) => !library.includes('/') && findInLayer(index, library, rpathDirs, root) === null);
    if (unserved.length) out.push({ path, libraries: unserved, problem: 'no-rpath', value: info.rpath });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** One line naming the program, the libraries and what to do. */
export function formatLoadOrderViolation(v: LoadOrderViolation, root = PREFIX): string {
  const libs = v.libraries.join(', ');
  const where =
    v.problem === 'runpath'
      ? `finds ${libs} through DT_RUNPATH ${JSON.stringify(v.value)}, which the loader searches after LD_LIBRARY_PATH`
      : `needs ${libs} from the layer but no DT_RPATH names where ${v.libraries.length > 1 ? 'they are' : 'it is'}${v.value === null ? '' : ` (DT_RPATH ${JSON.stringify(v.value)})`}`;
  return (
    `${v.path} ${where}: on Lambda, whose LD_LIBRARY_PATH puts /lib64 before ${root}/lib, the system's libraries of those names would load instead; ` +
    `link it with -Wl,--disable-new-dtags -Wl,-rpath,${root}/lib (a DT_RPATH)`
  );
}

/**
 * Where the smoke test puts its decoys: a system directory Lambda's LD_LIBRARY_PATH names before
 * /opt/lib (on Amazon Linux /lib64 is a link to it; a tar entry for a linked /lib64 would replace
 * the link, and with it the path of the loader, on a merged-/usr image).
 */
export const DECOY_DIR = '/usr/lib64';

/**
 * One decoy per library the layers ship and load by name (a DT_SONAME that an ELF file of theirs
 * needs; not PHP's modules, opened by path), for `DECOY_DIR`: a file of that name that is not an
 * ELF object, so a process that looks there first fails to start with the loader naming it
 * (`/usr/lib64/libssl.so.3: invalid ELF header`). The smoke test runs with them in place, as a
 * runtime whose /usr/lib64 has its own libraries of those names (provided.al2023's does).
 */
export function decoyLibraries(...layers: (readonly LayerEntry[])[]): LayerEntry[] {
  const elf = layers.flatMap((entries) => scanElfEntries(entries).elf);
  const needed = new Set(elf.flatMap(({ info }) => info.needed));
  const sonames = new Set(elf.map(({ info }) => info.soname).filter((s): s is string => s !== null && needed.has(s) && !s.includes('/')));
  return [...sonames].sort().map((soname) => ({
    type: 'file' as const,
    path: soname,
    mode: 0o644,
    data: Buffer.from(`decoy ${soname}: the runtime's own library of this name; a layer must load the one it bundles\n`),
  }));
}

/** What a failure means when the loader took one of the decoys; '' otherwise. */
export function decoyHint(printed: string): string {
  // Where /lib64 links to usr/lib64 (merged /usr, Amazon Linux), the loader names the decoy by /lib64, searched first.
  const hit = /((?:\/usr)?\/lib64)\/([^\s:]+): (?:file too short|invalid ELF header)/.exec(printed);
  if (!hit) return '';
  return ` (${hit[1]}/${hit[2]} is the smoke test's decoy of a library the layer bundles, in ${DECOY_DIR}: something looked in the system's directories before the layer's lib/, as it would on Lambda, where they hold Amazon Linux's own ${hit[2]})`;
}
