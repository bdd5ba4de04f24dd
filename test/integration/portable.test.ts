import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { invokeLayer } from '../../src/invoke/index.js';
import type { Manifest } from '../../src/pipeline/manifest.js';
import { parseElf } from '../../src/elf/elf.js';
import { readZipEntries } from '../../src/layer/zip.js';
import { REPO_ROOT, ourContainers, requireEngine, tempDir, X86_PHP, HEAVY_BUILDS } from './helpers.js';

// A deployable provided.al2023 layer built here: compiled in Debian 11, smoke-tested (the
// recipe's checks) in an image holding nothing but Debian 11's glibc and a static busybox.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let manifest: Manifest;
let zip: string;

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-portable-');
  const report = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: out.dir, renderer: 'silent', engine });
  zip = report.results[0]!.zip;
  manifest = JSON.parse(await readFile(report.results[0]!.manifest, 'utf8')) as Manifest;
});

afterAll(async () => {
  await out?.cleanup();
});

describe(`al2023-portable: ${X86_PHP.target} minimal`, () => {
  it('is deployable to provided.al2023 and bundles nothing from the build distro', () => {
    expect(path.basename(zip)).toBe(X86_PHP.zip);
    expect(manifest.platform).toMatchObject({ name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023', glibc: '2.31' });
    // zlib, OpenSSL and curl come from pinned sources, and nothing from a Debian 11 package: PHP 8's
    // opcache.so has libgcc's unwinder linked in (rule opcache-jit-unwinder-linked-in-on-portable)
    // instead of needing libgcc_s.
    expect(manifest.libraries.bundled).toEqual([]);
    expect(manifest.libraries.builtFromSource.map((l) => l.name)).toEqual(['zlib', 'openssl', 'curl']);
    expect(manifest.smoke.output).toMatch(/^PHP 8\.2\.32 \(cli\)/);
    expect(manifest.smoke.checks?.map((c) => c.name)).toEqual(expect.arrayContaining(['tls-keygen', 'ca-bundle-default', 'one-openssl', 'tls-handshake']));
    // A real handshake with only glibc under the layer: PHP streams and curl, and refusals without the test CA.
    expect(manifest.smoke.checks?.find((c) => c.name === 'tls-handshake')?.output).toBe('handshake-ok stream curl refused-untrusted refused-wrong-name TLSv1.3');
  });

  it("loads its own zlib, OpenSSL and curl where Lambda's /lib64 has others of those names (DT_RPATH, decoys)", async () => {
    // Every check above ran with a decoy of each bundled library in /usr/lib64, which Lambda's
    // LD_LIBRARY_PATH searches before /opt/lib (provided.al2023 has its own libz, libssl, libcurl there).
    expect(manifest.smoke.decoys).toEqual(['libcrypto.so.3', 'libcurl.so.4', 'libssl.so.3', 'libz.so.1']);
    const entries = await readZipEntries(zip);
    const php = entries.find((e) => e.path === 'bin/php');
    const info = php?.type === 'file' ? parseElf(php.data) : null;
    expect(info).toMatchObject({ rpath: '/opt/lib', runpath: null });
  });

  it('serves invocations through its bootstrap in the glibc-only image', async () => {
    const result = await invokeLayer({
      layer: zip,
      engine,
      functionPath: path.join(REPO_ROOT, 'examples/hello'),
      handler: 'hello',
      events: ['{"name":"World"}'],
    });
    expect(result.invocations.map((i) => i.body)).toEqual(['"Hello, World!"']);
    expect(await ourContainers(engine)).toEqual([]);
  });
});
