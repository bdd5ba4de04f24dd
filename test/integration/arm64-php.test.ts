import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes, type BuildRuntimeReport } from '../../src/api.js';
import { withContainer, type DockerodeEngine } from '../../src/docker/engine.js';
import { parseElf } from '../../src/elf/elf.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { LAMBDA_ENV } from '../../src/lambda.js';
import { packTar } from '../../src/layer/tar.js';
import type { LayerEntry } from '../../src/layer/entries.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { Manifest } from '../../src/pipeline/manifest.js';
import { REPO_ROOT, ourContainers, requireEngine, tempDir, HEAVY_BUILDS } from './helpers.js';

// A deployable arm64 provided.al2023 layer from this x86_64 machine (issue 11): php@7.4 minimal
// cross-compiled in Debian 11 with its cross toolchain (zlib, OpenSSL and curl from pinned sources
// too), proven in an arm64 image that holds nothing but Debian 11's arm64 glibc and a static
// busybox, under QEMU user mode. Needs the aarch64 binfmt_misc entry and
// lambda-runtime-builder/glibc-only:bullseye-arm64, both made by .ci/setup-machine.sh; without
// them the build fails in one line that names the fix. The only PHP arm64 build of the suite.
const GLIBC_ARM64 = 'lambda-runtime-builder/glibc-only:bullseye-arm64';
const ZIP = 'php-7.4.33-al2023-portable-arm64.zip';
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let report: BuildRuntimeReport;
let manifest: Manifest;
let entries: LayerEntry[];

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-arm64-php-');
  report = await buildRuntimes({ ...HEAVY_BUILDS.arm64, outDir: out.dir, renderer: 'silent', engine });
  manifest = JSON.parse(await readFile(report.results[0]!.manifest, 'utf8')) as Manifest;
  entries = await readZipEntries(report.results[0]!.zip);
});

afterAll(async () => {
  await out?.cleanup();
});

