import { afterAll, describe, expect, it } from 'vitest';
import { ElfFileError } from '../../../src/elf/checks.js';
import {
  GLIBC_LOADERS,
  GLIBC_SONAMES,
  checkGlibcOnlyPolicy,
  formatForbiddenPathHit,
  formatPolicyViolation,
  formatPolicyViolations,
  isGlibcLibrary,
  portableForbiddenPaths,
  scanForbiddenPaths,
} from '../../../src/elf/policy.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { multiarchTriplet } from '../../../src/platforms/registry.js';
import { buildSyntheticElf, cleanupFixtures, compileC, type SyntheticElfOptions } from './fixtures.js';

afterAll(cleanupFixtures);

const X86 = 62;
const file = (path: string, data: Buffer, mode = 0o755): LayerEntry => ({ type: 'file', path, mode, data });
const link = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, mode: 0o777, target });
const elf = (o: Partial<SyntheticElfOptions>): Buffer =>
  buildSyntheticElf({ class: 64, endianness: 'little', machine: X86, ...o }).data;
const exe = (needed: string[], extra: Partial<SyntheticElfOptions> = {}): Buffer =>
  elf({ type: 3, interpreter: '/lib64/ld-linux-x86-64.so.2', needed, ...extra });
const opts = { arch: 'x86_64' as const, glibc: '2.31' };
const ctx = { platform: 'al2023-portable', glibc: '2.31' };

describe('isGlibcLibrary', () => {
  it.each(['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libresolv.so.2', 'libutil.so.1', 'libanl.so.1'])(
    '%s is glibc',
    (s) => {
      expect(isGlibcLibrary(s, 'x86_64')).toBe(true);
      expect(isGlibcLibrary(s, 'arm64')).toBe(true);
    },
  );

  it('NSS modules are glibc, any service name', () => {
    for (const s of ['libnss_files.so.2', 'libnss_dns.so.2', 'libnss_compat.so.2', 'libnss_myhostname.so.2']) {
      expect(isGlibcLibrary(s, 'x86_64'), s).toBe(true);
    }
    expect(isGlibcLibrary('libnss_files.so.1', 'x86_64')).toBe(false);
    expect(isGlibcLibrary('libnss3.so', 'x86_64')).toBe(false); // Mozilla NSS, not glibc
  });

  it('the loader is per architecture', () => {
    expect(GLIBC_LOADERS.x86_64).toEqual({ soname: 'ld-linux-x86-64.so.2', path: '/lib64/ld-linux-x86-64.so.2' });
    expect(GLIBC_LOADERS.arm64).toEqual({ soname: 'ld-linux-aarch64.so.1', path: '/lib/ld-linux-aarch64.so.1' });
    expect(isGlibcLibrary('ld-linux-x86-64.so.2', 'x86_64')).toBe(true);
    expect(isGlibcLibrary('ld-linux-x86-64.so.2', 'arm64')).toBe(false);
    expect(isGlibcLibrary('ld-linux-aarch64.so.1', 'arm64')).toBe(true);
    expect(isGlibcLibrary('ld-linux-aarch64.so.1', 'x86_64')).toBe(false);
  });

  it.each(['libz.so.1', 'libstdc++.so.6', 'libgcc_s.so.1', 'libcrypt.so.1', 'libcrypt.so.2', 'libssl.so.1.1', 'libnsl.so.1', 'libmvec.so.1', 'libc.so.7'])(
    '%s is not glibc (must be bundled)',
    (s) => {
      expect(isGlibcLibrary(s, 'x86_64')).toBe(false);
    },
  );

  it('the list is exactly the documented one', () => {
    expect([...GLIBC_SONAMES].sort()).toEqual(
      ['libanl.so.1', 'libc.so.6', 'libdl.so.2', 'libm.so.6', 'libpthread.so.0', 'libresolv.so.2', 'librt.so.1', 'libutil.so.1'],
    );
  });
});

