import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ElfFileError,
  checkArch,
  checkGlibcCeiling,
  compareVersions,
  formatArchViolation,
  formatGlibcViolation,
  formatGlibcViolations,
  glibcVersionOf,
  maxGlibcRequired,
  scanElfEntries,
} from '../../../src/elf/checks.js';
import { parseElf } from '../../../src/elf/elf.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { LIBRARY_SOURCE, NEW_GLIBC_PROGRAM, buildSyntheticElf, cleanupFixtures, compileC, haveCc, withMachine } from './fixtures.js';

afterAll(cleanupFixtures);

const file = (path: string, data: Buffer, mode = 0o755): LayerEntry => ({ type: 'file', path, mode, data });

const synthetic = (machine: number, versions: string[], file_ = 'libc.so.6'): Buffer =>
  buildSyntheticElf({ class: 64, endianness: 'little', machine, needed: [file_], verneed: [{ file: file_, versions }] }).data;

describe('version helpers', () => {
  it.each<[string, string, number]>([
    ['2.9', '2.17', -1],
    ['2.17', '2.9', 1],
    ['2.17', '2.17', 0],
    ['2.17', '2.17.0', 0],
    ['2.2.5', '2.2', 1],
    ['2.26', '2.3.4', 1],
    ['3.0', '2.99', 1],
  ])('compareVersions(%s, %s) = %d', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });

  it('rejects malformed versions', () => {
    expect(() => compareVersions('2.x', '2.17')).toThrow(/"2\.x"/);
  });

  it.each<[string, string | null]>([
    ['GLIBC_2.28', '2.28'],
    ['GLIBC_2.2.5', '2.2.5'],
    ['GLIBC_ABI_DT_RELR', '2.36'],
    ['GLIBC_PRIVATE', null],
    ['GLIBCXX_3.4.29', null],
    ['CXXABI_1.3', null],
    ['OPENSSL_3.0.0', null],
  ])('glibcVersionOf(%s) = %s', (name, expected) => {
    expect(glibcVersionOf(name)).toBe(expected);
  });
});

