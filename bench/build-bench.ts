/**
 * Build benchmark: cold build vs a plain Docker build of the same Dockerfile and
 * context, no-op rebuild, runtime-only rebuild, layer sizes.
 *
 *   npx tsx bench/build-bench.ts [--skip-cold] [--skip-arm64] [--emulate-limit S] [--json]
 *   npx tsx bench/build-bench.ts --arm64-only [--emulate-limit S] [--json]   (only the arm64 rows)
 *
 * - cold: `buildRuntimes(php@7.4, --no-cache)`: every stage compiles again, then the
 *   tool's own steps (bundle, checks, smoke test, zip, manifest).
 * - raw docker build: the same rendered Dockerfile and context sent to the engine's
 *   build endpoint with nocache (what `docker build --no-cache` does), nothing else.
 *   Run right after the cold build, so both see the same page cache and the same sources.
 * - no-op: the CLI again with the same inputs and the artifact present (node start included).
 * - runtime-only: the CLI with one runtime file changed (a copy of the recipe pointing at a
 *   copy of runtime/php/layer): the image is reused, nothing compiles.
 * - arm64 (skipped with --skip-arm64; --skip-cold skips only the php@7.4 cold/raw pair): cold builds (no Docker cache) of php@8.2.32
 *   minimal on al2023-portable for x86_64 (native) and arm64 (cross-compiled) one after the other
 *   in this run, and their ratio (goal <= 1.3); then the same arm64 build with --emulate (every step
 *   under QEMU), stopped at `--emulate-limit` seconds (default 2700): its ratio when it finishes in
 *   time, else why it was skipped. The arm64 builds need what .ci/setup-machine.sh makes (binfmt
 *   for aarch64, lambda-runtime-builder/glibc-only:bullseye-arm64); the emulated one also
 *   lambda-runtime-builder/debian-arm64:bullseye (.ci/make-arm64-images.sh bullseye).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildRuntimes, planRuntimes } from '../src/api.js';
import { DockerodeEngine } from '../src/docker/engine.js';
import { UserError } from '../src/errors.js';
import type { Manifest } from '../src/pipeline/manifest.js';
import { packContext } from '../src/render/context.js';
import { MIB } from '../src/layer/size.js';
import { cachedSourcePath, defaultCacheDir } from '../src/sources/index.js';
import { number, runIfMain } from './cli.js';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where the php@7.4 rebuilds and the invocation bench run, unless `platforms` says otherwise. */
export const DEFAULT_BENCH_PLATFORMS = ['debian-bookworm', 'al2023-portable'] as const;

export interface BuildBenchResult {
  date: string;
  cpus: number;
  coldBuildS?: number;
  rawDockerBuildS?: number;
  coldOverheadRatio?: number;
  noopRebuildS: number;
  runtimeOnlyRebuildS: number;
  runtimeOnlyCompiled: boolean;
  sizes: { target: string; profile: string; platform: string; zippedBytes: number; unzippedBytes: number }[];
  arm64?: Arm64BenchResult;
}

/** Cold builds of one target for x86_64 and arm64 on this x86_64 engine, in one run. */
export interface Arm64BenchResult {
  target: string;
  platform: string;
  x86ColdS: number;
  crossColdS: number;
  /** arm64 cross / x86_64 native. */
  crossRatio: number;
  emulated: { coldS: number; ratio: number } | { skipped: string };
}

/** The arm64 speed goal's target (issue 11): php@8.2 minimal on the portable provided.al2023 platform. */
const ARM64_TARGET = 'php@8.2.32';
const ARM64_PLATFORM = 'al2023-portable';
export const DEFAULT_EMULATE_LIMIT_S = 2700;

/**
 * Cold x86_64, cold arm64 cross, then arm64 under emulation with a time limit. Each build goes to
 * its own --out (the zip names differ by arch; the emulated one would replace the cross zip).
 */
