import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DockerodeEngine, OWNER_LABEL } from '../../src/docker/engine.js';

export const execFileP = promisify(execFile);

/** A real engine, or a test failure that says how to get one (never a skip). */
export async function requireEngine(): Promise<DockerodeEngine> {
  const engine = new DockerodeEngine();
  try {
    await engine.ping();
  } catch (err) {
    throw new Error(`integration tests need a Docker engine: run \`bash .ci/setup-machine.sh\` (${(err as Error).message})`);
  }
  if (!(await engine.inspectImage('debian:bookworm'))) {
    throw new Error('image debian:bookworm is missing: run `bash .ci/setup-machine.sh` to create it with debootstrap');
  }
  return engine;
}

export async function ourContainers(engine: DockerEngineLike): Promise<string[]> {
  return engine.listContainers({ [OWNER_LABEL]: 'true' });
}

interface DockerEngineLike {
  listContainers(labels: Record<string, string>): Promise<string[]>;
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** A TCP port on 127.0.0.1 that nothing listens on right now (for servers the tests start). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The pieces of a `probe` recipe (test/fixtures/probe: a tiny C program built in seconds on the
 * platform's cached toolchain stage) in `dir`: the source tarball, made byte-identical on every
 * run so that its image is reused, and a recipes directory holding build-probe.sh. The caller
 * writes `probe.json` there, with `source` as each version's source.
 */
export async function probeFixture(dir: string): Promise<{ recipes: string; source: { name: string; url: string; sha256: string } }> {
  const fixtures = path.join(REPO_ROOT, 'test/fixtures/probe');
  const src = path.join(dir, 'src', 'probe-1.0.0');
  await mkdir(src, { recursive: true });
  for (const f of ['probe.c', 'libprobe.c']) await copyFile(path.join(fixtures, f), path.join(src, f));
  const tarball = path.join(dir, 'probe-1.0.0.tar.gz');
  await execFileP('tar', [
    ...['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=u=rwX,go=rX', '--use-compress-program=gzip -n'],
    ...['-C', path.join(dir, 'src'), '-cf', tarball, 'probe-1.0.0'],
  ]);
  const sha256 = (await execFileP('sha256sum', [tarball])).stdout.split(' ')[0]!;
  const recipes = path.join(dir, 'recipes');
  await mkdir(recipes, { recursive: true });
  await copyFile(path.join(fixtures, 'build-probe.sh'), path.join(recipes, 'build-probe.sh'));
  return { recipes, source: { name: 'probe-1.0.0.tar.gz', url: `file://${tarball}`, sha256 } };
}
