import { access } from 'node:fs/promises';
import { loadCatalog } from './pipeline/prepare.js';
import { platformPackages } from './platforms/registry.js';
import { resolveBuild, type BuildSpec } from './recipes/resolve.js';
import { compareVersions } from './recipes/versions.js';
import { cachedSourcePath, candidateUrls, defaultCacheDir } from './sources/index.js';

export interface CatalogEntry {
  name: string;
  kind: 'interpreter' | 'library' | 'extension';
  version: string;
  /** For interpreters: the dependency versions the pairing rules choose by default. */
  pairs: Record<string, string>;
  platforms: { name: string; deployable: boolean; lambdaRuntime: string | null; supported: boolean; reason?: string }[];
  profiles: string[];
  sources: { name: string; sha256: string; available: 'cached' | 'reachable' | 'unreachable' | 'not-probed'; from?: string }[];
}

export interface CatalogListing {
  recipes: CatalogEntry[];
  platforms: {
    name: string;
    deployable: boolean;
    lambdaRuntime: string | null;
    glibc: string;
    arches: string[];
    description: string;
    /**
     * Per interpreter (newest version) and profile: the platform packages it builds against, beyond the toolchain and the dependencies built from pinned sources,
     * and the recipe's rules for this platform's library policy that applied (e.g. why a library is still the platform's). Libraries bundled from those packages
     * are listed with package and version in each manifest.
     */
    systemPackages: { target: string; profile: string; packages: string[]; rules: string[] }[];
  }[];
}

/** The platform packages a build installs for the interpreter itself (its dependencies built from source left out). */
export function systemPackagesOf(spec: BuildSpec): string[] {
  const fromSource = new Set(spec.dependencies.map((d) => d.name));
  const names = spec.interpreter.packages.filter((n) => !fromSource.has(n));
  return platformPackages(spec.platform, names, spec.target);
}

/** The interpreter's rules that applied to a build because of its platform's library policy (rules limited to library policies). */
export function libraryPolicyRulesOf(spec: BuildSpec): string[] {
  const limited = new Set((spec.interpreter.recipe.rules ?? []).filter((r) => r.libraryPolicies).map((r) => r.name));
  return spec.interpreter.rules.map((r) => r.name).filter((n) => limited.has(n));
}

async function probe(urls: string[], timeoutMs: number): Promise<string | undefined> {
  for (const url of urls) {
    if (!/^https?:/.test(url)) continue;
    try {
      const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
      if (res.ok) return url;
    } catch {
      // unreachable: try the next one
    }
  }
  return undefined;
}

