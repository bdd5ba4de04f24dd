/**
 * Invocation benchmark on the BUILT layer: the layer's own PHP (`/opt/bin/php`) in a container of
 * the platform's runtime image (the sandbox `npm run invoke` uses: layer at /opt, host network),
 * against the local Runtime API emulator. Same variants, handler and measurements as
 * `bench/invoke-bench.ts` (which runs the system PHP as a local process):
 *
 *   npx tsx bench/invoke-layer-bench.ts [--layer dist/php-7.4.33-debian-bookworm-x86_64.zip]
 *       [--invocations 300] [--warmups 20] [--cold-starts 5] [--json]
 *
 * Variants (bench/baselines/ is put at /var/task, _HANDLER=handler.php):
 *   bootstrap  /opt/bootstrap of the layer (a `#!/opt/bin/php` script)
 *   naive      /opt/bin/php /var/task/naive-loop.php: new curl handle per HTTP call, `require` per invocation
 *   floor      /opt/bin/php /var/task/floor-loop.php: reused curl handles, answers a constant (the floor)
 *
 * Init (median over the cold starts): from the start of the container's main process to its
 * first GET /next. The start is the engine's record of when it started the process
 * (`State.StartedAt`, nanoseconds, taken by dockerd right after runc started it; our clock and
 * the engine's are the same kernel's when the engine is local), the first /next is when the
 * emulator accepted it. Reported next to it: the same from just before our `start` request to
 * the engine, which adds Docker's own container start (namespaces, cgroup, ...). Each cold start
 * stops the container (SIGKILL) and starts the same container again: /opt stays in the page cache,
 * as in a warm host.
 *
 * Warm latency: round trip of `api.invoke()` (queue → /next answer → handler → response POST →
 * resolved), p50/p90/p99 over `invocations` after `warmups`, the variants interleaved one
 * invocation each in turn so that none is favoured by running later.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DockerodeEngine } from '../src/docker/engine.js';
import type { DockerEngine } from '../src/docker/types.js';
import type { RuntimeApiServer } from '../src/emulator/index.js';
import { type Sandbox, chooseRuntimeImage, packFunction, packLayer, readLayerManifest } from '../src/invoke/index.js';
import { paths, PACKAGE_ROOT } from '../src/paths.js';
import { PlatformRegistry } from '../src/platforms/registry.js';
import { runIfMain, parseInvokeBenchArgs } from './cli.js';
import { createBenchSubject } from './sandbox.js';
import { formatInvokeBenchTable, percentile, stats, type InvokeBenchResult, type VariantName, type VariantResult } from './invoke-bench.js';

const BASELINES = path.join(PACKAGE_ROOT, 'bench', 'baselines');
export const DEFAULT_LAYER = path.join(PACKAGE_ROOT, 'dist', 'php-7.4.33-debian-bookworm-x86_64.zip');
const EVENT = '{"name":"World"}';
const EXPECTED = '"Hello, World!"'; // every return value is JSON-encoded

const DESCRIPTIONS: Record<VariantName, string> = {
  bootstrap: 'our bootstrap (layer /opt/bootstrap)',
  naive: 'baseline: new curl handle + require per call',
  floor: 'floor: reused curl handle, constant answer',
};

const ENTRYPOINTS: Record<VariantName, string[]> = {
  bootstrap: ['/opt/bootstrap'],
  naive: ['/opt/bin/php', '/var/task/naive-loop.php'],
  floor: ['/opt/bin/php', '/var/task/floor-loop.php'],
};

export interface LayerBenchOptions {
  /** The layer zip (its manifest names the platform). Default dist/php-7.4.33-debian-bookworm-x86_64.zip. */
  layer?: string;
  /** Overrides the manifest's platform. */
  platform?: string;
  /** Measured warm invocations per variant (at least 300 recommended). Default 300. */
  invocations?: number;
  /** Default 20. */
  warmups?: number;
  /** Cold starts per variant for the init median. Default 5. */
  coldStarts?: number;
  variants?: VariantName[];
  engine?: DockerEngine;
}

export interface LayerVariantResult extends VariantResult {
  /** Median init measured from just before the engine's start request (includes Docker's container start), ms. */
  initFromStartRequestMs: number;
  initFromStartRequestSamplesMs: number[];
  /** `process`: initMs is from the engine's process start time; `start-request`: it could not be (remote engine?). */
  initMeasuredFrom: 'process' | 'start-request';
}

export interface LayerBenchResult extends InvokeBenchResult {
  layer: string;
  image: string;
  platform: string | undefined;
  variants: LayerVariantResult[];
}

interface Subject {
  variant: VariantName;
  api: RuntimeApiServer;
  sandbox: Sandbox;
  initSamples: number[];
  requestInitSamples: number[];
  processInitMeasured: boolean;
  roundTrips: number[];
  durations: number[];
  connectionsBefore: number;
  output: string;
}

