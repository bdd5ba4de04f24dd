/**
 * Checks of a layer's ELF files against a target platform: the glibc symbol versions they need
 * and the CPU architecture they were built for.
 */
import type { LayerEntry } from '../layer/entries.js';
import { ElfParseError, type ElfInfo, type ElfMachine, describeMachine, parseElf } from './elf.js';

export type Arch = 'x86_64' | 'arm64';

export interface GlibcViolation {
  path: string;
  /** The version name as required, e.g. `GLIBC_2.28` (or `GLIBC_ABI_DT_RELR`). */
  symbol: string;
  /** The glibc release that provides it, e.g. `2.28`. */
  needs: string;
  /** The files it is required from (`libc.so.6`, `libm.so.6`, …). */
  libraries: string[];
}

export interface ArchViolation {
  path: string;
  machine: ElfMachine;
  machineNumber: number;
  expected: Arch;
}

export interface ElfScanResult {
  /** Regular files that parsed as ELF. */
  elf: Array<{ path: string; info: ElfInfo }>;
  /** Regular files that start with the ELF magic but could not be parsed. */
  errors: Array<{ path: string; message: string }>;
}

/** Thrown by the checks when a file looks like ELF but cannot be parsed. */
export class ElfFileError extends Error {
  override readonly name = 'ElfFileError';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(`${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

const parsed = new WeakMap<Buffer, ElfInfo | null | ElfParseError>();

function parseCached(data: Buffer): ElfInfo | null | ElfParseError {
  let result = parsed.get(data);
  if (result === undefined) {
    try {
      result = parseElf(data);
    } catch (err) {
      if (!(err instanceof ElfParseError)) throw err;
      result = err;
    }
    parsed.set(data, result);
  }
  return result;
}

/** Parses every regular file that is ELF (symlinks and directories are skipped). */
export function scanElfEntries(entries: readonly LayerEntry[]): ElfScanResult {
  const out: ElfScanResult = { elf: [], errors: [] };
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const result = parseCached(entry.data);
    if (result === null) continue;
    if (result instanceof ElfParseError) out.errors.push({ path: entry.path, message: result.message });
    else out.elf.push({ path: entry.path, info: result });
  }
  return out;
}

function elfFilesOrThrow(entries: readonly LayerEntry[]): Array<{ path: string; info: ElfInfo }> {
  const scan = scanElfEntries(entries);
  const first = scan.errors[0];
  if (first) throw new ElfFileError(first.path, new Error(first.message));
  return scan.elf;
}

/** Parses `2.17` / `2.2.5` into numbers; throws on anything else. */
export function parseVersion(version: string): number[] {
  if (!/^\d+(\.\d+)*$/.test(version)) throw new Error(`invalid version ${JSON.stringify(version)} (expected e.g. 2.17)`);
  return version.split('.').map(Number);
}

/** Numeric comparison of dotted versions (`2.9` < `2.17`; `2.2.5` > `2.2`; `2.17` = `2.17.0`). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Version names that carry no number but are only provided from a known glibc release on.
 * GLIBC_ABI_DT_RELR: binaries linked with `-z pack-relative-relocs` need glibc 2.36.
 */
const GLIBC_MARKERS: Record<string, string> = { GLIBC_ABI_DT_RELR: '2.36' };

/**
 * The glibc release a version name requires: `GLIBC_2.28` → `2.28`, `GLIBC_2.2.5` → `2.2.5`,
 * `GLIBC_ABI_DT_RELR` → `2.36`; null for anything else (`GLIBC_PRIVATE`, `GLIBCXX_3.4`, …).
 */
export function glibcVersionOf(versionName: string): string | null {
  const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(versionName);
  if (m) return m[1] as string;
  return GLIBC_MARKERS[versionName] ?? null;
}

/** Highest glibc release an ELF file requires, or null when it requires none. */
export function maxGlibcRequired(info: ElfInfo): string | null {
  let max: string | null = null;
  for (const need of info.versionNeeds) {
    for (const name of need.versions) {
      const v = glibcVersionOf(name);
      if (v !== null && (max === null || compareVersions(v, max) > 0)) max = v;
    }
  }
  return max;
}

/**
 * Every glibc version requirement above `ceiling` (e.g. `'2.17'`), one violation per file and
 * version name, sorted by path then by version, highest first. Throws `ElfFileError` when a file
 * starts with the ELF magic but cannot be parsed (use `scanElfEntries` to handle those yourself).
 */
export function checkGlibcCeiling(entries: readonly LayerEntry[], ceiling: string): GlibcViolation[] {
  parseVersion(ceiling);
  const out: GlibcViolation[] = [];
  for (const { path, info } of elfFilesOrThrow(entries)) {
    const bySymbol = new Map<string, GlibcViolation>();
    for (const need of info.versionNeeds) {
      for (const symbol of need.versions) {
        const needs = glibcVersionOf(symbol);
        if (needs === null || compareVersions(needs, ceiling) <= 0) continue;
        const v = bySymbol.get(symbol);
        if (v === undefined) bySymbol.set(symbol, { path, symbol, needs, libraries: [need.file] });
        else if (!v.libraries.includes(need.file)) v.libraries.push(need.file);
      }
    }
    out.push(...[...bySymbol.values()].sort((a, b) => compareVersions(b.needs, a.needs) || (a.symbol < b.symbol ? -1 : 1)));
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)); // stable: keeps per-file order
}

/**
 * ELF files built for another machine than `arch`. Throws `ElfFileError` for unparseable ELF files.
 */
export function checkArch(entries: readonly LayerEntry[], arch: Arch): ArchViolation[] {
  if (arch !== 'x86_64' && arch !== 'arm64') throw new Error(`unknown architecture ${JSON.stringify(arch)}`);
  const out: ArchViolation[] = [];
  for (const { path, info } of elfFilesOrThrow(entries)) {
    if (info.machine !== arch) out.push({ path, machine: info.machine, machineNumber: info.machineNumber, expected: arch });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface PlatformGlibc {
  /** Platform name as shown to users, e.g. `al2`. */
  platform: string;
  /** The platform's glibc, e.g. `2.26`. */
  glibc: string;
}

/** `bin/php needs GLIBC_2.34 but platform al2 has glibc 2.26` */
export function formatGlibcViolation(v: GlibcViolation, p: PlatformGlibc): string {
  return `${v.path} needs ${v.symbol} but platform ${p.platform} has glibc ${p.glibc}`;
}

/**
 * One line per file, naming its highest requirement and listing the others:
 * `bin/php needs GLIBC_2.34 but platform al2 has glibc 2.26 (also GLIBC_2.28, GLIBC_2.27)`.
 */
export function formatGlibcViolations(violations: readonly GlibcViolation[], p: PlatformGlibc): string[] {
  const byPath = new Map<string, GlibcViolation[]>();
  for (const v of violations) {
    const list = byPath.get(v.path);
    if (list) list.push(v);
    else byPath.set(v.path, [v]);
  }
  const lines: string[] = [];
  for (const list of byPath.values()) {
    const sorted = [...list].sort((a, b) => compareVersions(b.needs, a.needs));
    const [top, ...rest] = sorted as [GlibcViolation, ...GlibcViolation[]];
    let line = formatGlibcViolation(top, p);
    if (rest.length > 0) line += ` (also ${rest.map((v) => v.symbol).join(', ')})`;
    lines.push(line);
  }
  return lines;
}

/** `lib/x.so is built for arm64 but the target architecture is x86_64` */
export function formatArchViolation(v: ArchViolation): string {
  return `${v.path} is built for ${describeMachine(v.machineNumber)} but the target architecture is ${v.expected}`;
}
