/**
 * ELF fixtures for tests, made at test time (no binaries in the repository):
 * - `compileC`: real ELF files from the system C compiler;
 * - `buildSyntheticElf`: minimal hand-laid-out ELF files of any class and byte order.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const haveCc = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const haveReadelf = (() => {
  try {
    execFileSync('readelf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let workDir: string | undefined;
export function fixtureDir(): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'lrb-elf-'));
  return workDir;
}
export function cleanupFixtures(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

/** Compiles `source` with `cc args…` and returns the output file's bytes (and its path). */
export function compileC(name: string, source: string, args: string[]): { path: string; data: Buffer } {
  const dir = fixtureDir();
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  execFileSync('cc', ['-O1', '-o', out, src, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { path: out, data: readFileSync(out) };
}

/** Needs reallocarray (GLIBC_2.26), getrandom and explicit_bzero (GLIBC_2.25). */
export const NEW_GLIBC_PROGRAM = `
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
int main(int argc, char **argv) {
  char buf[16];
  void *p = reallocarray(NULL, (size_t)argc, 16);
  if (getrandom(buf, sizeof buf, 0) < 0) return 1;
  explicit_bzero(buf, sizeof buf);
  free(p);
  return argv[0][0] == 0;
}
`;

export const LIBRARY_SOURCE = `
#include <math.h>
double lrb_cbrt_plus_one(double x) { return cbrt(x) + 1; }
`;

export interface SyntheticElfOptions {
  class: 32 | 64;
  endianness: 'little' | 'big';
  machine: number;
  /** e_type; default 3 (ET_DYN) */
  type?: number;
  needed?: string[];
  soname?: string;
  interpreter?: string;
  verneed?: Array<{ file: string; versions: string[] }>;
  /** DT_RPATH / DT_RUNPATH values. */
  rpath?: string;
  runpath?: string;
  /** More strings for the file to carry (in .dynstr), as compiled-in paths would be. */
  strings?: string[];
  /** Write a section header table (default true). Without it, readers must use program headers. */
  sections?: boolean;
}

export interface SyntheticElf {
  data: Buffer;
  /** Offsets of interesting structures, for corruption tests. */
  offsets: { verneed: number; dynamic: number; dynstr: number; shoff: number; phoff: number };
}

const BASE = 0x400000;

/** Lays out a minimal ELF file: headers, PT_LOAD/PT_DYNAMIC/PT_INTERP, .dynstr, .gnu.version_r, .dynamic, .shstrtab. */
export function buildSyntheticElf(o: SyntheticElfOptions): SyntheticElf {
  const is64 = o.class === 64;
  const le = o.endianness === 'little';
  const buf = Buffer.alloc(8192);
  const w16 = (off: number, v: number): void => void (le ? buf.writeUInt16LE(v, off) : buf.writeUInt16BE(v, off));
  const w32 = (off: number, v: number): void => void (le ? buf.writeUInt32LE(v, off) : buf.writeUInt32BE(v, off));
  const w64 = (off: number, v: number): void =>
    void (le ? buf.writeBigUInt64LE(BigInt(v), off) : buf.writeBigUInt64BE(BigInt(v), off));
  const wAddr = (off: number, v: number): void => (is64 ? w64(off, v) : w32(off, v));
  const align = (n: number, a = 8): number => Math.ceil(n / a) * a;

  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const dynentsize = is64 ? 16 : 8;

  // String table.
  const strings: string[] = [];
  const strOffsets = new Map<string, number>();
  let strSize = 1;
  const str = (s: string): number => {
    let off = strOffsets.get(s);
    if (off === undefined) {
      off = strSize;
      strOffsets.set(s, off);
      strings.push(s);
      strSize += Buffer.byteLength(s) + 1;
    }
    return off;
  };
  const needed = (o.needed ?? []).map(str);
  const soname = o.soname !== undefined ? str(o.soname) : undefined;
  const rpath = o.rpath !== undefined ? str(o.rpath) : undefined;
  const runpath = o.runpath !== undefined ? str(o.runpath) : undefined;
  (o.strings ?? []).forEach(str);
  const verneed = (o.verneed ?? []).map((n) => ({ file: str(n.file), versions: n.versions.map(str) }));

  const phnum = o.interpreter !== undefined ? 3 : 2;
  let off = ehsize;
  const phoff = off;
  off += phnum * phentsize;
  const interpOff = off;
  if (o.interpreter !== undefined) off += Buffer.byteLength(o.interpreter) + 1;
  const dynstrOff = align(off);
  off = dynstrOff + strSize;
  const verneedOff = align(off);
  const verneedSize = verneed.reduce((n, v) => n + 16 + 16 * v.versions.length, 0);
  off = verneedOff + verneedSize;
  const dynOff = align(off);
  const dynEntries: Array<[number, number]> = [
    ...needed.map((v): [number, number] => [1, v]),
    ...(soname !== undefined ? [[14, soname] as [number, number]] : []),
    ...(rpath !== undefined ? [[15, rpath] as [number, number]] : []),
    ...(runpath !== undefined ? [[29, runpath] as [number, number]] : []),
    [5, BASE + dynstrOff],
    [10, strSize],
    ...(verneed.length > 0 ? ([[0x6ffffffe, BASE + verneedOff], [0x6fffffff, verneed.length]] as Array<[number, number]>) : []),
    [0, 0],
  ];
  off = dynOff + dynEntries.length * dynentsize;
  const shNames = ['', '.dynstr', '.gnu.version_r', '.dynamic', '.shstrtab'];
  const shstrOff = off;
  const shNameOffsets: number[] = [];
  let shstrSize = 0;
  for (const n of shNames) {
    shNameOffsets.push(shstrSize);
    buf.write(n, shstrOff + shstrSize);
    shstrSize += Buffer.byteLength(n) + 1;
  }
  off = shstrOff + shstrSize;
  const shoff = align(off);
  const sections = o.sections ?? true;
  const shnum = sections ? shNames.length : 0;
  const fileSize = shoff + shnum * shentsize;

  // ELF header.
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = is64 ? 2 : 1;
  buf[5] = le ? 1 : 2;
  buf[6] = 1;
  w16(16, o.type ?? 3);
  w16(18, o.machine);
  w32(20, 1);
  if (is64) {
    w64(32, phoff);
    w64(40, sections ? shoff : 0);
  } else {
    w32(28, phoff);
    w32(32, sections ? shoff : 0);
  }
  const h = is64 ? 52 : 40;
  w16(h, ehsize);
  w16(h + 2, phentsize);
  w16(h + 4, phnum);
  w16(h + 6, shentsize);
  w16(h + 8, shnum);
  w16(h + 10, sections ? 4 : 0);

  // Program headers.
  const phdr = (i: number, type: number, offset: number, size: number): void => {
    const p = phoff + i * phentsize;
    w32(p, type);
    if (is64) {
      w32(p + 4, 4); // p_flags
      w64(p + 8, offset);
      w64(p + 16, BASE + offset);
      w64(p + 24, BASE + offset);
      w64(p + 32, size);
      w64(p + 40, size);
      w64(p + 48, 8);
    } else {
      w32(p + 4, offset);
      w32(p + 8, BASE + offset);
      w32(p + 12, BASE + offset);
      w32(p + 16, size);
      w32(p + 20, size);
      w32(p + 24, 4);
      w32(p + 28, 8);
    }
  };
  phdr(0, 1, 0, fileSize); // PT_LOAD
  phdr(1, 2, dynOff, dynEntries.length * dynentsize); // PT_DYNAMIC
  if (o.interpreter !== undefined) {
    phdr(2, 3, interpOff, Buffer.byteLength(o.interpreter) + 1); // PT_INTERP
    buf.write(o.interpreter, interpOff);
  }

  // .dynstr
  for (const s of strings) buf.write(s, dynstrOff + (strOffsets.get(s) as number));

  // .gnu.version_r
  let v = verneedOff;
  verneed.forEach((need, i) => {
    const size = 16 + 16 * need.versions.length;
    w16(v, 1);
    w16(v + 2, need.versions.length);
    w32(v + 4, need.file);
    w32(v + 8, 16);
    w32(v + 12, i === verneed.length - 1 ? 0 : size);
    need.versions.forEach((name, j) => {
      const a = v + 16 + j * 16;
      w32(a, 0x1234); // vna_hash (not checked)
      w16(a + 4, 0);
      w16(a + 6, 2 + j);
      w32(a + 8, name);
      w32(a + 12, j === need.versions.length - 1 ? 0 : 16);
    });
    v += size;
  });

  // .dynamic
  dynEntries.forEach(([tag, val], i) => {
    const d = dynOff + i * dynentsize;
    wAddr(d, tag);
    wAddr(d + dynentsize / 2, val);
  });

  // Section headers: [null, .dynstr, .gnu.version_r, .dynamic, .shstrtab]
  if (sections) {
    const shdr = (i: number, type: number, offset: number, size: number, link: number, info: number, entsize: number): void => {
      const s = shoff + i * shentsize;
      w32(s, shNameOffsets[i] as number);
      w32(s + 4, type);
      if (is64) {
        w64(s + 16, offset === 0 ? 0 : BASE + offset);
        w64(s + 24, offset);
        w64(s + 32, size);
        w32(s + 40, link);
        w32(s + 44, info);
        w64(s + 48, 8);
        w64(s + 56, entsize);
      } else {
        w32(s + 12, offset === 0 ? 0 : BASE + offset);
        w32(s + 16, offset);
        w32(s + 20, size);
        w32(s + 24, link);
        w32(s + 28, info);
        w32(s + 32, 4);
        w32(s + 36, entsize);
      }
    };
    shdr(1, 3, dynstrOff, strSize, 0, 0, 0);
    shdr(2, 0x6ffffffe, verneedOff, verneedSize, 1, verneed.length, 0);
    shdr(3, 6, dynOff, dynEntries.length * dynentsize, 1, 0, dynentsize);
    shdr(4, 3, shstrOff, shstrSize, 0, 0, 0);
  }

  return {
    data: Buffer.from(buf.subarray(0, fileSize)),
    offsets: { verneed: verneedOff, dynamic: dynOff, dynstr: dynstrOff, shoff, phoff },
  };
}

/** A copy of an ELF file with its section header table removed from the header (as `sstrip` does). */
export function withoutSectionHeaders(elf: Buffer): Buffer {
  const out = Buffer.from(elf);
  const is64 = out[4] === 2;
  const le = out[5] === 1;
  const h = is64 ? 52 : 40;
  if (is64) {
    if (le) out.writeBigUInt64LE(0n, 40);
    else out.writeBigUInt64BE(0n, 40);
  } else if (le) out.writeUInt32LE(0, 32);
  else out.writeUInt32BE(0, 32);
  for (const field of [h + 8, h + 10]) {
    if (le) out.writeUInt16LE(0, field);
    else out.writeUInt16BE(0, field);
  }
  return out;
}

/** A copy with e_machine replaced. */
export function withMachine(elf: Buffer, machine: number): Buffer {
  const out = Buffer.from(elf);
  if (out[5] === 1) out.writeUInt16LE(machine, 18);
  else out.writeUInt16BE(machine, 18);
  return out;
}

/** Deterministic PRNG (mulberry32) for corruption tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
