import { DEFAULT_PROFILE } from './schema.js';
import { UserError } from '../errors.js';
import type { Arch, DependencyRule, Platform, Profile, Recipe, RecipeVersion, SourceSpec } from './schema.js';
import type { RecipeRegistry } from './registry.js';
import { compareVersions, pickVersion, satisfies } from './versions.js';

/** `php@7.3` → { name: 'php', request: '7.3' }; a bare `php` means the newest. */
export interface TargetRequest {
  name: string;
  request: string;
  text: string;
}

export function parseTarget(text: string): TargetRequest {
  const m = /^([a-z][a-z0-9-]*)(?:@(.+))?$/.exec(text.trim());
  if (!m) {
    throw new UserError(`cannot read target '${text}': write NAME@VERSION, e.g. php@7.4 or php@7.4.33`);
  }
  return { name: m[1]!, request: m[2] ?? '*', text };
}

export interface AppliedRule {
  name: string;
  reason: string;
}

export interface ResolvedComponent {
  name: string;
  version: string;
  recipe: Recipe;
  recipeFile: string;
  sources: SourceSpec[];
  /** Arguments for the recipe's build script, rules applied. */
  args: string[];
  /** Package names in the recipe's vocabulary (mapped per platform when rendering). */
  packages: string[];
  rules: AppliedRule[];
  /** Scripts to run after the build script, from the rules that apply, in rule order. */
  postBuild: PostBuildStep[];
}

export interface PostBuildStep {
  /** The rule that asks for it. */
  rule: string;
  script: string;
  args: string[];
}

export interface ResolvedDependency extends ResolvedComponent {
  /** The rule that chose or allowed this version. */
  pairing: AppliedRule & { allowed: string; overridden: boolean };
}

export interface BuildSpec {
  target: string;
  interpreter: ResolvedComponent & { profile: string; profileSpec: Profile };
  /** In build order. */
  dependencies: ResolvedDependency[];
  platform: Platform;
  arch: Arch;
}

export interface ResolveOptions {
  platform: Platform;
  arch: Arch;
  profile?: string;
  /** `--with openssl@1.0.1k`: pin a dependency's version. */
  with?: readonly string[];
}

function resolveVersion(registry: RecipeRegistry, req: TargetRequest): { version: RecipeVersion; recipe: Recipe; file: string } {
  const { recipe, file } = registry.get(req.name);
  const all = recipe.versions.map((v) => v.version);
  const picked = pickVersion(all, req.request);
  if (picked === null) {
    throw new UserError(`'${req.text}': '${req.request}' is neither a version nor a semver range (e.g. 7.4, 7.4.33, ^8.1)`);
  }
  if (picked === undefined) {
    throw new UserError(
      `no ${req.name} version matches '${req.request}': pinned versions are ${all.sort(compareVersions).join(', ')}`,
    );
  }
  return { version: recipe.versions.find((v) => v.version === picked)!, recipe, file };
}

/** A rule or dependency limited to some library policies applies only on a platform with one of them. */
function policyApplies(policies: readonly string[] | undefined, platform: Platform): boolean {
  return !policies || (platform.libraryPolicy !== undefined && policies.includes(platform.libraryPolicy));
}

function applyRules(recipe: Recipe, version: string, profile: string | undefined, platform: Platform): {
  args: string[];
  packages: string[];
  rules: AppliedRule[];
  postBuild: PostBuildStep[];
} {
  const args = [...recipe.build.args];
  const packages = [...recipe.build.packages];
  const rules: AppliedRule[] = [];
  const postBuild: PostBuildStep[] = [];
  for (const rule of recipe.rules ?? []) {
    if (!satisfies(version, rule.when)) continue;
    if (rule.profiles && (!profile || !rule.profiles.includes(profile))) continue;
    if (rule.excludePlatforms) continue; // checked by checkPlatformRules
    if (!policyApplies(rule.libraryPolicies, platform)) continue;
    args.push(...(rule.args ?? []));
    packages.push(...(rule.packages ?? []));
    rules.push({ name: rule.name, reason: rule.reason });
    for (const step of rule.postBuild ?? []) postBuild.push({ rule: rule.name, script: step.script, args: [...step.args] });
  }
  return { args, packages, rules, postBuild };
}

function pairingRule(interp: Recipe, interpVersion: string, depName: string, rules: readonly DependencyRule[]): DependencyRule {
  const rule = rules.find((r) => satisfies(interpVersion, r.when));
  if (!rule) {
    throw new UserError(
      `${interp.name} ${interpVersion}: no rule in its recipe says which ${depName} to use (dependencies.${depName}.rules)`,
    );
  }
  return rule;
}

/**
 * Refuse a recipe version on a platform a named rule excludes. A rule limited to profiles excludes
 * only builds of those profiles (a dependency, built without a profile, is never refused by one).
 */
