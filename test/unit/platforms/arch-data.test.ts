import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';
import { debianArch, forArch, hostArch, libraryDirs, PlatformRegistry } from '../../../src/platforms/registry.js';
import { GLIBC_LOADERS } from '../../../src/elf/policy.js';

describe('per-arch platform facts', () => {
  it('fills {triplet} and {debArch} for each arch', () => {
    expect(forArch('/usr/lib/{triplet}', 'arm64')).toBe('/usr/lib/aarch64-linux-gnu');
    expect(forArch('crossbuild-essential-{debArch}', 'arm64')).toBe('crossbuild-essential-arm64');
    expect(debianArch('x86_64')).toBe('amd64');
    expect(['x86_64', 'arm64']).toContain(hostArch());
  });

  it('library dirs, loader and cross toolchain of debian-bookworm for arm64', async () => {
    const registry = await PlatformRegistry.load(paths.platforms);
    const bookworm = registry.get('debian-bookworm');
    expect(libraryDirs(bookworm, 'arm64')).toEqual(['/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']);
    expect(GLIBC_LOADERS.arm64).toEqual({ soname: 'ld-linux-aarch64.so.1', path: '/lib/ld-linux-aarch64.so.1' });
    expect(registry.crossToolchain(bookworm)?.toolchain).toEqual(['crossbuild-essential-{debArch}']);
    expect(registry.crossToolchain(registry.get('al2023'))).toBeUndefined();
    expect(bookworm.foreignArch?.arm64?.runtimeImage).toBe('lambda-runtime-builder/debian-arm64:bookworm');
  });

  it('refuses foreign images for an arch the platform does not list', async () => {
    const data = JSON.parse(await readFile(paths.platforms, 'utf8')) as { platforms: { name: string; foreignArch?: unknown }[] };
    const i = data.platforms.findIndex((p) => p.name === 'amzn-2017.03');
    data.platforms[i]!.foreignArch = { arm64: { buildImage: 'a', runtimeImage: 'b' } };
    expect(() => PlatformRegistry.parse(JSON.stringify(data), 'platforms.json')).toThrow(
      `platforms.json: platforms[${i}].foreignArch.arm64: platform amzn-2017.03 does not list arm64 in its arches`,
    );
  });
});
