import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ElfParseError, describeMachine, isElf, machineFromNumber, parseElf, requiredVersionNames } from '../../../src/elf/elf.js';
import {
  LIBRARY_SOURCE,
  NEW_GLIBC_PROGRAM,
  buildSyntheticElf,
  cleanupFixtures,
  compileC,
  haveCc,
  haveReadelf,
  prng,
  withoutSectionHeaders,
} from './fixtures.js';

afterAll(cleanupFixtures);

/** readelf's view of a file, as an oracle (`readelf -d -V`). */
function readelfInfo(path: string): { needed: string[]; soname: string | null; versions: Map<string, string[]> } {
  const out = execFileSync('readelf', ['-d', '-V', '-W', path], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1] as string);
  const soname = /\(SONAME\)\s+Library soname: \[(.+?)\]/.exec(out)?.[1] ?? null;
  const versions = new Map<string, string[]>();
  const section = out.slice(out.indexOf("Version needs section '.gnu.version_r'"));
  let current: string[] | undefined;
  for (const line of section.split('\n')) {
    const file = /^\s+(?:0x)?[0-9a-f]+: Version: \d+\s+File: (\S+)\s+Cnt: \d+/.exec(line);
    if (file) {
      current = [];
      versions.set(file[1] as string, current);
      continue;
    }
    const name = /^\s+(?:0x)?[0-9a-f]+:\s+Name: (\S+)\s+Flags:/.exec(line);
    if (name && current) current.push(name[1] as string);
  }
  return { needed, soname, versions };
}

describe('parseElf on non-ELF input', () => {
  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('#!/bin/sh\necho hi\n')],
    ['three magic bytes', Buffer.from([0x7f, 0x45, 0x4c])],
    ['zip', Buffer.from('PK\x03\x04rest', 'latin1')],
    ['ar archive', Buffer.from('!<arch>\n', 'latin1')],
  ])('returns null for %s', (_name, buf) => {
    expect(parseElf(buf)).toBeNull();
    expect(isElf(buf)).toBe(false);
  });
});

describe.runIf(haveCc)('parseElf on binaries compiled at test time', () => {
  it('reads class, machine, type, interpreter, DT_NEEDED and GLIBC requirements of a program', () => {
    const { path, data } = compileC('newglibc', NEW_GLIBC_PROGRAM, []);
    const info = parseElf(data);
    expect(info).not.toBeNull();
    expect(info).toMatchObject({ class: 64, endianness: 'little', machine: process.arch === 'arm64' ? 'arm64' : 'x86_64' });
    expect(['exec', 'dyn']).toContain(info?.type);
    expect(info?.interpreter).toMatch(/^\/lib.*ld-linux.*\.so\.\d$/);
    expect(info?.needed).toContain('libc.so.6');
    expect(info?.soname).toBeNull();
    const libc = info?.versionNeeds.find((n) => n.file === 'libc.so.6');
    expect(libc?.versions).toEqual(expect.arrayContaining(['GLIBC_2.26', 'GLIBC_2.25']));
    if (haveReadelf) {
      const oracle = readelfInfo(path);
      expect(info?.needed).toEqual(oracle.needed);
      expect(new Map(info?.versionNeeds.map((n) => [n.file, n.versions]))).toEqual(oracle.versions);
    }
  });

  it('reads SONAME and needed libraries of a shared library', () => {
    const { path, data } = compileC('libfoo.so', LIBRARY_SOURCE, ['-shared', '-fPIC', '-Wl,-soname,libfoo.so.1', '-lm', '-Wl,-rpath,$ORIGIN/../lib', '-Wl,--enable-new-dtags']);
    const info = parseElf(data);
    expect(info).toMatchObject({ type: 'dyn', soname: 'libfoo.so.1', interpreter: null, runpath: '$ORIGIN/../lib', rpath: null });
    expect(info?.needed).toContain('libm.so.6');
    if (haveReadelf) {
      const oracle = readelfInfo(path);
      expect(info?.needed).toEqual(oracle.needed);
      expect(info?.soname).toBe(oracle.soname);
    }
  });

  it('reads an object file (ET_REL) with no dynamic information', () => {
    const { data } = compileC('obj.o', LIBRARY_SOURCE, ['-c']);
    expect(parseElf(data)).toMatchObject({ type: 'rel', needed: [], versionNeeds: [], interpreter: null });
  });

  it('reads GLIBC_ABI_DT_RELR when linked with pack-relative-relocs (if the linker supports it)', (ctx) => {
    let data: Buffer;
    try {
      data = compileC('relr', NEW_GLIBC_PROGRAM, ['-Wl,-z,pack-relative-relocs']).data;
    } catch {
      ctx.skip();
      return;
    }
    const names = requiredVersionNames(parseElf(data) as NonNullable<ReturnType<typeof parseElf>>);
    if (!names.includes('GLIBC_ABI_DT_RELR')) ctx.skip(); // older glibc: the linker drops the marker
    expect(names).toContain('GLIBC_ABI_DT_RELR');
  });

  it('falls back to program headers when the section header table is gone', () => {
    const { data } = compileC('newglibc2', NEW_GLIBC_PROGRAM, []);
    const full = parseElf(data);
    const stripped = parseElf(withoutSectionHeaders(data));
    expect(stripped?.fromProgramHeaders).toBe(true);
    expect(full?.fromProgramHeaders).toBe(false);
    expect(stripped?.needed).toEqual(full?.needed);
    expect(stripped?.versionNeeds).toEqual(full?.versionNeeds);
    expect(stripped?.interpreter).toEqual(full?.interpreter);
  });
});

