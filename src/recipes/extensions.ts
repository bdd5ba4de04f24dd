/**
 * Extensions of an interpreter, resolved against the exact interpreter version of a build (pure):
 * those built into its layer (`--ext redis`) and the one an extension layer holds
 * (`php-ext-redis@6 --for php@8.2.32`).
 */
import { UserError } from '../errors.js';
import type { RecipeRegistry } from './registry.js';
import type { ResolvedDependency, ResolvedExtension } from './resolve.js';
import { applyRules, checkPlatformRules } from './rules.js';
import { extensionRecipeName, extensionShortName, type BuildMethod, type Platform, type Recipe } from './schema.js';
import { compareVersions, pickVersion, satisfies } from './versions.js';

/** The short names (`redis`) of the extension recipes of an interpreter. */
export function extensionsOf(registry: RecipeRegistry, interpreter: string): string[] {
  return registry
    .list()
    .filter((l) => l.recipe.kind === 'extension' && l.recipe.extension?.for === interpreter)
    .map((l) => extensionShortName(interpreter, l.recipe.name));
}

/** One extension a build asks for. */
export interface ExtensionRequest {
  /** `redis` for the recipe `php-ext-redis`. */
  short: string;
  /** The version or semver range asked for (`*` when none). */
  request: string;
  /** How the user asked, as messages name it: `--ext redis@6`, or the target `php-ext-redis@6`. */
  label: string;
  /** The extension an extension layer holds (not built into the interpreter's layer). */
  layer?: boolean;
}

/**
 * Read `--ext` values (`redis`, `apcu@5.1`) of an interpreter: each must name an extension recipe of
 * it, once. `layer` is the extension an extension layer holds: `--ext` names what the interpreter's
 * layer has, so it cannot name that one too.
 */
export function extensionRequests(
  registry: RecipeRegistry,
  interp: Recipe,
  texts: readonly string[],
  layer?: ExtensionRequest,
): ExtensionRequest[] {
  const known = extensionsOf(registry, interp.name);
  const wanted: ExtensionRequest[] = [];
  for (const text of texts) {
    const m = /^([a-z][a-z0-9-]*)(?:@(.+))?$/.exec(text.trim());
    if (!m) throw new UserError(`--ext ${text}: write NAME or NAME@VERSION, e.g. --ext redis or --ext apcu@5.1`);
    const short = m[1]!;
    if (wanted.some((w) => w.short === short)) throw new UserError(`--ext ${short} was given more than once: give it once`);
    if (!known.includes(short)) {
      throw new UserError(
        `unknown extension '${short}' for ${interp.name}: ${known.length ? `recipes exist for ${known.sort().join(', ')}` : 'no extension recipes exist'}` +
          ` (add recipes/${extensionRecipeName(interp.name, short)}.json)`,
      );
    }
    if (layer?.short === short) {
      throw new UserError(
        `--ext ${text} with ${layer.label}: --ext names the extensions built into the ${interp.name} layer the extension layer is for, ` +
          `and ${short} is the extension layer itself: drop --ext ${text}`,
      );
    }
    wanted.push({ short, request: m[2] ?? '*', label: `--ext ${text}` });
  }
  return layer ? [...wanted, layer] : wanted;
}

/** Load order of extension ini files: after the interpreter's own (opcache: 10), each user after what it uses. */
const EXTENSION_INI_PRIORITY = 20;

/**
 * The newest pinned version of an extension that matches the request and supports the interpreter
 * version. A bundled extension has one: the interpreter's own (its `sources` are the interpreter's).
 */
