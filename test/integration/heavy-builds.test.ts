import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes, type BuildRuntimeOptions } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import type { BuildResult, Manifest } from '../../src/pipeline/manifest.js';
import { formatElapsed } from '../../src/pipeline/runner.js';
import { HEAVY_BUILDS, ourContainers, requireEngine, tempDir } from './helpers.js';

// The suite's three heavy builds (HEAVY_BUILDS), side by side on one engine: x86_64 minimal then
// standard in one lane (standard reuses minimal's zlib, OpenSSL and curl stages), arm64 in the
// other. A build keeps both cores busy only while it compiles; configure scripts, package installs
// and links run on one, and the other lane fills the second. In a run of the whole suite this file
// goes first (vitest.config.ts's sequencer), so the files that check each layer find its stages in
// Docker's cache. What it checks itself: two builds at once on one engine, from two API calls,
// end with the layers asked for and leave no container behind.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
const results = new Map<string, { result: BuildResult; manifest: Manifest }>();

async function build(name: keyof typeof HEAVY_BUILDS, lane: string): Promise<void> {
  const options: BuildRuntimeOptions = { ...HEAVY_BUILDS[name], outDir: path.join(out.dir, lane), renderer: 'silent', engine };
  const began = Date.now();
  const report = await buildRuntimes(options);
  expect(report.results).toHaveLength(1);
  const result = report.results[0]!;
  results.set(name, { result, manifest: JSON.parse(await readFile(result.manifest, 'utf8')) as Manifest });
  // The CI log's record of what each heavy build cost, beside the other lane.
  console.log(`[heavy-builds] ${name}: ${path.basename(result.zip)} ${result.status} in ${formatElapsed(Date.now() - began)}`);
}

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-heavy-');
  await Promise.all([
    (async () => {
      await build('x86Minimal', 'x86_64');
      await build('x86Standard', 'x86_64');
    })(),
    build('arm64', 'arm64'),
  ]);
}, 120 * 60_000);

afterAll(async () => {
  await out?.cleanup();
});

describe('the heavy builds, side by side on one engine', () => {
  it('make the layers asked for: php@8.2.32 minimal and standard for x86_64, php@7.4.33 minimal for arm64', () => {
    expect(
      [...results.entries()].map(([name, { result, manifest }]) => [name, result.status, path.basename(result.zip), manifest.arch, manifest.buildMethod, manifest.recipe.profile]).sort(),
    ).toEqual([
      ['arm64', 'built', 'php-7.4.33-al2023-portable-arm64.zip', 'arm64', 'cross', 'minimal'],
      ['x86Minimal', 'built', 'php-8.2.32-al2023-portable-x86_64.zip', 'x86_64', 'native', 'minimal'],
      ['x86Standard', 'built', 'php-8.2.32-standard-al2023-portable-x86_64.zip', 'x86_64', 'native', 'standard'],
    ]);
    for (const { manifest } of results.values()) expect(manifest.platform).toMatchObject({ name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023' });
  });

  it('leave no container of ours behind', async () => {
    expect(await ourContainers(engine)).toEqual([]);
  });
});