describe('parseElf on real system files', () => {
  const candidates = ['/bin/ls', '/usr/bin/php'].filter((p) => existsSync(p));

  it.each(candidates)('%s matches readelf', (path) => {
    const real = realpathSync(path);
    const info = parseElf(readFileSync(real));
    expect(info).not.toBeNull();
    expect(info?.needed.length).toBeGreaterThan(0);
    expect(info?.versionNeeds.some((n) => n.versions.some((v) => v.startsWith('GLIBC_')))).toBe(true);
    if (haveReadelf) {
      const oracle = readelfInfo(real);
      expect(info?.needed).toEqual(oracle.needed);
      expect(new Map(info?.versionNeeds.map((n) => [n.file, n.versions]))).toEqual(oracle.versions);
    }
  });

  it('at least one real-world input exists', () => {
    expect(candidates.length).toBeGreaterThan(0);
  });
});

describe('parseElf on synthetic files (both classes, both byte orders)', () => {
  const variants = [
    { class: 32, endianness: 'little', machine: 3 },
    { class: 32, endianness: 'big', machine: 8 },
    { class: 64, endianness: 'little', machine: 183 },
    { class: 64, endianness: 'big', machine: 22 },
  ] as const;

  for (const v of variants) {
    for (const sections of [true, false]) {
      it(`ELF${v.class} ${v.endianness}-endian, ${sections ? 'with' : 'without'} section headers`, () => {
        const { data } = buildSyntheticElf({
          ...v,
          sections,
          needed: ['libc.so.6', 'libm.so.6'],
          soname: 'libx.so.1',
          interpreter: '/lib/ld.so.1',
          verneed: [
            { file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.28'] },
            { file: 'libm.so.6', versions: ['GLIBC_2.29'] },
          ],
        });
        expect(parseElf(data)).toEqual({
          class: v.class,
          endianness: v.endianness,
          machine: machineFromNumber(v.machine),
          machineNumber: v.machine,
          type: 'dyn',
          typeNumber: 3,
          osAbi: 0,
          interpreter: '/lib/ld.so.1',
          needed: ['libc.so.6', 'libm.so.6'],
          soname: 'libx.so.1',
          rpath: null,
          runpath: null,
          versionNeeds: [
            { file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.28'] },
            { file: 'libm.so.6', versions: ['GLIBC_2.29'] },
          ],
          fromProgramHeaders: !sections,
        });
      });
    }
  }

  it('maps machines and types', () => {
    expect(machineFromNumber(62)).toBe('x86_64');
    expect(machineFromNumber(183)).toBe('arm64');
    expect(machineFromNumber(3)).toBe('EM_3');
    expect(describeMachine(3)).toBe('i386 (32-bit x86) (EM_3)');
    expect(describeMachine(9999)).toBe('EM_9999');
    const exec = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, type: 2 }).data;
    expect(parseElf(exec)).toMatchObject({ type: 'exec', machine: 'x86_64', needed: [], versionNeeds: [] });
    const core = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, type: 4 }).data;
    expect(parseElf(core)?.type).toBe('core');
    const odd = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, type: 0xfe00 }).data;
    expect(parseElf(odd)).toMatchObject({ type: 'unknown', typeNumber: 0xfe00 });
  });
});

