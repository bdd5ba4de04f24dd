import path from 'node:path';
import { lifecycleWarnings } from '../platforms/registry.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import { buildComponents, builtLibraries, type BuildSpec } from '../recipes/resolve.js';
import type { RenderedBuild } from '../render/dockerfile.js';
import { hashInputs } from './hash.js';
import { DEFAULT_PROFILE } from '../recipes/schema.js';
import type { StepName } from './step-types.js';
import { STEPS } from './steps/index.js';
import type { Platform } from '../recipes/schema.js';
import { libraryDirs } from '../platforms/registry.js';
import { chooseBuildMethod, describeBuildMethod, type BuildMethod, type BuildMethodChoice } from './build-method.js';
import { runtimeLayerRefFromPlan, type LayerKind, type RuntimeLayerRef } from './manifest.js';
import { extensionLayerBaseName } from './extension-layer.js';

/** The steps of a layer build, in order (titles live with the step objects, `steps/index.ts`). */
export const STEP_NAMES = [
  'resolve',
  'fetch-sources',
  'build-image',
  'bundle-libraries',
  'assemble',
  'smoke-test',
  'package',
  'check-size',
  'write-manifest',
] as const satisfies readonly StepName[];

export interface PlannedSource {
  component: string;
  name: string;
  sha256: string;
  urls: string[];
}

export interface PlannedExtension {
  /** What `--ext` named (`redis`). */
  name: string;
  recipe: string;
  version: string;
  /** The interpreter versions this extension version supports. */
  supports: string;
  module: string;
  ini: { path: string; lines: string[] };
  /** Extension recipes of this build it uses (built and loaded first). */
  uses: string[];
}

export interface RuntimeFileDigest {
  path: string;
  mode: number;
  sha256: string;
}

export interface BuildPlan {
  target: string;
  /** A runtime layer, or an extension layer (`--for`) that goes over the runtime layer `for` names. */
  kind: LayerKind;
  /** The recipe of what the layer holds: the interpreter, or an extension layer's extension. */
  name: string;
  version: string;
  /** The interpreter's profile (an extension layer: that of the runtime layer it is for). */
  profile: string;
  /** An extension layer: the runtime layer it is built for. */
  for?: RuntimeLayerRef;
  platform: string;
  arch: string;
  /** How the arch is built: native, cross-compiled, or emulated under QEMU (see build-method.ts). */
  buildMethod: { method: BuildMethod; engineArch: string; reason: string };
  deployable: boolean;
  lambdaRuntime: string | null;
  glibc: string;
  dependencies: { name: string; version: string; rule: string; reason: string; overridden: boolean }[];
  /**
   * Extensions built into the image (`--ext`), in build and load order; an extension layer's image
   * also has the runtime layer's, before its own.
   */
  extensions: PlannedExtension[];
  rules: { component: string; name: string; reason: string }[];
  sources: PlannedSource[];
  images: { build: string; runtime: string; tag: string };
  /** The command that creates the foreign images when missing (cross and emulated builds made locally). */
  makeImages?: string;
  stages: string[];
  steps: { name: StepName; title: string }[];
  output: { zip: string; manifest: string; log: string };
  maxUnzippedBytes: number;
  warnings: string[];
  /** Hash of what goes into the Docker image (Dockerfile text and context files). */
  imageHash: string;
  /** Hash of everything that decides the artifact (image, runtime files, checks, tool version). */
  inputsHash: string;
}

export interface PlanOptions {
  /** Native, cross or emulated (default: native, an engine of the target's arch). */
  method?: BuildMethodChoice;
  outDir: string;
  maxUnzippedBytes: number;
  /** Candidate URLs for a source, in the order the fetcher tries them. */
  urlsFor: (source: BuildSpec['interpreter']['sources'][number]) => string[];
  runtimeFiles: RuntimeFileDigest[];
  /** The files smoke checks run (`smoke.checks[].script`): they decide whether a layer passes. */
  checkScripts: RuntimeFileDigest[];
  scriptDigests: Record<string, string>;
  /** An extension layer: the plan of the runtime layer it is for (its name and inputs hash). */
  runtimeLayer?: BuildPlan;
  /** Sonames always bundled on deployable platforms (present in the public images, absent on Lambda). */
  notOnLambda: readonly string[];
  today: string;
}

