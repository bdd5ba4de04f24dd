/**
 * `npm run bench`: one table with every number the project promises.
 *
 *   npm run bench [-- --skip-cold] [-- --skip-arm64] [-- --emulate-limit S] [-- --platform P ...] [-- --json]
 *
 * `--platform P` (repeatable): the platforms whose sizes are reported, the first also where the
 * php@7.4 rebuilds and the invocation benches run (default: debian-bookworm, then al2023-portable).
 *
 * Builds: cold build vs a plain Docker build of the same context (skipped with --skip-cold,
 * which saves ~10 minutes), no-op and runtime-only rebuilds, layer sizes, and the arm64 cold
 * builds (x86_64 vs cross vs emulated; skipped with --skip-arm64) (bench/build-bench.ts). OPcache on/off with a
 * handler that autoloads 300 classes (bench/opcache-bench.ts).
 * Invocations: our bootstrap vs two baselines, with the built php@7.4 layer in a container of
 * its runtime image against the tool's emulator (bench/invoke-layer-bench.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { emulateLimitFromArgv, formatBuildBench, renderBenchTable, runBuildBench } from './build-bench.js';
import { runLayerBench } from './invoke-layer-bench.js';
import { formatOpcacheBench, runOpcacheBench } from './opcache-bench.js';

const skipCold = process.argv.includes('--skip-cold');
const json = process.argv.includes('--json');
const out = await mkdtemp(path.join(os.tmpdir(), 'lrb-bench-out-'));
try {
  const platforms = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--platform' ? [a] : []));
  const build = await runBuildBench({ skipCold, skipArm64: process.argv.includes('--skip-arm64'), emulateLimitS: emulateLimitFromArgv(process.argv), outDir: out, platforms });
  const layer = build.layers['php@7.4 minimal']!;
  process.stderr.write('[bench] invocations with the built php@7.4 layer ...\n');
  const invoke = await runLayerBench({ layer, invocations: 300, coldStarts: 9 });
  process.stderr.write('[bench] OPcache on/off with a handler that autoloads 300 classes ...\n');
  const opcache = await runOpcacheBench({ layer, classes: 300, coldStarts: 9, invocations: 200 });
  if (json) {
    process.stdout.write(JSON.stringify({ build, invoke, opcache }, null, 2) + '\n');
  } else {
    const v = Object.fromEntries(invoke.variants.map((x) => [x.variant, x]));
    const ours = v['bootstrap']!;
    const floor = v['floor']!;
    const naive = v['naive']!;
    const rows = formatBuildBench(build);
    for (const x of [ours, naive, floor]) {
      rows.push({
        measure: `invoke ${x.description}`,
        result: `p50 ${x.roundTrip.p50Ms.toFixed(3)} ms, p90 ${x.roundTrip.p90Ms.toFixed(3)} ms, init ${x.initMs.toFixed(2)} ms`,
        goal: '',
      });
    }
    // Goals are ratios to the floor loop measured in the same run (machines differ up to 5x).
    const initRatio = ours.initMs / floor.initMs;
    const toFloor = ours.roundTrip.p50Ms / floor.roundTrip.p50Ms;
    rows.push({ measure: 'invoke init ours / floor', result: initRatio.toFixed(3), goal: '<= 1.1', met: initRatio <= 1.1 });
    rows.push({ measure: 'invoke p50 ours / floor', result: toFloor.toFixed(3), goal: '<= 1.0', met: toFloor <= 1.0 });
    // Issue 13's absolute init goal (6.9 ms when it was written), next to the ratio that judges it here.
    rows.push({ measure: 'invoke init ours (absolute)', result: `${ours.initMs.toFixed(2)} ms`, goal: '<= 5 ms', met: ours.initMs <= 5 });
    rows.push(...formatOpcacheBench(opcache));
    process.stdout.write(
      `lambda-runtime-builder bench, ${build.date}, ${build.cpus} CPUs, ${invoke.phpVersion} layer, ${invoke.invocations} invocations; 1 MB = 1,048,576 bytes (Lambda's unit)\n`,
    );
    process.stdout.write(renderBenchTable(rows));
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
