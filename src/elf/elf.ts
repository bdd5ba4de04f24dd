/**
 * A small, bounds-checked ELF reader: just what a layer check needs (class, byte order,
 * machine, type, interpreter, DT_NEEDED, DT_SONAME, RPATH/RUNPATH and the GNU version
 * requirements of `.gnu.version_r`). No external tools.
 *
 * Every read is bounds-checked against the buffer and against the section/segment it belongs to;
 * every loop is bounded by the data it walks (offsets strictly increase), so corrupt or truncated
 * input gives an `ElfParseError`, never an out-of-bounds read or a hang.
 *
 * Structures come from the System V gABI and the LSB (Elf32/Elf64 Ehdr, Shdr, Phdr, Dyn,
 * Verneed, Vernaux). When a file has no section header table (stripped with `sstrip`), the dynamic
 * information is found through the program headers (PT_DYNAMIC, DT_STRTAB, DT_VERNEED mapped via
 * PT_LOAD) instead.
 */

export type ElfClass = 32 | 64;
export type ElfEndianness = 'little' | 'big';
export type ElfType = 'rel' | 'exec' | 'dyn' | 'core' | 'unknown';
/** `x86_64` (EM_X86_64 = 62), `arm64` (EM_AARCH64 = 183), otherwise `EM_<number>`. */
export type ElfMachine = 'x86_64' | 'arm64' | `EM_${number}`;

/** One `Elf_Verneed` entry: a needed file and the version names (`vna_name`) required from it. */
export interface ElfVersionNeed {
  /** e.g. `libc.so.6` */
  file: string;
  /** e.g. `['GLIBC_2.14', 'GLIBC_2.2.5']`, in file order */
  versions: string[];
}

export interface ElfInfo {
  class: ElfClass;
  endianness: ElfEndianness;
  machine: ElfMachine;
  /** Raw e_machine value. */
  machineNumber: number;
  type: ElfType;
  /** Raw e_type value. */
  typeNumber: number;
  /** EI_OSABI (0 = System V, 3 = GNU/Linux). */
  osAbi: number;
  /** PT_INTERP, e.g. `/lib64/ld-linux-x86-64.so.2`; null for static executables and libraries. */
  interpreter: string | null;
  /** DT_NEEDED sonames, in order. */
  needed: string[];
  /** DT_SONAME, or null. */
  soname: string | null;
  /** DT_RPATH, or null. */
  rpath: string | null;
  /** DT_RUNPATH, or null. */
  runpath: string | null;
  /** Version requirements (`.gnu.version_r` / DT_VERNEED). */
  versionNeeds: ElfVersionNeed[];
  /** True when the information came from program headers (no section header table). */
  fromProgramHeaders: boolean;
}

/** The input starts like an ELF file but is truncated or corrupt. */
export class ElfParseError extends Error {
  override readonly name = 'ElfParseError';
  constructor(message: string) {
    super(`invalid ELF file: ${message}`);
  }
}

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const ET_NAMES: Record<number, ElfType> = { 1: 'rel', 2: 'exec', 3: 'dyn', 4: 'core' };

const SHT_DYNAMIC = 6;
const SHT_NOBITS = 8;
export const SHT_GNU_VERNEED = 0x6ffffffe;

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_VERNEED = 0x6ffffffe;
const DT_VERNEEDNUM = 0x6fffffff;

const SHN_XINDEX = 0xffff;

const MACHINE_DESCRIPTIONS: Record<number, string> = {
  2: 'SPARC',
  3: 'i386 (32-bit x86)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'IBM S/390',
  40: 'ARM (32-bit)',
  43: 'SPARC V9',
  50: 'IA-64',
  62: 'x86_64',
  183: 'arm64 (AArch64)',
  243: 'RISC-V',
  258: 'LoongArch',
};

/** Maps e_machine to the names used by this tool. */
export function machineFromNumber(n: number): ElfMachine {
  if (n === EM_X86_64) return 'x86_64';
  if (n === EM_AARCH64) return 'arm64';
  return `EM_${n}`;
}

/** Human description of an e_machine value for messages, e.g. `i386 (32-bit x86) (EM_3)`. */
export function describeMachine(n: number): string {
  if (n === EM_X86_64) return 'x86_64';
  if (n === EM_AARCH64) return 'arm64';
  const known = MACHINE_DESCRIPTIONS[n];
  return known ? `${known} (EM_${n})` : `EM_${n}`;
}