/**
 * The platform facts that shape an artifact beyond the Dockerfile (which already covers the
 * build image and the packages installed): where libraries are listed and checked, what is
 * always bundled, and what the manifest records. Descriptions, lifecycle dates and package
 * mappings of other recipes do not change a layer, so they are not hashed.
 */
export function platformArtifactFacts(
  platform: Platform,
  arch: BuildSpec['arch'],
  notOnLambda: readonly string[],
  images: { build: string; runtime: string } = { build: platform.buildImage, runtime: platform.runtimeImage },
) {
  return {
    name: platform.name,
    deployable: platform.deployable,
    lambdaRuntime: platform.lambdaRuntime,
    glibc: platform.glibc,
    buildImage: images.build,
    runtimeImage: images.runtime,
    libraryDirs: libraryDirs(platform, arch),
    alwaysBundle: platform.deployable ? [...notOnLambda] : [],
  };
}

/** The short names of a build's extensions in name order, as artifact and image names carry them. */
export function extensionNames(spec: Pick<BuildSpec, 'extensions'>): string[] {
  return spec.extensions.map((e) => e.short).sort();
}

/**
 * `php-8.2.32-al2023-portable-x86_64`, `php-8.2.32-standard-…` for a non-default profile, and
 * `php-8.2.32+apcu+redis-…` with extensions built in: never the name of a build without them.
 */
export function artifactBaseName(spec: BuildSpec): string {
  const profile = spec.interpreter.profile === DEFAULT_PROFILE ? '' : `-${spec.interpreter.profile}`;
  const extensions = extensionNames(spec).map((n) => `+${n}`).join('');
  return `${spec.interpreter.name}-${spec.interpreter.version}${profile}${extensions}-${spec.platform.name}-${spec.arch}`;
}

/** A native build: an engine of the target's own arch. */
export function nativeMethod(spec: Pick<BuildSpec, 'platform' | 'arch'>): BuildMethodChoice {
  return chooseBuildMethod({ platform: spec.platform, arch: spec.arch, engineArch: spec.arch, emulate: false, crossToolchain: undefined });
}

/**
 * What a plan's layer is and is named: the interpreter's runtime layer, or an extension layer named
 * after the runtime layer it is for (whose inputs hash is then one of its own inputs).
 */
function layerIdentity(spec: BuildSpec, runtime: BuildPlan | undefined) {
  const { interpreter } = spec;
  const layer = spec.extensionLayer;
  if (!layer) {
    const warnings = spec.target.includes('@')
      ? []
      : [`${spec.target} names no version: building the newest pinned one, ${interpreter.name}@${interpreter.version} (write ${interpreter.name}@${interpreter.version} to pin it)`];
    return { kind: 'runtime-layer' as const, name: interpreter.name, version: interpreter.version, base: artifactBaseName(spec), warnings };
  }
  if (!runtime) throw new Error(`${spec.target}: an extension layer is planned with the plan of the runtime layer it is for`);
  const { extension: ext } = layer;
  const warnings = [
    ...(spec.target.includes('@')
      ? []
      : [`${spec.target} names no version: building the newest pinned one for ${interpreter.name} ${interpreter.version}, ${ext.name}@${ext.version} (write ${ext.name}@${ext.version} to pin it)`]),
    // An extension layer fits one php build: say which, unless --for named it exactly.
    ...(layer.for === `${interpreter.name}@${interpreter.version}`
      ? []
      : [`--for ${layer.for} names no exact version: building for ${interpreter.name}@${interpreter.version} (write --for ${interpreter.name}@${interpreter.version} to pin it)`]),
  ];
  const ref = runtimeLayerRefFromPlan(runtime);
  return { kind: 'extension-layer' as const, name: ext.name, version: ext.version, base: extensionLayerBaseName(ext, runtime.output.zip), for: ref, warnings };
}