function checkPlatformRules(recipe: Recipe, version: string, platform: Platform, profile?: string): void {
  for (const rule of recipe.rules ?? []) {
    if (rule.profiles && (!profile || !rule.profiles.includes(profile))) continue;
    if (rule.excludePlatforms?.includes(platform.name) && satisfies(version, rule.when)) {
      throw new UserError(
        `${recipe.name} ${version} cannot be built for platform ${platform.name}: rule '${rule.name}': ${rule.reason}`,
      );
    }
  }
}

export function resolveBuild(registry: RecipeRegistry, target: string, opts: ResolveOptions): BuildSpec {
  const req = parseTarget(target);
  const { recipe, version, file } = resolveVersion(registry, req);
  if (recipe.kind !== 'interpreter') {
    const users = registry
      .list()
      .filter((l) => l.recipe.dependencies?.some((d) => d.name === recipe.name))
      .map((l) => l.recipe.name);
    throw new UserError(
      `${recipe.name} is a library recipe, built as part of an interpreter${users.length ? ` (${users.join(', ')})` : ''}; pin its version with --with ${recipe.name}@VERSION`,
    );
  }
  const profiles = recipe.profiles ?? {};
  const profileName = opts.profile ?? DEFAULT_PROFILE;
  const profileSpec = profiles[profileName];
  if (!profileSpec) {
    throw new UserError(`${recipe.name} has no profile '${profileName}': use one of ${Object.keys(profiles).join(', ')} (--profile)`);
  }
  checkPlatformRules(recipe, version.version, opts.platform, profileName);

  const overrides = new Map<string, TargetRequest>();
  const deps = (recipe.dependencies ?? []).filter((d) => policyApplies(d.libraryPolicies, opts.platform));
  for (const w of opts.with ?? []) {
    const o = parseTarget(w);
    const declared = recipe.dependencies?.find((d) => d.name === o.name);
    if (declared && !deps.includes(declared)) {
      throw new UserError(
        `--with ${w}: ${recipe.name} builds ${o.name} only on platforms with library policy ${declared.libraryPolicies!.join(' or ')}; ` +
          `platform ${opts.platform.name} uses its own (drop --with ${o.name}, or build for such a platform)`,
      );
    }
    if (!declared) {
      throw new UserError(
        `--with ${w}: ${recipe.name} does not depend on '${o.name}'` +
          (recipe.dependencies?.length ? ` (its dependencies: ${recipe.dependencies.map((d) => d.name).join(', ')})` : ' (it has no dependencies)'),
      );
    }
    if (!w.includes('@')) {
      const rule = pairingRule(recipe, version.version, o.name, declared.rules);
      throw new UserError(
        `--with ${w} names no version: write --with ${o.name}@VERSION (rule '${rule.name}' picks ${o.name} ${rule.default} for ${recipe.name} ${version.version}; allowed: ${rule.allowed})`,
      );
    }
    overrides.set(o.name, o);
  }

  const dependencies: ResolvedDependency[] = [];
  for (const dep of deps) {
    const rule = pairingRule(recipe, version.version, dep.name, dep.rules);
    const override = overrides.get(dep.name);
    const chosen = resolveVersion(registry, override ?? { name: dep.name, request: rule.default, text: `${dep.name}@${rule.default}` });
    if (!satisfies(chosen.version.version, rule.allowed)) {
      throw new UserError(
        `${recipe.name} ${version.version} cannot use ${dep.name} ${chosen.version.version}: rule '${rule.name}' allows ${dep.name} ${rule.allowed} because ${rule.reason}`,
      );
    }
    checkPlatformRules(chosen.recipe, chosen.version.version, opts.platform);
    const applied = applyRules(chosen.recipe, chosen.version.version, undefined, opts.platform);
    dependencies.push({
      name: dep.name,
      version: chosen.version.version,
      recipe: chosen.recipe,
      recipeFile: chosen.file,
      sources: chosen.version.sources,
      ...applied,
      pairing: { name: rule.name, reason: rule.reason, allowed: rule.allowed, overridden: override !== undefined },
    });
  }

  const applied = applyRules(recipe, version.version, profileName, opts.platform);
  // A platform package that a dependency of this build builds from source is not installed:
  // every component links the built one (e.g. zlib on the portable platform).
  const built = new Set(dependencies.map((d) => d.name));
  const notBuilt = (p: string) => !built.has(p);
  for (const d of dependencies) d.packages = d.packages.filter(notBuilt);
  return {
    target,
    interpreter: {
      name: recipe.name,
      version: version.version,
      recipe,
      recipeFile: file,
      sources: version.sources,
      args: [...applied.args, ...profileSpec.args],
      packages: [...applied.packages, ...profileSpec.packages].filter(notBuilt),
      rules: applied.rules,
      postBuild: applied.postBuild,
      profile: profileName,
      profileSpec,
    },
    dependencies,
    platform: opts.platform,
    arch: opts.arch,
  };
}
