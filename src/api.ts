import path from 'node:path';
import { Listr } from 'listr2';
import { DockerodeEngine, OWNER_LABEL } from './docker/engine.js';
import { ImageInUseError, type DockerEngine, type ImageSummary } from './docker/types.js';
import { InterruptedError, UserError } from './errors.js';
import { LAMBDA_MAX_UNZIPPED_BYTES } from './lambda.js';
import type { BuildResult } from './pipeline/manifest.js';
import { ensureWritableDir } from './pipeline/output-files.js';
import { BuildRunner } from './pipeline/runner.js';
import { buildToolchain, stepsOf, upToDate, upToDateResult } from './pipeline/steps/index.js';
import { selectImagesToPrune } from './pipeline/images.js';
import { loadCatalog, prepareTarget, type Catalog, type PreparedBuild } from './pipeline/prepare.js';
import { buildTaskList, rendererOptions, type TaskContext } from './pipeline/tasks.js';
import { DEFAULT_ARCH, DEFAULT_PLATFORM, hostArch, normalizeArch } from './platforms/registry.js';
import { checkForeignImages } from './pipeline/foreign-arch.js';
import { defaultCacheDir } from './sources/index.js';

export interface BuildRuntimeOptions {
  targets: string[];
  platform?: string;
  /** The layer's architecture, several (each target is built for each), or `all` (every one the platform has). */
  arch?: string | readonly string[];
  /** Build a foreign arch under QEMU even where it could be cross-compiled. */
  emulate?: boolean;
  /**
   * The architecture of the engine that will build. Default: this machine's, which a local engine
   * has; `executePlans` refuses plans made for another arch than its engine's.
   */
  engineArch?: string;
  profile?: string;
  with?: string[];
  /** `--ext redis --ext apcu`: extensions built into each target's layer (with `for`: into the runtime layer it names). */
  extensions?: string[];
  /**
   * `--for php@8.2.32`: the targets are extensions (`php-ext-redis@6`), each built as a layer of its
   * own for that runtime layer (the same `profile`, `with` and `extensions` describe it).
   */
  for?: string;
  outDir?: string;
  cacheDir?: string;
  mirrors?: string[];
  debianBase?: string;
  maxUnzippedBytes?: number;
  recipeDirs?: string[];
  /** The built-in catalog, when the caller has loaded it already (used only without `recipeDirs`). */
  catalog?: Catalog;
  offline?: boolean;
  force?: boolean;
  /** Build images without Docker's layer cache (a truly cold build); implies force. */
  noCache?: boolean;
  jobs?: number;
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
  /** Where progress goes; tests pass 'silent'. */
  renderer?: 'auto' | 'silent';
  engine?: DockerEngine;
  signal?: AbortSignal;
  /** Called with each build-log line (the CLI prints them with --verbose). */
  onLog?: (target: string, line: string) => void;
  /**
   * Plain progress lines (step starts, Dockerfile steps, a heartbeat each minute). Default: printed
   * to stderr when the output is not a terminal (CI, pipes), so a long build is never silent.
   */
  onProgress?: (target: string, line: string) => void;
}

export interface BuildRuntimeReport {
  plans: PreparedBuild['plan'][];
  results: BuildResult[];
}

export function resolvedDefaults(o: BuildRuntimeOptions) {
  return {
    platform: o.platform ?? DEFAULT_PLATFORM,
    arches: typeof o.arch === 'string' ? [o.arch] : o.arch?.length ? [...o.arch] : [DEFAULT_ARCH],
    outDir: path.resolve(o.outDir ?? 'dist'),
    cacheDir: path.resolve(o.cacheDir ?? defaultCacheDir()),
    mirrors: o.mirrors ?? [],
    maxUnzippedBytes: o.maxUnzippedBytes ?? LAMBDA_MAX_UNZIPPED_BYTES,
    jobs: Math.max(1, o.jobs ?? 1),
  };
}