/** Decide everything up front; nothing here touches Docker, the network or the output dir. */
export function makePlan(spec: BuildSpec, rendered: RenderedBuild, opts: PlanOptions): BuildPlan {
  const { interpreter, platform } = spec;
  const layer = layerIdentity(spec, opts.runtimeLayer);
  const method = opts.method ?? nativeMethod(spec);
  // Native builds hash as they did before build methods existed: their images and layers stay current.
  const methodFacts = method.method === 'native' ? {} : { buildMethod: method.method, buildPlatform: method.buildPlatform ?? null };
  const images = { build: method.buildImage, runtime: method.runtimeImage };
  const base = layer.base;
  const components = buildComponents(spec);
  const sources = components.flatMap((c) =>
    c.sources.map((s) => ({ component: `${c.name}@${c.version}`, name: s.name, sha256: s.sha256, urls: opts.urlsFor(s) })),
  );
  const imageHash = hashInputs({
    tool: TOOL_NAME,
    dockerfile: rendered.dockerfile,
    files: rendered.files.map((f) =>
      f.kind === 'source' ? { path: f.path, sha256: f.sha256 } : { path: f.path, sha256: opts.scriptDigests[f.script] },
    ),
    arch: spec.arch,
    ...methodFacts,
  });
  const inputsHash = hashInputs({
    toolVersion: TOOL_VERSION,
    imageHash,
    runtimeFiles: opts.runtimeFiles,
    smoke: interpreter.recipe.smoke,
    checkScripts: opts.checkScripts,
    profile: interpreter.profileSpec,
    platform: platformArtifactFacts(platform, spec.arch, opts.notOnLambda, images),
    ...methodFacts,
    recipe: { name: interpreter.name, version: interpreter.version, license: interpreter.recipe.license },
    maxUnzippedBytes: opts.maxUnzippedBytes,
    // What each extension is and is checked by; the key is absent for a build without extensions.
    ...(spec.extensions.length
      ? { extensions: spec.extensions.map((e) => ({ name: e.name, version: e.version, module: e.module, ini: e.ini, smoke: e.recipe.smoke, license: e.recipe.license })) }
      : {}),
    // An extension layer: which extension it holds, and the runtime layer it names (rebuilt when that one changes).
    ...(layer.for ? { extensionLayer: { extension: layer.name, for: layer.for.inputsHash } } : {}),
  });
  const warnings = [...lifecycleWarnings(platform, opts.today), ...method.warnings, ...layer.warnings];
  if (!platform.deployable) {
    warnings.push(`platform ${platform.name} is for local verification only: the layer is not meant for Lambda (use al2023 or al2 to deploy)`);
  }
  const zip = path.join(opts.outDir, `${base}.zip`);
  return {
    target: spec.target,
    kind: layer.kind,
    name: layer.name,
    version: layer.version,
    profile: interpreter.profile,
    ...(layer.for ? { for: layer.for } : {}),
    platform: platform.name,
    arch: spec.arch,
    buildMethod: { method: method.method, engineArch: method.engineArch, reason: method.reason },
    deployable: platform.deployable,
    lambdaRuntime: platform.lambdaRuntime,
    glibc: platform.glibc,
    dependencies: builtLibraries(spec).map((d) => ({
      name: d.name,
      version: d.version,
      rule: d.pairing.name,
      reason: d.pairing.reason,
      overridden: d.pairing.overridden,
    })),
    extensions: spec.extensions.map((e) => ({ name: e.short, recipe: e.name, version: e.version, supports: e.supports, module: e.module, ini: e.ini, uses: e.uses })),
    rules: components.flatMap((c) => c.rules.map((r) => ({ component: c.name, ...r }))),
    sources,
    images: {
      ...images,
      // A cross-built and an emulated image of one target differ: each keeps its own tag.
      // Extensions join the profile with dots (a tag cannot hold `+`), so each set keeps its own image;
      // an extension layer's image is that of its runtime layer with the extension built in.
      tag: `lambda-runtime-builder/${interpreter.name}:${interpreter.version}-${[interpreter.profile, ...extensionNames(spec)].join('.')}-${platform.name}-${spec.arch}${method.method === 'native' ? '' : `-${method.method}`}`,
    },
    ...(method.makeImages ? { makeImages: method.makeImages } : {}),
    stages: rendered.stages,
    steps: STEP_NAMES.map((name) => ({ name, title: STEPS[name].title })),
    output: { zip, manifest: `${zip}.json`, log: path.join(opts.outDir, 'logs', `${base}.log`) },
    maxUnzippedBytes: opts.maxUnzippedBytes,
    warnings,
    imageHash,
    inputsHash,
  };
}