export async function runArm64Bench(o: { engine: DockerodeEngine; out: string; emulateLimitS: number; log: (s: string) => void }): Promise<Arm64BenchResult> {
  const cold = (arch: string, emulate: boolean, signal?: AbortSignal) =>
    timeIt(() =>
      buildRuntimes({
        targets: [ARM64_TARGET],
        platform: ARM64_PLATFORM,
        arch,
        emulate,
        outDir: path.join(o.out, `${arch}${emulate ? '-emulated' : ''}`),
        noCache: true,
        renderer: 'silent',
        engine: o.engine,
        ...(signal ? { signal } : {}),
      }),
    );
  o.log(`cold build of ${ARM64_TARGET} minimal on ${ARM64_PLATFORM}, x86_64 (native) ...`);
  const [, x86] = await cold('x86_64', false);
  o.log(`x86_64 ${x86.toFixed(1)} s; arm64 (cross-compiled) ...`);
  const [, cross] = await cold('arm64', false);
  o.log(`arm64 cross ${cross.toFixed(1)} s, ratio ${(cross / x86).toFixed(3)}; arm64 under emulation (limit ${o.emulateLimitS} s) ...`);
  let emulated: Arm64BenchResult['emulated'];
  const signal = AbortSignal.timeout(o.emulateLimitS * 1000);
  try {
    const [, s] = await cold('arm64', true, signal);
    emulated = { coldS: s, ratio: s / x86 };
  } catch (err) {
    if (signal.aborted) emulated = { skipped: `not finished within the bench's limit of ${o.emulateLimitS} s (--emulate-limit), stopped` };
    else if (err instanceof UserError) emulated = { skipped: err.message };
    else throw err;
  }
  o.log(`arm64 emulated: ${'skipped' in emulated ? `skipped (${emulated.skipped})` : `${emulated.coldS.toFixed(1)} s`}`);
  return { target: ARM64_TARGET, platform: ARM64_PLATFORM, x86ColdS: x86, crossColdS: cross, crossRatio: cross / x86, emulated };
}

/** Sizes are reported for the local Debian platform and, next to it, the deployable portable one. */

