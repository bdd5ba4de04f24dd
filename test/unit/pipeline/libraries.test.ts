import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';
import { parseLdd, planBundle, type LddDependency } from '../../../src/pipeline/libraries.js';
import { PlatformRegistry } from '../../../src/platforms/registry.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/ldd/${name}`, import.meta.url), 'utf8');

const PHP = '/opt/bin/php';
const CURL = '/opt/lib/libcurl.so.4';
const INTL = '/opt/lib/php/extensions/no-debug-non-zts-20220829/intl.so';
const CRYPTO = '/opt/lib/libcrypto.so.3';
const STATIC = '/opt/lib/libstatic-helper.so';
const WRAPPER = '/opt/bin/php-wrapper';
const MULTI_FILES = [PHP, CURL, INTL, CRYPTO, STATIC, WRAPPER];

/** Library file names in a (trimmed-down) clean Amazon Linux 2 runtime image. */
const AL2_RUNTIME = new Set([
  'libc.so.6',
  'libc-2.26.so',
  'libm.so.6',
  'libdl.so.2',
  'libpthread.so.0',
  'libz.so.1',
  'libz.so.1.2.7',
  'liblzma.so.5',
  'libstdc++.so.6',
  'libgcc_s.so.1',
  // Present in the public image, absent on real Lambda (platforms.json notOnLambda).
  'libgcrypt.so.11',
]);

let notOnLambda: readonly string[];
beforeAll(async () => {
  notOnLambda = (await PlatformRegistry.load(paths.platforms)).notOnLambda;
});

