import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { PACKAGE_ROOT, paths, TOOL_VERSION } from '../paths.js';
import { checkArch, PlatformRegistry } from '../platforms/registry.js';
import { RecipeRegistry } from '../recipes/registry.js';
import { buildComponents, resolveBuild, type BuildSpec } from '../recipes/resolve.js';
import { renderBuild, type InstallTemplates, type RenderedBuild } from '../render/dockerfile.js';
import { candidateUrls } from '../sources/index.js';
import { sha256Hex } from './hash.js';
import { digestEntries, readCheckScripts, readDirEntries } from './local-files.js';
import { makePlan, type BuildPlan } from './plan.js';
import { chooseBuildMethod, type BuildMethodChoice } from './build-method.js';

export interface PrepareOptions {
  platform: string;
  arch: string;
  /** The architecture of the engine that will build (Docker's or Node's name for it); default: the target's own (native). */
  engineArch?: string;
  /** `--emulate`: build a foreign arch under QEMU even where it could be cross-compiled. */
  emulate?: boolean;
  profile?: string;
  with?: readonly string[];
  /** `--ext redis`: extensions built into the layer (an extension layer: into the runtime layer it is for). */
  extensions?: readonly string[];
  /** `--for php@8.2.32`: the target is an extension, built as a layer for that runtime layer. */
  for?: string;
  outDir: string;
  mirrors: readonly string[];
  debianBase?: string;
  maxUnzippedBytes: number;
  /** Extra recipe directories, searched after (and overriding) the built-in ones. */
  recipeDirs?: readonly string[];
  today?: string;
}

/** Everything decided before any step runs. */
export interface PreparedBuild {
  spec: BuildSpec;
  rendered: RenderedBuild;
  /** Native, cross or emulated, with the images that go with it. */
  method: BuildMethodChoice;
  plan: BuildPlan;
  runtimeEntries: LayerEntry[];
  /** The files the interpreter's smoke checks run, at their paths relative to the recipe. */
  checkScripts: LayerEntry[];
  /** Where each build script lives (built-in scripts, or next to a recipe). */
  scriptPaths: Record<string, string>;
  /** Sonames present in the public images but missing on real Lambda (always bundled there). */
  notOnLambda: readonly string[];
}

export interface Catalog {
  recipes: RecipeRegistry;
  platforms: PlatformRegistry;
  templates: InstallTemplates;
}

export async function loadCatalog(recipeDirs: readonly string[] = []): Promise<Catalog> {
  const [recipes, platforms, apt, yum, dnf] = await Promise.all([
    RecipeRegistry.load([paths.recipes, ...recipeDirs]),
    PlatformRegistry.load(paths.platforms),
    readFile(path.join(paths.dockerfiles, 'install-apt.Dockerfile'), 'utf8'),
    readFile(path.join(paths.dockerfiles, 'install-yum.Dockerfile'), 'utf8'),
    readFile(path.join(paths.dockerfiles, 'install-dnf.Dockerfile'), 'utf8'),
  ]);
  // A platform rule must name real platforms, or it would silently never apply.
  for (const { recipe, file } of recipes.list()) {
    for (const rule of recipe.rules ?? []) {
      for (const field of ['excludePlatforms', 'platforms'] as const) {
        for (const name of rule[field] ?? []) {
          if (!platforms.names().includes(name)) {
            throw new UserError(`${file}: rule '${rule.name}': ${field} names unknown platform '${name}' (known: ${platforms.names().join(', ')})`);
          }
        }
      }
    }
  }
  return { recipes, platforms, templates: { apt, yum, dnf } };
}

async function firstReadable(candidates: string[]): Promise<{ file: string; data: Buffer }> {
  for (const file of candidates) {
    try {
      return { file, data: await readFile(file) };
    } catch {
      // try the next place
    }
  }
  throw new Error(`build script not found; looked in ${candidates.join(', ')}`);
}

