// dockerfiles/scripts/icu-config.sh, run by the host's sh and pkg-config on .pc files written here in the
// shape ICU installs them: what rule icu-config-for-php-7.3-where-icu-ships-none gives PHP 7.3.0's configure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';

const SCRIPT = path.join(paths.dockerfiles, 'scripts', 'icu-config.sh');
const root = mkdtempSync(path.join(tmpdir(), 'lrb-icu-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** ICU's three .pc files for an ICU installed under `prefix` (variables as ICU's icu.pc.in writes them). */
function pcDir(name: string, prefix: string, version: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const head = [
    'CFLAGS = ',
    'CXXFLAGS =  -std=c++11',
    'DEFS = ',
    `prefix = ${prefix}`,
    'exec_prefix = ${prefix}',
    'libdir = ${prefix}/lib/x86_64-linux-gnu',
    'includedir = ${prefix}/include',
    'baselibs = -lpthread -ldl -lm ',
    `Version: ${version}`,
    'Cflags: -I${includedir}',
  ].join('\n');
  const pcs: Record<string, string> = {
    'icu-uc': 'Name: icu-uc\nDescription: common\nLibs: -L${libdir} -licuuc -licudata\nLibs.private: ${baselibs}',
    'icu-i18n': 'Name: icu-i18n\nDescription: i18n\nRequires: icu-uc\nLibs: -licui18n',
    'icu-io': 'Name: icu-io\nDescription: io\nRequires: icu-i18n\nLibs: -licuio',
  };
  for (const [pc, body] of Object.entries(pcs)) writeFileSync(path.join(dir, `${pc}.pc`), `${head}\n${body}\n`);
  return dir;
}

/** Runs the script (or an installed copy) with only `pcPath` for pkg-config to read. */
function run(args: string[], pcPath: string, script = SCRIPT) {
  const r = spawnSync('sh', [script, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], PKG_CONFIG_LIBDIR: pcPath, PKG_CONFIG_PATH: '' },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const icu67 = pcDir('icu67', '/opt/icu', '67.1');

describe('icu-config.sh: what PHP_SETUP_ICU asks icu-config, answered from pkg-config', () => {
  it('--prefix and --version (the first two questions: not found or too old fail configure)', () => {
    expect(run(['--prefix'], icu67)).toEqual({ status: 0, out: '/opt/icu\n', err: '' });
    expect(run(['--version'], icu67)).toEqual({ status: 0, out: '67.1\n', err: '' });
  });

  it('include path, link line with ICU I/O, C++ flags: one line per call, in option order', () => {
    expect(run(['--cppflags-searchpath'], icu67).out).toBe('-I/opt/icu/include\n');
    expect(run(['--ldflags', '--ldflags-icuio'], icu67).out).toBe('-L/opt/icu/lib/x86_64-linux-gnu -licui18n -licuuc -licudata -licuio\n');
    expect(run(['--cxxflags'], icu67).out).toBe('-std=c++11\n');
    expect(run(['--ldflags-searchpath', '--ldflags-libsonly'], icu67).out).toBe('-L/opt/icu/lib/x86_64-linux-gnu -licui18n -licuuc -licudata\n');
    expect(run(['--exists'], icu67)).toEqual({ status: 0, out: '', err: '' });
  });

  it('an option it cannot answer fails with a line naming it, not a silent empty answer', () => {
    const r = run(['--prefix', '--noverify'], icu67);
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe("icu-config (from pkg-config): option --noverify is not answered here (only what ICU's pkg-config files say)\n");
  });

  it("fails, saying why, where pkg-config finds no ICU (so PHP's configure reports ICU not found)", () => {
    const r = run(['--prefix'], path.join(root, 'no-such-dir'));
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/finds no icu-uc, icu-i18n and icu-io/);
  });

  it('--install copies itself to an executable icu-config that answers, and says what it found', () => {
    const dest = path.join(root, 'bin', 'icu-config');
    mkdirSync(path.dirname(dest), { recursive: true });
    const r = run(['--install', dest], icu67);
    expect(r).toEqual({ status: 0, out: `[lrb] ${dest}: ICU 67.1, prefix /opt/icu\n`, err: '' });
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    const direct = spawnSync(dest, ['--ldflags', '--ldflags-icuio'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], PKG_CONFIG_LIBDIR: icu67, PKG_CONFIG_PATH: '' },
    });
    expect(direct.stdout).toBe('-L/opt/icu/lib/x86_64-linux-gnu -licui18n -licuuc -licudata -licuio\n');
  });

  it('--install fails (so does the stage) where ICU is missing, and leaves no file behind', () => {
    const dest = path.join(root, 'bin2', 'icu-config');
    mkdirSync(path.dirname(dest), { recursive: true });
    const r = run(['--install', dest], path.join(root, 'no-such-dir'));
    expect(r.status).not.toBe(0);
    expect(r.err).toMatch(/finds no icu-uc/);
    expect(existsSync(dest) || existsSync(`${dest}.tmp`)).toBe(false);
  });
});