/** Resolve and plan every target; touches neither Docker nor the network. */
export async function planRuntimes(o: BuildRuntimeOptions): Promise<PreparedBuild[]> {
  if (o.targets.length === 0) throw new UserError('no target given: name one, e.g. php@7.4 (see --help, or --list)');
  const d = resolvedDefaults(o);
  if (d.maxUnzippedBytes <= 0 || d.maxUnzippedBytes > LAMBDA_MAX_UNZIPPED_BYTES) {
    throw new UserError(`--max-unzipped must be between 1 and ${LAMBDA_MAX_UNZIPPED_BYTES} bytes (Lambda's limit), got ${d.maxUnzippedBytes}`);
  }
  // The CLI has the built-in catalog already (its help is built from it): load it once per run.
  const catalog = o.catalog && !o.recipeDirs?.length ? o.catalog : await loadCatalog(o.recipeDirs ?? []);
  const prepared: PreparedBuild[] = [];
  const arches = d.arches.includes('all') ? catalog.platforms.get(d.platform).arches : [...new Set(d.arches)];
  const engineArch = o.engineArch ?? hostArch();
  for (const t of o.targets) for (const arch of arches) {
    prepared.push(
      await prepareTarget(catalog, t, {
        platform: d.platform,
        arch,
        engineArch,
        ...(o.emulate ? { emulate: true } : {}),
        ...(o.profile ? { profile: o.profile } : {}),
        ...(o.with ? { with: o.with } : {}),
        ...(o.extensions?.length ? { extensions: o.extensions } : {}),
        ...(o.for !== undefined ? { for: o.for } : {}),
        outDir: d.outDir,
        mirrors: d.mirrors,
        ...(o.debianBase ? { debianBase: o.debianBase } : {}),
        maxUnzippedBytes: d.maxUnzippedBytes,
        recipeDirs: o.recipeDirs ?? [],
      }),
    );
  }
  const outputs = new Set<string>();
  for (const p of prepared) {
    if (outputs.has(p.plan.output.zip)) throw new UserError(`two targets would write ${p.plan.output.zip}: name each interpreter version once`);
    outputs.add(p.plan.output.zip);
  }
  return prepared;
}

/** The one API behind `npm run build-runtime`. */
export async function buildRuntimes(o: BuildRuntimeOptions): Promise<BuildRuntimeReport> {
  const prepared = await planRuntimes(o);
  if (o.dryRun) return { plans: prepared.map((p) => p.plan), results: [] };
  return executePlans(prepared, o, (engineArch) => planRuntimes({ ...o, engineArch }));
}

/** The plans whose artifact is already there (results) and those to build (pending). */
async function splitUpToDate(prepared: readonly PreparedBuild[], o: BuildRuntimeOptions) {
  const results: BuildResult[] = [];
  const pending: PreparedBuild[] = [];
  for (const p of prepared) {
    const manifest = o.force || o.noCache ? null : await upToDate(p);
    if (manifest) results.push(upToDateResult(p, manifest));
    else pending.push(p);
  }
  return { results, pending };
}

/**
 * Run prepared plans (from `planRuntimes`): the steps, for every target not already up to date.
 * Plans are made for an engine arch (this machine's by default); when the engine runs another,
 * `replan` plans them again for it (how a foreign arch is built depends on it), else they are refused.
 */
