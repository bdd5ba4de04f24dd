import { DEFAULT_PROFILE, extensionShortName } from './schema.js';
import { UserError } from '../errors.js';
import type { Arch, BuildMethod, DependencyRule, PatchSet, Platform, Profile, Recipe, RecipeVersion, SourceSpec } from './schema.js';
import { extensionRequests, extensionsOf, resolveExtensions, type ExtensionRequest } from './extensions.js';
import type { RecipeRegistry } from './registry.js';
import { addEnv, applyRules, checkPlatformRules, policyApplies } from './rules.js';
import { compareVersions, pickVersion, satisfies } from './versions.js';

export { extensionsOf } from './extensions.js';

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
  /** Patches applied to the first source after unpacking it (the version's `patches`). */
  patches?: PatchSet;
  /** Arguments for the recipe's build script, rules applied. */
  args: string[];
  /** Package names in the recipe's vocabulary (mapped per platform when rendering). */
  packages: string[];
  rules: AppliedRule[];
  /** Scripts to run before the build script, from the rules that apply, in rule order. */
  preBuild: RuleScriptStep[];
  /** Scripts to run after the build script, from the rules that apply, in rule order. */
  postBuild: RuleScriptStep[];
  /** Environment of the build script, from the rules that apply (absent or empty: none). */
  env?: Record<string, string>;
}

export interface RuleScriptStep {
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
  /** Libraries it links that are built from pinned sources (libpq for pgsql), in the stages just before its own. */
  dependencies: ResolvedDependency[];
  /** A bundled extension (PHP's ext/pgsql): its directory in the interpreter's source, which it is built from (its `sources` are empty). */
  bundledDir?: string;
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
  /**
   * An extension layer (`php-ext-redis@6 --for php@8.2.32`): the build is that of the interpreter's
   * layer (`for`, with its profile and `--ext`) plus this extension, the last of `extensions` to
   * load; the layer holds only what the extension adds. Absent for an interpreter's layer.
   */
  extensionLayer?: { extension: ResolvedExtension; for: string };
}

