import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import { withContainer } from '../../src/docker/engine.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { StepError } from '../../src/errors.js';
import type { BuildResult, Manifest } from '../../src/pipeline/manifest.js';
import { execFileP, ourContainers, REPO_ROOT, requireEngine, tempDir, X86_PHP, HEAVY_BUILDS } from './helpers.js';

// One real build of the x86_64 minimal layer for al2023-portable (X86_PHP), shared by the tests below.
// It is the same target portable.test.ts, invoke.test.ts and image.test.ts build, so CI compiles it
// once (the engine's build cache) and each file still checks its own promises.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let result: BuildResult;

beforeAll(async () => {
  engine = await requireEngine();
  expect(await ourContainers(engine)).toEqual([]);
  out = await tempDir('lrb-it-out-');
  const report = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: out.dir, renderer: 'silent', engine });
  expect(report.results).toHaveLength(1);
  result = report.results[0]!;
});

afterAll(async () => {
  await out?.cleanup();
});

describe(`${X86_PHP.target} minimal on al2023-portable, built for real`, () => {
  it('writes the layer zip and its manifest under the documented name', async () => {
    expect(result.status).toBe('built');
    expect(path.basename(result.zip)).toBe(X86_PHP.zip);
    const manifest = JSON.parse(await readFile(`${result.zip}.json`, 'utf8')) as Manifest;
    expect(manifest.recipe).toMatchObject({ name: 'php', version: X86_PHP.version, profile: 'minimal' });
    expect(manifest.dependencies.map((d) => `${d.name}@${d.version}`)).toEqual(X86_PHP.dependencies);
    // OpenSSL and curl carry Debian's security patches (their recipes' `patches`).
    expect(manifest.dependencies.map((d) => [d.name, d.patches?.applied.length ?? 0])).toEqual([['zlib', 0], ['openssl', 17], ['curl', 19]]);
    expect(manifest.recipe.sources[0]!.sha256).toBe('e02aa173c236c12791696254d607da680e6d5516f8f5c2339642de7c4f944bd2');
    expect(manifest.zip.bytes).toBe((await stat(result.zip)).size);
    // Reproducible: the build date PHP prints is its source's (SOURCE_DATE_EPOCH), not today's.
    expect(manifest.smoke.output).toMatch(/^PHP 8\.2\.32 \(cli\) \(built: Jul {2}1 2026 07:57:51\)/);
    expect(manifest.unzippedBytes).toBeLessThan(262_144_000);
    expect(manifest.platform).toMatchObject({ name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023' });
    expect(existsSync(result.log)).toBe(true);
  });

  it('unzips (Info-ZIP) into a clean debian:bookworm container (a newer glibc than it was built on) at /opt and answers its PHP', async () => {
    const x = await tempDir('lrb-it-unzip-');
    try {
      await execFileP('unzip', ['-q', result.zip, '-d', x.dir]);
      const php = await stat(path.join(x.dir, 'bin/php'));
      expect(php.mode & 0o777).toBe(0o755);
      const bootstrap = await stat(path.join(x.dir, 'bootstrap'));
      expect(bootstrap.mode & 0o777).toBe(0o755);
      const r = await withContainer(
        engine,
        {
          image: 'debian:bookworm',
          entrypoint: ['sleep', 'infinity'],
          cmd: [],
          binds: [`${x.dir}:/opt:ro`],
        },
        async (c) => {
          await c.start();
          const env = { LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' };
          const v = await c.exec(['/opt/bin/php', '-v'], { env });
          const m = await c.exec(['/opt/bin/php', '-m'], { env });
          const tls = await c.exec(['/opt/bin/php', '-r', 'echo curl_version()["ssl_version"], "|", OPENSSL_VERSION_TEXT;'], { env });
          return { v, m, tls };
        },
      );
      expect(r.v.exitCode).toBe(0);
      expect(r.v.stdout.startsWith(`PHP ${X86_PHP.version} `)).toBe(true);
      for (const ext of ['openssl', 'curl', 'zlib', 'json']) expect(r.m.stdout.split('\n')).toContain(ext);
      // One OpenSSL per process: curl is linked against the layer's OpenSSL.
      expect(r.tls.stdout).toMatch(/^OpenSSL\/3\.5\.7\|OpenSSL 3\.5\.7 /);
    } finally {
      await x.cleanup();
    }
  });

  it('a second run with the same inputs is a no-op that finds the artifact', async () => {
    const before = await readFile(result.zip);
    const again = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: out.dir, renderer: 'silent', engine });
    expect(again.results[0]!.status).toBe('up-to-date');
    expect(again.results[0]!.zipSha256).toBe(result.zipSha256);
    expect((await readFile(result.zip)).equals(before)).toBe(true);
  });

  it('the CLI with --json answers a no-op with one JSON document on stdout', async () => {
    const { stdout } = await execFileP(
      process.execPath,
      ['--import', 'tsx', 'src/cli/build-runtime.ts', X86_PHP.target, '--platform', 'al2023-portable', '--out', out.dir, '--json'],
      { cwd: REPO_ROOT },
    );
    const doc = JSON.parse(stdout) as { results: { status: string; zip: string; zipSha256: string }[] };
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0]).toMatchObject({ status: 'up-to-date', zip: result.zip, zipSha256: result.zipSha256 });
  });

  it('building again into another directory (image reused) gives a byte-identical zip', async () => {
    const other = await tempDir('lrb-it-out2-');
    try {
      const r = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: other.dir, renderer: 'silent', engine });
      expect(r.results[0]!.status).toBe('built');
      expect(r.results[0]!.zipSha256).toBe(result.zipSha256);
    } finally {
      await other.cleanup();
    }
  });

  it('leaves no container behind', async () => {
    expect(await ourContainers(engine)).toEqual([]);
  });
});

