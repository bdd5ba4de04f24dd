import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlans, planRuntimes, type BuildRuntimeOptions } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { StepError } from '../../src/errors.js';
import { ourContainers, probeFixture, requireEngine, tempDir } from './helpers.js';

// Each fidelity check must fail a real build when violated, naming the file.
// A tiny C "probe" recipe (versions select an injected fault through named rules)
// keeps these builds to seconds on top of the cached toolchain stage.
let engine: DockerodeEngine;
let work: { dir: string; cleanup: () => Promise<void> };
let base: BuildRuntimeOptions;

beforeAll(async () => {
  engine = await requireEngine();
  work = await tempDir('lrb-it-fidelity-');
  const { recipes, source } = await probeFixture(work.dir);
  await writeFile(
    path.join(recipes, 'probe.json'),
    JSON.stringify({
      name: 'probe',
      kind: 'interpreter',
      description: 'A C program with injectable faults, for the fidelity tests.',
      build: { script: 'build-probe.sh', args: [], packages: [] },
      smoke: { version: { command: ['/opt/bin/probe'], expect: 'probe {version}' } },
      profiles: { minimal: { description: 'just the probe', args: [], packages: [], mustLoad: [], mustNotLoad: [] } },
      rules: [
        { name: 'inject-missing-library', reason: 'version 1.0.1 links a library it does not install', when: '1.0.1', args: ['missing-lib'] },
        { name: 'inject-wrong-arch', reason: 'version 1.0.2 ships an aarch64 ELF file', when: '1.0.2', args: ['wrong-arch'] },
        { name: 'inject-runpath', reason: 'version 1.0.3 finds its bundled library through DT_RUNPATH', when: '1.0.3', args: ['bundled-lib-runpath'] },
        { name: 'inject-inner-runpath', reason: "version 1.0.4's library finds its own through DT_RUNPATH", when: '1.0.4', args: ['bundled-lib-inner'] },
        { name: 'bundle-with-rpath', reason: 'version 1.0.5 finds its bundled library through DT_RPATH', when: '1.0.5', args: ['bundled-lib-rpath'] },
      ],
      versions: ['1.0.0', '1.0.1', '1.0.2', '1.0.3', '1.0.4', '1.0.5'].map((version) => ({ version, sources: [source] })),
    }),
  );
  base = {
    targets: [],
    platform: 'debian-bookworm',
    outDir: path.join(work.dir, 'out'),
    cacheDir: path.join(work.dir, 'cache'),
    recipeDirs: [recipes],
    renderer: 'silent',
    engine,
  };
});

afterAll(async () => {
  await work?.cleanup();
});

async function failure(p: Promise<unknown>): Promise<StepError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StepError);
  return err as StepError;
}

describe('fidelity checks fail real builds', () => {
  it('the probe builds, passes every check and lands in a zip', async () => {
    const prepared = await planRuntimes({ ...base, targets: ['probe@1.0.0'] });
    const report = await executePlans(prepared, base);
    expect(report.results[0]!.smoke?.output).toBe('probe 1.0.0');
  });

  it('glibc ceiling: a binary needing a newer glibc than the platform has fails assemble, naming file and symbol', async () => {
    const prepared = await planRuntimes({ ...base, targets: ['probe@1.0.0'], force: true });
    // A fake platform ceiling: pretend debian-bookworm had the glibc of amzn-2017.03.
    prepared[0]!.spec.platform = { ...prepared[0]!.spec.platform, glibc: '2.17' };
    const err = await failure(executePlans(prepared, { ...base, force: true }));
    expect(err.step).toBe('assemble');
    expect(err.message).toMatch(/bin\/probe needs GLIBC_2\.(2[5-9]|3\d) but platform debian-bookworm has glibc 2\.17/);
  });

  it('a missing shared library fails bundle-libraries, naming the binary and the library', async () => {
    const err = await failure(executePlans(await planRuntimes({ ...base, targets: ['probe@1.0.1'] }), base));
    expect(err.step).toBe('bundle-libraries');
    expect(err.message).toContain('/opt/bin/probe needs libprobe.so');
  });

  it('a file built for another architecture fails assemble, naming the file', async () => {
    const err = await failure(executePlans(await planRuntimes({ ...base, targets: ['probe@1.0.2'] }), base));
    expect(err.step).toBe('assemble');
    expect(err.message).toMatch(/lib\/libfake-arm64\.so is built for .*(aarch64|arm64|183).* but the target architecture is x86_64/);
  });

  it("a program that finds its bundled library through DT_RUNPATH fails assemble: Lambda's /lib64 would win", async () => {
    const err = await failure(executePlans(await planRuntimes({ ...base, targets: ['probe@1.0.3'] }), base));
    expect(err.step).toBe('assemble');
    expect(err.message).toContain('bin/probe finds libprobe.so through DT_RUNPATH "/opt/lib", which the loader searches after LD_LIBRARY_PATH');
  });

  it('a library found through DT_RPATH passes with a decoy of it in /usr/lib64 during the smoke test', async () => {
    const report = await executePlans(await planRuntimes({ ...base, targets: ['probe@1.0.5'] }), base);
    expect(report.results[0]!.smoke).toMatchObject({ output: 'probe 1.0.5 lib=42', decoys: ['libprobe.so'] });
  });

  it("the decoys catch what the check of programs cannot: a bundled library's own DT_RUNPATH", async () => {
    const err = await failure(executePlans(await planRuntimes({ ...base, targets: ['probe@1.0.4'] }), base));
    expect(err.step).toBe('smoke-test');
    expect(err.message).toMatch(/(\/usr)?\/lib64\/libprobe-inner\.so is the smoke test's decoy of a library the layer bundles/);
  });

  it('a layer over the --max-unzipped budget fails check-size, lists the largest files and writes no zip', async () => {
    const outDir = path.join(work.dir, 'out-budget');
    const opts = { ...base, outDir, maxUnzippedBytes: 4096 };
    const err = await failure(executePlans(await planRuntimes({ ...opts, targets: ['probe@1.0.0'] }), opts));
    expect(err.step).toBe('check-size');
    expect(err.message).toMatch(/4,096 bytes/);
    expect(err.message).toContain('bin/probe');
    expect((await readdir(outDir)).filter((f) => f.endsWith('.zip') || f.endsWith('.json'))).toEqual([]);
  });

  it('leaves no container behind', async () => {
    expect(await ourContainers(engine)).toEqual([]);
  });
});