describe('parseElf on truncated and corrupt input', () => {
  const expectParseErrorOrInfo = (buf: Buffer): void => {
    let result: unknown;
    try {
      result = parseElf(buf);
    } catch (e) {
      expect(e).toBeInstanceOf(ElfParseError);
      expect((e as Error).message).toMatch(/^invalid ELF file: /);
      return;
    }
    expect(result === null || typeof result === 'object').toBe(true);
  };

  it.each([
    ['only the magic', 4, /identification/],
    ['half an identification', 10, /identification/],
    ['identification only', 16, /ELF header/],
    ['half a header', 40, /ELF header/],
  ])('throws ElfParseError for %s', (_name, length, message) => {
    const { data } = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.17'] }] });
    expect(() => parseElf(data.subarray(0, length))).toThrow(ElfParseError);
    expect(() => parseElf(data.subarray(0, length))).toThrow(message);
  });

  it('throws for unknown class or byte order', () => {
    const { data } = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62 });
    const badClass = Buffer.from(data);
    badClass[4] = 7;
    expect(() => parseElf(badClass)).toThrow(/EI_CLASS 7/);
    const badData = Buffer.from(data);
    badData[5] = 0;
    expect(() => parseElf(badData)).toThrow(/EI_DATA 0/);
  });

  it('throws when the section header table is cut off', () => {
    const { data } = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, needed: ['libc.so.6'] });
    expect(() => parseElf(data.subarray(0, data.length - 10))).toThrow(/section header table/);
  });

  it('never reads out of bounds at any truncation length (synthetic, every length)', () => {
    const { data } = buildSyntheticElf({
      class: 32,
      endianness: 'big',
      machine: 8,
      needed: ['libc.so.6'],
      interpreter: '/lib/ld.so.1',
      verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.2', 'GLIBC_2.30'] }],
    });
    for (let len = 0; len <= data.length; len++) expectParseErrorOrInfo(data.subarray(0, len));
    for (let len = 0; len <= data.length; len++) expectParseErrorOrInfo(withoutSectionHeaders(data).subarray(0, len));
  });

  it('never reads out of bounds when /bin/ls is truncated', () => {
    if (!existsSync('/bin/ls')) return;
    const ls = readFileSync('/bin/ls');
    for (let i = 0; i <= 256; i++) expectParseErrorOrInfo(ls.subarray(0, Math.floor((ls.length * i) / 256)));
    // Cut just before the end: the section header table (at the end of the file) is incomplete.
    expect(() => parseElf(ls.subarray(0, ls.length - 1))).toThrow(ElfParseError);
  });

  it('rejects a corrupt string index, verneed chain and dynamic link without hanging', () => {
    const base = buildSyntheticElf({
      class: 64,
      endianness: 'little',
      machine: 62,
      needed: ['libc.so.6'],
      verneed: [
        { file: 'libc.so.6', versions: ['GLIBC_2.17', 'GLIBC_2.28'] },
        { file: 'libm.so.6', versions: ['GLIBC_2.29'] },
      ],
    });
    const { verneed } = base.offsets;

    const badVnNext = Buffer.from(base.data);
    badVnNext.writeUInt32LE(0xfffffff0, verneed + 12); // vn_next far beyond the section
    expect(() => parseElf(badVnNext)).toThrow(/outside \.gnu\.version_r/);

    const badVnaNext = Buffer.from(base.data);
    badVnaNext.writeUInt32LE(0x7ffffff0, verneed + 16 + 12); // first vna_next
    expect(() => parseElf(badVnaNext)).toThrow(/outside \.gnu\.version_r/);

    const badName = Buffer.from(base.data);
    badName.writeUInt32LE(0xffffff, verneed + 16 + 8); // vna_name beyond .dynstr
    expect(() => parseElf(badName)).toThrow(/vna_name: string index/);

    const badVersion = Buffer.from(base.data);
    badVersion.writeUInt16LE(2, verneed); // vn_version
    expect(() => parseElf(badVersion)).toThrow(/vn_version 2/);

    const badShnum = Buffer.from(base.data);
    badShnum.writeUInt16LE(0xfff0, 52 + 8); // e_shnum
    expect(() => parseElf(badShnum)).toThrow(/section/);

    const badPhentsize = Buffer.from(base.data);
    badPhentsize.writeUInt16LE(8, 52 + 2);
    expect(() => parseElf(badPhentsize)).toThrow(/e_phentsize/);

    const hugeShoff = Buffer.from(base.data);
    hugeShoff.writeBigUInt64LE(0xffffffffffff0000n, 40);
    expect(() => parseElf(hugeShoff)).toThrow(ElfParseError);
  });

  it('an unterminated string is an error, not an overrun', () => {
    const { data, offsets } = buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, needed: ['libc.so.6'] });
    const corrupt = Buffer.from(data);
    // Fill .dynstr (and beyond, up to .dynamic) with non-NUL bytes.
    corrupt.fill(0x41, offsets.dynstr, offsets.dynstr + 'libc.so.6'.length + 2);
    expect(() => parseElf(corrupt)).toThrow(/unterminated string|string index/);
  });

  it('survives random corruption (seeded) with only ElfParseError, quickly', () => {
    const sources = [
      buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, needed: ['a.so'], verneed: [{ file: 'a.so', versions: ['GLIBC_2.1'] }] }).data,
      buildSyntheticElf({ class: 32, endianness: 'big', machine: 8, needed: ['a.so'], sections: false, verneed: [{ file: 'a.so', versions: ['V1', 'V2'] }] }).data,
    ];
    if (existsSync('/bin/ls')) sources.push(readFileSync('/bin/ls'));
    const random = prng(1234);
    const started = Date.now();
    let errors = 0;
    for (const source of sources) {
      for (let round = 0; round < 300; round++) {
        const buf = Buffer.from(source);
        const flips = 1 + Math.floor(random() * 8);
        // Corrupt the headers and (for small files) anywhere; for /bin/ls the first 4 KiB and the tail.
        for (let k = 0; k < flips; k++) {
          const region = buf.length < 8192 ? buf.length : random() < 0.5 ? 4096 : buf.length;
          const pos = region === buf.length && buf.length >= 8192 ? buf.length - 1 - Math.floor(random() * 4096) : Math.floor(random() * region);
          buf[pos] = Math.floor(random() * 256);
        }
        buf[0] = 0x7f; // keep the magic so the parser really runs
        buf.write('ELF', 1, 'latin1');
        try {
          parseElf(buf);
        } catch (e) {
          expect(e).toBeInstanceOf(ElfParseError);
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(0); // the corruption did reach the parser
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
