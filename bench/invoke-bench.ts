/**
 * Invocation benchmark: our PHP runtime against two baselines, all on the local Runtime API
 * emulator, in one Node process.
 *
 *   npx tsx bench/invoke-bench.ts [--php /path/to/php] [--invocations 300] [--warmups 20] [--cold-starts 5]
 *
 * Variants:
 *   bootstrap  runtime/php/layer/bootstrap (PHP: bin/php bootstrap), handler bench/baselines/handler.php
 *   naive      bench/baselines/naive-loop.php: new curl handle per HTTP call, `require` per invocation
 *   floor      bench/baselines/floor-loop.php: reused curl handles, answers a constant (the floor)
 *
 * Measured per variant: Init Duration (process start to first GET /next; median over a few cold
 * starts) and warm round-trip latency of `api.invoke()` (queue -> /next answer -> handler ->
 * response POST -> resolved), p50/p90/p99 over `invocations` after `warmups`. All variants run
 * side by side (each against its own emulator) and every phase takes them in turn, so that
 * none is favoured by running later, once Node and the CPU are warm.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseInvokeBenchArgs, runIfMain } from './cli.js';
import { LocalRuntime, RuntimeApiServer, lambdaEnvironment, localBootstrapCommand, prepareLocalLayer } from '../src/emulator/index.js';

const BASELINES = fileURLToPath(new URL('./baselines/', import.meta.url));
const EVENT = '{"name":"World"}';
const EXPECTED = '"Hello, World!"'; // every return value is JSON-encoded

export type VariantName = 'bootstrap' | 'naive' | 'floor';

export interface InvokeBenchOptions {
  /** PHP CLI to run (with the curl extension). Default /usr/bin/php. */
  php?: string;
  /** Measured warm invocations per variant (at least 300 recommended). Default 300. */
  invocations?: number;
  /** Warm-up invocations before measuring. Default 20. */
  warmups?: number;
  /** Cold starts per variant for the Init Duration median. Default 5. */
  coldStarts?: number;
  variants?: VariantName[];
  /** Extra environment for every variant (e.g. LD_LIBRARY_PATH for a layer's own PHP run on this host). */
  extraEnv?: Record<string, string>;
}