describe('checkGlibcCeiling (synthetic ELF)', () => {
  const entries: LayerEntry[] = [
    { type: 'directory', path: 'bin', mode: 0o755 },
    file('bin/php', synthetic(62, ['GLIBC_2.2.5', 'GLIBC_2.9', 'GLIBC_2.17', 'GLIBC_2.28', 'GLIBC_2.34', 'GLIBC_PRIVATE'])),
    file('lib/libm-user.so', synthetic(62, ['GLIBC_2.29'], 'libm.so.6')),
    file('lib/old.so', synthetic(62, ['GLIBC_2.2.5', 'GLIBC_2.14'])),
    file('lib/libstdcxx-user.so', synthetic(62, ['GLIBCXX_3.4.30'], 'libstdc++.so.6')),
    file('etc/php.ini', Buffer.from('memory_limit=1G')),
    { type: 'symlink', path: 'lib/link.so', mode: 0o777, target: 'old.so' },
  ];

  it('reports every requirement above the ceiling, compared numerically', () => {
    expect(checkGlibcCeiling(entries, '2.17')).toEqual([
      { path: 'bin/php', symbol: 'GLIBC_2.34', needs: '2.34', libraries: ['libc.so.6'] },
      { path: 'bin/php', symbol: 'GLIBC_2.28', needs: '2.28', libraries: ['libc.so.6'] },
      { path: 'lib/libm-user.so', symbol: 'GLIBC_2.29', needs: '2.29', libraries: ['libm.so.6'] },
    ]);
  });

  it('moves with the ceiling', () => {
    expect(checkGlibcCeiling(entries, '2.26').map((v) => `${v.path}:${v.symbol}`)).toEqual([
      'bin/php:GLIBC_2.34',
      'bin/php:GLIBC_2.28',
      'lib/libm-user.so:GLIBC_2.29',
    ]);
    expect(checkGlibcCeiling(entries, '2.34')).toEqual([]);
    expect(checkGlibcCeiling(entries, '2.13').map((v) => `${v.path}:${v.symbol}`)).toContain('lib/old.so:GLIBC_2.14');
    // 2.9 is below 2.17 numerically (a string comparison would say otherwise)
    expect(checkGlibcCeiling(entries, '2.10').map((v) => v.symbol)).not.toContain('GLIBC_2.9');
    expect(checkGlibcCeiling(entries, '2.8').map((v) => v.symbol)).toContain('GLIBC_2.9');
  });

  it('merges one version required from several libraries', () => {
    const data = buildSyntheticElf({
      class: 64,
      endianness: 'little',
      machine: 62,
      verneed: [
        { file: 'libc.so.6', versions: ['GLIBC_2.34'] },
        { file: 'libm.so.6', versions: ['GLIBC_2.34', 'GLIBC_2.29'] },
      ],
    }).data;
    expect(checkGlibcCeiling([file('x', data)], '2.26')).toEqual([
      { path: 'x', symbol: 'GLIBC_2.34', needs: '2.34', libraries: ['libc.so.6', 'libm.so.6'] },
      { path: 'x', symbol: 'GLIBC_2.29', needs: '2.29', libraries: ['libm.so.6'] },
    ]);
  });

  it('treats GLIBC_ABI_DT_RELR as needing glibc 2.36', () => {
    const entries = [file('bin/relr', synthetic(62, ['GLIBC_2.2.5', 'GLIBC_ABI_DT_RELR']))];
    expect(checkGlibcCeiling(entries, '2.34')).toEqual([
      { path: 'bin/relr', symbol: 'GLIBC_ABI_DT_RELR', needs: '2.36', libraries: ['libc.so.6'] },
    ]);
    expect(checkGlibcCeiling(entries, '2.36')).toEqual([]);
  });

  it('rejects a malformed ceiling', () => {
    expect(() => checkGlibcCeiling(entries, 'al2')).toThrow(/"al2"/);
  });

  it('throws ElfFileError naming a file that looks like ELF but is corrupt; scanElfEntries reports it', () => {
    const corrupt = file('lib/broken.so', synthetic(62, ['GLIBC_2.17']).subarray(0, 30));
    expect(() => checkGlibcCeiling([...entries, corrupt], '2.17')).toThrow(ElfFileError);
    expect(() => checkArch([corrupt], 'x86_64')).toThrow(/lib\/broken\.so: invalid ELF file/);
    const scan = scanElfEntries([...entries, corrupt]);
    expect(scan.errors).toEqual([{ path: 'lib/broken.so', message: expect.stringMatching(/ELF header/) }]);
    expect(scan.elf.map((e) => e.path)).toEqual(['bin/php', 'lib/libm-user.so', 'lib/old.so', 'lib/libstdcxx-user.so']);
  });

  it('maxGlibcRequired gives the highest requirement', () => {
    expect(maxGlibcRequired(parseElf(synthetic(62, ['GLIBC_2.9', 'GLIBC_2.17', 'GLIBC_2.2.5'])) as NonNullable<ReturnType<typeof parseElf>>)).toBe('2.17');
    expect(maxGlibcRequired(parseElf(synthetic(62, ['GLIBCXX_3.4'])) as NonNullable<ReturnType<typeof parseElf>>)).toBeNull();
  });
});

describe('checkArch', () => {
  const entries = [
    file('bin/php', synthetic(62, [])),
    file('lib/arm.so', synthetic(183, [])),
    file('lib/i386.so', buildSyntheticElf({ class: 32, endianness: 'little', machine: 3 }).data),
    file('README', Buffer.from('not elf')),
  ];

  it('reports files built for another machine', () => {
    expect(checkArch(entries, 'x86_64')).toEqual([
      { path: 'lib/arm.so', machine: 'arm64', machineNumber: 183, expected: 'x86_64' },
      { path: 'lib/i386.so', machine: 'EM_3', machineNumber: 3, expected: 'x86_64' },
    ]);
    expect(checkArch(entries, 'arm64').map((v) => v.path)).toEqual(['bin/php', 'lib/i386.so']);
  });

  it('rejects an unknown architecture', () => {
    expect(() => checkArch(entries, 'aarch64' as 'arm64')).toThrow(/"aarch64"/);
  });

  it('formats violations', () => {
    const [arm, i386] = checkArch(entries, 'x86_64');
    expect(formatArchViolation(arm as NonNullable<typeof arm>)).toBe('lib/arm.so is built for arm64 but the target architecture is x86_64');
    expect(formatArchViolation(i386 as NonNullable<typeof i386>)).toBe(
      'lib/i386.so is built for i386 (32-bit x86) (EM_3) but the target architecture is x86_64',
    );
  });
});

