import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { formatIssues } from '../recipes/registry.js';
import { arch as osArch } from 'node:os';
import { platformsFileSchema, type Arch, type CrossToolchain, type Platform } from '../recipes/schema.js';
import type { z } from 'zod';

type PlatformsFile = z.infer<typeof platformsFileSchema>;

export const DEFAULT_PLATFORM = 'al2023';
export const DEFAULT_ARCH: Arch = 'x86_64';

/**
 * Each architecture by the names recipes and platforms use (`x86_64`, `arm64`), with Debian's multiarch
 * triplet, Docker's (OCI, Go's GOARCH) name and the other names tools report: `aarch64` (`uname -m`,
 * Docker's info), `x64` (Node's `process.arch`).
 */
const ARCH_NAMES: Readonly<Record<Arch, { triplet: string; oci: string; debian: string; aliases: readonly string[] }>> = {
  x86_64: { triplet: 'x86_64-linux-gnu', oci: 'amd64', debian: 'amd64', aliases: ['x64'] },
  arm64: { triplet: 'aarch64-linux-gnu', oci: 'arm64', debian: 'arm64', aliases: ['aarch64'] },
};

/** Every architecture the tool knows, in the order `--arch all` builds them. */
export const ARCHES: readonly Arch[] = Object.keys(ARCH_NAMES) as Arch[];

export class PlatformRegistry {
  private constructor(
    private readonly platforms: Map<string, Platform>,
    /** Sonames (prefixes) present in the public images but missing on real Lambda. */
    readonly notOnLambda: readonly string[],
    private readonly crossToolchains: NonNullable<PlatformsFile['crossToolchains']> = {},
  ) {}

  /** How `platform` cross-compiles (by its package manager), or undefined when it cannot. */
  crossToolchain(platform: Platform): CrossToolchain | undefined {
    return this.crossToolchains[platform.packageManager];
  }

  static parse(text: string, file: string): PlatformRegistry {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    const result = platformsFileSchema.safeParse(data);
    if (!result.success) throw new UserError(`invalid platforms file\n${formatIssues(file, result.error.issues)}`);
    for (const [i, p] of result.data.platforms.entries()) {
      for (const arch of Object.keys(p.foreignArch ?? {})) {
        if (!(p.arches as string[]).includes(arch)) {
          throw new UserError(`${file}: platforms[${i}].foreignArch.${arch}: platform ${p.name} does not list ${arch} in its arches`);
        }
      }
    }
    return new PlatformRegistry(
      new Map(result.data.platforms.map((p) => [p.name, p])),
      result.data.notOnLambda,
      result.data.crossToolchains,
    );
  }

  static async load(file: string): Promise<PlatformRegistry> {
    return PlatformRegistry.parse(await readFile(file, 'utf8'), file);
  }

  get(name: string): Platform {
    const p = this.platforms.get(name);
    if (!p) {
      throw new UserError(`unknown platform '${name}': use one of ${this.names().join(', ')} (--platform)`);
    }
    return p;
  }

  names(): string[] {
    return [...this.platforms.keys()];
  }

  list(): Platform[] {
    return [...this.platforms.values()];
  }
}

/** Debian's multiarch triplet of an architecture (`x86_64-linux-gnu`), as in `/usr/lib/<triplet>`. */
export function multiarchTriplet(arch: Arch): string {
  return ARCH_NAMES[arch].triplet;
}

/** Docker's (OCI) name of an architecture: `amd64`, `arm64`. */
export function ociArch(arch: Arch): string {
  return ARCH_NAMES[arch].oci;
}

/**
 * Any tool's name for an architecture (Docker reports `x86_64`/`aarch64`, Go `amd64`/`arm64`, Node
 * `x64`) as recipes and platforms say it: `x86_64` or `arm64`. An unknown name is returned unchanged.
 */
export function normalizeArch(arch: string): string {
  for (const [name, n] of Object.entries(ARCH_NAMES)) {
    if (arch === name || arch === n.oci || n.aliases.includes(arch)) return name;
  }
  return arch;
}

/** Debian's name of an architecture (`dpkg --print-architecture`): `amd64`, `arm64`. */
export function debianArch(arch: Arch): string {
  return ARCH_NAMES[arch].debian;
}

/** Platform data for one architecture: `{triplet}` → `aarch64-linux-gnu`, `{debArch}` → `arm64`. */
export function forArch(text: string, arch: Arch): string {
  return text.replaceAll('{triplet}', multiarchTriplet(arch)).replaceAll('{debArch}', debianArch(arch));
}

/** The architecture of the machine this runs on: a local Docker engine's. */
export function hostArch(): string {
  return normalizeArch(osArch());
}

/** Library directories of a platform's runtime image for one architecture. */
export function libraryDirs(platform: Platform, arch: Arch): string[] {
  return platform.libraryDirs.map((d) => forArch(d, arch));
}

export function checkArch(platform: Platform, arch: string): Arch {
  if (!(platform.arches as string[]).includes(arch)) {
    throw new UserError(
      `platform ${platform.name} does not support arch '${arch}': use one of ${platform.arches.join(', ')} (--arch)`,
    );
  }
  return arch as Arch;
}

/** Map a recipe's package names (e.g. `zlib`, `icu`) to the platform's package names. */
export function platformPackages(platform: Platform, names: readonly string[], who: string): string[] {
  const out: string[] = [];
  for (const n of names) {
    const mapped = platform.packages[n];
    if (!mapped) {
      throw new UserError(
        `${who} needs package '${n}', which platform ${platform.name} does not map: add "${n}" to its packages in dockerfiles/platforms.json`,
      );
    }
    out.push(...mapped);
  }
  return [...new Set(out)];
}

/**
 * Warnings for Lambda runtimes AWS has deprecated or blocked, as of `today` (YYYY-MM-DD).
 */
export function lifecycleWarnings(platform: Platform, today: string): string[] {
  const l = platform.lifecycle;
  if (!l || !platform.lambdaRuntime) return [];
  const rt = platform.lambdaRuntime;
  const instead = l.successor ? ` Build for --platform ${l.successor} instead.` : '';
  if (l.createBlocked && today >= l.createBlocked) {
    const update = l.updateBlocked ? (today >= l.updateBlocked ? `; updates blocked since ${l.updateBlocked}` : `; updates blocked from ${l.updateBlocked}`) : '';
    return [
      `Lambda runtime ${rt} (platform ${platform.name}) is deprecated${l.deprecated ? ` since ${l.deprecated}` : ''}: AWS blocks creating functions on it since ${l.createBlocked}${update}.${instead}`,
    ];
  }
  if (l.deprecated && today >= l.deprecated) {
    return [
      `Lambda runtime ${rt} (platform ${platform.name}) is deprecated since ${l.deprecated}${l.createBlocked ? `; creating functions is blocked from ${l.createBlocked}` : ''}.${instead}`,
    ];
  }
  return [];
}