export interface ResolveOptions {
  platform: Platform;
  arch: Arch;
  /** How the arch is built (default native): rules limited to build methods apply only to theirs. */
  buildMethod?: BuildMethod;
  profile?: string;
  /** `--with openssl@1.0.1k`: pin a dependency's version. */
  with?: readonly string[];
  /**
   * `--ext redis`, `--ext apcu@5.1`: extensions to build into the layer (recipes `<interpreter>-ext-<name>`);
   * for an extension layer, those built into the interpreter's layer it is for.
   */
  extensions?: readonly string[];
  /** `--for php@8.2.32`: the target is an extension, built as a layer of its own for that interpreter's layer. */
  for?: string;
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

type Dependency = NonNullable<Recipe['dependencies']>[number];

/**
 * Why a declared dependency is not built for this build (its library policies, profiles or interpreter
 * versions exclude it): `only` ends "builds X only ...", `instead` says what would build it. Undefined
 * when it is built.
 */
function dependencyNotBuilt(
  dep: Dependency,
  interp: string,
  version: string,
  profile: string,
  platform: Platform,
): { only: string; instead: string } | undefined {
  const why = (only: string, instead: string) => ({ only, instead });
  const fromSource = platform.buildFromSource?.[dep.name] !== undefined;
  if (!fromSource && !policyApplies(dep.libraryPolicies, platform)) {
    return why(
      `on platforms with library policy ${dep.libraryPolicies!.join(' or ')} or that build it from source (buildFromSource); platform ${platform.name} uses its package`,
      'build for such a platform',
    );
  }
  if (dep.profiles && !dep.profiles.includes(profile)) {
    return why(`for profile ${dep.profiles.join(' or ')}, not ${profile}`, `build with --profile ${dep.profiles[0]}`);
  }
  if (dep.when && !satisfies(version, dep.when)) return why(`for ${interp} ${dep.when}, not ${interp} ${version}`, `build another ${interp} version`);
  return undefined;
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
 * The library versions a recipe's dependencies pair with `ownerVersion` (the interpreter's, or a
 * bundled extension's), each by the first pairing rule that applies or by `--with`; every one
 * checked against its rule's allowed range and its platform rules.
 */
export function resolveDependencies(
  registry: RecipeRegistry,
  owner: Recipe,
  ownerVersion: string,
  deps: readonly Dependency[],
  opts: Pick<ResolveOptions, 'platform' | 'buildMethod'>,
  overrides: ReadonlyMap<string, TargetRequest> = new Map(),
): ResolvedDependency[] {
  const dependencies: ResolvedDependency[] = [];
  for (const dep of deps) {
    const rule = pairingRule(owner, ownerVersion, dep.name, dep.rules);
    const override = overrides.get(dep.name);
    const chosen = resolveVersion(registry, override ?? { name: dep.name, request: rule.default, text: `${dep.name}@${rule.default}` });
    if (!satisfies(chosen.version.version, rule.allowed)) {
      throw new UserError(
        `${owner.name} ${ownerVersion} cannot use ${dep.name} ${chosen.version.version}: rule '${rule.name}' allows ${dep.name} ${rule.allowed} because ${rule.reason}`,
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
      ...(chosen.version.patches ? { patches: chosen.version.patches } : {}),
      ...applied,
      pairing: { name: rule.name, reason: rule.reason, allowed: rule.allowed, overridden: override !== undefined },
    });
  }
  return dependencies;
}

/** Every component a build compiles, in build order: dependencies, the interpreter, each extension after its own libraries. */
export function buildComponents(spec: Pick<BuildSpec, 'dependencies' | 'interpreter' | 'extensions'>): ResolvedComponent[] {
  return [...spec.dependencies, spec.interpreter, ...spec.extensions.flatMap((e) => [...e.dependencies, e])];
}

/** The sources an extension is built from: its own, or for a bundled one (ext/pgsql) the interpreter's. */
export function extensionSources(ext: ResolvedExtension, spec: Pick<BuildSpec, 'interpreter'>): SourceSpec[] {
  return ext.bundledDir ? spec.interpreter.sources : ext.sources;
}

/** Every library a build compiles from pinned sources: the interpreter's, then its extensions'. */
export function builtLibraries(spec: Pick<BuildSpec, 'dependencies' | 'extensions'>): ResolvedDependency[] {
  return [...spec.dependencies, ...spec.extensions.flatMap((e) => e.dependencies)];
}

/**
 * Resolve a target: an interpreter's layer (`php@8.2.32`, with `--ext`), or, with `--for`, an
 * extension layer (`php-ext-redis@6 --for php@8.2.32`). Every misuse is one line saying what to do.
 */
export function resolveBuild(registry: RecipeRegistry, target: string, opts: ResolveOptions): BuildSpec {
  const req = parseTarget(target);
  const { recipe } = registry.get(req.name);
  if (recipe.kind === 'extension') return resolveExtensionLayer(registry, req, recipe, opts);
  if (opts.for !== undefined) {
    const examples = recipe.kind === 'interpreter' ? extensionsOf(registry, recipe.name).sort() : [];
    throw new UserError(
      `--for ${opts.for} is for extension targets, and ${target} is ${recipe.kind === 'interpreter' ? 'an interpreter' : 'a library'}: drop --for to build ${target}` +
        (examples.length ? `, or build an extension layer, e.g. ${recipe.name}-ext-${examples[0]} --for ${opts.for}` : ''),
    );
  }
  return resolveLayerBuild(registry, req, opts);
}

/**
 * `php-ext-redis@6 --for php@8.2.32`: the build of the php layer `--for` names (its profile, `--with`
 * and `--ext` as given) plus the extension, resolved against that exact PHP.
 */
function resolveExtensionLayer(registry: RecipeRegistry, req: TargetRequest, recipe: Recipe, opts: ResolveOptions): BuildSpec {
  const ext = recipe.extension!;
  const short = extensionShortName(ext.for, recipe.name);
  if (opts.for === undefined) {
    throw new UserError(
      `${recipe.name} is an extension of ${ext.for}: build it into a ${ext.for} layer with --ext ${short}, e.g. ${ext.for}@VERSION --ext ${short}, ` +
        `or as a layer of its own for a ${ext.for} layer with --for, e.g. ${req.text} --for ${ext.for}@VERSION`,
    );
  }
  const forReq = parseTarget(opts.for);
  if (forReq.name !== ext.for) {
    throw new UserError(
      `--for ${opts.for}: ${recipe.name} is an extension of ${ext.for}, so --for names the ${ext.for} layer it is for, e.g. --for ${ext.for}@${registry.versionsOf(ext.for).at(-1)}`,
    );
  }
  const layer: ExtensionRequest = { short, request: req.request, label: req.text, layer: true };
  const spec = resolveLayerBuild(registry, forReq, opts, layer);
  const extension = spec.extensions.find((e) => e.name === recipe.name)!;
  return { ...spec, target: req.text, extensionLayer: { extension, for: opts.for } };
}

/** An interpreter's build: its dependencies by rule, its extensions; with `layer`, plus an extension layer's extension. */
function resolveLayerBuild(registry: RecipeRegistry, req: TargetRequest, opts: ResolveOptions, layer?: ExtensionRequest): BuildSpec {
  const target = req.text;
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
  const notFor = (d: Dependency) => dependencyNotBuilt(d, recipe.name, version.version, profileName, opts.platform);
  const deps = (recipe.dependencies ?? []).filter((d) => notFor(d) === undefined);
  for (const w of opts.with ?? []) {
    const o = parseTarget(w);
    const declared = recipe.dependencies?.find((d) => d.name === o.name);
    const skipped = declared && notFor(declared);
    if (skipped) throw new UserError(`--with ${w}: ${recipe.name} builds ${o.name} only ${skipped.only} (drop --with ${o.name}, or ${skipped.instead})`);
    if (!declared) {
      // An extension's library (libpq of pgsql) is paired by the extension's own rule.
      const ext = registry.list().find((l) => l.recipe.extension?.for === recipe.name && l.recipe.dependencies?.some((d) => d.name === o.name));
      if (ext) {
        const rule = ext.recipe.dependencies!.find((d) => d.name === o.name)!.rules.at(-1)!;
        throw new UserError(
          `--with ${w}: ${o.name} is a library of the extension ${ext.recipe.name}, paired by its own rules (e.g. '${rule.name}': ${o.name} ${rule.default}); ` +
            `--with pins only ${recipe.name}'s own libraries (drop --with ${o.name}, or change the rule in ${ext.file})`,
        );
      }
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

  const dependencies = resolveDependencies(registry, recipe, version.version, deps, opts, overrides);

  const method = opts.buildMethod ?? 'native';
  const requests = extensionRequests(registry, recipe, opts.extensions ?? [], layer);
  // An extension's libraries pair with the extension's version (a bundled one's is the interpreter's).
  const extensionDependencies = (ext: Recipe, extVersion: string) =>
    resolveDependencies(
      registry,
      ext,
      extVersion,
      (ext.dependencies ?? []).filter((d) => dependencyNotBuilt(d, ext.name, extVersion, profileName, opts.platform) === undefined),
      opts,
    );
  const extensions = resolveExtensions(registry, recipe, version.version, requests, opts.platform, method, extensionDependencies);
  const applied = applyRules(recipe, version.version, profileName, opts.platform, method);
  // An extension links against this PHP as this PHP was linked: its stage gets the interpreter's env first.
  for (const e of extensions) e.env = addEnv({ ...applied.env }, e.env ?? {});
  // A platform package that a dependency of this build builds from source is not installed:
  // every component links the built one (e.g. zlib on the portable platform).
  const built = new Set([...dependencies, ...extensions.flatMap((e) => e.dependencies)].map((d) => d.name));
  const notBuilt = (p: string) => !built.has(p);
  for (const d of [...dependencies, ...extensions, ...extensions.flatMap((e) => e.dependencies)]) d.packages = d.packages.filter(notBuilt);
  return {
    target,
    interpreter: {
      name: recipe.name,
      version: version.version,
      recipe,
      recipeFile: file,
      sources: version.sources,
      ...(version.patches ? { patches: version.patches } : {}),
      args: [...applied.args, ...profileSpec.args],
      packages: [...applied.packages, ...profileSpec.packages].filter(notBuilt),
      rules: applied.rules,
      preBuild: applied.preBuild,
      postBuild: applied.postBuild,
      env: applied.env,
      profile: profileName,
      profileSpec,
    },
    dependencies,
    extensions,
    platform: opts.platform,
    arch: opts.arch,
  };
}