async function timeIt<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileP(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/build-runtime.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

export async function runBuildBench(
  opts: {
    skipCold?: boolean;
    /** Skip the arm64 cold builds (about three times a cold build). */
    skipArm64?: boolean;
    /** Seconds the emulated arm64 build may take before it is stopped (DEFAULT_EMULATE_LIMIT_S). */
    emulateLimitS?: number;
    log?: (s: string) => void;
    /** keep the layers here (default: a temp dir, removed) */ outDir?: string;
    /**
     * Platforms whose sizes are reported (default DEFAULT_BENCH_PLATFORMS: Debian's next to the portable
     * one); the first is where the php@7.4 rebuilds run and whose php@7.4 layer the invocation bench uses.
     */
    platforms?: readonly string[];
  } = {},
): Promise<BuildBenchResult & { layers: Record<string, string> }> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`[bench] ${s}\n`));
  const engine = new DockerodeEngine();
  const cpus = (await engine.info()).cpus;
  const work = await mkdtemp(path.join(os.tmpdir(), 'lrb-bench-'));
  const out = opts.outDir ?? path.join(work, 'out');
  const result: Partial<BuildBenchResult> & { layers: Record<string, string> } = { date: new Date().toISOString().slice(0, 10), cpus, layers: {} };
  const SIZE_PLATFORMS = opts.platforms?.length ? [...opts.platforms] : [...DEFAULT_BENCH_PLATFORMS];
  const PLATFORM = SIZE_PLATFORMS[0]!;
  try {
    if (!opts.skipCold) {
      log('cold build of php@7.4 (no Docker cache) ...');
      const [, cold] = await timeIt(() =>
        buildRuntimes({ targets: ['php@7.4'], platform: PLATFORM, outDir: out, noCache: true, renderer: 'silent', engine }),
      );
      result.coldBuildS = cold;
      log(`cold build ${cold.toFixed(1)} s; plain docker build of the same context ...`);
      const [prepared] = await planRuntimes({ targets: ['php@7.4'], platform: PLATFORM, outDir: out });
      const context = packContext(prepared!.rendered, {
        scriptPath: (s) => prepared!.scriptPaths[s]!,
        sourcePath: (sha) => cachedSourcePath(defaultCacheDir(), sha),
      });
      const [, raw] = await timeIt(() => engine.buildImage({ context, tag: 'lambda-runtime-builder/bench-raw:latest', labels: {}, noCache: true }));
      await engine.removeImage('lambda-runtime-builder/bench-raw:latest');
      result.rawDockerBuildS = raw;
      result.coldOverheadRatio = cold / raw;
      log(`raw docker build ${raw.toFixed(1)} s; ratio ${(cold / raw).toFixed(3)}`);
    } else {
      log('making sure php@7.4 is built (cache allowed) ...');
      await buildRuntimes({ targets: ['php@7.4'], platform: PLATFORM, outDir: out, renderer: 'silent', engine });
    }

    log('no-op rebuild through the CLI ...');
    const [, noop] = await timeIt(() => cli(['php@7.4', '--platform', PLATFORM, '--out', out]));
    result.noopRebuildS = noop;

    log('runtime-only rebuild through the CLI ...');
    const recipes = path.join(work, 'recipes');
    const runtime = path.join(work, 'runtime');
    await mkdir(recipes);
    // The recipe's check scripts are named relative to its directory (checks/...).
    await cp(path.join(ROOT, 'recipes/checks'), path.join(recipes, 'checks'), { recursive: true });
    await cp(path.join(ROOT, 'runtime/php/layer'), runtime, { recursive: true });
    await appendFile(path.join(runtime, 'runtime/src/Runtime.php'), `\n// bench edit ${Date.now()}\n`);
    const php = JSON.parse(await readFile(path.join(ROOT, 'recipes/php.json'), 'utf8')) as { runtime: string };
    php.runtime = runtime;
    await writeFile(path.join(recipes, 'php.json'), JSON.stringify(php));
    const [r, rt] = await timeIt(() => cli(['php@7.4', '--platform', PLATFORM, '--out', out, '--recipes', recipes]));
    result.runtimeOnlyRebuildS = rt;
    result.runtimeOnlyCompiled = !/build-image: reused/.test(r.stderr);

    log(`sizes: php@7.4 minimal, php@8.2.32 standard on ${SIZE_PLATFORMS.join(' and ')} ...`);
    const sizes: BuildBenchResult['sizes'] = [];
    for (const platform of SIZE_PLATFORMS) {
      for (const [target, profile] of [['php@7.4', 'minimal'], ['php@8.2.32', 'standard']] as const) {
        const rep = await buildRuntimes({ targets: [target], platform, profile, outDir: out, renderer: 'silent', engine });
        const m = JSON.parse(await readFile(rep.results[0]!.manifest, 'utf8')) as Manifest;
        if (platform === PLATFORM) result.layers[`${target} ${profile}`] = rep.results[0]!.zip;
        sizes.push({ target: `${m.recipe.name}@${m.recipe.version}`, profile, platform, zippedBytes: m.zip.bytes, unzippedBytes: m.unzippedBytes });
      }
    }
    result.sizes = sizes;
    if (!opts.skipArm64) {
      result.arm64 = await runArm64Bench({ engine, out: path.join(work, 'arm64'), emulateLimitS: opts.emulateLimitS ?? DEFAULT_EMULATE_LIMIT_S, log });
    }
    return result as BuildBenchResult & { layers: Record<string, string> };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One row of the bench table: what, the number, the goal and whether the number meets it. */
export interface BenchRow {
  measure: string;
  result: string;
  goal: string;
  /** Undefined when the row has no goal. */
  met?: boolean;
}

/** Lambda's unit: its "250 MB" is 262,144,000 bytes, so 1 MB = 1,048,576 bytes. */
export const MB = MIB;

/** Size goals per profile, in bytes: zipped and unzipped. */
const SIZE_GOALS: Record<string, { zipped: number; unzipped: number }> = {
  minimal: { zipped: 8 * MB, unzipped: 25 * MB },
  standard: { zipped: 20 * MB, unzipped: 60 * MB },
};

export function formatBuildBench(r: BuildBenchResult): BenchRow[] {
  const rows: BenchRow[] = [];
  if (r.coldBuildS !== undefined) {
    rows.push({ measure: 'cold build php@7.4 minimal (no cache)', result: `${r.coldBuildS.toFixed(1)} s`, goal: '' });
    rows.push({ measure: 'plain docker build, same context', result: `${r.rawDockerBuildS!.toFixed(1)} s`, goal: '' });
    rows.push({ measure: 'cold overhead ratio', result: r.coldOverheadRatio!.toFixed(3), goal: '<= 1.05', met: r.coldOverheadRatio! <= 1.05 });
  }
  rows.push({ measure: 'no-op rebuild (CLI, artifact present)', result: `${r.noopRebuildS.toFixed(2)} s`, goal: '<= 3 s', met: r.noopRebuildS <= 3 });
  rows.push({
    measure: 'runtime-only rebuild (CLI)',
    result: `${r.runtimeOnlyRebuildS.toFixed(2)} s${r.runtimeOnlyCompiled ? ' (COMPILED!)' : ', image reused'}`,
    goal: '<= 45 s, no compiler',
    met: r.runtimeOnlyRebuildS <= 45 && !r.runtimeOnlyCompiled,
  });
  for (const s of r.sizes) {
    const goal = SIZE_GOALS[s.profile];
    rows.push({
      measure: `${s.target} ${s.profile} ${s.platform}: zipped / unzipped`,
      result: `${(s.zippedBytes / MB).toFixed(2)} MB / ${(s.unzippedBytes / MB).toFixed(2)} MB (${s.zippedBytes} / ${s.unzippedBytes} bytes)`,
      goal: goal ? `<= ${goal.zipped / MB} MB / ${goal.unzipped / MB} MB` : '',
      ...(goal ? { met: s.zippedBytes <= goal.zipped && s.unzippedBytes <= goal.unzipped } : {}),
    });
  }
  if (r.arm64) rows.push(...formatArm64Bench(r.arm64));
  return rows;
}

/** The arm64 rows: both cold walls side by side, the cross ratio against its goal, the emulated ratio or why it is missing. */
export function formatArm64Bench(a: Arm64BenchResult): BenchRow[] {
  const what = `${a.target} minimal ${a.platform}`;
  return [
    { measure: `cold build ${what}: x86_64 native / arm64 cross`, result: `${a.x86ColdS.toFixed(1)} s / ${a.crossColdS.toFixed(1)} s`, goal: '' },
    { measure: 'arm64 cross / x86_64 cold build ratio', result: a.crossRatio.toFixed(3), goal: '<= 1.3', met: a.crossRatio <= 1.3 },
    'skipped' in a.emulated
      ? { measure: 'arm64 emulated / x86_64 cold build ratio', result: `skipped: ${a.emulated.skipped}`, goal: '' }
      : { measure: 'arm64 emulated / x86_64 cold build ratio', result: `${a.emulated.ratio.toFixed(3)} (${a.emulated.coldS.toFixed(1)} s)`, goal: '' },
  ];
}

/** The table as text: fixed-width columns, `yes`/`NO` under "met". */
export function renderBenchTable(rows: BenchRow[]): string {
  const cells = rows.map((r) => [r.measure, r.result, r.goal, r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const head = ['measure', 'result', 'goal', 'met'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i < c.length - 1 ? x.padEnd(w[i]!) : x)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `--emulate-limit S` from argv (seconds), or the default. */
export function emulateLimitFromArgv(argv: readonly string[]): number {
  const i = argv.indexOf('--emulate-limit');
  if (i < 0) return DEFAULT_EMULATE_LIMIT_S;
  const limit = number(argv[i + 1], 'emulate-limit');
  if (limit === undefined) throw new Error('--emulate-limit needs a number of seconds');
  return limit;
}

runIfMain(import.meta.url, async () => {
  const argv = process.argv;
  if (argv.includes('--arm64-only')) {
    const work = await mkdtemp(path.join(os.tmpdir(), 'lrb-bench-arm64-'));
    try {
      const engine = new DockerodeEngine();
      const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
      const a = await runArm64Bench({ engine, out: work, emulateLimitS: emulateLimitFromArgv(argv), log });
      process.stdout.write(argv.includes('--json') ? JSON.stringify(a, null, 2) + '\n' : renderBenchTable(formatArm64Bench(a)));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return;
  }
  const r = await runBuildBench({ skipCold: argv.includes('--skip-cold'), skipArm64: argv.includes('--skip-arm64'), emulateLimitS: emulateLimitFromArgv(argv) });
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else process.stdout.write(renderBenchTable(formatBuildBench(r)));
});