/** The plan as a person reads it (`--dry-run`). */
export function formatPlan(plan: BuildPlan): string {
  const lines = [
    plan.for
      ? `${plan.target} → ${plan.name} ${plan.version}, an extension layer for ${plan.for.name} ${plan.for.version} (profile ${plan.profile})`
      : `${plan.target} → ${plan.name} ${plan.version} (profile ${plan.profile})`,
    ...(plan.for ? [`  for        ${plan.for.zip} (inputs ${plan.for.inputsHash}): extracted first, this layer over it`] : []),
    `  platform   ${plan.platform} (${plan.arch}), glibc ${plan.glibc}, ` +
      (plan.deployable ? `Lambda runtime ${plan.lambdaRuntime}` : 'not deployable (local verification only)'),
    `  images     build ${plan.images.build}; runtime ${plan.images.runtime}; tag ${plan.images.tag}`,
    `  build      ${describeBuildMethod(plan.buildMethod)}`,
  ];
  for (const d of plan.dependencies) {
    lines.push(`  with       ${d.name} ${d.version}${d.overridden ? ' (--with)' : ''}: rule ${d.rule}: ${d.reason}`);
  }
  const interpreter = plan.for?.name ?? plan.name;
  for (const e of plan.extensions) {
    // An extension layer's image has the runtime layer's extensions too: say which one the layer holds.
    const where = plan.for ? (e.recipe === plan.name ? ' [this layer]' : ` [in ${plan.for.zip}]`) : '';
    lines.push(
      `  extension  ${e.name} ${e.version} (${e.recipe}, supports ${interpreter} ${e.supports})${e.uses.length ? `, uses ${e.uses.join(', ')}` : ''}: ${e.ini.path}: ${e.ini.lines.join('; ')}${where}`,
    );
  }
  for (const r of plan.rules) lines.push(`  rule       ${r.component}: ${r.name}: ${r.reason}`);
  lines.push('  sources');
  for (const s of plan.sources) {
    lines.push(`    ${s.name}  sha256 ${s.sha256}`);
    for (const u of s.urls) lines.push(`      ${u}`);
  }
  lines.push(`  stages     ${plan.stages.join(' → ')}`);
  lines.push('  steps');
  plan.steps.forEach((s, i) => lines.push(`    ${i + 1}. ${s.name}: ${s.title}`));
  lines.push(`  output     ${plan.output.zip}`, `             ${plan.output.manifest}`, `  log        ${plan.output.log}`);
  lines.push(`  budget     ${plan.maxUnzippedBytes} bytes unzipped`);
  lines.push(`  inputs     ${plan.inputsHash}`);
  for (const w of plan.warnings) lines.push(`  warning    ${w}`);
  return lines.join('\n');
}