/** Resolve, render and plan one target. Reads local files only; no Docker, no network. */
export async function prepareTarget(catalog: Catalog, target: string, opts: PrepareOptions): Promise<PreparedBuild> {
  const platform = catalog.platforms.get(opts.platform);
  const arch = checkArch(platform, opts.arch);
  const method = chooseBuildMethod({
    platform,
    arch,
    engineArch: opts.engineArch ?? arch,
    emulate: Boolean(opts.emulate),
    crossToolchain: catalog.platforms.crossToolchain(platform),
  });
  const spec = resolveBuild(catalog.recipes, target, {
    platform,
    arch,
    buildMethod: method.method,
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.with ? { with: opts.with } : {}),
    ...(opts.extensions ? { extensions: opts.extensions } : {}),
    ...(opts.for !== undefined ? { for: opts.for } : {}),
  });
  // An extension layer is named after, and records, the runtime layer it is for: plan that one too.
  const { for: _for, ...runtimeOpts } = opts;
  const runtime = spec.extensionLayer ? await prepareTarget(catalog, spec.extensionLayer.for, runtimeOpts) : undefined;
  const rendered = renderBuild(spec, catalog.templates, method);

  const scriptPaths: Record<string, string> = {};
  const scriptDigests: Record<string, string> = {};
  const recipeDirOf = new Map<string, string>(
    buildComponents(spec).flatMap((c) =>
      [c.recipe.build.script, ...[...c.preBuild, ...c.postBuild].map((s) => s.script)].map((script) => [script, path.dirname(c.recipeFile)] as const),
    ),
  );
  for (const f of rendered.files) {
    if (f.kind !== 'script' || scriptPaths[f.script]) continue;
    const nearRecipe = recipeDirOf.get(f.script);
    const found = await firstReadable([
      ...(nearRecipe && nearRecipe !== paths.recipes ? [path.join(nearRecipe, f.script)] : []),
      path.join(paths.scripts, f.script),
    ]);
    scriptPaths[f.script] = found.file;
    scriptDigests[f.script] = sha256Hex(found.data);
  }

  const runtimeDir = spec.interpreter.recipe.runtime;
  const runtimeEntries = runtimeDir ? await readDirEntries(path.resolve(PACKAGE_ROOT, runtimeDir)) : [];
  if (runtimeEntries.some((e) => e.path === 'runtime' && e.type === 'directory')) {
    // The runtime is versioned with the tool that built the layer.
    runtimeEntries.push({ type: 'file', path: 'runtime/VERSION', mode: 0o644, data: Buffer.from(`${TOOL_VERSION}\n`) });
  }
  // The interpreter's check files and those of its extensions, all relative to their recipes' directories.
  const checkScripts: LayerEntry[] = [];
  for (const c of [spec.interpreter, ...spec.extensions]) {
    for (const e of await readCheckScripts(c.recipe, c.recipeFile)) {
      const same = checkScripts.find((x) => x.path === e.path);
      if (!same) checkScripts.push(e);
      else if (same.type === 'file' && e.type === 'file' && !same.data.equals(e.data)) {
        throw new UserError(`${c.recipeFile}: check script ${e.path} differs from another recipe's file of the same path: rename one`);
      }
    }
  }
  const plan = makePlan(spec, rendered, {
    method,
    outDir: opts.outDir,
    maxUnzippedBytes: opts.maxUnzippedBytes,
    urlsFor: (s) => candidateUrls(s, { mirrors: opts.mirrors, ...(opts.debianBase ? { debianBase: opts.debianBase } : {}) }),
    runtimeFiles: digestEntries(runtimeEntries),
    checkScripts: digestEntries(checkScripts),
    scriptDigests,
    ...(runtime ? { runtimeLayer: runtime.plan } : {}),
    notOnLambda: catalog.platforms.notOnLambda,
    today: opts.today ?? new Date().toISOString().slice(0, 10),
  });
  return { spec, rendered, method, plan, runtimeEntries, checkScripts, scriptPaths, notOnLambda: catalog.platforms.notOnLambda };
}
