/**
 * Build benchmark: cold build vs a plain Docker build of the same Dockerfile and
 * context, no-op rebuild, runtime-only rebuild, layer sizes.
 *
 *   npx tsx bench/build-bench.ts [--skip-cold] [--json]
 *
 * - cold: `buildRuntimes(php@7.4, --no-cache)`: every stage compiles again, then the
 *   tool's own steps (bundle, checks, smoke test, zip, manifest).
 * - raw docker build: the same rendered Dockerfile and context sent to the engine's
 *   build endpoint with nocache (what `docker build --no-cache` does), nothing else.
 *   Run right after the cold build, so both see the same page cache and the same sources.
 * - no-op: the CLI again with the same inputs and the artifact present (node start included).
 * - runtime-only: the CLI with one runtime file changed (a copy of the recipe pointing at a
 *   copy of runtime/php/layer): the image is reused, nothing compiles.
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
import type { Manifest } from '../src/pipeline/manifest.js';
import { packContext } from '../src/render/context.js';
import { MIB } from '../src/layer/size.js';
import { cachedSourcePath, defaultCacheDir } from '../src/sources/index.js';
import { runIfMain } from './cli.js';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PLATFORM = 'debian-bookworm';

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
}

/** Sizes are reported for the local Debian platform and, next to it, the deployable portable one. */
const SIZE_PLATFORMS = [PLATFORM, 'al2023-portable'] as const;

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
  opts: { skipCold?: boolean; log?: (s: string) => void; /** keep the layers here (default: a temp dir, removed) */ outDir?: string } = {},
): Promise<BuildBenchResult & { layers: Record<string, string> }> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`[bench] ${s}\n`));
  const engine = new DockerodeEngine();
  const cpus = (await engine.info()).cpus;
  const work = await mkdtemp(path.join(os.tmpdir(), 'lrb-bench-'));
  const out = opts.outDir ?? path.join(work, 'out');
  const result: Partial<BuildBenchResult> & { layers: Record<string, string> } = { date: new Date().toISOString().slice(0, 10), cpus, layers: {} };
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
    await cp(path.join(ROOT, 'runtime/php/layer'), runtime, { recursive: true });
    await appendFile(path.join(runtime, 'runtime/main.php'), `\n// bench edit ${Date.now()}\n`);
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
  return rows;
}

/** The table as text: fixed-width columns, `yes`/`NO` under "met". */
export function renderBenchTable(rows: BenchRow[]): string {
  const cells = rows.map((r) => [r.measure, r.result, r.goal, r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const head = ['measure', 'result', 'goal', 'met'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i < c.length - 1 ? x.padEnd(w[i]!) : x)).join('  ').trimEnd()).join('\n') + '\n';
}

runIfMain(import.meta.url, async () => {
  const r = await runBuildBench({ skipCold: process.argv.includes('--skip-cold') });
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else process.stdout.write(renderBenchTable(formatBuildBench(r)));
});
