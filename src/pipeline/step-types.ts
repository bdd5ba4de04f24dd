import type { DockerEngine } from '../docker/types.js';
import type { LayerEntry } from '../layer/entries.js';
import type { SizeReport } from '../layer/size.js';
import type { FetchedSource } from '../sources/index.js';
import type { BundlePlan } from './libraries.js';
import type { BuildResult, SmokeResult } from './manifest.js';
import type { PreparedBuild } from './prepare.js';

/** What every step of every build may use, fixed for the whole run. */
export interface StepEnv {
  cacheDir: string;
  mirrors: readonly string[];
  debianBase?: string;
  offline?: boolean;
  force?: boolean;
  /** Build without Docker's layer cache (implies rebuilding the image). */
  noCache?: boolean;
}

/** The typed output of each step, as later steps read it. */
export interface StepOutputs {
  resolve: { warnings: string[] };
  'fetch-sources': { imageCurrent: boolean; fetched: FetchedSource[] };
  'build-image': { reused: boolean; imageId?: string };
  'bundle-libraries': {
    /** `/opt` as the build image has it. */
    opt: LayerEntry[];
    bundle: BundlePlan;
    /** Which platform package each bundled library came from (by path in the build image). */
    packages: Map<string, { package: string; version: string }>;
    /** The bundled libraries, as `lib/<soname>` entries. */
    entries: LayerEntry[];
  };
  assemble: {
    /** What the zip holds: the whole `/opt`, or an extension layer's files only. */
    layer: LayerEntry[];
    /** An extension layer: the runtime layer it goes over, as this build has it (extracted first in the smoke test). */
    beneath?: LayerEntry[];
    /** Sonames of the bundled libraries in `layer`. */
    bundled: string[];
  };
  'smoke-test': SmokeResult;
  package: { zip: Buffer; sha256: string; /** the zip, written under a temporary name */ tempPath: string };
  'check-size': { size: SizeReport; warnings: string[] };
  'write-manifest': BuildResult;
}

export type StepName = keyof StepOutputs;

export interface StepContext {
  readonly prepared: PreparedBuild;
  /** Containers created through this engine are removed by the runner, whatever happens. */
  readonly engine: DockerEngine;
  readonly env: StepEnv;
  /** Aborted on Ctrl-C/SIGTERM; pass it to anything that waits. */
  readonly signal: AbortSignal;
  readonly step: StepName;
  /** When the build started (for the manifest's duration). */
  readonly startedAt: number;
  log(line: string): void;
  /** The output of an earlier step. */
  output<N extends StepName>(name: N): StepOutputs[N];
  /** Register a file the build writes under a temporary name: removed unless the build completes. */
  tempFile(file: string): string;
  /** The file was renamed into place or is gone: no longer the runner's to remove. */
  keepFile(file: string): void;
}

/** One named step of a build plan. */
export interface Step<N extends StepName = StepName> {
  readonly name: N;
  readonly title: string;
  run(ctx: StepContext, signal: AbortSignal): Promise<{ value: StepOutputs[N]; summary: string }>;
}
