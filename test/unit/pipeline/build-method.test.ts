import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { chooseBuildMethod, type BuildMethodInput } from '../../../src/pipeline/build-method.js';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import type { Arch } from '../../../src/recipes/schema.js';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

function choose(platformName: string, arch: Arch, engineArch: string, emulate = false) {
  const platform = catalog.platforms.get(platformName);
  const input: BuildMethodInput = { platform, arch, engineArch, emulate, crossToolchain: catalog.platforms.crossToolchain(platform) };
  return chooseBuildMethod(input);
}

describe('chooseBuildMethod: engine arch × target arch × platform family × --emulate', () => {
  // [platform, target, engine (as Docker or Node names it), --emulate] → method
  const table: [string, Arch, string, boolean, 'native' | 'cross' | 'emulated'][] = [
    ['debian-bookworm', 'x86_64', 'x86_64', false, 'native'],
    ['debian-bookworm', 'x86_64', 'x64', true, 'native'],
    ['debian-bookworm', 'arm64', 'aarch64', false, 'native'],
    ['debian-bookworm', 'arm64', 'arm64', true, 'native'],
    ['debian-bookworm', 'arm64', 'x86_64', false, 'cross'],
    ['debian-bookworm', 'arm64', 'amd64', false, 'cross'],
    ['debian-bullseye', 'arm64', 'x86_64', false, 'cross'],
    ['al2023-portable', 'arm64', 'x86_64', false, 'cross'],
    ['al2023-portable', 'arm64', 'x86_64', true, 'emulated'],
    ['debian-bookworm', 'arm64', 'x86_64', true, 'emulated'],
    ['al2023', 'arm64', 'x86_64', false, 'emulated'],
    ['al2023', 'arm64', 'x86_64', true, 'emulated'],
    ['al2023', 'arm64', 'aarch64', false, 'native'],
    ['al2023', 'x86_64', 'x86_64', false, 'native'],
  ];
  for (const [platform, arch, engine, emulate, method] of table) {
    it(`${platform} ${arch} on a ${engine} engine${emulate ? ' with --emulate' : ''} → ${method}`, () => {
      const m = choose(platform, arch, engine, emulate);
      expect(m.method).toBe(method);
      expect(m.engineArch).toBe(engine === 'x64' || engine === 'amd64' ? 'x86_64' : engine === 'aarch64' ? 'arm64' : engine);
    });
  }

  it('native keeps the platform images and says nothing, unless --emulate is given for nothing', () => {
    const p = catalog.platforms.get('debian-bookworm');
    const m = choose('debian-bookworm', 'x86_64', 'x86_64');
    expect(m).toMatchObject({ buildImage: p.buildImage, runtimeImage: p.runtimeImage, warnings: [] });
    expect(m.cross).toBeUndefined();
    expect(choose('debian-bookworm', 'x86_64', 'x86_64', true).warnings).toEqual([
      '--emulate has no effect: the engine runs x86_64 already, so the build is native',
    ]);
  });

  it('cross: the platform build image at native speed, the arm64 runtime image by tag, the filled-in cross toolchain', () => {
    const m = choose('debian-bookworm', 'arm64', 'x86_64');
    expect(m).toMatchObject({
      buildImage: 'debian:bookworm',
      runtimeImage: 'lambda-runtime-builder/debian-arm64:bookworm',
      makeImages: '.ci/make-arm64-images.sh bookworm',
      warnings: [],
    });
    expect(m.buildPlatform).toBeUndefined();
    expect(m.cross).toEqual({
      host: 'aarch64-linux-gnu',
      setup: ['dpkg --add-architecture arm64'],
      toolchain: ['crossbuild-essential-arm64'],
      packageSuffix: ':arm64',
      hostPackages: ['toolchain', 'perl', 'icu-tools', 'autoconf', 'automake', 'libtool', 'tcl'],
      libraryDirs: ['/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/aarch64-linux-gnu/lib'],
    });
  });

  it('emulated from a locally made image: that image by tag, and a warning that it is slow', () => {
    const m = choose('debian-bookworm', 'arm64', 'x86_64', true);
    expect(m).toMatchObject({ buildImage: 'lambda-runtime-builder/debian-arm64:bookworm', runtimeImage: 'lambda-runtime-builder/debian-arm64:bookworm' });
    expect(m.buildPlatform).toBeUndefined();
    expect(m.cross).toBeUndefined();
    expect(m.warnings).toEqual(['arm64 is built under emulation (QEMU) on this x86_64 engine: expect it to take several times as long as a native build']);
  });

  it('al2023-portable arm64: cross in Debian 11, proven in the arm64 glibc-only image; emulated in the arm64 Debian 11 image, each with the script that makes it', () => {
    const cross = choose('al2023-portable', 'arm64', 'x86_64');
    expect(cross).toMatchObject({
      buildImage: 'debian:bullseye',
      runtimeImage: 'lambda-runtime-builder/glibc-only:bullseye-arm64',
      makeImages: '.ci/make-glibc-image.sh bullseye arm64',
    });
    expect(cross.cross?.host).toBe('aarch64-linux-gnu');
    expect(cross.makeBuildImage).toBeUndefined();
    const emulated = choose('al2023-portable', 'arm64', 'x86_64', true);
    expect(emulated).toMatchObject({
      buildImage: 'lambda-runtime-builder/debian-arm64:bullseye',
      runtimeImage: 'lambda-runtime-builder/glibc-only:bullseye-arm64',
      makeImages: '.ci/make-glibc-image.sh bullseye arm64',
      makeBuildImage: '.ci/make-arm64-images.sh bullseye',
    });
    expect(emulated.buildPlatform).toBeUndefined();
  });

  it('emulated Amazon Linux: the registry image for linux/arm64, the arm64 Lambda base image, and why it is not cross-compiled', () => {
    const m = choose('al2023', 'arm64', 'x86_64');
    expect(m).toMatchObject({ buildImage: 'amazonlinux:2023', buildPlatform: 'linux/arm64', runtimeImage: 'public.ecr.aws/lambda/provided:al2023-arm64' });
    expect(m.reason).toContain('platform al2023 has no cross toolchain');
    expect(m.warnings[0]).toMatch(/several times as long .*\(platform al2023 cannot cross-compile\)$/);
  });

  it('a foreign arch the platform has no images for, or an engine of an unknown arch, is refused in one line', () => {
    expect(() => choose('al2', 'arm64', 'x86_64')).toThrow(UserError);
    expect(() => choose('al2', 'arm64', 'x86_64')).toThrow(/^platform al2 has no arm64 images for an x86_64 engine \(foreignArch in dockerfiles\/platforms\.json\)/);
    expect(() => choose('debian-bookworm', 'x86_64', 'arm64')).toThrow(/^platform debian-bookworm has no x86_64 images for an arm64 engine/);
    expect(() => choose('debian-bookworm', 'arm64', 's390x')).toThrow('the Docker engine runs on s390x: layers are built on x86_64 or arm64 engines');
  });
});
