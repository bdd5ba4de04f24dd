import { describe, expect, it } from 'vitest';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { prefixLibrariesOnlyFor, splitExtensionLayer, type NeededOf } from '../../../src/pipeline/extension-layer.js';

const file = (path: string, data = 'x'): LayerEntry => ({ type: 'file', path, mode: 0o644, data: Buffer.from(data) });
const dir = (path: string, mode = 0o755): LayerEntry => ({ type: 'directory', path, mode });
const EXT_DIR = 'lib/php/extensions/no-debug-non-zts-20220829';
const redis = { short: 'redis', module: 'redis', ini: { path: 'etc/php/conf.d/20-redis.ini', lines: ['extension=redis'] } };
const full: LayerEntry[] = [
  file('bootstrap'),
  dir('bin'),
  file('bin/php'),
  dir('etc', 0o750),
  dir('etc/php'),
  dir('etc/php/conf.d'),
  file('etc/php/conf.d/10-opcache.ini'),
  file('etc/php/conf.d/20-redis.ini', 'extension=redis\n'),
  dir('lib'),
  file('lib/libonig.so.5'),
  file('lib/liblzf.so.1'),
  file(`${EXT_DIR}/opcache.so`),
  file(`${EXT_DIR}/redis.so`),
];
const bundled = [
  { soname: 'libonig.so.5', path: '/usr/lib/x86_64-linux-gnu/libonig.so.5', neededBy: ['/opt/bin/php'] },
  { soname: 'liblzf.so.1', path: '/usr/lib/x86_64-linux-gnu/liblzf.so.1', neededBy: [`/opt/${EXT_DIR}/redis.so`] },
  { soname: 'libz.so.1', path: '/usr/lib/x86_64-linux-gnu/libz.so.1', neededBy: ['/opt/bin/php', `/opt/${EXT_DIR}/redis.so`] },
];

describe('splitExtensionLayer', () => {
  it('takes the shared object, its ini and the libraries only it needs, with the directories above them', () => {
    const s = splitExtensionLayer(full, redis, bundled.slice(0, 2));
    expect(s.layer.map((e) => `${e.type[0]} ${e.path}`)).toEqual([
      'd etc',
      'd etc/php',
      'd etc/php/conf.d',
      'f etc/php/conf.d/20-redis.ini',
      'd lib',
      'f lib/liblzf.so.1',
      'd lib/php',
      'd lib/php/extensions',
      `d ${EXT_DIR}`,
      `f ${EXT_DIR}/redis.so`,
    ]);
    // Directories keep the build's modes; those the /opt listing lacks get the default.
    expect(s.layer.find((e) => e.path === 'etc')!.mode).toBe(0o750);
    expect(s.layer.find((e) => e.path === 'lib/php')!.mode).toBe(0o755);
    expect(s.libraries).toEqual(['liblzf.so.1']);
    // What remains is the runtime layer: everything but those files.
    expect(s.beneath.filter((e) => e.type === 'file').map((e) => e.path)).toEqual([
      'bootstrap',
      'bin/php',
      'etc/php/conf.d/10-opcache.ini',
      'lib/libonig.so.5',
      `${EXT_DIR}/opcache.so`,
    ]);
  });

  it('a library the runtime layer needs too stays there (it is in the layer the extension goes over)', () => {
    const s = splitExtensionLayer([...full, file('lib/libz.so.1')], redis, bundled);
    expect(s.libraries).toEqual(['liblzf.so.1']);
    expect(s.beneath.some((e) => e.path === 'lib/libz.so.1')).toBe(true);
  });

  it('fails naming what is wrong: no shared object, two of them, no ini file, a bundled library not assembled', () => {
    expect(() => splitExtensionLayer(full.filter((e) => !e.path.endsWith('redis.so')), redis, [])).toThrow(
      "the extension layer of redis takes its redis.so from the build's /opt, which has none: expected exactly one, in the interpreter's extension directory",
    );
    expect(() => splitExtensionLayer([...full, file('lib/redis.so')], redis, [])).toThrow(`which has lib/php/extensions/no-debug-non-zts-20220829/redis.so, lib/redis.so: expected exactly one`);
    expect(() => splitExtensionLayer(full.filter((e) => !e.path.endsWith('20-redis.ini')), redis, [])).toThrow(
      "the extension layer of redis needs its ini file etc/php/conf.d/20-redis.ini, which the build's /opt lacks",
    );
    expect(() => splitExtensionLayer(full.filter((e) => e.path !== 'lib/liblzf.so.1'), redis, bundled)).toThrow('the bundled library liblzf.so.1 of redis is not at lib/liblzf.so.1');
  });

  it("takes the prefix libraries only the extension needs (libpq, built by its dependency stage), with their links; the runtime layer's stay", () => {
    const link = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, mode: 0o777, target });
    const pgsql = { short: 'pgsql', module: 'pgsql', ini: { path: 'etc/php/conf.d/20-pgsql.ini', lines: ['extension=pgsql'] } };
    const opt: LayerEntry[] = [
      file('bin/php'),
      file('etc/php/conf.d/20-pgsql.ini'),
      file('lib/libssl.so.3'),
      file('lib/libcrypto.so.3'),
      file('lib/libpq.so.5.15'),
      link('lib/libpq.so.5', 'libpq.so.5.15'),
      link('lib/libpq.so', 'libpq.so.5.15'),
      file('lib/libpgextra.so.1'),
      file(`${EXT_DIR}/pgsql.so`),
      file(`${EXT_DIR}/opcache.so`),
    ];
    const needed: Record<string, string[]> = {
      'bin/php': ['libssl.so.3', 'libc.so.6'],
      'lib/libssl.so.3': ['libcrypto.so.3'],
      'lib/libcrypto.so.3': [],
      'lib/libpq.so.5.15': ['libssl.so.3', 'libpgextra.so.1'],
      'lib/libpgextra.so.1': [],
      [`${EXT_DIR}/pgsql.so`]: ['libpq.so.5', 'libc.so.6'],
      [`${EXT_DIR}/opcache.so`]: [],
    };
    const neededOf: NeededOf = (f) => needed[f.path] ?? null;
    const only = prefixLibrariesOnlyFor(opt, `${EXT_DIR}/pgsql.so`, neededOf);
    expect(only.paths.sort()).toEqual(['lib/libpgextra.so.1', 'lib/libpq.so', 'lib/libpq.so.5', 'lib/libpq.so.5.15']);
    expect(only.sonames).toEqual(['libpgextra.so.1', 'libpq.so.5']);
    const s = splitExtensionLayer(opt, pgsql, [], neededOf);
    expect(s.layer.filter((e) => e.type !== 'directory').map((e) => `${e.type[0]} ${e.path}`)).toEqual([
      'f etc/php/conf.d/20-pgsql.ini',
      'f lib/libpgextra.so.1',
      's lib/libpq.so',
      's lib/libpq.so.5',
      'f lib/libpq.so.5.15',
      `f ${EXT_DIR}/pgsql.so`,
    ]);
    expect(s.libraries).toEqual(['libpgextra.so.1', 'libpq.so.5']);
    // libssl is the runtime layer's (bin/php needs it): it stays beneath, with the rest.
    expect(s.beneath.map((e) => e.path)).toEqual(['bin/php', 'lib/libssl.so.3', 'lib/libcrypto.so.3', `${EXT_DIR}/opcache.so`]);
  });
});
