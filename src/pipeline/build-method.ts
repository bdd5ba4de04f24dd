/**
 * How a layer is built for its architecture, decided up front from the engine's architecture, the
 * target's, the platform and `--emulate` (pure: no Docker, no files):
 * - `native`: the engine runs the target's architecture; build as always.
 * - `cross`: a foreign target on a platform whose package manager has a cross toolchain (Debian):
 *   the build runs at native speed in the platform's own build image with the cross compiler, and
 *   only the smoke test runs the foreign binaries (under QEMU).
 * - `emulated`: every step of the build runs under QEMU user mode in an image of the target's
 *   architecture (Amazon Linux, which has no cross toolchain, or `--emulate`): several times slower.
 */
import { UserError } from '../errors.js';
import { forArch, multiarchTriplet, normalizeArch, ociArch } from '../platforms/registry.js';
import type { Arch, BuildMethod, CrossToolchain, Platform } from '../recipes/schema.js';

export { BUILD_METHODS, type BuildMethod } from '../recipes/schema.js';

/** A cross toolchain for one target architecture: every `{debArch}`/`{triplet}` filled in. */
export interface CrossSettings {
  /** GNU triplet of the target (`aarch64-linux-gnu`): `--host` for autotools, the compiler's prefix. */
  host: string;
  setup: string[];
  toolchain: string[];
  packageSuffix: string;
  hostPackages: string[];
  libraryDirs: string[];
}

export interface BuildMethodChoice {
  method: BuildMethod;
  /** The architecture of the engine that builds (and runs the smoke test). */
  engineArch: Arch;
  /** Why this method, for the plan. */
  reason: string;
  /** The image the toolchain stage starts FROM. */
  buildImage: string;
  /**
   * Docker platform (`linux/arm64`) of a registry's multi-arch build image, for an emulated build
   * that pulls it; absent when the image is named by a tag of its own.
   */
  buildPlatform?: string;
  /** The image the smoke test (and `invoke`) runs the layer in. */
  runtimeImage: string;
  /** The command that creates the foreign images when they are missing (`.ci/make-arm64-images.sh bookworm`). */
  makeImages?: string;
  /** Emulated builds: the command that creates `buildImage`, when `makeImages` makes only the runtime image. */
  makeBuildImage?: string;
  /** Cross builds only. */
  cross?: CrossSettings;
  /** Said before the build starts. */
  warnings: string[];
}

export interface BuildMethodInput {
  platform: Platform;
  /** The layer's architecture (`--arch`). */
  arch: Arch;
  /** The engine's architecture as Docker (or Node) reports it: `x86_64`, `aarch64`, `amd64`, `arm64`, `x64`. */
  engineArch: string;
  /** `--emulate`: build under QEMU even where a cross toolchain exists. */
  emulate: boolean;
  /** The platform's cross toolchain (its package manager's), if it has one. */
  crossToolchain: CrossToolchain | undefined;
}

export function crossSettings(toolchain: CrossToolchain, arch: Arch): CrossSettings {
  const fill = (list: readonly string[]) => list.map((s) => forArch(s, arch));
  return {
    host: multiarchTriplet(arch),
    setup: fill(toolchain.setup),
    toolchain: fill(toolchain.toolchain),
    packageSuffix: forArch(toolchain.packageSuffix, arch),
    hostPackages: [...toolchain.hostPackages],
    libraryDirs: fill(toolchain.libraryDirs),
  };
}

function engineArchOf(engineArch: string): Arch {
  const engine = normalizeArch(engineArch);
  if (engine !== 'x86_64' && engine !== 'arm64') {
    throw new UserError(`the Docker engine runs on ${engineArch}: layers are built on x86_64 or arm64 engines`);
  }
  return engine;
}

function foreignImages(platform: Platform, arch: Arch, engine: Arch) {
  const foreign = platform.foreignArch?.[arch];
  if (!foreign) {
    throw new UserError(
      `platform ${platform.name} has no ${arch} images for an ${engine} engine (foreignArch in dockerfiles/platforms.json): build on an ${arch} machine, or choose a platform that has them`,
    );
  }
  return foreign;
}

/**
 * The image that runs a layer of `arch` on an engine of `engineArch`: the platform's own when they
 * are the same, else its image for that arch (run under QEMU), with the command that makes it.
 */
export function runtimeImageFor(platform: Platform, arch: Arch, engineArch: string): { image: string; foreign: boolean; makeImages?: string } {
  const engine = engineArchOf(engineArch);
  if (engine === arch) return { image: platform.runtimeImage, foreign: false };
  const foreign = foreignImages(platform, arch, engine);
  return { image: foreign.runtimeImage, foreign: true, ...(foreign.makeImages ? { makeImages: foreign.makeImages } : {}) };
}

/** Pick native, cross or emulated; a foreign arch the platform has no images for is refused in one line. */
export function chooseBuildMethod(o: BuildMethodInput): BuildMethodChoice {
  const engine = engineArchOf(o.engineArch);
  const { platform, arch } = o;
  if (engine === arch) {
    return {
      method: 'native',
      engineArch: engine,
      reason: `the engine runs ${arch}`,
      buildImage: platform.buildImage,
      runtimeImage: platform.runtimeImage,
      warnings: o.emulate ? [`--emulate has no effect: the engine runs ${arch} already, so the build is native`] : [],
    };
  }
  const foreign = foreignImages(platform, arch, engine);
  const make = foreign.makeImages ? { makeImages: foreign.makeImages } : {};
  if (o.crossToolchain && !o.emulate) {
    return {
      method: 'cross',
      engineArch: engine,
      reason: `${arch} on an ${engine} engine: cross-compiled at native speed with ${platform.name}'s cross toolchain; the smoke test runs under QEMU`,
      buildImage: platform.buildImage,
      runtimeImage: foreign.runtimeImage,
      ...make,
      cross: crossSettings(o.crossToolchain, arch),
      warnings: [],
    };
  }
  const why = o.emulate ? '--emulate' : `platform ${platform.name} has no cross toolchain`;
  return {
    method: 'emulated',
    engineArch: engine,
    reason: `${arch} on an ${engine} engine, ${why}: every build step runs under QEMU user mode`,
    buildImage: foreign.buildImage,
    // An image made locally is named by its own tag; a registry's multi-arch one is pulled for the arch.
    ...(foreign.makeImages ? {} : { buildPlatform: `linux/${ociArch(arch)}` }),
    runtimeImage: foreign.runtimeImage,
    ...make,
    ...(foreign.makeBuildImage ? { makeBuildImage: foreign.makeBuildImage } : {}),
    warnings: [
      `${arch} is built under emulation (QEMU) on this ${engine} engine: expect it to take several times as long as a native build` +
        (o.crossToolchain ? '' : ` (platform ${platform.name} cannot cross-compile)`),
    ],
  };
}

/** The plan's one-line account: `cross (arm64 on an x86_64 engine: ...)`. */
export function describeBuildMethod(m: Pick<BuildMethodChoice, 'method' | 'reason'>): string {
  return `${m.method}: ${m.reason}`;
}