describe('parseLdd', () => {
  it('one file: no header, the file is files[0]; vdso and loader are skipped; "not found" → null path', () => {
    const deps = parseLdd(fixture('php-bookworm-single.txt'), [PHP]);
    expect([...deps.keys()]).toEqual([PHP]);
    expect(deps.get(PHP)).toEqual<LddDependency[]>([
      { soname: 'libcrypt.so.1', path: '/lib/x86_64-linux-gnu/libcrypt.so.1' },
      { soname: 'libresolv.so.2', path: '/lib/x86_64-linux-gnu/libresolv.so.2' },
      { soname: 'libcurl.so.4', path: '/opt/lib/libcurl.so.4' },
      { soname: 'libssl.so.1.1', path: '/opt/lib/libssl.so.1.1' },
      { soname: 'libcrypto.so.1.1', path: '/opt/lib/libcrypto.so.1.1' },
      { soname: 'libz.so.1', path: '/lib/x86_64-linux-gnu/libz.so.1' },
      { soname: 'libonig.so.5', path: '/lib/x86_64-linux-gnu/libonig.so.5' },
      { soname: 'libsqlite3.so.0', path: null },
      { soname: 'libm.so.6', path: '/lib/x86_64-linux-gnu/libm.so.6' },
      { soname: 'libc.so.6', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    ]);
  });

  it('several files: a block per FILE: header, in order; static and non-dynamic files have no deps', () => {
    const deps = parseLdd(fixture('php-al2-multi.txt'), MULTI_FILES);
    expect([...deps.keys()]).toEqual(MULTI_FILES);
    expect(deps.get(PHP)!.map((d) => d.soname)).toEqual([
      'libcurl.so.4',
      'libssl.so.3',
      'libcrypto.so.3',
      'libxml2.so.2',
      'libonig.so.2',
      'libgcrypt.so.11',
      'libz.so.1',
      'libm.so.6',
      'libc.so.6',
      'liblzma.so.5',
    ]);
    expect(deps.get(CURL)!.map((d) => d.soname)).toEqual(['libssl.so.3', 'libcrypto.so.3', 'libz.so.1', 'libpthread.so.0', 'libc.so.6']);
    expect(deps.get(INTL)!.find((d) => d.soname === 'libmissing.so.9')).toEqual({ soname: 'libmissing.so.9', path: null });
    expect(deps.get(INTL)!.find((d) => d.soname === 'libstdc++.so.6')).toEqual({ soname: 'libstdc++.so.6', path: '/lib64/libstdc++.so.6' });
    expect(deps.get(CRYPTO)!.map((d) => d.path)).toEqual(['/lib64/libdl.so.2', '/lib64/libpthread.so.0', '/lib64/libc.so.6']);
    expect(deps.get(STATIC)).toEqual([]);
    expect(deps.get(WRAPPER)).toEqual([]);
    const all = [...deps.values()].flat();
    expect(all.some((d) => /vdso|ld-linux/.test(d.soname))).toBe(false);
  });

  it('old glibc (2.17) prints the vDSO as "linux-vdso.so.1 =>  (0x…)": still skipped', () => {
    const deps = parseLdd(fixture('curl-amzn-2017.03-old-glibc.txt'), [CURL]);
    expect(deps.get(CURL)!.map((d) => d.soname)).toEqual(['libssl.so.1.1', 'libcrypto.so.1.1', 'libz.so.1', 'libdl.so.2', 'libc.so.6']);
  });

  it('a resolved line without an address (as ldd prints for some libraries) is kept', () => {
    const deps = parseLdd('\tlibfoo.so.1 => /usr/lib64/libfoo.so.1\n', ['/opt/bin/x']);
    expect(deps.get('/opt/bin/x')).toEqual([{ soname: 'libfoo.so.1', path: '/usr/lib64/libfoo.so.1' }]);
  });

  it('tolerates empty output and trailing whitespace', () => {
    expect(parseLdd('', ['/opt/bin/x'])).toEqual(new Map([['/opt/bin/x', []]]));
    expect(parseLdd('\tlibz.so.1 => /lib64/libz.so.1 (0x00007f0000000000)   \n\n', ['/x']).get('/x')).toEqual([
      { soname: 'libz.so.1', path: '/lib64/libz.so.1' },
    ]);
  });
});

describe('planBundle', () => {
  it('deployable platform: bundles what the runtime lacks plus notOnLambda (libgcrypt), skips /opt, reports missing', () => {
    const deps = parseLdd(fixture('php-al2-multi.txt'), MULTI_FILES);
    const plan = planBundle(deps, { prefix: '/opt', runtimeLibraries: AL2_RUNTIME, alwaysBundle: notOnLambda });
    expect(plan.bundle).toEqual([
      { soname: 'libgcrypt.so.11', path: '/lib64/libgcrypt.so.11', neededBy: [PHP] },
      { soname: 'libicudata.so.50', path: '/lib64/libicudata.so.50', neededBy: [INTL] },
      { soname: 'libicui18n.so.50', path: '/lib64/libicui18n.so.50', neededBy: [INTL] },
      { soname: 'libicuio.so.50', path: '/lib64/libicuio.so.50', neededBy: [INTL] },
      { soname: 'libicuuc.so.50', path: '/lib64/libicuuc.so.50', neededBy: [INTL] },
      { soname: 'libonig.so.2', path: '/lib64/libonig.so.2', neededBy: [PHP] },
      { soname: 'libxml2.so.2', path: '/lib64/libxml2.so.2', neededBy: [PHP, INTL] },
    ]);
    expect(plan.provided).toEqual([
      'libc.so.6',
      'libdl.so.2',
      'libgcc_s.so.1',
      'liblzma.so.5',
      'libm.so.6',
      'libpthread.so.0',
      'libstdc++.so.6',
      'libz.so.1',
    ]);
    expect(plan.missing).toEqual([{ file: INTL, soname: 'libmissing.so.9' }]);
    // Nothing under the prefix is ever bundled or "provided".
    const named = [...plan.bundle.map((b) => b.soname), ...plan.provided];
    expect(named).not.toContain('libssl.so.3');
    expect(named).not.toContain('libcurl.so.4');
  });

  it('without alwaysBundle (local platform) libgcrypt counts as provided', () => {
    const deps = parseLdd(fixture('php-al2-multi.txt'), MULTI_FILES);
    const plan = planBundle(deps, { prefix: '/opt', runtimeLibraries: AL2_RUNTIME, alwaysBundle: [] });
    expect(plan.bundle.map((b) => b.soname)).not.toContain('libgcrypt.so.11');
    expect(plan.provided).toContain('libgcrypt.so.11');
  });

  it('an alwaysBundle prefix bundles even a library the image has', () => {
    expect(notOnLambda).toContain('libgcrypt.so');
    const deps = new Map([[PHP, [{ soname: 'libgpg-error.so.0', path: '/lib64/libgpg-error.so.0' }]]]);
    const runtime = new Set(['libgpg-error.so.0']);
    expect(planBundle(deps, { prefix: '/opt', runtimeLibraries: runtime, alwaysBundle: notOnLambda }).bundle).toEqual([
      { soname: 'libgpg-error.so.0', path: '/lib64/libgpg-error.so.0', neededBy: [PHP] },
    ]);
    expect(planBundle(deps, { prefix: '/opt', runtimeLibraries: runtime, alwaysBundle: [] }).provided).toEqual(['libgpg-error.so.0']);
  });

  it('provided also when the runtime has the resolved file name rather than the soname', () => {
    const deps = new Map([[PHP, [{ soname: 'libz.so.1', path: '/usr/lib64/libz.so.1.2.7' }]]]);
    const plan = planBundle(deps, { prefix: '/opt', runtimeLibraries: new Set(['libz.so.1.2.7']), alwaysBundle: [] });
    expect(plan).toEqual({ bundle: [], provided: ['libz.so.1'], missing: [] });
  });

  it('the prefix check is by directory: /optional is not /opt; a trailing slash on the prefix is fine', () => {
    const deps = new Map([
      [
        PHP,
        [
          { soname: 'liba.so.1', path: '/optional/lib/liba.so.1' },
          { soname: 'libb.so.1', path: '/opt/lib/libb.so.1' },
        ],
      ],
    ]);
    for (const prefix of ['/opt', '/opt/']) {
      const plan = planBundle(deps, { prefix, runtimeLibraries: new Set(), alwaysBundle: [] });
      expect(plan.bundle.map((b) => b.soname), prefix).toEqual(['liba.so.1']);
    }
  });

  it('old-glibc output plans cleanly: everything system-side is provided', () => {
    const deps = parseLdd(fixture('curl-amzn-2017.03-old-glibc.txt'), [CURL]);
    const plan = planBundle(deps, {
      prefix: '/opt',
      runtimeLibraries: new Set(['libz.so.1', 'libdl.so.2', 'libc.so.6']),
      alwaysBundle: notOnLambda,
    });
    expect(plan).toEqual({ bundle: [], provided: ['libc.so.6', 'libdl.so.2', 'libz.so.1'], missing: [] });
  });

  it('single-file fixture: libonig bundled, libsqlite3 missing', () => {
    const deps = parseLdd(fixture('php-bookworm-single.txt'), [PHP]);
    const runtime = new Set(['libc.so.6', 'libm.so.6', 'libz.so.1', 'libcrypt.so.1', 'libresolv.so.2']);
    const plan = planBundle(deps, { prefix: '/opt', runtimeLibraries: runtime, alwaysBundle: [] });
    expect(plan.bundle).toEqual([{ soname: 'libonig.so.5', path: '/lib/x86_64-linux-gnu/libonig.so.5', neededBy: [PHP] }]);
    expect(plan.missing).toEqual([{ file: PHP, soname: 'libsqlite3.so.0' }]);
  });
});
