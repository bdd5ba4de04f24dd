import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../../src/elf/elf.js';
import { formatClosure, libraryClosure, searchDirs, type ElfObject, type Locate } from '../../../src/pipeline/elf-closure.js';
import { parseLdd } from '../../../src/pipeline/libraries.js';

const obj = (path: string, needed: string[], paths: { rpath?: string; runpath?: string } = {}): ElfObject => ({
  path,
  info: { needed, rpath: paths.rpath ?? null, runpath: paths.runpath ?? null },
});

describe('searchDirs: the loader order (ld.so(8))', () => {
  const o = { libraryPath: ['/opt/lib'], systemDirs: ['/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu'] };

  it('without RPATH/RUNPATH: LD_LIBRARY_PATH, then the system directories', () => {
    expect(searchDirs(obj('/opt/bin/lua', ['libc.so.6']), o)).toEqual(['/opt/lib', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu']);
  });

  it('DT_RPATH comes before LD_LIBRARY_PATH, DT_RUNPATH after it; $ORIGIN is the file directory', () => {
    expect(searchDirs(obj('/opt/bin/php', [], { rpath: '$ORIGIN/../lib/php:/opt/x' }), o)).toEqual([
      '/opt/lib/php',
      '/opt/x',
      '/opt/lib',
      '/usr/lib/aarch64-linux-gnu',
      '/lib/aarch64-linux-gnu',
    ]);
    expect(searchDirs(obj('/opt/lib/libcurl.so.4', [], { runpath: '${ORIGIN}/private' }), o)).toEqual([
      '/opt/lib',
      '/opt/lib/private',
      '/usr/lib/aarch64-linux-gnu',
      '/lib/aarch64-linux-gnu',
    ]);
  });

  it('DT_RPATH is ignored when DT_RUNPATH is present; duplicates keep their first place', () => {
    expect(searchDirs(obj('/opt/bin/x', [], { rpath: '/nowhere', runpath: '/usr/lib/aarch64-linux-gnu:/opt/lib' }), o)).toEqual([
      '/opt/lib',
      '/usr/lib/aarch64-linux-gnu',
      '/lib/aarch64-linux-gnu',
    ]);
  });
});

describe('libraryClosure over a made-up tree', () => {
  const files: Record<string, ElfObject> = {
    '/opt/lib/libphp-ext.so': obj('/opt/lib/libphp-ext.so', ['libz.so.1', 'libc.so.6']),
    '/sys/libz.so.1': obj('/sys/libz.so.1', ['libc.so.6']),
    '/sys/libc.so.6': obj('/sys/libc.so.6', ['ld-linux-aarch64.so.1']),
  };
  const lookups: string[] = [];
  const locate: Locate = async (soname, dirs) => {
    lookups.push(soname);
    for (const d of dirs) if (files[`${d}/${soname}`]) return files[`${d}/${soname}`]!;
    return null;
  };
  const opts = { libraryPath: ['/opt/lib'], systemDirs: ['/sys'], locate, skip: (s: string) => s === 'ld-linux-aarch64.so.1' };

  it('lists direct and indirect libraries once each, breadth first, with not-found ones as null; the loader is skipped', async () => {
    const closure = await libraryClosure(
      [obj('/opt/bin/php', ['libphp-ext.so', 'libc.so.6', 'libmissing.so.2']), obj('/opt/bin/static', [])],
      opts,
    );
    expect(closure.get('/opt/bin/php')).toEqual([
      { soname: 'libphp-ext.so', path: '/opt/lib/libphp-ext.so' },
      { soname: 'libc.so.6', path: '/sys/libc.so.6' },
      { soname: 'libmissing.so.2', path: null },
      { soname: 'libz.so.1', path: '/sys/libz.so.1' },
    ]);
    expect(closure.get('/opt/bin/static')).toEqual([]);
    // Each (soname, search path) is looked up once.
    expect(lookups.filter((s) => s === 'libc.so.6').length).toBeLessThanOrEqual(2);
    expect(formatClosure(closure)).toContain('\tlibmissing.so.2 => not found');
  });
});

describe('libraryClosure from real ELF files gives what ldd gives', () => {
  // The host's own loader is the reference: the same files, resolved from their DT_NEEDED entries
  // by reading them (as a cross build does for foreign files), against `ldd` running them.
  const triplet = execFileSync('gcc', ['-dumpmachine']).toString().trim();
  const systemDirs = [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib64', '/lib', '/usr/lib'];
  const locate: Locate = async (soname, dirs) => {
    for (const d of dirs) {
      const p = `${d}/${soname}`;
      if (!existsSync(p)) continue;
      const info = parseElf(readFileSync(p));
      if (info) return { path: p, info };
    }
    return null;
  };
  const loader = (s: string) => /^ld-linux/.test(s);

  for (const program of ['/bin/ls', '/usr/bin/php']) {
    it(`${program}${program.endsWith('php') ? ' (php-cli, from .ci/setup-machine.sh: some 30 libraries, many indirect)' : ''}`, async () => {
      expect(existsSync(program), `${program} is missing: run bash .ci/setup-machine.sh`).toBe(true);
      const real = realpathSync(program);
      const info = parseElf(readFileSync(real))!;
      const ours = (await libraryClosure([{ path: real, info }], { libraryPath: [], systemDirs, locate, skip: loader })).get(real)!;
      const ldd = parseLdd(execFileSync('ldd', [real]).toString(), [real]).get(real)!;
      const resolved = (deps: { soname: string; path: string | null }[]) =>
        Object.fromEntries(deps.map((d) => [d.soname, d.path && realpathSync(d.path)]));
      expect(ours.length).toBeGreaterThan(program.endsWith('php') ? 10 : 0);
      expect(resolved(ours)).toEqual(resolved(ldd));
    });
  }
});
