import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes, type BuildRuntimeReport } from '../../src/api.js';
import { withContainer, type DockerodeEngine } from '../../src/docker/engine.js';
import { LAMBDA_ENV } from '../../src/lambda.js';
import { packTar } from '../../src/layer/tar.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { Manifest } from '../../src/pipeline/execute.js';
import { ourContainers, requireEngine, tempDir } from './helpers.js';

// php@8.2 with the standard profile and a second interpreter (Lua), built together
// with --jobs 2 so they share the platform's toolchain stage. Every check in the
// recipes (modules that must and must not load, TLS, CA bundle, one OpenSSL, ini
// scan dir, glibc ceiling, arch) runs inside the build; these tests look at the result.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let report: BuildRuntimeReport;
const manifests = new Map<string, Manifest>();

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-catalog-');
  report = await buildRuntimes({
    targets: ['php@8.2.32', 'lua@5.4.7'],
    platform: 'debian-bookworm',
    profile: 'standard',
    outDir: out.dir,
    jobs: 2,
    renderer: 'silent',
    engine,
  });
  for (const r of report.results) manifests.set(r.target, JSON.parse(await readFile(r.manifest, 'utf8')) as Manifest);
}, 60 * 60_000);

afterAll(async () => {
  await out?.cleanup();
});

async function runInRuntimeImage(zip: string, commands: string[][]): Promise<{ stdout: string; exitCode: number }[]> {
  const entries = await readZipEntries(zip);
  return withContainer(engine, { image: 'debian:bookworm', entrypoint: ['sleep', 'infinity'], cmd: [] }, async (c) => {
    await c.putArchive(packTar(entries, { prefix: 'opt' }), '/');
    await c.start();
    const results = [];
    for (const cmd of commands) {
      const r = await c.exec(cmd, { env: { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH } });
      results.push({ stdout: r.stdout + r.stderr, exitCode: r.exitCode });
    }
    return results;
  });
}

describe('php@8.2.32 standard on debian-bookworm', () => {
  it('pairs OpenSSL 3.5.7 and curl 8.14.1 by rule and records where every library comes from', () => {
    const m = manifests.get('php@8.2.32')!;
    expect(m.recipe).toMatchObject({ name: 'php', version: '8.2.32', profile: 'standard' });
    expect(m.dependencies.map((d) => `${d.name}@${d.version}:${d.rule}`)).toEqual([
      'openssl@3.5.7:openssl-3-lts-from-php-8.1',
      'curl@8.14.1:curl-8-from-php-8.1',
    ]);
    expect(m.libraries.builtFromSource).toEqual([
      { name: 'openssl', version: '3.5.7' },
      { name: 'curl', version: '8.14.1' },
    ]);
    const bundled = new Map(m.libraries.bundled.map((b) => [b.soname.replace(/\.so.*/, ''), b]));
    for (const lib of ['libonig', 'libxml2', 'libsqlite3', 'libicuuc']) {
      expect(bundled.get(lib), `${lib} bundled`).toBeDefined();
      expect(bundled.get(lib)!.package, `${lib} has a Debian package`).toMatch(/^lib/);
      expect(bundled.get(lib)!.packageVersion).toMatch(/^\d/);
    }
    expect(m.smoke.checks?.map((c) => c.name)).toEqual(['tls-keygen', 'ca-bundle-default', 'one-openssl', 'ini-scan-dir-in-task-root']);
    expect(m.smoke.modules).toEqual(expect.arrayContaining(['mbstring', 'dom', 'pdo_sqlite', 'pdo_mysql', 'sockets', 'bcmath']));
    expect(m.smoke.modules).not.toContain('intl');
  });

  it('loads intl only when asked, and it works from the bundled ICU', async () => {
    const zip = report.results.find((r) => r.target === 'php@8.2.32')!.zip;
    const [off, on] = await runInRuntimeImage(zip, [
      ['/opt/bin/php', '-m'],
      ['/opt/bin/php', '-d', 'extension=intl', '-r', 'echo (new NumberFormatter("de_DE", NumberFormatter::DECIMAL))->format(1234.5);'],
    ]);
    expect(off!.stdout.split('\n')).not.toContain('intl');
    expect(on!.exitCode).toBe(0);
    expect(on!.stdout).toBe('1.234,5');
  });
});

describe('lua@5.4.7, a second interpreter by recipe alone', () => {
  it('is built with the same pipeline and runs code in a clean container', async () => {
    const lua = report.results.find((r) => r.target === 'lua@5.4.7')!;
    expect(path.basename(lua.zip)).toBe('lua-5.4.7-standard-debian-bookworm-x86_64.zip');
    const [r] = await runInRuntimeImage(lua.zip, [['/opt/bin/lua', '-e', 'print(_VERSION, 2^10)']]);
    expect(r!.stdout.trim()).toBe('Lua 5.4\t1024.0');
  });
});

it('leaves no container behind', async () => {
  expect(await ourContainers(engine)).toEqual([]);
});
