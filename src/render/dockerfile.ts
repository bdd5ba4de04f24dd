import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import { platformPackages } from '../platforms/registry.js';
import { builtLibraries, extensionSources, type BuildSpec, type ResolvedComponent, type RuleScriptStep } from '../recipes/resolve.js';
import type { PatchSet, Platform } from '../recipes/schema.js';
import type { BuildMethodChoice, CrossSettings } from '../pipeline/build-method.js';
import { shellJoin, shellQuote } from './shell.js';

/** The package-install fragments under dockerfiles/, by package manager. */
export type InstallTemplates = Record<Platform['packageManager'], string>;

/** A file the build context must carry, and where its bytes come from. */
export type ContextFile =
  | { path: string; kind: 'script'; script: string }
  | { path: string; kind: 'source'; sourceName: string; sha256: string };

export interface RenderedBuild {
  dockerfile: string;
  /** The toolchain stage alone, for building it once before several targets share it. */
  toolchainDockerfile: string;
  /** Context files besides the Dockerfile, in a stable order. */
  files: ContextFile[];
  /** Stage names in build order: toolchain, dependencies, interpreter. */
  stages: string[];
}

export { PREFIX } from '../lambda.js';
import { PREFIX } from '../lambda.js';
const SRC_DIR = '/usr/src/lrb/sources';
const SCRIPT_DIR = '/usr/src/lrb/scripts';

function installBlock(templates: InstallTemplates, platform: Platform, packages: string[]): string[] {
  if (packages.length === 0) return [];
  const template = templates[platform.packageManager];
  return [template.trimEnd().replaceAll('{{packages}}', packages.join(' '))];
}

/** Puts a script from dockerfiles/scripts into the context (once) and returns its context path. */
function contextScript(files: ContextFile[], script: string): string {
  const path = `scripts/${script}`;
  if (!files.some((f) => f.kind === 'script' && f.script === script)) files.push({ path, kind: 'script', script });
  return path;
}

/**
 * The platform packages a stage installs. A cross build installs the target's libraries (`:arm64`)
 * and the build machine's tools (the cross toolchain's `hostPackages`: compilers, perl, ICU's tools).
 */
export function stagePackages(platform: Platform, names: readonly string[], who: string, cross?: CrossSettings): string[] {
  if (!cross) return platformPackages(platform, names, who);
  const host = names.filter((n) => cross.hostPackages.includes(n));
  const target = names.filter((n) => !cross.hostPackages.includes(n));
  return [
    ...new Set([
      ...platformPackages(platform, host, who),
      ...platformPackages(platform, target, who).map((p) => `${p}${cross.packageSuffix}`),
    ]),
  ];
}

/**
 * The package name (platforms.json vocabulary) of patch(1), which applies a component's patches
 * (apply-patches.sh). The toolchain stage installs it: one package-index download per image
 * rather than one per patched stage (up to four in a standard build).
 */
export const PATCH_PACKAGE = 'patch';

/** The script that applies a component's patches in a step before its build (kept out of common.sh, which every stage copies). */
export const PATCH_SCRIPT = 'apply-patches.sh';

/**
 * A component's patch step: apply-patches.sh patches `source` and writes the patched tree as a tar,
 * which the build step then takes as its source. Returns the RUN line and the path of that tar.
 */
function patchStep(c: ResolvedComponent, patches: PatchSet, source: string): { run: string; patched: string } {
  const patched = `${SRC_DIR}/${c.name}-${c.version}-patched.tar`;
  const vars = [
    `LRB_SOURCE=${source}`,
    `LRB_PATCHES_FROM=${shellQuote(`${SRC_DIR}/${patches.from}`)}`,
    `LRB_PATCHES_DIR=${patches.dir}`,
    `LRB_PATCHES=${shellQuote(patches.apply.join(' '))}`,
    `LRB_PATCHED=${patched}`,
  ];
  return { run: `RUN ${vars.join(' ')} \\\n    sh ${SCRIPT_DIR}/${PATCH_SCRIPT}`, patched };
}

