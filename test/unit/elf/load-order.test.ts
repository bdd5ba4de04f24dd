import { describe, expect, it } from 'vitest';
import { checkBundledLoadOrder, decoyLibraries, DECOY_DIR, formatLoadOrderViolation } from '../../../src/elf/load-order.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { LAMBDA_ENV } from '../../../src/lambda.js';
import { buildSyntheticElf, type SyntheticElfOptions } from './fixtures.js';

const X86 = 62;
const file = (path: string, data: Buffer, mode = 0o755): LayerEntry => ({ type: 'file', path, mode, data });
const link = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, mode: 0o777, target });
const elf = (o: Partial<SyntheticElfOptions>): Buffer => buildSyntheticElf({ class: 64, endianness: 'little', machine: X86, ...o }).data;
const exe = (needed: string[], extra: Partial<SyntheticElfOptions> = {}): Buffer =>
  elf({ type: 3, interpreter: '/lib64/ld-linux-x86-64.so.2', needed, ...extra });
const lib = (soname: string, extra: Partial<SyntheticElfOptions> = {}): LayerEntry => file(`lib/${soname}`, elf({ type: 3, soname, ...extra }));

const bundled = [lib('libssl.so.3'), file('lib/libz.so.1.3.1', elf({ type: 3, soname: 'libz.so.1' })), link('lib/libz.so.1', 'libz.so.1.3.1')];

describe('checkBundledLoadOrder', () => {
  it("passes a program whose DT_RPATH names the layer's lib (the bin/php of this tool's builds)", () => {
    const php = file('bin/php', exe(['libssl.so.3', 'libz.so.1', 'libc.so.6'], { rpath: '/opt/lib' }));
    expect(checkBundledLoadOrder([php, ...bundled])).toEqual([]);
  });

  it('accepts $ORIGIN in DT_RPATH, and a program that needs only system libraries without any run path', () => {
    expect(checkBundledLoadOrder([file('bin/php', exe(['libz.so.1'], { rpath: '$ORIGIN/../lib' })), ...bundled])).toEqual([]);
    expect(checkBundledLoadOrder([file('bin/tool', exe(['libc.so.6', 'libm.so.6']))])).toEqual([]);
  });

  it('refuses DT_RUNPATH, which the loader searches after LD_LIBRARY_PATH (and which turns DT_RPATH off)', () => {
    const php = file('bin/php', exe(['libssl.so.3', 'libz.so.1', 'libc.so.6'], { runpath: '/opt/lib' }));
    expect(checkBundledLoadOrder([php, ...bundled])).toEqual([{ path: 'bin/php', libraries: ['libssl.so.3', 'libz.so.1'], problem: 'runpath', value: '/opt/lib' }]);
  });

  it('refuses a program that finds its bundled libraries only through LD_LIBRARY_PATH, or a DT_RPATH elsewhere', () => {
    const none = file('bin/php', exe(['libssl.so.3', 'libc.so.6']));
    expect(checkBundledLoadOrder([none, ...bundled])).toEqual([{ path: 'bin/php', libraries: ['libssl.so.3'], problem: 'no-rpath', value: null }]);
    // A library the layer does not hold where the program looks is the library policy's business, not this check's.
    expect(checkBundledLoadOrder([file('bin/php', exe(['libssl.so.3', 'libpriv.so.1'], { rpath: '/opt/lib' })), ...bundled])).toEqual([]);
    const elsewhere = [file('bin/php', exe(['libpriv.so.1'], { rpath: '/opt/lib/private' })), file('lib/libpriv.so.1', elf({ type: 3, soname: 'libpriv.so.1' }))];
    expect(checkBundledLoadOrder(elsewhere)).toEqual([{ path: 'bin/php', libraries: ['libpriv.so.1'], problem: 'no-rpath', value: '/opt/lib/private' }]);
  });

  it('checks programs only: a shared library with DT_RUNPATH is left to the smoke test (its decoys)', () => {
    const curl = lib('libcurl.so.4', { needed: ['libssl.so.3'], runpath: '/opt/lib' });
    expect(checkBundledLoadOrder([curl, ...bundled])).toEqual([]);
  });

  it('names the program, the libraries and the fix in one line', () => {
    const line = formatLoadOrderViolation({ path: 'bin/php', libraries: ['libssl.so.3', 'libz.so.1'], problem: 'runpath', value: '/opt/lib' });
    expect(line).toBe(
      'bin/php finds libssl.so.3, libz.so.1 through DT_RUNPATH "/opt/lib", which the loader searches after LD_LIBRARY_PATH: on Lambda, whose LD_LIBRARY_PATH puts /lib64 before /opt/lib, ' +
        "the system's libraries of those names would load instead; link it with -Wl,--disable-new-dtags -Wl,-rpath,/opt/lib (a DT_RPATH)",
    );
    expect(formatLoadOrderViolation({ path: 'bin/probe', libraries: ['libprobe.so'], problem: 'no-rpath', value: null })).toMatch(
      /^bin\/probe needs libprobe\.so from the layer but no DT_RPATH names where it is: on Lambda/,
    );
  });

  it("Lambda's LD_LIBRARY_PATH does put the system's directories before the layer's (the premise)", () => {
    const dirs = LAMBDA_ENV.LD_LIBRARY_PATH.split(':');
    expect(dirs.indexOf('/lib64')).toBeLessThan(dirs.indexOf('/opt/lib'));
    expect(dirs.indexOf(DECOY_DIR)).toBeGreaterThan(-1);
    expect(dirs.indexOf(DECOY_DIR)).toBeLessThan(dirs.indexOf('/opt/lib'));
  });
});

describe('decoyLibraries', () => {
  it('makes one non-ELF file per soname the layers ship and need, sorted, from both layers of an extension build', () => {
    const ext = [file('lib/libpq.so.5.15', elf({ type: 3, soname: 'libpq.so.5', needed: ['libssl.so.3'] })), file('lib/php/extensions/x/pgsql.so', elf({ type: 3, needed: ['libpq.so.5'] }))];
    // A module opened by path (libtool gives PHP's a soname) and a library nothing needs get none.
    const php = [file('bin/php', exe(['libz.so.1'], { rpath: '/opt/lib' })), file('lib/php/extensions/x/opcache.so', elf({ type: 3, soname: 'opcache.so' })), lib('libunused.so.1')];
    const decoys = decoyLibraries(ext, [...php, ...bundled]);
    expect(decoys.map((d) => d.path)).toEqual(['libpq.so.5', 'libssl.so.3', 'libz.so.1']);
    for (const d of decoys) {
      expect(d.type).toBe('file');
      if (d.type === 'file') {
        expect(d.data.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1'))).toBe(false);
        expect(d.data.toString()).toContain(d.path);
      }
    }
  });

  it('none for a layer without shared libraries', () => {
    expect(decoyLibraries([file('bin/lua', exe(['libc.so.6', 'libm.so.6']))])).toEqual([]);
  });
});