/** True when the buffer starts with the ELF magic `\x7fELF`. */
export function isElf(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

/** Bounds-checked little/big-endian reader over a Buffer. */
class Reader {
  constructor(
    readonly buf: Buffer,
    readonly little: boolean,
    readonly is64: boolean,
  ) {}

  private check(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.buf.length) {
      throw new ElfParseError(`${what} at offset ${off} (+${len}) is outside the file (${this.buf.length} bytes)`);
    }
  }
  u8(off: number, what: string): number {
    this.check(off, 1, what);
    return this.buf[off] as number;
  }
  u16(off: number, what: string): number {
    this.check(off, 2, what);
    return this.little ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }
  u32(off: number, what: string): number {
    this.check(off, 4, what);
    return this.little ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }
  /** 64-bit unsigned; values beyond 2^53 become Infinity, which later fails every bounds check. */
  u64(off: number, what: string): number {
    this.check(off, 8, what);
    const v = this.little ? this.buf.readBigUInt64LE(off) : this.buf.readBigUInt64BE(off);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.POSITIVE_INFINITY;
  }
  /** Address-sized (Elf32_Addr/Off = 4 bytes, Elf64 = 8). */
  addr(off: number, what: string): number {
    return this.is64 ? this.u64(off, what) : this.u32(off, what);
  }
}

interface Section {
  index: number;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** A region of the file [offset, offset + size) holding a string table. */
interface StringTable {
  offset: number;
  size: number;
  what: string;
}

function readCString(r: Reader, table: StringTable, index: number, what: string): string {
  if (!Number.isSafeInteger(index) || index < 0 || index >= table.size) {
    throw new ElfParseError(`${what}: string index ${index} is outside ${table.what} (${table.size} bytes)`);
  }
  const start = table.offset + index;
  const end = Math.min(table.offset + table.size, r.buf.length);
  const len = r.buf.subarray(start, end).indexOf(0);
  if (len === -1) throw new ElfParseError(`${what}: unterminated string in ${table.what}`);
  return r.buf.toString('utf8', start, start + len);
}

function checkRegion(r: Reader, offset: number, size: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > r.buf.length) {
    throw new ElfParseError(`${what} (offset ${offset}, size ${size}) extends beyond the end of the file (${r.buf.length} bytes)`);
  }
}

function sectionStringTable(r: Reader, sections: Section[], index: number, what: string): StringTable {
  const s = sections[index];
  if (s === undefined) throw new ElfParseError(`${what}: linked string table section ${index} does not exist`);
  if (s.type === SHT_NOBITS) throw new ElfParseError(`${what}: linked string table section ${index} has no data`);
  checkRegion(r, s.offset, s.size, `string table section ${index}`);
  return { offset: s.offset, size: s.size, what: `string table section ${index}` };
}

interface DynamicEntry {
  tag: number;
  value: number;
}

function readDynamic(r: Reader, offset: number, size: number): DynamicEntry[] {
  checkRegion(r, offset, size, 'dynamic section');
  const entSize = r.is64 ? 16 : 8;
  const out: DynamicEntry[] = [];
  for (let off = offset; off + entSize <= offset + size; off += entSize) {
    const tag = r.is64 ? r.u64(off, 'dynamic tag') : r.u32(off, 'dynamic tag');
    const value = r.addr(off + entSize / 2, 'dynamic value');
    if (tag === DT_NULL) break;
    out.push({ tag, value });
  }
  return out;
}

/**
 * Walks Elf_Verneed / Elf_Vernaux chains inside [offset, offset + size). `count` is the number of
 * entries (sh_info or DT_VERNEEDNUM); undefined when unknown, then the chain's vn_next = 0 ends it.
 */
function readVerneed(
  r: Reader,
  offset: number,
  size: number,
  count: number | undefined,
  strtab: StringTable,
): ElfVersionNeed[] {
  checkRegion(r, offset, size, 'version requirements');
  const end = offset + size;
  const out: ElfVersionNeed[] = [];
  let vn = offset;
  // vn_next / vna_next are unsigned and must be > 0 to continue, so offsets strictly increase:
  // each loop ends within the region.
  for (let i = 0; count === undefined || i < count; i++) {
    if (vn + 16 > end) throw new ElfParseError(`version requirement ${i} at offset ${vn} is outside .gnu.version_r`);
    const vnVersion = r.u16(vn, 'vn_version');
    if (vnVersion !== 1) throw new ElfParseError(`version requirement ${i} has unsupported vn_version ${vnVersion}`);
    const vnCnt = r.u16(vn + 2, 'vn_cnt');
    const vnFile = r.u32(vn + 4, 'vn_file');
    const vnAux = r.u32(vn + 8, 'vn_aux');
    const vnNext = r.u32(vn + 12, 'vn_next');
    const need: ElfVersionNeed = { file: readCString(r, strtab, vnFile, 'vn_file'), versions: [] };
    let aux = vn + vnAux;
    for (let j = 0; j < vnCnt; j++) {
      if (vnAux === 0 && j === 0 && vnCnt > 0) throw new ElfParseError(`version requirement ${i} has vn_aux 0`);
      if (aux + 16 > end) throw new ElfParseError(`version auxiliary entry ${j} of ${need.file} is outside .gnu.version_r`);
      const vnaName = r.u32(aux + 8, 'vna_name');
      const vnaNext = r.u32(aux + 12, 'vna_next');
      need.versions.push(readCString(r, strtab, vnaName, 'vna_name'));
      if (vnaNext === 0) break;
      aux += vnaNext;
    }
    out.push(need);
    if (vnNext === 0) break;
    vn += vnNext;
  }
  return out;
}

