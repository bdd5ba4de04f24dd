import { DEFAULT_PROFILE, extensionRecipeName, extensionShortName } from './schema.js';
import { UserError } from '../errors.js';
import type { Arch, BuildMethod, DependencyRule, Platform, Profile, Recipe, RecipeVersion, SourceSpec } from './schema.js';
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

/** An extension built into the layer (`--ext redis`), against the interpreter of the same build. */
export interface ResolvedExtension extends ResolvedComponent {
  /** What `--ext` named: `redis` for the recipe `php-ext-redis`. */
  short: string;
  /** The interpreter versions this extension version supports (its recipe's `versions[].supports`). */
  supports: string;
  /** Its name in the interpreter's module list (`php -m`), and its shared object's base name. */
  module: string;
  /** Its ini file, relative to the layer's root, and the file's lines. */
  ini: { path: string; lines: string[] };
  /** The extensions of this build it uses (recipe names): built and loaded before it. */
  uses: string[];
}

export interface BuildSpec {
  target: string;
  interpreter: ResolvedComponent & { profile: string; profileSpec: Profile };
  /** In build order. */
  dependencies: ResolvedDependency[];
  /** Extensions built into the layer, in build (and load) order: those another one uses come first. */
  extensions: ResolvedExtension[];
  platform: Platform;
  arch: Arch;
}

