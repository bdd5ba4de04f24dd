import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { checkForeignImages, checkRunsForeign } from '../../../src/pipeline/foreign-arch.js';
import { loadCatalog, prepareTarget, type Catalog } from '../../../src/pipeline/prepare.js';
import { FakeEngine, type ExecAnswer } from './fake-engine.js';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

const ARM64 = 'lambda-runtime-builder/debian-arm64:bookworm';
const ok: ExecAnswer = (cmd) => (cmd.join(' ') === '/bin/sh -c echo lrb-foreign-ok' ? { stdout: 'lrb-foreign-ok\n', stderr: '', exitCode: 0 } : undefined);

function engineWith(images: string[], exec: ExecAnswer = ok): FakeEngine {
  const engine = new FakeEngine({ archives: {}, exec });
  for (const ref of images) engine.images.set(ref, { id: `sha256:${ref}`, labels: {} });
  return engine;
}

const prepare = (target: string, platform: string, o: { emulate?: boolean } = {}) =>
  prepareTarget(catalog, target, { platform, arch: 'arm64', engineArch: 'x86_64', outDir: '/tmp/lrb-foreign', mirrors: [], maxUnzippedBytes: 1e8, ...o });

describe('checkRunsForeign', () => {
  const what = 'lua@5.4.7 (arm64, cross)';
  it('passes when a shell of the image runs, and removes its container', async () => {
    const engine = engineWith([ARM64]);
    await checkRunsForeign(engine, { image: ARM64, arch: 'arm64', engineArch: 'x86_64', what });
    expect(engine.leftovers()).toEqual([]);
  });

  it('a missing image: one line with the command that makes it', async () => {
    const err = await checkRunsForeign(engineWith([]), { image: ARM64, arch: 'arm64', engineArch: 'x86_64', makeImages: '.ci/make-arm64-images.sh bookworm', what }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(`${what} needs the arm64 image ${ARM64}, which is not in the Docker engine: create it with \`bash .ci/make-arm64-images.sh bookworm\``);
  });

  it('no binfmt_misc entry (exec format error): one line naming the fix, and no container left', async () => {
    const engine = engineWith([ARM64], () => Promise.reject(new Error('OCI runtime exec failed: exec format error\nmore')));
    const err = await checkRunsForeign(engine, { image: ARM64, arch: 'arm64', engineArch: 'x86_64', what }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(
      new RegExp(`^${what.replace(/[()]/g, '\\$&')}: the arm64 image ${ARM64} does not run on this x86_64 engine \\(OCI runtime exec failed: exec format error\\): register QEMU's aarch64 interpreter with binfmt_misc \\(flag F\\): bash \\.ci/setup-machine\\.sh does it`),
    );
    expect((err as Error).message).not.toContain('\n');
    expect(engine.leftovers()).toEqual([]);
  });
});

describe('checkForeignImages', () => {
  it('native plans need nothing; a cross plan checks its arm64 runtime image once', async () => {
    const native = await prepareTarget(catalog, 'lua@5.4.7', { platform: 'debian-bookworm', arch: 'x86_64', engineArch: 'x86_64', outDir: '/tmp/x', mirrors: [], maxUnzippedBytes: 1e8 });
    const engine = engineWith([ARM64]);
    await checkForeignImages(engine, [native]);
    expect(engine.containers).toEqual([]);
    const cross = await prepare('lua@5.4.7', 'debian-bookworm');
    expect(cross.method.method).toBe('cross');
    await checkForeignImages(engine, [cross, await prepare('lua@5.4.8', 'debian-bookworm')]);
    expect(engine.containers.map((c) => c.options.image)).toEqual([ARM64]);
  });

  it('an emulated build from a registry image (Amazon Linux) is refused in one line, before anything runs', async () => {
    const al = await prepare('php@8.2', 'al2023');
    expect(al.plan.buildMethod.method).toBe('emulated');
    const engine = engineWith([]);
    await expect(checkForeignImages(engine, [al])).rejects.toThrow(
      /^php@8\.2 for arm64 on platform al2023 would be built under emulation from the registry image amazonlinux:2023 \(linux\/arm64\): not supported yet/,
    );
    expect(engine.containers).toEqual([]);
  });

  it('an emulated build from a local image checks the build image too', async () => {
    const emulated = await prepare('lua@5.4.7', 'debian-bookworm', { emulate: true });
    const err = await checkForeignImages(engineWith([]), [emulated]).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/needs the arm64 image lambda-runtime-builder\/debian-arm64:bookworm, which is not in the Docker engine: create it with `bash \.ci\/make-arm64-images\.sh bookworm`$/);
  });

  it('each missing image names its own script: the build image and the glibc-only runtime image of al2023-portable', async () => {
    const emulated = await prepare('php@7.4', 'al2023-portable', { emulate: true });
    const noBuild = await checkForeignImages(engineWith(['lambda-runtime-builder/glibc-only:bullseye-arm64']), [emulated]).catch((e: unknown) => e);
    expect((noBuild as Error).message).toMatch(/needs the arm64 image lambda-runtime-builder\/debian-arm64:bullseye, which is not in the Docker engine: create it with `bash \.ci\/make-arm64-images\.sh bullseye`$/);
    const cross = await prepare('php@7.4', 'al2023-portable');
    const noRuntime = await checkForeignImages(engineWith([]), [cross]).catch((e: unknown) => e);
    expect((noRuntime as Error).message).toMatch(/needs the arm64 image lambda-runtime-builder\/glibc-only:bullseye-arm64, which is not in the Docker engine: create it with `bash \.ci\/make-glibc-image\.sh bullseye arm64`$/);
  });
});
