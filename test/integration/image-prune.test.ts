import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneImages } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { packTar } from '../../src/layer/tar.js';
import { REPO_ROOT, execFileP, ourContainers, requireEngine } from './helpers.js';

// Images of this run only: a label with a random value keeps the prune away from real builds.
const RUN_LABEL = 'io.lambda-runtime-builder.test-prune';
const run = randomBytes(6).toString('hex');
const tag = `lambda-runtime-builder/prune-test:${run}`;
let engine: DockerodeEngine;

/** Builds `tag` from debian:bookworm with a distinct label value, so each build is a new image. */
async function build(generation: number): Promise<string> {
  const dockerfile = `FROM debian:bookworm\nLABEL generation=${generation}\n`;
  const context = packTar([{ type: 'file', path: 'Dockerfile', mode: 0o644, data: Buffer.from(dockerfile) }]);
  return (await engine.buildImage({ context, tag, labels: { [RUN_LABEL]: run } })).id;
}

beforeAll(async () => {
  engine = await requireEngine();
});

afterAll(async () => {
  for (const i of await engine.listImages({ [RUN_LABEL]: run })) await engine.removeImage(i.id);
});

describe('image-prune against a real engine', () => {
  it('removes the images newer builds replaced and keeps the current one; --all removes that too', async () => {
    const first = await build(1);
    const second = await build(2);
    expect(second).not.toBe(first);
    const listed = await engine.listImages({ [RUN_LABEL]: run });
    expect(listed.map((i) => [i.id, i.tags]).sort()).toEqual(
      [
        [first, []],
        [second, [`${tag}`]],
      ].sort(),
    );

    const dry = await pruneImages({ engine, labels: { [RUN_LABEL]: run }, dryRun: true });
    expect(dry.removed.map((i) => i.id)).toEqual([first]);
    expect(await engine.inspectImage(first)).not.toBeNull();

    const pruned = await pruneImages({ engine, labels: { [RUN_LABEL]: run } });
    expect(pruned.removed.map((i) => i.id)).toEqual([first]);
    expect(pruned.kept.map((k) => k.image.id)).toEqual([second]);
    expect(await engine.inspectImage(first)).toBeNull();
    expect(await engine.inspectImage(tag)).not.toBeNull();

    const all = await pruneImages({ engine, labels: { [RUN_LABEL]: run }, all: true });
    expect(all.removed.map((i) => i.id)).toEqual([second]);
    expect(await engine.listImages({ [RUN_LABEL]: run })).toEqual([]);
  });

  it('the CLI subcommand answers, and --dry-run removes nothing', async () => {
    const id = await build(3);
    await build(4); // `id` is now untagged
    const { stdout } = await execFileP('npx', ['tsx', 'src/cli/build-runtime.ts', 'image-prune', '--dry-run'], { cwd: REPO_ROOT });
    expect(stdout).toContain(`would remove ${id.replace(/^sha256:/, 'sha256:').slice(0, 19)}`);
    expect(stdout).toMatch(/^would remove \d+ images \(up to \d+ MB; images share layers\), kept \d+$/m);
    expect(await engine.inspectImage(id)).not.toBeNull();
  }, 60_000);

  it('leaves no container behind', async () => {
    expect(await ourContainers(engine)).toEqual([]);
  });
});