export interface LatencyStats {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export interface VariantResult {
  variant: VariantName;
  description: string;
  /** Median Init Duration (process start to first /next), ms. */
  initMs: number;
  initSamplesMs: number[];
  /** Round trip of api.invoke(), ms. */
  roundTrip: LatencyStats;
  /** Emulator-side duration (event handed out to response received), ms. */
  duration: LatencyStats;
  invocations: number;
  /** TCP connections the runtime opened during the measured invocations. */
  connectionsOpened: number;
}

export interface InvokeBenchResult {
  php: string;
  phpVersion: string;
  invocations: number;
  warmups: number;
  coldStarts: number;
  variants: VariantResult[];
}

const DESCRIPTIONS: Record<VariantName, string> = {
  bootstrap: 'our bootstrap (runtime/php/layer)',
  naive: 'baseline: new curl handle + require per call',
  floor: 'floor: reused curl handle, constant answer',
};

export async function runInvokeBench(options: InvokeBenchOptions = {}): Promise<InvokeBenchResult> {
  const php = options.php ?? '/usr/bin/php';
  const invocations = options.invocations ?? 300;
  const warmups = options.warmups ?? 20;
  const coldStarts = Math.max(1, options.coldStarts ?? 5);
  const variants = options.variants ?? ['bootstrap', 'naive', 'floor'];

  const layerDir = await prepareLocalLayer({ phpBinary: php });
  const subjects: Subject[] = [];
  try {
    const phpVersion = await phpVersionOf(php, options.extraEnv ?? {});
    for (const variant of variants) subjects.push(await createSubject(variant, php, layerDir, options.extraEnv ?? {}));

    // Every phase is interleaved across the variants (one invocation of each in turn) so that
    // they all run under the same conditions (CPU frequency, Node's JIT warming up, ...).
    for (let i = 0; i < coldStarts; i++) {
      for (const subject of subjects) {
        const { api, runtime } = subject;
        if (i > 0) await runtime.stop();
        runtime.start();
        const outcome = await Promise.race([api.waitForInit(), runtime.exited.then((exit) => ({ status: 'exited' as const, exit }))]);
        if (outcome.status !== 'ready' || api.initDurationMs === undefined) {
          throw new Error(`${subject.variant}: runtime did not start (${JSON.stringify(outcome)}): ${runtime.stderr}`);
        }
        subject.initSamples.push(api.initDurationMs);
        // Serve one event so that the cold start is complete before the next one.
        await invokeChecked(api, subject.variant);
      }
    }
    for (let i = 0; i < warmups; i++) {
      for (const subject of subjects) await invokeChecked(subject.api, subject.variant);
    }
    for (const subject of subjects) subject.connectionsBefore = subject.api.connectionCount;
    for (let i = 0; i < invocations; i++) {
      for (const subject of subjects) {
        const started = performance.now();
        const result = await invokeChecked(subject.api, subject.variant);
        subject.roundTrips.push(performance.now() - started);
        subject.durations.push(result.durationMs);
      }
    }

    return {
      php,
      phpVersion,
      invocations,
      warmups,
      coldStarts,
      variants: subjects.map((subject) => ({
        variant: subject.variant,
        description: DESCRIPTIONS[subject.variant],
        initMs: percentile(subject.initSamples, 50),
        initSamplesMs: subject.initSamples,
        roundTrip: stats(subject.roundTrips),
        duration: stats(subject.durations),
        invocations,
        connectionsOpened: subject.api.connectionCount - subject.connectionsBefore,
      })),
    };
  } finally {
    for (const subject of subjects) {
      await subject.runtime.stop();
      await subject.api.close();
    }
    await rm(layerDir, { recursive: true, force: true });
  }
}

interface Subject {
  variant: VariantName;
  api: RuntimeApiServer;
  runtime: LocalRuntime;
  initSamples: number[];
  roundTrips: number[];
  durations: number[];
  connectionsBefore: number;
}

async function createSubject(variant: VariantName, php: string, layerDir: string, extra: Record<string, string>): Promise<Subject> {
  const api = new RuntimeApiServer({ functionName: `bench-${variant}`, timeoutMs: 30_000 });
  await api.listen();
  const env = lambdaEnvironment({ runtimeApi: api.address, handler: 'handler.php', taskRoot: BASELINES, memorySizeMb: 1024, extra });
  const command =
    variant === 'bootstrap'
      ? localBootstrapCommand(layerDir)
      : { command: php, args: [path.join(BASELINES, variant === 'naive' ? 'naive-loop.php' : 'floor-loop.php')] };
  const runtime = new LocalRuntime({ api, ...command, env, cwd: BASELINES });
  return { variant, api, runtime, initSamples: [], roundTrips: [], durations: [], connectionsBefore: 0 };
}

async function invokeChecked(api: RuntimeApiServer, variant: VariantName) {
  const result = await api.invoke(EVENT);
  if (result.status !== 'success' || result.body.toString() !== EXPECTED) {
    throw new Error(`${variant}: unexpected result ${result.status}: ${result.body.toString().slice(0, 300)}`);
  }
  return result;
}

/** p50/p90/p99 (nearest rank), mean, min and max of latency samples in ms. */
export function stats(samples: number[]): LatencyStats {
  const sum = samples.reduce((total, value) => total + value, 0);
  return {
    p50Ms: percentile(samples, 50),
    p90Ms: percentile(samples, 90),
    p99Ms: percentile(samples, 99),
    meanMs: samples.length === 0 ? 0 : sum / samples.length,
    minMs: samples.length === 0 ? 0 : Math.min(...samples),
    maxMs: samples.length === 0 ? 0 : Math.max(...samples),
  };
}

/** Nearest-rank percentile. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

async function phpVersionOf(php: string, extra: Record<string, string>): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(php, ['-r', 'echo PHP_VERSION;'], { env: { ...process.env, ...extra } }, (error, stdout) => resolve(error ? 'unknown' : stdout.trim()));
  });
}

/** The table printed by the CLI. */
export function formatInvokeBenchTable(result: InvokeBenchResult): string {
  const header = ['variant', 'init ms (median)', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'server p50 ms', 'new conns'];
  const rows = result.variants.map((v) => [
    v.description,
    v.initMs.toFixed(2),
    v.roundTrip.p50Ms.toFixed(3),
    v.roundTrip.p90Ms.toFixed(3),
    v.roundTrip.p99Ms.toFixed(3),
    v.roundTrip.meanMs.toFixed(3),
    v.duration.p50Ms.toFixed(3),
    String(v.connectionsOpened),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [
    `PHP ${result.phpVersion} (${result.php}); ${result.invocations} warm invocations after ${result.warmups} warm-ups; init = median of ${result.coldStarts} cold starts`,
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
  ].join('\n');
}

runIfMain(import.meta.url, async () => {
  const args = parseInvokeBenchArgs(['php']);
  const result = await runInvokeBench({ ...args.extra, ...args.counts });
  console.log(args.json ? JSON.stringify(result, null, 2) : formatInvokeBenchTable(result));
});