/** Every recipe and version, its default pairings and whether its sources can be had now. */
export async function catalogListing(opts: {
  recipeDirs?: string[];
  mirrors?: string[];
  debianBase?: string;
  cacheDir?: string;
  probe: boolean;
}): Promise<CatalogListing> {
  const catalog = await loadCatalog(opts.recipeDirs ?? []);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const platforms = catalog.platforms.list();
  const entries: CatalogEntry[] = [];
  const jobs: (() => Promise<void>)[] = [];
  for (const { recipe } of catalog.recipes.list()) {
    const bundled = recipe.extension?.bundled;
    if (bundled) {
      // Built from its interpreter's source (PHP's ext/pgsql): the version and source are the interpreter's.
      entries.push({
        name: recipe.name,
        kind: recipe.kind,
        version: `${recipe.extension!.for}'s`,
        pairs: { [recipe.extension!.for]: bundled.supports, ...Object.fromEntries((recipe.dependencies ?? []).map((d) => [d.name, d.rules.at(-1)!.default])) },
        platforms: platforms.map((p) => ({ name: p.name, deployable: p.deployable, lambdaRuntime: p.lambdaRuntime, supported: true })),
        profiles: [],
        sources: [],
      });
      continue;
    }
    for (const v of [...recipe.versions].sort((a, b) => compareVersions(a.version, b.version))) {
      const pairs: Record<string, string> = {};
      const support: CatalogEntry['platforms'] = [];
      for (const p of platforms) {
        const row = { name: p.name, deployable: p.deployable, lambdaRuntime: p.lambdaRuntime };
        if (recipe.kind !== 'interpreter') {
          // An extension pairs with the interpreter versions it supports.
          if (recipe.extension && v.supports) pairs[recipe.extension.for] = v.supports;
          support.push({ ...row, supported: true });
          continue;
        }
        try {
          const spec = resolveBuild(catalog.recipes, `${recipe.name}@${v.version}`, { platform: p, arch: 'x86_64' });
          for (const d of spec.dependencies) pairs[d.name] = d.version;
          support.push({ ...row, supported: true });
        } catch (err) {
          support.push({ ...row, supported: false, reason: (err as Error).message });
        }
      }
      const entry: CatalogEntry = {
        name: recipe.name,
        kind: recipe.kind,
        version: v.version,
        pairs,
        platforms: support,
        profiles: Object.keys(recipe.profiles ?? {}),
        sources: v.sources.map((s) => ({ name: s.name, sha256: s.sha256, available: 'not-probed' as const })),
      };
      v.sources.forEach((s, i) => {
        jobs.push(
          async () => {
            const target = entry.sources[i]!;
            try {
              await access(cachedSourcePath(cacheDir, s.sha256));
              target.available = 'cached';
              return;
            } catch {
              // not cached
            }
            if (!opts.probe) return;
            const from = await probe(candidateUrls(s, { mirrors: opts.mirrors ?? [], ...(opts.debianBase ? { debianBase: opts.debianBase } : {}) }), 10_000);
            target.available = from ? 'reachable' : 'unreachable';
            if (from) target.from = from;
          },
        );
      });
      entries.push(entry);
    }
  }
  const newestInterpreters = catalog.recipes
    .list()
    .filter(({ recipe }) => recipe.kind === 'interpreter')
    .map(({ recipe }) => ({ recipe, version: [...recipe.versions].map((v) => v.version).sort(compareVersions).at(-1)! }));
  // A few probes at a time: a burst of HEAD requests to one mirror gets throttled.
  const queue = [...jobs];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
  return {
    recipes: entries,
    platforms: platforms.map((p) => ({
      name: p.name,
      deployable: p.deployable,
      lambdaRuntime: p.lambdaRuntime,
      glibc: p.glibc,
      arches: p.arches,
      description: p.description,
      systemPackages: newestInterpreters.flatMap(({ recipe, version }) =>
        Object.keys(recipe.profiles ?? {}).flatMap((profile) => {
          const target = `${recipe.name}@${version}`;
          try {
            const spec = resolveBuild(catalog.recipes, target, { platform: p, arch: p.arches[0]!, profile });
            const packages = systemPackagesOf(spec);
            return packages.length ? [{ target, profile, packages, rules: libraryPolicyRulesOf(spec) }] : [];
          } catch {
            return []; // not buildable there: the recipe rows say why
          }
        }),
      ),
    })),
  };
}

export function formatCatalog(listing: CatalogListing): string {
  const lines = ['Recipes (version, default pairing, platforms, sources available now):'];
  for (const e of listing.recipes) {
    const pairs = Object.entries(e.pairs).map(([k, v]) => `${k} ${v}`).join(', ');
    const avail = !e.sources.length
      ? `built from ${Object.keys(e.pairs)[0]}'s source`
      : e.sources.map((s) => s.available).every((a) => a === 'cached' || a === 'reachable')
      ? 'sources available'
      : `sources ${e.sources.map((s) => s.available).join('/')}`;
    const unsupported = e.platforms.filter((p) => !p.supported).map((p) => p.name);
    const where = unsupported.length ? `all platforms but ${unsupported.join(', ')}` : 'all platforms';
    lines.push(`  ${`${e.name}@${e.version}`.padEnd(18)} ${e.kind.padEnd(11)} ${(pairs || '-').padEnd(30)} ${where.padEnd(36)} ${avail}${e.profiles.length ? `; profiles ${e.profiles.join(', ')}` : ''}`);
  }
  lines.push('', 'Platforms:');
  for (const p of listing.platforms) {
    lines.push(`  ${p.name.padEnd(16)} glibc ${p.glibc.padEnd(5)} ${(p.deployable ? `Lambda ${p.lambdaRuntime}` : 'local only').padEnd(24)} ${p.arches.join(', ')}`);
    if (!p.deployable) continue;
    for (const s of p.systemPackages) {
      lines.push(
        `    ${s.target} ${s.profile}: builds against platform packages ${s.packages.join(', ')} (libraries bundled from them: package and version in the manifest` +
          `${s.rules.length ? `; library-policy rules applied: ${s.rules.join(', ')}` : ''})`,
      );
    }
  }
  return lines.join('\n');
}