function componentStage(
  c: ResolvedComponent,
  from: string,
  stage: string,
  platform: Platform,
  templates: InstallTemplates,
  files: ContextFile[],
  cross: CrossSettings | undefined,
  /** More `NAME=value` for the build script (a bundled extension's LRB_EXT_DIR). */
  env: readonly string[] = [],
): string[] {
  const lines = [`FROM ${from} AS ${stage}`];
  lines.push(...installBlock(templates, platform, stagePackages(platform, c.packages, `${c.name} ${c.version}`, cross)));
  const scripts = ['common.sh', c.recipe.build.script, ...(c.patches ? [PATCH_SCRIPT] : [])].map((s) => contextScript(files, s));
  lines.push(`COPY ${scripts.join(' ')} ${SCRIPT_DIR}/`);
  for (const src of c.sources) {
    // A bundled extension is built from the interpreter's source, which the context has already.
    if (files.some((f) => f.kind === 'source' && f.sourceName === src.name)) continue;
    files.push({ path: `sources/${src.name}`, kind: 'source', sourceName: src.name, sha256: src.sha256 });
  }
  lines.push(`COPY ${c.sources.map((s) => `sources/${s.name}`).join(' ')} ${SRC_DIR}/`);
  let source = `${SRC_DIR}/${c.sources[0]!.name}`;
  if (c.patches) {
    const step = patchStep(c, c.patches, source);
    lines.push(step.run);
    source = step.patched;
  }
  lines.push(...ruleSteps(c.preBuild, files));
  const ruleEnv = Object.entries(c.env ?? {}).map(([name, value]) => `${name}=${shellQuote(value)}`);
  const vars = [`LRB_SOURCE=${source}`, `LRB_PREFIX=${PREFIX}`, `LRB_VERSION=${c.version}`, ...env, ...ruleEnv].join(' ');
  const args = c.args.length ? ` \\\n    ${shellJoin(c.args)}` : '';
  lines.push(`RUN ${vars} \\\n    sh ${SCRIPT_DIR}/${c.recipe.build.script}${args}`);
  lines.push(...ruleSteps(c.postBuild, files));
  return lines;
}

/** A rule's scripts, each copied into the stage and run with its arguments, under a comment naming the rule. */
function ruleSteps(steps: readonly RuleScriptStep[], files: ContextFile[]): string[] {
  return steps.flatMap((step) => {
    const stepArgs = step.args.length ? ` ${shellJoin(step.args)}` : '';
    return [
      `# rule ${step.rule}`,
      `COPY ${contextScript(files, step.script)} ${SCRIPT_DIR}/`,
      `RUN LRB_PREFIX=${PREFIX} sh ${SCRIPT_DIR}/${step.script}${stepArgs}`,
    ];
  });
}

/**
 * The first stage, identical for every target of a platform, arch and build method (so Docker's
 * cache shares it). A cross toolchain adds its setup, its compiler packages and `LRB_HOST`, the
 * target's GNU triplet, which tells the build scripts to cross-compile (common.sh).
 */
export function toolchainStage(platform: Platform, templates: InstallTemplates, method?: BuildMethodChoice): string[] {
  const cross = method?.cross;
  // patch(1) is a build-machine tool, also in a cross build (PATCH_PACKAGE).
  const packages = platformPackages(platform, ['toolchain', PATCH_PACKAGE], `platform ${platform.name}`);
  return [
    `FROM ${method?.buildImage ?? platform.buildImage} AS toolchain`,
    ...(cross ? cross.setup.map((command) => `RUN ${command}`) : []),
    ...installBlock(templates, platform, cross ? [...new Set([...packages, ...cross.toolchain])] : packages),
    ...(cross ? [`ENV LRB_HOST=${cross.host}`] : []),
  ];
}