export async function executePlans(
  prepared: PreparedBuild[],
  o: BuildRuntimeOptions,
  replan?: (engineArch: string) => Promise<PreparedBuild[]>,
): Promise<BuildRuntimeReport> {
  let plans = prepared.map((p) => p.plan);
  const d = resolvedDefaults(o);
  let { results, pending } = await splitUpToDate(prepared, o);
  if (pending.length === 0) return { plans, results };
  o.signal?.throwIfAborted();

  // A bad --out or --cache-dir fails now, in one line, not after a 10-minute build.
  await ensureWritableDir(d.outDir, '--out');
  await ensureWritableDir(d.cacheDir, '--cache-dir');

  const engine = o.engine ?? new DockerodeEngine();
  await engine.ping();
  const engineArch = normalizeArch((await engine.info()).arch);
  if (replan && pending.some((p) => p.plan.buildMethod.engineArch !== engineArch)) {
    const again = await replan(engineArch);
    plans = again.map((p) => p.plan);
    ({ results, pending } = await splitUpToDate(again, o));
    if (pending.length === 0) return { plans, results };
  }
  for (const p of pending) {
    if (p.plan.buildMethod.engineArch !== engineArch) {
      throw new UserError(
        `${p.plan.target} was planned for an ${p.plan.buildMethod.engineArch} engine, but the Docker engine runs ${engineArch}: plan it again with engineArch ${engineArch}`,
      );
    }
  }
  // Foreign arches need their images and QEMU's binfmt_misc entry: one line with the fix, before any build.
  await checkForeignImages(engine, pending);
  const renderer = o.renderer === 'silent' ? { renderer: 'silent' as const, plain: false } : rendererOptions({ verbose: Boolean(o.verbose) });
  // In CI and pipes, a plain line per step and Dockerfile step, and a heartbeat every minute.
  const progress = o.onProgress ?? (renderer.plain ? (t: string, line: string) => process.stderr.write(`[${t}] ${line}\n`) : undefined);
  const runners = pending.map(
    (p) =>
      new BuildRunner(p, stepsOf(p.plan), {
        engine,
        cacheDir: d.cacheDir,
        mirrors: d.mirrors,
        ...(o.offline ? { offline: true } : {}),
        ...(o.force ? { force: true } : {}),
        ...(o.noCache ? { noCache: true } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onLog: (line) => o.onLog?.(p.plan.target, line),
        ...(progress ? { onProgress: (line: string) => progress(p.plan.target, line) } : {}),
      }),
  );
  const ctx: TaskContext = { results };
  // Targets built concurrently share their platform's toolchain stage: build it once first.
  const toolchains = new Map<string, PreparedBuild>();
  if (d.jobs > 1 && pending.length > 1) {
    for (const p of pending) toolchains.set(p.rendered.toolchainDockerfile, toolchains.get(p.rendered.toolchainDockerfile) ?? p);
  }
  const toolchainTasks = [...toolchains.values()].map((p) => ({
    title: `toolchain for ${p.spec.platform.name}/${p.spec.arch} (shared by ${pending.filter((x) => x.rendered.toolchainDockerfile === p.rendered.toolchainDockerfile).length} targets)`,
    task: async () => {
      await buildToolchain(engine, p, { ...(o.signal ? { signal: o.signal } : {}), onLog: (line) => o.onLog?.('toolchain', line) });
    },
  }));
  const targetTasks = buildTaskList(runners, { verbose: Boolean(o.verbose), liveOutput: renderer.renderer === 'default' });
  // With a shared toolchain to build first, targets wait for it in a group of their own.
  const tasks = toolchainTasks.length
    ? [...toolchainTasks, { title: `targets (${d.jobs} at a time)`, task: (_c: TaskContext, t: { newListr: (tasks: typeof targetTasks, o: object) => unknown }) => t.newListr(targetTasks, { concurrent: d.jobs, exitOnError: true }) }]
    : targetTasks;
  const { plain: _plain, ...listrRenderer } = renderer;
  const list = new Listr<TaskContext>(tasks as typeof targetTasks, {
    concurrent: toolchainTasks.length ? false : d.jobs,
    exitOnError: true,
    registerSignalListeners: false,
    ...listrRenderer,
  } as never);
  try {
    await list.run(ctx);
    if (ctx.failure) throw ctx.failure;
  } catch (err) {
    if (o.signal?.aborted) throw new InterruptedError(pending.map((p) => p.plan.target).join(', '));
    throw ctx.failure ?? err;
  } finally {
    // Every runner removes its containers and temporary files, whatever happened.
    await Promise.allSettled(runners.map((r) => r.finish()));
    if (!o.engine) await engine.removeAll();
  }
  return { plans, results };
}

export interface PruneImagesOptions {
  /** Remove tagged images too (every target's next build starts without Docker's cache). */
  all?: boolean;
  dryRun?: boolean;
  engine?: DockerEngine;
  /** Only images that also carry these labels (tests use this to stay within their own images). */
  labels?: Record<string, string>;
}

export interface PruneImagesReport {
  removed: ImageSummary[];
  /** Left in place: the current build of its target (without `all`), or still used by a container or a newer image. */
  kept: { image: ImageSummary; why: 'tagged' | 'in-use' }[];
  /** Upper bound of the space freed (images share layers). */
  bytes: number;
}

/** Remove the tool's images that newer builds have replaced (untagged), or all of them with `all`. */
export async function pruneImages(o: PruneImagesOptions = {}): Promise<PruneImagesReport> {
  const engine = o.engine ?? new DockerodeEngine();
  await engine.ping();
  const images = await engine.listImages({ [OWNER_LABEL]: 'true', ...o.labels });
  const plan = selectImagesToPrune(images, { all: o.all ?? false });
  const report: PruneImagesReport = {
    removed: [],
    kept: plan.keep.map((image) => ({ image, why: 'tagged' as const })),
    bytes: 0,
  };
  for (const image of plan.remove) {
    if (!o.dryRun) {
      try {
        await engine.removeImage(image.id);
      } catch (err) {
        if (!(err instanceof ImageInUseError)) throw err;
        report.kept.push({ image, why: 'in-use' });
        continue;
      }
    }
    report.removed.push(image);
    report.bytes += image.sizeBytes;
  }
  return report;
}