function chooseVersion(recipe: Recipe, file: string, req: ExtensionRequest, interp: Recipe, interpVersion: string): Recipe['versions'][number] {
  const bundled = recipe.extension?.bundled;
  if (bundled) {
    if (req.request !== '*' && req.request !== interpVersion && !satisfies(interpVersion, req.request)) {
      throw new UserError(`${req.label}: ${req.short} is bundled with ${interp.name}, so its version is the ${interp.name} version (${interpVersion}): drop @${req.request}`);
    }
    if (!satisfies(interpVersion, bundled.supports)) {
      throw new UserError(`${req.label}: ${req.short} (bundled with ${interp.name}) builds with ${interp.name} ${bundled.supports}, not ${interp.name} ${interpVersion} (build another ${interp.name} version, or change extension.bundled.supports in ${file})`);
    }
    return { version: interpVersion, supports: bundled.supports, sources: [] };
  }
  const all = [...recipe.versions].sort((a, b) => compareVersions(a.version, b.version));
  const range = req.request;
  const matching = all.filter((v) => v.version === range || satisfies(v.version, range));
  if (matching.length === 0) {
    if (pickVersion([], range) === null) throw new UserError(`${req.label}: '${req.request}' is neither a version nor a semver range (e.g. 5.1, 5.1.24)`);
    throw new UserError(`${req.label}: no ${req.short} version matches '${req.request}': pinned versions are ${all.map((v) => v.version).join(', ')}`);
  }
  const chosen = matching.filter((v) => satisfies(interpVersion, v.supports!)).at(-1);
  if (!chosen) {
    const instead = req.layer ? `give --for another ${interp.name} version` : `build another ${interp.name} version`;
    throw new UserError(
      `${req.label}: ${matching.map((v) => `${req.short} ${v.version} supports ${interp.name} ${v.supports}`).join('; ')}; not ${interp.name} ${interpVersion}` +
        ` (${instead}, or pin a ${req.short} version for it in ${file})`,
    );
  }
  return chosen;
}

/**
 * Resolve extension requests against the exact interpreter version of the build: for each, the newest
 * pinned version that matches the request and supports that interpreter version, or a refusal that
 * names the versions there are and what each supports. The order does not depend on the order given.
 */
export function resolveExtensions(
  registry: RecipeRegistry,
  interp: Recipe,
  interpVersion: string,
  requests: readonly ExtensionRequest[],
  platform: Platform,
  method: BuildMethod,
  /** The libraries an extension version links, built from pinned sources (resolve.ts pairs them by rule). */
  dependenciesOf: (recipe: Recipe, version: string) => ResolvedDependency[] = () => [],
): ResolvedExtension[] {
  if (requests.length === 0) return [];
  if (!interp.extensionIniDir) throw new UserError(`${interp.name} takes no extensions: its recipe has no extensionIniDir`);
  const wanted = new Set(requests.map((r) => r.short));

  const resolved = new Map<string, ResolvedExtension>();
  for (const req of [...requests].sort((a, b) => a.short.localeCompare(b.short))) {
    const { recipe, file } = registry.get(extensionRecipeName(interp.name, req.short));
    const chosen = chooseVersion(recipe, file, req, interp, interpVersion);
    checkPlatformRules(recipe, chosen.version, platform);
    const applied = applyRules(recipe, chosen.version, undefined, platform, method);
    const ext = recipe.extension!;
    const uses: string[] = [];
    for (const u of ext.uses ?? []) {
      if (!wanted.has(extensionShortName(interp.name, u.extension))) continue;
      applied.args.push(...u.args);
      applied.rules.push({ name: u.name, reason: u.reason });
      uses.push(u.extension);
    }
    resolved.set(recipe.name, {
      name: recipe.name,
      short: req.short,
      version: chosen.version,
      supports: chosen.supports!,
      recipe,
      recipeFile: file,
      sources: chosen.sources,
      ...(chosen.patches ? { patches: chosen.patches } : {}),
      ...applied,
      module: ext.module,
      ini: { path: '', lines: [`${ext.zend ? 'zend_extension' : 'extension'}=${ext.module}`, ...(ext.ini ?? []).map(([k, v]) => `${k}=${v}`)] },
      uses,
      dependencies: dependenciesOf(recipe, chosen.version),
      ...(ext.bundled ? { bundledDir: ext.bundled.dir } : {}),
    });
  }
  checkLayerUnused(requests, resolved, interp);
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

/**
 * An extension layer must not change the layer it is for: an extension built into that layer that
 * would use the layer's extension (redis with igbinary) would be built differently beside it.
 */
function checkLayerUnused(requests: readonly ExtensionRequest[], resolved: ReadonlyMap<string, ResolvedExtension>, interp: Recipe): void {
  const layer = requests.find((r) => r.layer);
  if (!layer) return;
  const layerRecipe = extensionRecipeName(interp.name, layer.short);
  for (const e of resolved.values()) {
    if (e.name === layerRecipe || !e.uses.includes(layerRecipe)) continue;
    const rule = e.recipe.extension!.uses!.find((u) => u.extension === layerRecipe)!;
    throw new UserError(
      `${layer.label}: ${e.short}, built into the ${interp.name} layer (--ext ${e.short}), uses ${layer.short} when both are built together (rule '${rule.name}'), ` +
        `so it would not be the same ${e.short}: build ${layer.short} into the ${interp.name} layer with --ext ${layer.short} instead`,
    );
  }
}