function vaddrToOffset(segments: Segment[], vaddr: number, what: string): number {
  for (const s of segments) {
    if (s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz) return s.offset + (vaddr - s.vaddr);
  }
  throw new ElfParseError(`${what} address 0x${vaddr.toString(16)} is not in any loaded segment`);
}

/**
 * Parses an ELF file. Returns null when the buffer is not ELF (no `\x7fELF` magic); throws
 * `ElfParseError` when it is ELF but truncated or corrupt.
 */
export function parseElf(buf: Buffer): ElfInfo | null {
  if (!isElf(buf)) return null;
  if (buf.length < 16) throw new ElfParseError(`truncated identification (${buf.length} of 16 bytes)`);
  const eiClass = buf[4] as number;
  const eiData = buf[5] as number;
  if (eiClass !== 1 && eiClass !== 2) throw new ElfParseError(`unknown EI_CLASS ${eiClass}`);
  if (eiData !== 1 && eiData !== 2) throw new ElfParseError(`unknown EI_DATA ${eiData}`);
  const is64 = eiClass === 2;
  const r = new Reader(buf, eiData === 1, is64);
  const ehSize = is64 ? 64 : 52;
  if (buf.length < ehSize) throw new ElfParseError(`truncated ELF header (${buf.length} of ${ehSize} bytes)`);

  const typeNumber = r.u16(16, 'e_type');
  const machineNumber = r.u16(18, 'e_machine');
  const phoff = is64 ? r.u64(32, 'e_phoff') : r.u32(28, 'e_phoff');
  const shoff = is64 ? r.u64(40, 'e_shoff') : r.u32(32, 'e_shoff');
  const hdr = is64 ? 52 : 40; // offset of e_ehsize
  const phentsize = r.u16(hdr + 2, 'e_phentsize');
  const phnum = r.u16(hdr + 4, 'e_phnum');
  const shentsize = r.u16(hdr + 6, 'e_shentsize');
  let shnum = r.u16(hdr + 8, 'e_shnum');
  let shstrndx = r.u16(hdr + 10, 'e_shstrndx');

  const info: ElfInfo = {
    class: is64 ? 64 : 32,
    endianness: eiData === 1 ? 'little' : 'big',
    machine: machineFromNumber(machineNumber),
    machineNumber,
    type: ET_NAMES[typeNumber] ?? 'unknown',
    typeNumber,
    osAbi: buf[7] as number,
    interpreter: null,
    needed: [],
    soname: null,
    rpath: null,
    runpath: null,
    versionNeeds: [],
    fromProgramHeaders: false,
  };

  // Program headers.
  const segments: Segment[] = [];
  if (phoff !== 0 && phnum > 0) {
    const minPh = is64 ? 56 : 32;
    if (phentsize < minPh) throw new ElfParseError(`e_phentsize ${phentsize} is smaller than ${minPh}`);
    checkRegion(r, phoff, phnum * phentsize, 'program header table');
    for (let i = 0; i < phnum; i++) {
      const p = phoff + i * phentsize;
      const type = r.u32(p, 'p_type');
      const segment: Segment = is64
        ? { type, offset: r.u64(p + 8, 'p_offset'), vaddr: r.u64(p + 16, 'p_vaddr'), filesz: r.u64(p + 32, 'p_filesz') }
        : { type, offset: r.u32(p + 4, 'p_offset'), vaddr: r.u32(p + 8, 'p_vaddr'), filesz: r.u32(p + 16, 'p_filesz') };
      segments.push(segment);
      if (type === PT_INTERP && info.interpreter === null) {
        checkRegion(r, segment.offset, segment.filesz, 'PT_INTERP');
        info.interpreter = readCString(r, { offset: segment.offset, size: segment.filesz, what: 'PT_INTERP' }, 0, 'interpreter');
      }
    }
  }

  // Section headers.
  const sections: Section[] = [];
  if (shoff !== 0) {
    const minSh = is64 ? 64 : 40;
    const readSection = (index: number): Section => {
      const s = shoff + index * shentsize;
      return is64
        ? {
            index,
            type: r.u32(s + 4, 'sh_type'),
            addr: r.u64(s + 16, 'sh_addr'),
            offset: r.u64(s + 24, 'sh_offset'),
            size: r.u64(s + 32, 'sh_size'),
            link: r.u32(s + 40, 'sh_link'),
            info: r.u32(s + 44, 'sh_info'),
          }
        : {
            index,
            type: r.u32(s + 4, 'sh_type'),
            addr: r.u32(s + 12, 'sh_addr'),
            offset: r.u32(s + 16, 'sh_offset'),
            size: r.u32(s + 20, 'sh_size'),
            link: r.u32(s + 24, 'sh_link'),
            info: r.u32(s + 28, 'sh_info'),
          };
    };
    if (shentsize < minSh) throw new ElfParseError(`e_shentsize ${shentsize} is smaller than ${minSh}`);
    if (shnum === 0 || shstrndx === SHN_XINDEX) {
      // Extended numbering: the real values live in section 0.
      checkRegion(r, shoff, shentsize, 'section header 0');
      const s0 = readSection(0);
      if (shnum === 0) shnum = s0.size;
      if (shstrndx === SHN_XINDEX) shstrndx = s0.link;
    }
    if (!Number.isSafeInteger(shnum) || shnum > buf.length / shentsize) {
      throw new ElfParseError(`section count ${shnum} cannot fit in the file`);
    }
    checkRegion(r, shoff, shnum * shentsize, 'section header table');
    for (let i = 0; i < shnum; i++) sections.push(readSection(i));
  }

  let dynamic: { entries: DynamicEntry[]; strtab: StringTable } | null = null;
  const dynSection = sections.find((s) => s.type === SHT_DYNAMIC);
  const verneedSection = sections.find((s) => s.type === SHT_GNU_VERNEED);

  if (dynSection) {
    dynamic = {
      entries: readDynamic(r, dynSection.offset, dynSection.size),
      strtab: sectionStringTable(r, sections, dynSection.link, '.dynamic'),
    };
  } else if (sections.length === 0) {
    const pd = segments.find((s) => s.type === PT_DYNAMIC);
    if (pd) {
      info.fromProgramHeaders = true;
      const entries = readDynamic(r, pd.offset, pd.filesz);
      const strAddr = entries.find((e) => e.tag === DT_STRTAB)?.value;
      const strSize = entries.find((e) => e.tag === DT_STRSZ)?.value;
      if (strAddr === undefined || strSize === undefined) throw new ElfParseError('PT_DYNAMIC without DT_STRTAB/DT_STRSZ');
      const strOff = vaddrToOffset(segments, strAddr, 'DT_STRTAB');
      checkRegion(r, strOff, strSize, 'DT_STRTAB');
      dynamic = { entries, strtab: { offset: strOff, size: strSize, what: 'DT_STRTAB' } };
    }
  }

  if (dynamic) {
    for (const e of dynamic.entries) {
      switch (e.tag) {
        case DT_NEEDED:
          info.needed.push(readCString(r, dynamic.strtab, e.value, 'DT_NEEDED'));
          break;
        case DT_SONAME:
          info.soname = readCString(r, dynamic.strtab, e.value, 'DT_SONAME');
          break;
        case DT_RPATH:
          info.rpath = readCString(r, dynamic.strtab, e.value, 'DT_RPATH');
          break;
        case DT_RUNPATH:
          info.runpath = readCString(r, dynamic.strtab, e.value, 'DT_RUNPATH');
          break;
      }
    }
  }

  if (verneedSection) {
    info.versionNeeds = readVerneed(
      r,
      verneedSection.offset,
      verneedSection.size,
      verneedSection.info,
      sectionStringTable(r, sections, verneedSection.link, '.gnu.version_r'),
    );
  } else if (info.fromProgramHeaders && dynamic) {
    const addr = dynamic.entries.find((e) => e.tag === DT_VERNEED)?.value;
    const num = dynamic.entries.find((e) => e.tag === DT_VERNEEDNUM)?.value;
    if (addr !== undefined) {
      const off = vaddrToOffset(segments, addr, 'DT_VERNEED');
      // Without a section header the region's size is unknown: bound it by the containing segment.
      const seg = segments.find((s) => s.type === PT_LOAD && addr >= s.vaddr && addr < s.vaddr + s.filesz) as Segment;
      const size = Math.min(seg.offset + seg.filesz, buf.length) - off;
      info.versionNeeds = readVerneed(r, off, size, num, dynamic.strtab);
    }
  }
  return info;
}

/** Every version name required from any file (`GLIBC_2.14`, `GLIBCXX_3.4.29`, …), deduplicated. */
export function requiredVersionNames(info: ElfInfo): string[] {
  return [...new Set(info.versionNeeds.flatMap((n) => n.versions))];
}
