import path from 'node:path';
import type { SizeReport } from '../layer/size.js';
import type { BuildMethod } from './build-method.js';

/**
 * What a layer is: an interpreter's runtime layer, an extension layer that goes over one (`--for`),
 * or a Composer vendor layer for one (`build-runtime vendor`, src/vendor/).
 */
export type LayerKind = 'runtime-layer' | 'extension-layer' | 'vendor-layer';

/**
 * The runtime layer an extension layer is for (`php-ext-redis@6 --for php@8.2.32`): what it was
 * built against, and what `invoke` checks the layer given before it by.
 */
export interface RuntimeLayerRef {
  /** The interpreter recipe, version and profile of that layer. */
  name: string;
  version: string;
  profile: string;
  /** The extensions built into that layer (`--ext`), by short name. */
  extensions: string[];
  platform: string;
  arch: string;
  /** The file name build-runtime gives that layer's zip. */
  zip: string;
  /** That layer's inputs hash (its manifest's `inputsHash`): an extension layer goes over that build only. */
  inputsHash: string;
}

/**
 * What runtimeLayerRefFromPlan reads of a build plan (plan.ts's BuildPlan has these fields; named
 * here so that this file, whose types plan.ts uses, does not import plan.ts back).
 */
export type PlannedRuntimeLayer = Pick<RuntimeLayerRef, 'name' | 'version' | 'profile' | 'platform' | 'arch' | 'inputsHash'> & {
  extensions: readonly { name: string }[];
  output: { zip: string };
};

/** The reference to a runtime layer about to be built, from its plan (an extension layer built with it). */
export function runtimeLayerRefFromPlan(runtime: PlannedRuntimeLayer): RuntimeLayerRef {
  return {
    name: runtime.name,
    version: runtime.version,
    profile: runtime.profile,
    extensions: runtime.extensions.map((e) => e.name),
    platform: runtime.platform,
    arch: runtime.arch,
    zip: path.basename(runtime.output.zip),
    inputsHash: runtime.inputsHash,
  };
}

/** The reference to a built runtime layer, from its manifest (a vendor layer built for it). */
export function runtimeLayerRefFromManifest(m: Manifest): RuntimeLayerRef {
  return {
    name: m.recipe.name,
    version: m.recipe.version,
    profile: m.recipe.profile,
    extensions: (m.extensions ?? []).map((e) => e.name),
    platform: m.platform.name,
    arch: m.arch,
    zip: m.zip.file,
    inputsHash: m.inputsHash,
  };
}

/** What the build wrote beside each zip (`<zip>.json`) and what a run reports per target. */
export interface SmokeResult {
  command: string[];
  output: string;
  modules?: string[];
  /** Behaviour checks that passed, with what each printed. */
  checks?: { name: string; output: string }[];
  /** Sonames of the layer's libraries that had a decoy in /usr/lib64 while the checks ran (elf/load-order.ts). */
  decoys?: string[];
}

export interface BuildResult {
  target: string;
  status: 'built' | 'up-to-date';
  zip: string;
  manifest: string;
  log: string;
  zipSha256: string;
  unzippedBytes: number;
  zippedBytes: number;
  durationMs: number;
  warnings: string[];
  smoke?: SmokeResult;
  /** Extensions built into the layer, as `redis 6.2.0` (an extension layer: the one it holds). */
  extensions: string[];
  /** An extension layer: the runtime layer it goes over. */
  for?: RuntimeLayerRef;
  /** Libraries bundled from the build distro's packages (not from pinned sources), with package and version. */
  fromPackages: { soname: string; package: string; version: string }[];
  size?: SizeReport;
}

export interface Manifest {
  tool: { name: string; version: string };
  /** Absent in manifests from before extension layers: a runtime layer. */
  kind?: LayerKind;
  /** An extension layer: the runtime layer it was built for, and goes over. */
  for?: RuntimeLayerRef;
  /** An extension layer: the extension's recipe (its profile: that of the runtime layer it is for). */
  recipe: {
    name: string;
    version: string;
    profile: string;
    /** SPDX id of the interpreter's licence (published as the layer's LicenseInfo). */
    license?: string;
    sources: { name: string; url: string; sha256: string }[];
    /** Names of the recipe's rules that applied to this build (flags, packages, post-build steps). */
    rules: string[];
  };
  dependencies: {
    name: string;
    version: string;
    rule: string;
    overridden: boolean;
    sources: { name: string; url: string; sha256: string }[];
    /** Patches applied to the first source before the build (e.g. Debian's security fixes), from the source named `from`. */
    patches?: { from: string; applied: string[] };
  }[];
  /** Extensions built into the layer (`--ext`), in load order; absent in manifests from before them. */
  extensions?: {
    name: string;
    recipe: string;
    version: string;
    module: string;
    license?: string;
    ini: { path: string; lines: string[] };
    rules: string[];
    sources: { name: string; url: string; sha256: string }[];
  }[];
  libraries: {
    /** Built from pinned, checksum-verified sources (see dependencies and recipe). */
    builtFromSource: { name: string; version: string }[];
    /** Copied from the build image's platform packages into lib/. */
    bundled: { soname: string; from: string; package?: string; packageVersion?: string; neededBy: string[] }[];
    /** Left to the runtime image (the platform's own). */
    fromRuntimeImage: string[];
  };
  platform: { name: string; deployable: boolean; lambdaRuntime: string | null; glibc: string; buildImage: string; runtimeImage: string };
  arch: string;
  /** How the arch was built: `native`, `cross` (compiled on another arch) or `emulated` (under QEMU). Absent in manifests from before it was recorded. */
  buildMethod?: BuildMethod;
  zip: { file: string; sha256: string; bytes: number };
  unzippedBytes: number;
  smoke: SmokeResult;
  buildDurationMs: number;
  builtAt: string;
  inputsHash: string;
}