describe('al2023-portable: php@7.4 minimal for arm64, cross-compiled on an x86_64 engine', () => {
  it('is planned as a cross build in Debian 11, proven in the arm64 glibc-only image', () => {
    expect(report.plans.map((p) => [p.arch, p.buildMethod.method, p.images.build, p.images.runtime, p.images.tag])).toEqual([
      ['arm64', 'cross', 'debian:bullseye', GLIBC_ARM64, 'lambda-runtime-builder/php:7.4.33-minimal-al2023-portable-arm64-cross'],
    ]);
    expect(path.basename(report.results[0]!.zip)).toBe(ZIP);
  });

  it('records arch arm64 and build method cross; deployable to provided.al2023, nothing bundled from Debian', () => {
    expect(manifest).toMatchObject({
      arch: 'arm64',
      buildMethod: 'cross',
      platform: { name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023', glibc: '2.31', buildImage: 'debian:bullseye', runtimeImage: GLIBC_ARM64 },
    });
    expect(manifest.libraries.bundled).toEqual([]);
    expect(manifest.libraries.builtFromSource.map((l) => l.name)).toEqual(['zlib', 'openssl', 'curl']);
    // OpenSSL 1.1.1w (end of life upstream) and curl 7.88.1 carry Debian's security patches (Debian 11 LTS's, Debian 12's).
    expect(manifest.dependencies.map((d) => [d.name, d.version, d.patches?.from ?? null, d.patches?.applied.length ?? 0])).toEqual([
      ['zlib', '1.3.1', null, 0],
      ['openssl', '1.1.1w', 'openssl_1.1.1w-0+deb11u8.debian.tar.xz', 40],
      ['curl', '7.88.1', 'curl_7.88.1-10+deb12u15.debian.tar.xz', 39],
    ]);
  });

  it('every ELF file in the zip is aarch64, and the executables ask for the aarch64 loader', () => {
    const elves = entries.flatMap((e) => {
      const info = e.type === 'file' ? parseElf(e.data) : null;
      return info ? [{ path: e.path, info }] : [];
    });
    // php, OPcache, and the shared libraries of the pinned sources (libz, libssl, libcrypto, libcurl, OpenSSL's engines).
    // (The zip keeps each library under its full version; the soname is a symlink to it.)
    expect(elves.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'bin/php',
        'lib/libcurl.so.4.8.0',
        'lib/libz.so.1.3.1',
        'lib/libssl.so.1.1',
        'lib/libcrypto.so.1.1',
        'lib/php/extensions/no-debug-non-zts-20190902/opcache.so',
      ]),
    );
    expect(elves.filter((e) => e.info.machine !== 'arm64').map((e) => `${e.path}: ${e.info.machine}`)).toEqual([]);
    // A cross build's `make install` also puts libtool's static opcache.a (5 MB) beside opcache.so: pruned.
    expect(entries.filter((e) => e.path.endsWith('.a')).map((e) => e.path)).toEqual([]);
    expect(elves.find((e) => e.path === 'bin/php')!.info.interpreter).toBe('/lib/ld-linux-aarch64.so.1');
  });

  it("passed the smoke test in the arm64 image: php -v, php -m and every behaviour check, the TLS handshake included", () => {
    expect(manifest.smoke.output).toMatch(/^PHP 7\.4\.33 \(cli\)/);
    // Zend OPcache loads only when configure found dlopen (rule cross-library-functions-before-php-8.2).
    expect(manifest.smoke.modules).toEqual(expect.arrayContaining(['core', 'openssl', 'curl', 'zlib', 'json', 'zend opcache']));
    expect(manifest.smoke.modules).not.toContain('mbstring');
    expect(manifest.smoke.checks?.map((c) => c.name)).toEqual(
      expect.arrayContaining(['tls-keygen', 'ca-bundle-default', 'one-openssl', 'tls-handshake', 'ini-scan-dir-in-task-root', 'opcache-enabled']),
    );
    // The cross build's configure got the answers a native glibc build finds.
    expect(manifest.recipe.rules).toEqual(
      expect.arrayContaining(['cross-configure-answers-for-glibc-linux', 'cross-library-functions-before-php-8.2', 'cross-opcache-shared-memory-for-linux']),
    );
    expect(manifest.smoke.checks?.find((c) => c.name === 'tls-handshake')?.output).toBe('handshake-ok stream curl refused-untrusted refused-wrong-name TLSv1.3');
  });

  it('runs as aarch64 with nothing but glibc under it', async () => {
    const env = { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH };
    const printed = await withContainer(engine, { image: GLIBC_ARM64, entrypoint: ['/bin/sh', '-c', 'while :; do sleep 3600; done'], cmd: [], env }, async (c) => {
      await c.putArchive(packTar(entries, { prefix: 'opt' }), '/');
      await c.start();
      // fnmatch() exists only when configure was told glibc's fnmatch works, and the DNS functions
      // only when it found libresolv's resolver (a cross build can test neither by running a program).
      const code =
        "echo php_uname('m'), ' ', PHP_VERSION, ' ', var_export(function_exists('fnmatch') && fnmatch('*.php', 'hello.php'), true), ' '," +
        " var_export(function_exists('dns_get_record') && function_exists('checkdnsrr'), true), ' ', OPENSSL_VERSION_TEXT;";
      const r = await c.exec(['/opt/bin/php', '-r', code], { env });
      return `${r.exitCode} ${r.stdout.trim()}${r.stderr.trim()}`;
    });
    expect(printed).toMatch(/^0 aarch64 7\.4\.33 true true OpenSSL 1\.1\.1w /);
  });

  it('npm run invoke serves an event with the arm64 layer through its bootstrap, under QEMU', async () => {
    const result = await invokeLayer({
      layer: report.results[0]!.zip,
      engine,
      functionPath: path.join(REPO_ROOT, 'examples/hello'),
      handler: 'hello',
      events: ['{"name":"Graviton"}'],
    });
    expect(result.image).toBe(GLIBC_ARM64);
    expect(result.invocations.map((i) => [i.status, i.body])).toEqual([['success', '"Hello, Graviton!"']]);
    expect(await ourContainers(engine)).toEqual([]);
  });
});