export interface ResolveOptions {
  platform: Platform;
  arch: Arch;
  /** How the arch is built (default native): rules limited to build methods apply only to theirs. */
  buildMethod?: BuildMethod;
  profile?: string;
  /** `--with openssl@1.0.1k`: pin a dependency's version. */
  with?: readonly string[];
  /** `--ext redis`, `--ext apcu@5.1`: extensions to build into the layer (recipes `<interpreter>-ext-<name>`). */
  extensions?: readonly string[];
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

function applyRules(recipe: Recipe, version: string, profile: string | undefined, platform: Platform, method: BuildMethod): {
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
    if (rule.buildMethods && !rule.buildMethods.includes(method)) continue;
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

/** The short names (`redis`) of the extension recipes of an interpreter. */
export function extensionsOf(registry: RecipeRegistry, interpreter: string): string[] {
  return registry
    .list()
    .filter((l) => l.recipe.kind === 'extension' && l.recipe.extension?.for === interpreter)
    .map((l) => extensionShortName(interpreter, l.recipe.name));
}

/** Every component a build compiles, in build order: dependencies, the interpreter, its extensions. */
export function buildComponents(spec: Pick<BuildSpec, 'dependencies' | 'interpreter' | 'extensions'>): ResolvedComponent[] {
  return [...spec.dependencies, spec.interpreter, ...spec.extensions];
}

/** Load order of extension ini files: after the interpreter's own (opcache: 10), each user after what it uses. */
const EXTENSION_INI_PRIORITY = 20;

/**
 * Resolve `--ext` requests against the exact interpreter version of the build: for each, the newest
 * pinned version that matches the request and supports that interpreter version, or a refusal that
 * names the versions there are and what each supports. The order does not depend on the order given.
 */
function resolveExtensions(
  registry: RecipeRegistry,
  interp: Recipe,
  interpVersion: string,
  requests: readonly string[],
  platform: Platform,
  method: BuildMethod,
): ResolvedExtension[] {
  if (requests.length === 0) return [];
  const known = extensionsOf(registry, interp.name);
  const wanted = new Map<string, TargetRequest>();
  for (const text of requests) {
    const m = /^([a-z][a-z0-9-]*)(?:@(.+))?$/.exec(text.trim());
    if (!m) throw new UserError(`--ext ${text}: write NAME or NAME@VERSION, e.g. --ext redis or --ext apcu@5.1`);
    const name = m[1]!;
    if (wanted.has(name)) throw new UserError(`--ext ${name} was given more than once: give it once`);
    if (!known.includes(name)) {
      throw new UserError(
        `unknown extension '${name}' for ${interp.name}: ${known.length ? `recipes exist for ${known.sort().join(', ')}` : 'no extension recipes exist'}` +
          ` (add recipes/${extensionRecipeName(interp.name, name)}.json)`,
      );
    }
    wanted.set(name, { name, request: m[2] ?? '*', text });
  }
  if (!interp.extensionIniDir) throw new UserError(`${interp.name} takes no extensions: its recipe has no extensionIniDir`);

  const resolved = new Map<string, ResolvedExtension>();
  for (const [short, req] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
    const { recipe, file } = registry.get(extensionRecipeName(interp.name, short));
    const all = [...recipe.versions].sort((a, b) => compareVersions(a.version, b.version));
    const range = req.request;
    const matching = all.filter((v) => v.version === range || satisfies(v.version, range));
    if (matching.length === 0) {
      if (pickVersion([], range) === null) throw new UserError(`--ext ${req.text}: '${req.request}' is neither a version nor a semver range (e.g. 5.1, 5.1.24)`);
      throw new UserError(`--ext ${req.text}: no ${short} version matches '${req.request}': pinned versions are ${all.map((v) => v.version).join(', ')}`);
    }
    const fits = matching.filter((v) => satisfies(interpVersion, v.supports!));
    const chosen = fits.at(-1);
    if (!chosen) {
      throw new UserError(
        `--ext ${req.text}: ${matching.map((v) => `${short} ${v.version} supports ${interp.name} ${v.supports}`).join('; ')}; not ${interp.name} ${interpVersion}` +
          ` (build another ${interp.name} version, or pin a ${short} version for it in ${file})`,
      );
    }
    checkPlatformRules(recipe, chosen.version, platform);
    const applied = applyRules(recipe, chosen.version, undefined, platform, method);
    const ext = recipe.extension!;
    const uses: string[] = [];
    for (const u of ext.uses ?? []) {
      const otherShort = extensionShortName(interp.name, u.extension);
      if (!wanted.has(otherShort)) continue;
      applied.args.push(...u.args);
      applied.rules.push({ name: u.name, reason: u.reason });
      uses.push(u.extension);
    }
    resolved.set(recipe.name, {
      name: recipe.name,
      short,
      version: chosen.version,
      supports: chosen.supports!,
      recipe,
      recipeFile: file,
      sources: chosen.sources,
      ...applied,
      module: ext.module,
      ini: { path: '', lines: [`${ext.zend ? 'zend_extension' : 'extension'}=${ext.module}`, ...(ext.ini ?? []).map(([k, v]) => `${k}=${v}`)] },
      uses,
    });
  }
  // Depth in the uses graph (acyclic: the registry refuses cycles): what is used is built and loaded first.
  const depth = (name: string): number => {
    const e = resolved.get(name)!;
    return e.uses.length ? 1 + Math.max(...e.uses.map(depth)) : 0;
  };
  const ordered = [...resolved.values()]
    .map((e) => ({ e, d: depth(e.name) }))
    .sort((a, b) => a.d - b.d || a.e.short.localeCompare(b.e.short));
  for (const { e, d } of ordered) e.ini.path = `${interp.extensionIniDir}/${EXTENSION_INI_PRIORITY + d}-${e.module}.ini`;
  return ordered.map(({ e }) => e);
}

export function resolveBuild(registry: RecipeRegistry, target: string, opts: ResolveOptions): BuildSpec {
  const req = parseTarget(target);
  const { recipe, version, file } = resolveVersion(registry, req);
  if (recipe.kind === 'extension') {
    const ext = recipe.extension!;
    const short = extensionShortName(ext.for, recipe.name);
    throw new UserError(`${recipe.name} is an extension of ${ext.for}: build it into a ${ext.for} layer with --ext ${short}, e.g. ${ext.for}@VERSION --ext ${short}`);
  }
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
    const applied = applyRules(chosen.recipe, chosen.version.version, undefined, opts.platform, opts.buildMethod ?? 'native');
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

  const method = opts.buildMethod ?? 'native';
  const extensions = resolveExtensions(registry, recipe, version.version, opts.extensions ?? [], opts.platform, method);
  const applied = applyRules(recipe, version.version, profileName, opts.platform, method);
  // A platform package that a dependency of this build builds from source is not installed:
  // every component links the built one (e.g. zlib on the portable platform).
  const built = new Set(dependencies.map((d) => d.name));
  const notBuilt = (p: string) => !built.has(p);
  for (const d of [...dependencies, ...extensions]) d.packages = d.packages.filter(notBuilt);
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
    extensions,
    platform: opts.platform,
    arch: opts.arch,
  };
}
