/**
 * Library policy of portable layers (`glibc-only`, platform al2023-portable): pure checks over a
 * layer's entries, no tools, no Docker.
 *
 * A portable layer is compiled against an old glibc and bundles every other library, so it runs on
 * every Linux whose glibc is at least that old (the idea of Python's manylinux wheels). It holds when:
 * - every library an ELF file of the layer needs (DT_NEEDED) is glibc's own, or is in the layer
 *   (`lib/`, where Lambda's LD_LIBRARY_PATH looks, or a RPATH/RUNPATH directory under /opt);
 * - no `GLIBC_x.y` version needed is above the build distro's glibc (the ceiling), and nothing
 *   needs `GLIBC_PRIVATE` (which ties a binary to one glibc build);
 * - the layer ships no glibc library of its own (the system's loader would load it and crash) and
 *   every executable asks for the system's standard loader;
 * - no string of an ELF file names a path of the build distro (`/usr/lib/x86_64-linux-gnu`, the
 *   cross sysroot `/usr/aarch64-linux-gnu`, `/etc/ssl`) or the build directory (`scanForbiddenPaths`).
 */
import type { LayerEntry } from '../layer/entries.js';
import { checkGlibcCeiling, parseVersion, scanElfEntries, type Arch } from './checks.js';
import { findInLayer, indexLayer, searchDirs } from './layer-paths.js';

/** glibc's own libraries, the same on every architecture: never bundled, always on Lambda. */
export const GLIBC_SONAMES: readonly string[] = [
  'libc.so.6',
  'libm.so.6',
  'libdl.so.2',
  'libpthread.so.0',
  'librt.so.1',
  'libresolv.so.2',
  'libutil.so.1',
  'libanl.so.1',
];

/** NSS modules (`libnss_files.so.2`, `libnss_dns.so.2`, …) are glibc's too. */
const NSS_MODULE = /^libnss_[A-Za-z0-9_]+\.so\.2$/;

/** glibc's dynamic loader per architecture: its soname (DT_NEEDED) and its path (PT_INTERP). */
export const GLIBC_LOADERS: Readonly<Record<Arch, { soname: string; path: string }>> = {
  x86_64: { soname: 'ld-linux-x86-64.so.2', path: '/lib64/ld-linux-x86-64.so.2' },
  arm64: { soname: 'ld-linux-aarch64.so.1', path: '/lib/ld-linux-aarch64.so.1' },
};

/** True when a layer may take `soname` from the system under the glibc-only policy. */
export function isGlibcLibrary(soname: string, arch: Arch): boolean {
  return GLIBC_SONAMES.includes(soname) || NSS_MODULE.test(soname) || soname === GLIBC_LOADERS[arch].soname;
}

export type PolicyViolation =
  /** `path` needs `library`, which is not glibc's and not in the layer. */
  | { kind: 'not-bundled'; path: string; library: string }
  /** `path` needs `symbol` (e.g. GLIBC_2.34) from `libraries`, above the ceiling `glibc`. */
  | { kind: 'glibc-version'; path: string; symbol: string; needs: string; libraries: string[] }
  /** `path` needs `GLIBC_PRIVATE` from `libraries`. */
  | { kind: 'glibc-private'; path: string; libraries: string[] }
  /** The layer ships glibc's own `library` at `path`. */
  | { kind: 'ships-glibc'; path: string; library: string }
  /** The executable at `path` asks for a loader other than the system's. */
  | { kind: 'interpreter'; path: string; interpreter: string; expected: string };

export interface PolicyOptions {
  arch: Arch;
  /** The glibc the layer was built against, e.g. `2.31`: the highest GLIBC_x.y allowed. */
  glibc: string;
  /** Where Lambda extracts the layer (default `/opt`), to map RPATH/RUNPATH into the layer. */
  root?: string;
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Every way the layer breaks the glibc-only policy, sorted by file. Throws `ElfFileError` when a
 * file starts with the ELF magic but cannot be parsed.
 */
export function checkGlibcOnlyPolicy(entries: readonly LayerEntry[], opts: PolicyOptions): PolicyViolation[] {
  parseVersion(opts.glibc);
  const root = opts.root ?? '/opt';
  const loader = GLIBC_LOADERS[opts.arch];
  const index = indexLayer(entries);
  const out: PolicyViolation[] = [];
  for (const v of checkGlibcCeiling(entries, opts.glibc)) out.push({ kind: 'glibc-version', ...v });
  for (const { path, info } of scanElfEntries(entries).elf) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const shipped = info.soname ?? name;
    if (isGlibcLibrary(shipped, opts.arch)) {
      out.push({ kind: 'ships-glibc', path, library: shipped });
    }
    if (info.interpreter !== null && info.interpreter !== loader.path) {
      out.push({ kind: 'interpreter', path, interpreter: info.interpreter, expected: loader.path });
    }
    const privateFrom = info.versionNeeds.filter((n) => n.versions.includes('GLIBC_PRIVATE')).map((n) => n.file);
    if (privateFrom.length) out.push({ kind: 'glibc-private', path, libraries: privateFrom });
    const dirs = searchDirs(path, info, root);
    for (const library of info.needed) {
      if (isGlibcLibrary(library, opts.arch)) continue;
      if (findInLayer(index, library, dirs, root) === null) out.push({ kind: 'not-bundled', path, library });
    }
  }
  return out.sort(byPath);
}