describe('a recipe whose build fails', () => {
  it('reports the failing step, the last log lines and the log path, and writes no zip', async () => {
    const work = await tempDir('lrb-it-broken-');
    try {
      const recipes = path.join(work.dir, 'recipes');
      await mkdir(recipes);
      // A tiny source tarball, verified like any other.
      const srcDir = path.join(work.dir, 'src', 'broken-1.0.0');
      await mkdir(srcDir, { recursive: true });
      await writeFile(path.join(srcDir, 'README'), 'this project does not build\n');
      const tarball = path.join(work.dir, 'broken-1.0.0.tar.gz');
      await execFileP('tar', ['-C', path.join(work.dir, 'src'), '-czf', tarball, 'broken-1.0.0']);
      const { stdout } = await execFileP('sha256sum', [tarball]);
      const sha256 = stdout.split(' ')[0]!;
      await writeFile(
        path.join(recipes, 'build-broken.sh'),
        '#!/bin/sh\n. "$(dirname "$0")/common.sh"\nlrb_unpack\necho "compiling broken $LRB_VERSION"\necho "broken.c:1: error: this is on purpose" >&2\nexit 3\n',
      );
      await writeFile(
        path.join(recipes, 'broken.json'),
        JSON.stringify({
          name: 'broken',
          kind: 'interpreter',
          description: 'A recipe that fails to build, for the integration tests.',
          build: { script: 'build-broken.sh', args: [], packages: [] },
          smoke: { version: { command: ['/opt/bin/broken', '-v'], expect: 'broken {version}' } },
          profiles: { minimal: { description: 'nothing', args: [], packages: [], mustLoad: [], mustNotLoad: [] } },
          versions: [{ version: '1.0.0', sources: [{ name: 'broken-1.0.0.tar.gz', url: `file://${tarball}`, sha256 }] }],
        }),
      );
      const outDir = path.join(work.dir, 'out');
      const err = await buildRuntimes({
        targets: ['broken@1'],
        platform: 'debian-bookworm',
        outDir,
        cacheDir: path.join(work.dir, 'cache'),
        recipeDirs: [recipes],
        renderer: 'silent',
        engine,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StepError);
      const stepError = err as StepError;
      expect(stepError.step).toBe('build-image');
      expect(stepError.message).toMatch(/step 'build-image' failed: .*returned a non-zero code: 3/);
      expect(stepError.details.logTail?.join('\n')).toContain('compiling broken 1.0.0');
      expect(stepError.details.logTail?.join('\n')).toContain('broken.c:1: error: this is on purpose');
      expect(stepError.details.logPath).toBe(path.join(outDir, 'logs', 'broken-1.0.0-debian-bookworm-x86_64.log'));
      expect(await readFile(stepError.details.logPath!, 'utf8')).toContain('this is on purpose');
      expect((await readdir(outDir)).filter((f) => f.endsWith('.zip'))).toEqual([]);
      expect(await ourContainers(engine)).toEqual([]);
    } finally {
      await work.cleanup();
    }
  });
});