export async function runLayerBench(options: LayerBenchOptions = {}): Promise<LayerBenchResult> {
  const layerPath = options.layer ?? DEFAULT_LAYER;
  const invocations = options.invocations ?? 300;
  const warmups = options.warmups ?? 20;
  const coldStarts = Math.max(1, options.coldStarts ?? 5);
  const variants = options.variants ?? ['bootstrap', 'naive', 'floor'];
  const engine = options.engine ?? new DockerodeEngine();
  await engine.ping();

  const registry = await PlatformRegistry.load(paths.platforms);
  const choice = chooseRuntimeImage({ layer: layerPath, manifest: await readLayerManifest(layerPath), platform: options.platform, registry });
  const [layer, baselines] = await Promise.all([packLayer(layerPath), packFunction(BASELINES)]);
  const runId = `bench-${Date.now()}`;
  const subjects: Subject[] = [];
  try {
    for (const variant of variants) {
      const subject: Partial<Subject> & { output: string } = { output: '' };
      const { api, sandbox } = await createBenchSubject({
        engine,
        image: choice.image,
        functionName: `bench-${variant}`,
        archives: [layer.archive, baselines.archive],
        entrypoint: ENTRYPOINTS[variant],
        runId,
        timeoutMs: 30_000,
        // Kept (bounded) for error messages only.
        onOutput: (_stream, text) => {
          subject.output = (subject.output + text).slice(-4000);
        },
      });
      subjects.push(
        Object.assign(subject, {
          variant,
          api,
          sandbox,
          initSamples: [],
          requestInitSamples: [],
          processInitMeasured: true,
          roundTrips: [],
          durations: [],
          connectionsBefore: 0,
        }),
      );
    }

    for (let i = 0; i < coldStarts; i++) {
      for (const subject of subjects) {
        if (i > 0) await subject.sandbox.stop();
        const init = await subject.sandbox.start();
        if (init.status !== 'ready') {
          throw new Error(`${subject.variant}: the runtime did not start (${JSON.stringify(init)}): ${subject.output}`);
        }
        subject.initSamples.push(init.initDurationMs);
        subject.requestInitSamples.push(init.fromStartRequestMs);
        if (init.fromProcessStartMs === undefined) subject.processInitMeasured = false;
        // Serve one event so that the cold start is complete before the next one.
        await invokeChecked(subject);
      }
    }
    const phpVersion = (await subjects[0]!.sandbox.exec(['/opt/bin/php', '-r', 'echo PHP_VERSION;'])).stdout.trim() || 'unknown';

    for (let i = 0; i < warmups; i++) {
      for (const subject of subjects) await invokeChecked(subject);
    }
    for (const subject of subjects) subject.connectionsBefore = subject.api.connectionCount;
    for (let i = 0; i < invocations; i++) {
      for (const subject of subjects) {
        const started = performance.now();
        const result = await invokeChecked(subject);
        subject.roundTrips.push(performance.now() - started);
        subject.durations.push(result.durationMs);
      }
    }

    return {
      php: `/opt/bin/php of ${path.basename(layerPath)} in ${choice.image}`,
      phpVersion,
      layer: layerPath,
      image: choice.image,
      platform: choice.platform,
      invocations,
      warmups,
      coldStarts,
      variants: subjects.map((subject) => ({
        variant: subject.variant,
        description: DESCRIPTIONS[subject.variant],
        initMs: percentile(subject.initSamples, 50),
        initSamplesMs: subject.initSamples,
        initFromStartRequestMs: percentile(subject.requestInitSamples, 50),
        initFromStartRequestSamplesMs: subject.requestInitSamples,
        initMeasuredFrom: subject.processInitMeasured ? 'process' : 'start-request',
        roundTrip: stats(subject.roundTrips),
        duration: stats(subject.durations),
        invocations,
        connectionsOpened: subject.api.connectionCount - subject.connectionsBefore,
      })),
    };
  } finally {
    for (const subject of subjects) {
      await subject.sandbox.remove().catch(() => undefined);
      await subject.api.close();
    }
  }
}

async function invokeChecked(subject: Subject) {
  const result = await subject.api.invoke(EVENT);
  if (result.status !== 'success' || result.body.toString() !== EXPECTED) {
    throw new Error(`${subject.variant}: unexpected result ${result.status}: ${result.body.toString().slice(0, 300)}\n${subject.output}`);
  }
  return result;
}

/** The table of bench/invoke-bench.ts, plus how init was measured and Docker's share of it. */
export function formatLayerBenchTable(result: LayerBenchResult): string {
  const measuredFrom = result.variants.every((v) => v.initMeasuredFrom === 'process')
    ? "init = container process start (engine's State.StartedAt) -> first GET /next"
    : 'init = our start request to the engine -> first GET /next (the engine clock did not match ours)';
  const docker = result.variants
    .map((v) => `${v.variant} ${v.initFromStartRequestMs.toFixed(2)} ms`)
    .join(', ');
  return [
    formatInvokeBenchTable(result),
    `${measuredFrom}; from the start request (adds Docker's container start), median: ${docker}`,
  ].join('\n');
}

runIfMain(import.meta.url, async () => {
  const args = parseInvokeBenchArgs(['layer', 'platform']);
  const result = await runLayerBench({ ...args.extra, ...args.counts });
  console.log(args.json ? JSON.stringify(result, null, 2) : formatLayerBenchTable(result));
});