describe('formatGlibcViolations', () => {
  it('formats one violation', () => {
    expect(formatGlibcViolation({ path: 'bin/php', symbol: 'GLIBC_2.34', needs: '2.34', libraries: ['libc.so.6'] }, { platform: 'al2', glibc: '2.26' })).toBe(
      'bin/php needs GLIBC_2.34 but platform al2 has glibc 2.26',
    );
  });

  it('groups per file, highest first', () => {
    const lines = formatGlibcViolations(
      [
        { path: 'bin/php', symbol: 'GLIBC_2.28', needs: '2.28', libraries: ['libc.so.6'] },
        { path: 'bin/php', symbol: 'GLIBC_2.34', needs: '2.34', libraries: ['libc.so.6'] },
        { path: 'lib/x.so', symbol: 'GLIBC_2.27', needs: '2.27', libraries: ['libc.so.6'] },
      ],
      { platform: 'al2', glibc: '2.26' },
    );
    expect(lines).toEqual([
      'bin/php needs GLIBC_2.34 but platform al2 has glibc 2.26 (also GLIBC_2.28)',
      'lib/x.so needs GLIBC_2.27 but platform al2 has glibc 2.26',
    ]);
    expect(formatGlibcViolations([], { platform: 'al2', glibc: '2.26' })).toEqual([]);
  });
});

describe.runIf(haveCc)('checks on binaries compiled at test time', () => {
  it('flags reallocarray (GLIBC_2.26) and getrandom/explicit_bzero (GLIBC_2.25) against the 2017.03 ceiling', () => {
    const program = compileC('newglibc', NEW_GLIBC_PROGRAM, []).data;
    const entries = [file('bin/newglibc', program)];
    const v217 = checkGlibcCeiling(entries, '2.17');
    expect(v217.map((v) => v.symbol)).toEqual(expect.arrayContaining(['GLIBC_2.26', 'GLIBC_2.25']));
    // Against al2 (2.26): reallocarray is fine; what remains is only what this build machine's
    // glibc adds on top (e.g. __libc_start_main@GLIBC_2.34 with glibc >= 2.34).
    const v226 = checkGlibcCeiling(entries, '2.26');
    expect(v226.map((v) => v.symbol)).not.toContain('GLIBC_2.26');
    expect(v226.map((v) => v.symbol)).not.toContain('GLIBC_2.25');
    expect(v226.every((v) => compareVersions(v.needs, '2.26') > 0)).toBe(true);
    const lines = formatGlibcViolations(v217, { platform: 'amzn-2017.03', glibc: '2.17' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^bin\/newglibc needs GLIBC_2\.\d+ but platform amzn-2017\.03 has glibc 2\.17 \(also .*GLIBC_2\.26.*\)$/);
  });

  it('checks the architecture of a real binary and a copy claiming to be arm64', () => {
    const lib = compileC('libarch.so', LIBRARY_SOURCE, ['-shared', '-fPIC']).data;
    const host = process.arch === 'arm64' ? 'arm64' : 'x86_64';
    const other = host === 'arm64' ? 'x86_64' : 'arm64';
    const entries = [file('lib/native.so', lib), file('lib/foreign.so', withMachine(lib, host === 'arm64' ? 62 : 183))];
    expect(checkArch(entries, host)).toEqual([
      { path: 'lib/foreign.so', machine: other, machineNumber: host === 'arm64' ? 62 : 183, expected: host },
    ]);
    expect(checkArch(entries, other).map((v) => v.path)).toEqual(['lib/native.so']);
  });
});

describe('checks on real system files', () => {
  const candidates = ['/bin/ls', '/usr/bin/php'].filter((p) => existsSync(p));

  it.each(candidates)('%s needs a glibc newer than 2.17 on this build machine', (path) => {
    const entries = [file('bin/tool', readFileSync(path))];
    const violations = checkGlibcCeiling(entries, '2.17');
    // Debian 12's /bin/ls needs GLIBC_2.28, 2.33, 2.34 …; any modern distro's binaries exceed 2.17.
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.every((v) => compareVersions(v.needs, '2.17') > 0)).toBe(true);
    expect(checkGlibcCeiling(entries, '99.0')).toEqual([]);
    expect(checkArch(entries, process.arch === 'arm64' ? 'arm64' : 'x86_64')).toEqual([]);
  });
});