describe('checkGlibcOnlyPolicy', () => {
  const good: LayerEntry[] = [
    { type: 'directory', path: 'bin', mode: 0o755 },
    file('bin/php', exe(['libz.so.1', 'libssl.so.1.1', 'libm.so.6', 'libc.so.6'], { verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.28'] }] })),
    file('lib/libz.so.1.3.1', elf({ soname: 'libz.so.1', needed: ['libc.so.6'] }), 0o644),
    link('lib/libz.so.1', 'libz.so.1.3.1'),
    file('lib/libssl.so.1.1', elf({ soname: 'libssl.so.1.1', needed: ['libcrypto.so.1.1', 'libpthread.so.0', 'libdl.so.2'] })),
    file('lib/libcrypto.so.1.1', elf({ soname: 'libcrypto.so.1.1', needed: ['libdl.so.2', 'libpthread.so.0', 'libc.so.6', 'ld-linux-x86-64.so.2'] })),
    file('etc/php/php.ini', Buffer.from('memory_limit=-1\n'), 0o644),
  ];

  it('a layer that takes only glibc from the system passes', () => {
    expect(checkGlibcOnlyPolicy(good, opts)).toEqual([]);
  });

  it('a library that slips through: a bundled library needs one the layer does not carry', () => {
    const layer = [
      ...good,
      file('lib/libcurl.so.4', elf({ soname: 'libcurl.so.4', needed: ['libssl.so.1.1', 'libnghttp2.so.14', 'libc.so.6'] })),
    ];
    expect(checkGlibcOnlyPolicy(layer, opts)).toEqual([{ kind: 'not-bundled', path: 'lib/libcurl.so.4', library: 'libnghttp2.so.14' }]);
  });

  it('libcrypt, libgcc_s and libstdc++ are not glibc: each must be in lib/', () => {
    const layer: LayerEntry[] = [
      file('bin/php', exe(['libcrypt.so.1', 'libc.so.6'])),
      file('lib/php/extensions/intl.so', elf({ needed: ['libstdc++.so.6', 'libgcc_s.so.1', 'libm.so.6'] })),
      file('lib/libgcc_s.so.1', elf({ soname: 'libgcc_s.so.1', needed: ['libc.so.6'] })),
    ];
    expect(checkGlibcOnlyPolicy(layer, opts)).toEqual([
      { kind: 'not-bundled', path: 'bin/php', library: 'libcrypt.so.1' },
      { kind: 'not-bundled', path: 'lib/php/extensions/intl.so', library: 'libstdc++.so.6' },
    ]);
  });

  it('a library elsewhere in the layer does not count unless RPATH/RUNPATH points there', () => {
    const lib = file('lib/private/libfoo.so.1', elf({ soname: 'libfoo.so.1', needed: ['libc.so.6'] }));
    expect(checkGlibcOnlyPolicy([file('bin/a', exe(['libfoo.so.1'])), lib], opts)).toEqual([
      { kind: 'not-bundled', path: 'bin/a', library: 'libfoo.so.1' },
    ]);
    expect(checkGlibcOnlyPolicy([file('bin/a', exe(['libfoo.so.1'], { runpath: '/opt/lib/private' })), lib], opts)).toEqual([]);
    expect(checkGlibcOnlyPolicy([file('bin/a', exe(['libfoo.so.1'], { rpath: '$ORIGIN/../lib/private' })), lib], opts)).toEqual([]);
    // A RUNPATH outside the layer finds nothing that ships with it.
    expect(checkGlibcOnlyPolicy([file('bin/a', exe(['libfoo.so.1'], { runpath: '/usr/lib/private' })), lib], opts)).toHaveLength(1);
  });

  it('a dangling or escaping symlink in lib/ does not provide the library', () => {
    const bin = file('bin/php', exe(['libz.so.1']));
    expect(checkGlibcOnlyPolicy([bin, link('lib/libz.so.1', 'libz.so.1.3.1')], opts)).toEqual([
      { kind: 'not-bundled', path: 'bin/php', library: 'libz.so.1' },
    ]);
    expect(checkGlibcOnlyPolicy([bin, link('lib/libz.so.1', '/lib/x86_64-linux-gnu/libz.so.1')], opts)).toHaveLength(1);
    expect(checkGlibcOnlyPolicy([bin, link('lib/libz.so.1', '../../libz.so.1')], opts)).toHaveLength(1);
    // Links to links are followed.
    const chain = [bin, link('lib/libz.so.1', 'libz.so'), link('lib/libz.so', 'real/libz.so.1.3.1'), file('lib/real/libz.so.1.3.1', elf({}))];
    expect(checkGlibcOnlyPolicy(chain, opts)).toEqual([]);
  });

  it('GLIBC_x.y above the ceiling names the file, the symbol and the library', () => {
    const layer = [file('bin/php', exe(['libc.so.6'], { verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_2.32', 'GLIBC_2.34'] }] }))];
    const v = checkGlibcOnlyPolicy(layer, opts);
    expect(v).toEqual([
      { kind: 'glibc-version', path: 'bin/php', symbol: 'GLIBC_2.34', needs: '2.34', libraries: ['libc.so.6'] },
      { kind: 'glibc-version', path: 'bin/php', symbol: 'GLIBC_2.32', needs: '2.32', libraries: ['libc.so.6'] },
    ]);
    expect(formatPolicyViolation(v[0]!, ctx)).toBe('bin/php needs GLIBC_2.34 (from libc.so.6) but platform al2023-portable allows glibc 2.31 at most');
    // Exactly the ceiling is fine.
    expect(checkGlibcOnlyPolicy([file('bin/php', exe(['libc.so.6'], { verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.31'] }] }))], opts)).toEqual([]);
  });

  it('GLIBC_PRIVATE, a shipped glibc library and a foreign loader are violations', () => {
    const layer = [
      file('bin/a', exe(['libc.so.6'], { verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.2.5', 'GLIBC_PRIVATE'] }] })),
      file('lib/libc.so.6', elf({ soname: 'libc.so.6' })),
      file('lib/libnss_dns.so.2', elf({ soname: 'libnss_dns.so.2', needed: ['libc.so.6'] })),
      file('bin/b', elf({ type: 2, interpreter: '/opt/lib/ld-linux-x86-64.so.2', needed: ['libc.so.6'] })),
    ];
    const v = checkGlibcOnlyPolicy(layer, opts);
    expect(v).toEqual([
      { kind: 'glibc-private', path: 'bin/a', libraries: ['libc.so.6'] },
      { kind: 'interpreter', path: 'bin/b', interpreter: '/opt/lib/ld-linux-x86-64.so.2', expected: '/lib64/ld-linux-x86-64.so.2' },
      { kind: 'ships-glibc', path: 'lib/libc.so.6', library: 'libc.so.6' },
      { kind: 'ships-glibc', path: 'lib/libnss_dns.so.2', library: 'libnss_dns.so.2' },
    ]);
    expect(formatPolicyViolations(v, ctx)).toEqual([
      'bin/a needs GLIBC_PRIVATE symbols from libc.so.6, which tie it to one glibc build',
      'bin/b asks for the loader /opt/lib/ld-linux-x86-64.so.2, expected the system\'s /lib64/ld-linux-x86-64.so.2',
      "lib/libc.so.6 is glibc's own libc.so.6: a portable layer must not ship it (the system's glibc loader would load it)",
      "lib/libnss_dns.so.2 is glibc's own libnss_dns.so.2: a portable layer must not ship it (the system's glibc loader would load it)",
    ]);
  });

  it('arm64 expects its own loader', () => {
    const a64 = buildSyntheticElf({ class: 64, endianness: 'little', machine: 183, type: 3, interpreter: '/lib/ld-linux-aarch64.so.1', needed: ['libc.so.6', 'ld-linux-aarch64.so.1'] }).data;
    expect(checkGlibcOnlyPolicy([file('bin/php', a64)], { arch: 'arm64', glibc: '2.31' })).toEqual([]);
    expect(checkGlibcOnlyPolicy([file('bin/php', a64)], opts)).toEqual([
      { kind: 'interpreter', path: 'bin/php', interpreter: '/lib/ld-linux-aarch64.so.1', expected: '/lib64/ld-linux-x86-64.so.2' },
      { kind: 'not-bundled', path: 'bin/php', library: 'ld-linux-aarch64.so.1' },
    ]);
  });

  it('formats a missing library naming the file, the library and the policy', () => {
    expect(formatPolicyViolation({ kind: 'not-bundled', path: 'bin/php', library: 'libcrypt.so.1' }, ctx)).toBe(
      "bin/php needs libcrypt.so.1, which is not glibc's and not in the layer's lib/ (platform al2023-portable takes only glibc from the system: bundle it or build it from source)",
    );
  });

  it('an unparseable ELF file and a bad ceiling are errors, not a pass', () => {
    const broken = Buffer.from(exe(['libc.so.6']).subarray(0, 40));
    expect(() => checkGlibcOnlyPolicy([file('bin/php', broken)], opts)).toThrow(ElfFileError);
    expect(() => checkGlibcOnlyPolicy(good, { ...opts, glibc: 'bullseye' })).toThrow(/"bullseye"/);
  });

  it('a real executable built here needs only glibc and passes with a high enough ceiling', () => {
    const { data } = compileC('policy-hello', 'int main(void) { return 0; }', []);
    expect(checkGlibcOnlyPolicy([file('bin/hello', data)], { arch: 'x86_64', glibc: '9.99' })).toEqual([]);
    const lib = compileC('policy-libz-user', '#include <stdio.h>\nint main(void) { puts("x"); return 0; }', ['-Wl,--no-as-needed', '-lm']);
    expect(checkGlibcOnlyPolicy([file('bin/user', lib.data)], { arch: 'x86_64', glibc: '9.99' })).toEqual([]);
  });
});

describe('scanForbiddenPaths', () => {
  const forbidden = portableForbiddenPaths({ triplet: multiarchTriplet('x86_64'), buildRoot: '/usr/src/lrb' });

  it('the portable list: the multiarch library dirs, /etc/ssl and the build directory', () => {
    expect(forbidden).toEqual(['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/x86_64-linux-gnu', '/etc/ssl', '/usr/src/lrb']);
    expect(portableForbiddenPaths({ triplet: multiarchTriplet('arm64'), buildRoot: '/usr/src/lrb/' })).toEqual([
      '/usr/lib/aarch64-linux-gnu',
      '/lib/aarch64-linux-gnu',
      '/usr/aarch64-linux-gnu',
      '/etc/ssl',
      '/usr/src/lrb',
    ]);
  });

  it('a cross build also forbids the build machine\'s library dirs; the target\'s cross sysroot is caught', () => {
    const cross = portableForbiddenPaths({ triplet: multiarchTriplet('arm64'), buildTriplet: multiarchTriplet('x86_64'), buildRoot: '/usr/src/lrb' });
    expect(cross).toEqual([
      '/usr/lib/aarch64-linux-gnu',
      '/lib/aarch64-linux-gnu',
      '/usr/aarch64-linux-gnu',
      '/usr/lib/x86_64-linux-gnu',
      '/lib/x86_64-linux-gnu',
      '/usr/x86_64-linux-gnu',
      '/etc/ssl',
      '/usr/src/lrb',
    ]);
    const layer: LayerEntry[] = [
      file('bin/php', exe(['libc.so.6'], { runpath: '/opt/lib:/usr/aarch64-linux-gnu/lib', strings: ['/usr/lib/x86_64-linux-gnu/pkgconfig'] })),
    ];
    expect(scanForbiddenPaths(layer, cross)).toEqual([
      { path: 'bin/php', where: 'runpath', value: '/opt/lib:/usr/aarch64-linux-gnu/lib', forbidden: '/usr/aarch64-linux-gnu' },
      { path: 'bin/php', where: 'string', value: '/usr/lib/x86_64-linux-gnu/pkgconfig', forbidden: '/usr/lib/x86_64-linux-gnu' },
    ]);
  });

  it('finds RPATH, RUNPATH and compiled-in strings, once per string, naming the longest forbidden path', () => {
    const layer: LayerEntry[] = [
      file('bin/php', exe(['libc.so.6'], { rpath: '/opt/lib:/usr/lib/x86_64-linux-gnu', strings: ['/usr/src/lrb/build/php-7.4.33/Zend/zend.c', 'php-7.4.33/main/main.c'] })),
      file('lib/libcurl.so.4', elf({ soname: 'libcurl.so.4', runpath: '/opt/lib', strings: ['/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs'] })),
      file('lib/libz.so.1', elf({ soname: 'libz.so.1', strings: ['/opt/ssl/cert.pem', 'built in /usr/src/lrbx'] })),
      file('etc/notes.txt', Buffer.from('not ELF: /etc/ssl/certs is fine in a text file\n'), 0o644),
    ];
    const hits = scanForbiddenPaths(layer, forbidden);
    expect(hits).toEqual([
      { path: 'bin/php', where: 'rpath', value: '/opt/lib:/usr/lib/x86_64-linux-gnu', forbidden: '/usr/lib/x86_64-linux-gnu' },
      { path: 'bin/php', where: 'string', value: '/usr/src/lrb/build/php-7.4.33/Zend/zend.c', forbidden: '/usr/src/lrb' },
      { path: 'lib/libcurl.so.4', where: 'string', value: '/etc/ssl/certs/ca-certificates.crt', forbidden: '/etc/ssl' },
      { path: 'lib/libcurl.so.4', where: 'string', value: '/etc/ssl/certs', forbidden: '/etc/ssl' },
      // A prefix match is a hit: the scan is on strings, not path components.
      { path: 'lib/libz.so.1', where: 'string', value: 'built in /usr/src/lrbx', forbidden: '/usr/src/lrb' },
    ]);
    expect(formatForbiddenPathHit(hits[1]!)).toBe(
      'bin/php: string "/usr/src/lrb/build/php-7.4.33/Zend/zend.c" names /usr/src/lrb, a path of the build system that does not exist (or differs) where the layer runs',
    );
    expect(formatForbiddenPathHit(hits[0]!)).toMatch(/^bin\/php: RPATH "\/opt\/lib:\/usr\/lib\/x86_64-linux-gnu" names \/usr\/lib\/x86_64-linux-gnu, /);
  });

  it('a clean layer has no hits', () => {
    const layer = [file('bin/php', exe(['libc.so.6'], { rpath: '/opt/lib', strings: ['/opt/ssl/cert.pem', 'php-7.4.33/Zend/zend.c', '/lib64/ld-linux-x86-64.so.2'] }))];
    expect(scanForbiddenPaths(layer, forbidden)).toEqual([]);
  });
});