/**
 * Render the multi-stage Dockerfile for a resolved build. Pure: the same spec and
 * templates always give the same text, which is what the inputs hash covers.
 *
 * Stage order is chosen for Docker's cache: the toolchain (shared by every target
 * of a platform), then each dependency, then the interpreter, then a cheap
 * finalize step. The layer's runtime files are not in the image at all: they are
 * added when the layer is assembled, so changing them never rebuilds a compiler stage.
 */
export function renderBuild(spec: BuildSpec, templates: InstallTemplates, method?: BuildMethodChoice): RenderedBuild {
  const { platform, interpreter } = spec;
  const files: ContextFile[] = [];
  const stages = ['toolchain'];
  const cross = method?.cross;
  const how = method && method.method !== 'native' ? `, ${method.method} on an ${method.engineArch} engine` : '';
  const out: string[] = [
    `# Generated by ${TOOL_NAME} ${TOOL_VERSION}: ${interpreter.name} ${interpreter.version} (${interpreter.profile})` +
      (spec.extensions.length ? ` with ${spec.extensions.map((e) => `${e.short} ${e.version}`).join(', ')}` : ''),
    `# for ${platform.name} (${spec.arch}${how}). Do not edit; change the recipe or platform data instead.`,
    '',
    ...toolchainStage(platform, templates, method),
  ];
  let prev = 'toolchain';
  for (const dep of spec.dependencies) {
    const stage = `dep-${dep.name}`;
    out.push('', ...componentStage(dep, prev, stage, platform, templates, files, cross));
    stages.push(stage);
    prev = stage;
  }
  out.push('', ...componentStage(interpreter, prev, 'interpreter', platform, templates, files, cross));
  stages.push('interpreter');
  // Extensions after the interpreter, built with its phpize/php-config (pruned only by finalize),
  // each enabled by its ini file in the interpreter's scan dir; used ones first (spec order).
  prev = 'interpreter';
  const installed = new Set<string>();
  for (const ext of spec.extensions) {
    // Its libraries first (libpq for pgsql), after the interpreter: the interpreter's stages stay
    // those of the layer without it, so an extension layer's PHP is the runtime layer's.
    for (const dep of ext.dependencies) {
      const depStage = `ext-${ext.short}-dep-${dep.name}`;
      out.push('', ...componentStage(dep, prev, depStage, platform, templates, files, cross));
      stages.push(depStage);
      prev = depStage;
    }
    const stage = `ext-${ext.short}`;
    // Packages an earlier extension stage installed (autoconf, for phpize) are there already.
    const packages = ext.packages.filter((p) => !installed.has(p));
    for (const p of packages) installed.add(p);
    // A bundled extension (ext/pgsql) is built from the interpreter's source, in its directory.
    const component = { ...ext, packages, sources: extensionSources(ext, spec) };
    out.push('', ...componentStage(component, prev, stage, platform, templates, files, cross, ext.bundledDir ? [`LRB_EXT_DIR=${ext.bundledDir}`] : []));
    out.push(`COPY ${contextScript(files, 'write-ini.sh')} ${SCRIPT_DIR}/`);
    out.push(`RUN LRB_PREFIX=${PREFIX} sh ${SCRIPT_DIR}/write-ini.sh ${shellJoin([ext.ini.path, ...ext.ini.lines])}`);
    stages.push(stage);
    prev = stage;
  }
  out.push(`COPY ${contextScript(files, 'finalize.sh')} ${SCRIPT_DIR}/`);
  // The interpreter's prune list, then what each dependency's recipe says it installs that a layer
  // does not need (e.g. libxml2's xmllint), each path once.
  const prune = [...new Set([interpreter, ...builtLibraries(spec)].flatMap((c) => c.recipe.build.prune ?? []))];
  out.push(`RUN LRB_PREFIX=${PREFIX} sh ${SCRIPT_DIR}/finalize.sh${prune.length ? ' ' + shellJoin(prune) : ''}`);
  return { dockerfile: out.join('\n') + '\n', toolchainDockerfile: toolchainStage(platform, templates, method).join('\n') + '\n', files, stages };
}