/** Names the platform in messages, e.g. `{ platform: 'al2023-portable', glibc: '2.31' }`. */
export interface PolicyContext {
  platform: string;
  glibc: string;
}

/** One line naming the file and the library or symbol. */
export function formatPolicyViolation(v: PolicyViolation, p: PolicyContext): string {
  switch (v.kind) {
    case 'not-bundled':
      return `${v.path} needs ${v.library}, which is not glibc's and not in the layer's lib/ (platform ${p.platform} takes only glibc from the system: bundle it or build it from source)`;
    case 'glibc-version':
      return `${v.path} needs ${v.symbol} (from ${v.libraries.join(', ')}) but platform ${p.platform} allows glibc ${p.glibc} at most`;
    case 'glibc-private':
      return `${v.path} needs GLIBC_PRIVATE symbols from ${v.libraries.join(', ')}, which tie it to one glibc build`;
    case 'ships-glibc':
      return `${v.path} is glibc's own ${v.library}: a portable layer must not ship it (the system's glibc loader would load it)`;
    case 'interpreter':
      return `${v.path} asks for the loader ${v.interpreter}, expected the system's ${v.expected}`;
  }
}

export function formatPolicyViolations(violations: readonly PolicyViolation[], p: PolicyContext): string[] {
  return violations.map((v) => formatPolicyViolation(v, p));
}

/** A string of an ELF file that names a forbidden path. */
export interface ForbiddenPathHit {
  path: string;
  /** Where it was found: a DT_RPATH/DT_RUNPATH entry, or any other printable string of the file. */
  where: 'rpath' | 'runpath' | 'string';
  /** The whole offending string (cut at 200 characters). */
  value: string;
  /** The forbidden path it contains. */
  forbidden: string;
}

/**
 * The paths no portable layer may mention: the build distro's multiarch library directories
 * (`/usr/lib/<triplet>`, `/lib/<triplet>`) and its cross-toolchain sysroot (`/usr/<triplet>`,
 * where `crossbuild-essential-*` keeps the target's libc and libgcc), for the target's triplet and,
 * in a cross build, the build machine's (`buildTriplet`); its CA store (`/etc/ssl`); and the
 * build directory.
 */
export function portableForbiddenPaths(o: { triplet: string; buildTriplet?: string; buildRoot: string }): string[] {
  const triplets = [...new Set([o.triplet, ...(o.buildTriplet ? [o.buildTriplet] : [])])];
  return [...triplets.flatMap((t) => [`/usr/lib/${t}`, `/lib/${t}`, `/usr/${t}`]), '/etc/ssl', o.buildRoot.replace(/\/+$/, '')];
}

const MAX_VALUE = 200;
const isPrintable = (b: number) => (b >= 0x20 && b < 0x7f) || b === 0x09;

/** The printable run of bytes around `at` (like one line of `strings`). */
function stringAround(data: Buffer, at: number, length: number): string {
  let start = at;
  while (start > 0 && isPrintable(data[start - 1] as number)) start--;
  let end = at + length;
  while (end < data.length && isPrintable(data[end] as number)) end++;
  return data.toString('latin1', start, Math.min(end, start + MAX_VALUE));
}

/**
 * Every distinct string of the layer's ELF files that contains one of `forbidden`, RPATH and
 * RUNPATH first; one hit per (file, string), naming the longest forbidden path it contains.
 * Throws nothing: files that are not (valid) ELF are skipped here (the ELF checks report them).
 */
export function scanForbiddenPaths(entries: readonly LayerEntry[], forbidden: readonly string[]): ForbiddenPathHit[] {
  const needles = [...new Set(forbidden)].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
  const match = (s: string) => needles.find((n) => s.includes(n));
  const data = new Map<string, Buffer>();
  for (const e of entries) if (e.type === 'file') data.set(e.path, e.data);
  const out: ForbiddenPathHit[] = [];
  for (const { path, info } of scanElfEntries(entries).elf) {
    const bytesOf = data.get(path)!;
    const seen = new Set<string>();
    for (const where of ['rpath', 'runpath'] as const) {
      const value = info[where];
      const hit = value === null ? undefined : match(value);
      if (value !== null && hit !== undefined) {
        out.push({ path, where, value, forbidden: hit });
        seen.add(value.slice(0, MAX_VALUE));
      }
    }
    for (const needle of needles) {
      const bytes = Buffer.from(needle, 'latin1');
      for (let at = bytesOf.indexOf(bytes); at !== -1; at = bytesOf.indexOf(bytes, at + bytes.length)) {
        const value = stringAround(bytesOf, at, bytes.length);
        if (seen.has(value)) continue;
        seen.add(value);
        out.push({ path, where: 'string', value, forbidden: match(value) ?? needle });
      }
    }
  }
  return out.sort(byPath);
}

/** `bin/php: string "/usr/src/lrb/build/php-7.4.33/Zend/zend.c" names /usr/src/lrb, a path of the build system ...` */
export function formatForbiddenPathHit(h: ForbiddenPathHit): string {
  const where = h.where === 'string' ? 'string' : h.where.toUpperCase();
  return `${h.path}: ${where} ${JSON.stringify(h.value)} names ${h.forbidden}, a path of the build system that does not exist (or differs) where the layer runs`;
}
