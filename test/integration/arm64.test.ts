import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes, type BuildRuntimeReport } from '../../src/api.js';
import { withContainer, type DockerodeEngine } from '../../src/docker/engine.js';
import { parseElf } from '../../src/elf/elf.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { LAMBDA_ENV } from '../../src/lambda.js';
import { packTar } from '../../src/layer/tar.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { Manifest } from '../../src/pipeline/manifest.js';
import { REPO_ROOT, ourContainers, requireEngine, tempDir } from './helpers.js';

// arm64 layers on this x86_64 machine (issue 11): one call builds lua@5.4.7 for x86_64 (native) and
// arm64 (cross-compiled with Debian's cross toolchain, smoke-tested in the arm64 Debian image under
// QEMU). Needs the aarch64 binfmt_misc entry and lambda-runtime-builder/debian-arm64:bookworm, both
// made by .ci/setup-machine.sh; without them the build fails in one line that says so.
const ARM64_IMAGE = 'lambda-runtime-builder/debian-arm64:bookworm';
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let report: BuildRuntimeReport;
const manifests = new Map<string, Manifest>();

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-arm64-');
  report = await buildRuntimes({ targets: ['lua@5.4.7'], arch: ['x86_64', 'arm64'], platform: 'debian-bookworm', outDir: out.dir, renderer: 'silent', engine });
  for (const r of report.results) manifests.set(path.basename(r.zip), JSON.parse(await readFile(r.manifest, 'utf8')) as Manifest);
});

afterAll(async () => {
  await out?.cleanup();
});

const ARM = 'lua-5.4.7-debian-bookworm-arm64.zip';
const X86 = 'lua-5.4.7-debian-bookworm-x86_64.zip';

describe('lua@5.4.7 for x86_64 and arm64 in one call, on an x86_64 engine', () => {
  it('plans native for x86_64 and cross for arm64, with their own images, tags and zips', () => {
    expect(report.plans.map((p) => [p.arch, p.buildMethod.method, p.images.runtime, p.images.tag])).toEqual([
      ['x86_64', 'native', 'debian:bookworm', 'lambda-runtime-builder/lua:5.4.7-minimal-debian-bookworm-x86_64'],
      ['arm64', 'cross', ARM64_IMAGE, 'lambda-runtime-builder/lua:5.4.7-minimal-debian-bookworm-arm64-cross'],
    ]);
    expect(report.results.map((r) => path.basename(r.zip))).toEqual([X86, ARM]);
    expect(report.plans[0]!.inputsHash).not.toBe(report.plans[1]!.inputsHash);
  });

  it('records arch and build method in each manifest, and the image the arm64 layer was proven in', () => {
    expect(manifests.get(ARM)).toMatchObject({ arch: 'arm64', buildMethod: 'cross', platform: { name: 'debian-bookworm', buildImage: 'debian:bookworm', runtimeImage: ARM64_IMAGE } });
    expect(manifests.get(X86)).toMatchObject({ arch: 'x86_64', buildMethod: 'native', platform: { runtimeImage: 'debian:bookworm' } });
    // The closure came from DT_NEEDED: libc and libm, which the arm64 image has; nothing to bundle.
    expect(manifests.get(ARM)!.libraries).toMatchObject({ bundled: [], fromRuntimeImage: ['libc.so.6', 'libm.so.6'] });
  });

  it("every ELF file of each zip is built for the zip's arch", async () => {
    for (const [zip, machine] of [
      [ARM, 'arm64'],
      [X86, 'x86_64'],
    ] as const) {
      const elves = (await readZipEntries(path.join(out.dir, zip))).flatMap((e) => (e.type === 'file' && parseElf(e.data) ? [{ path: e.path, info: parseElf(e.data)! }] : []));
      expect(elves.map((e) => e.path).sort()).toEqual(['bin/lua', 'bin/luac']);
      for (const e of elves) expect(`${e.path} ${e.info.machine}`).toBe(`${e.path} ${machine}`);
      if (machine === 'arm64') for (const e of elves) expect(e.info.interpreter).toBe('/lib/ld-linux-aarch64.so.1');
    }
  });

  it("the recipe's smoke checks ran for real in the arm64 image", () => {
    const smoke = manifests.get(ARM)!.smoke;
    expect(smoke.output).toMatch(/^Lua 5\.4\.7 {2}Copyright/);
    expect(smoke.checks).toEqual([{ name: 'runs-code', output: '42 integer' }]);
  });

  it('runs `lua -e` in the arm64 runtime image, as aarch64', async () => {
    const entries = await readZipEntries(path.join(out.dir, ARM));
    const env = { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH };
    const printed = await withContainer(engine, { image: ARM64_IMAGE, entrypoint: ['/bin/sh', '-c', 'while :; do sleep 3600; done'], cmd: [], env }, async (c) => {
      await c.putArchive(packTar(entries, { prefix: 'opt' }), '/');
      await c.start();
      const r = await c.exec(['/bin/sh', '-c', `/opt/bin/lua -e "print(_VERSION, 6 * 7, io.popen('uname -m'):read('l'))"`], { env });
      return `${r.exitCode} ${r.stdout.trim()}`;
    });
    expect(printed).toBe('0 Lua 5.4\t42\taarch64');
  });

  it('npm run invoke serves an event with the arm64 layer (a bash runtime loop around lua), under QEMU', async () => {
    const result = await invokeLayer({
      layer: path.join(out.dir, ARM),
      engine,
      functionPath: path.join(REPO_ROOT, 'test/fixtures/functions/lua-bash'),
      handler: 'handler.lua',
      events: ['{"name":"Graviton"}', '{"name":"again"}'],
    });
    expect(result.image).toBe(ARM64_IMAGE);
    expect(result.invocations.map((i) => [i.status, JSON.parse(i.body)])).toEqual([
      ['success', { greeting: 'Hello, Graviton!', machine: 'aarch64', lua: 'Lua 5.4', answer: 42 }],
      ['success', { greeting: 'Hello, again!', machine: 'aarch64', lua: 'Lua 5.4', answer: 42 }],
    ]);
    expect(await ourContainers(engine)).toEqual([]);
  });

  it('a second call is up to date for both arches, without Docker', async () => {
    const again = await buildRuntimes({ targets: ['lua@5.4.7'], arch: ['x86_64', 'arm64'], platform: 'debian-bookworm', outDir: out.dir, renderer: 'silent', engine });
    expect(again.results.map((r) => r.status)).toEqual(['up-to-date', 'up-to-date']);
  });
});
