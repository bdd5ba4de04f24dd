import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';
import { formatIssues } from '../recipes/registry.js';
import { platformsFileSchema, type Arch, type Platform } from '../recipes/schema.js';

export const DEFAULT_PLATFORM = 'al2023';
export const DEFAULT_ARCH: Arch = 'x86_64';

const TRIPLETS: Record<Arch, string> = { x86_64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

export class PlatformRegistry {
  private constructor(
    private readonly platforms: Map<string, Platform>,
    /** Sonames (prefixes) present in the public images but missing on real Lambda. */
    readonly notOnLambda: readonly string[],
  ) {}

  static parse(text: string, file: string): PlatformRegistry {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    const result = platformsFileSchema.safeParse(data);
    if (!result.success) throw new UserError(`invalid platforms file\n${formatIssues(file, result.error.issues)}`);
    return new PlatformRegistry(
      new Map(result.data.platforms.map((p) => [p.name, p])),
      result.data.notOnLambda,
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
  return TRIPLETS[arch];
}

/** Library directories of a platform's runtime image for one architecture. */
export function libraryDirs(platform: Platform, arch: Arch): string[] {
  return platform.libraryDirs.map((d) => d.replaceAll('{triplet}', TRIPLETS[arch]));
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
