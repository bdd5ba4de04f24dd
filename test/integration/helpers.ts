import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BuildRuntimeOptions } from '../../src/api.js';
import { DockerodeEngine, OWNER_LABEL, withContainer } from '../../src/docker/engine.js';
import { LAMBDA_ENV } from '../../src/lambda.js';
import { packTar } from '../../src/layer/tar.js';
import { readZipEntries } from '../../src/layer/zip.js';
import { KEEP_ALIVE } from '../../src/pipeline/steps/libraries.js';
import { isHeartbeat } from '../../src/pipeline/runner.js';
import type { Container } from '../../src/docker/types.js';
import { zipSync } from 'fflate';

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

/**
 * The x86_64 minimal layer that build-php, portable, invoke and image test, and extensions builds its
 * extensions over: one target, so CI builds it once (Docker's cache) and each file checks its own promises. php@8.2.32 shares its zlib, OpenSSL
 * and curl stages with catalog-builds' php@8.2.32 standard, so only its interpreter stage is extra;
 * PHP 7.4 (OpenSSL 1.1.1w, curl 7.88.1) is built by arm64-php.test.ts.
 */
export const X86_PHP = {
  target: 'php@8.2.32',
  version: '8.2.32',
  zip: 'php-8.2.32-al2023-portable-x86_64.zip',
  dependencies: ['zlib@1.3.1', 'openssl@3.5.7', 'curl@8.14.1'],
} as const;

/**
 * The suite's three heavy builds, as every file that checks one asks for it: the same options give
 * the same Docker stages, so only the first file to ask builds them and the others find them
 * cached. x86_64 minimal is X86_PHP; standard (catalog-builds) shares its zlib, OpenSSL and curl
 * stages; arm64 (arm64-php) shares nothing with them.
 */
export const HEAVY_BUILDS = {
  x86Minimal: withPulse({ targets: [X86_PHP.target], platform: 'al2023-portable' }),
  x86Standard: withPulse({ targets: [X86_PHP.target], platform: 'al2023-portable', profile: 'standard' }),
  arm64: withPulse({ targets: ['php@7.4'], arch: ['arm64'], platform: 'al2023-portable' }),
} satisfies Record<string, Pick<BuildRuntimeOptions, 'targets' | 'platform' | 'profile' | 'arch' | 'onProgress'>>;

function withPulse<T extends Pick<BuildRuntimeOptions, 'targets' | 'platform' | 'profile' | 'arch'>>(o: T): T & Pick<BuildRuntimeOptions, 'onProgress'> {
  return { ...o, onProgress: heartbeatToStderr };
}

/**
 * The pulse of a heavy build in the CI log: the tool's once-a-minute heartbeat of a step still
 * running, and nothing else. Tests build with renderer 'silent' and vitest prints a file's results
 * only when it ends, so the first build of a layer (about 20 minutes) was 20 silent minutes.
 */
export function heartbeatToStderr(target: string, line: string): void {
  if (isHeartbeat(line)) process.stderr.write(`[${target}] ${line}\n`);
}

/** A function directory `<dir>/function` whose `handler.php` is `source` (for `invokeLayer`). */
export async function writeHandler(dir: string, source: string): Promise<string> {
  const fn = path.join(dir, 'function');
  await mkdir(fn, { recursive: true });
  await writeFile(path.join(fn, 'handler.php'), source);
  return fn;
}

/** Each invocation's response body, JSON-decoded (every return value of a PHP handler is JSON). */
export function jsonBodies(result: { invocations: readonly { body: Buffer | string }[] }): Record<string, unknown>[] {
  return result.invocations.map((i) => JSON.parse(i.body.toString()) as Record<string, unknown>);
}

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

async function until(what: string, ms: number, ready: () => Promise<boolean>, gone: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    try {
      if (await ready()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    const why = gone();
    if (why !== undefined || Date.now() > deadline) throw new Error(`${what} did not come up: ${why ?? last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Debian's docker-registry (distribution) on 127.0.0.1, as .ci/setup-services.sh installs it. */
export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface LocalRegistry {
  /** `127.0.0.1:<port>`: a loopback registry, which the engine reaches over plain HTTP. */
  host: string;
  stop(): void;
}

/**
 * A docker-registry on a free loopback port with its own storage under `dir`; with `htpasswd`
 * (a bcrypt file, as `htpasswd -B` writes), every request needs one of its users' credentials.
 */
export async function startRegistry(dir: string, opts: { htpasswd?: string } = {}): Promise<LocalRegistry> {
  const port = await freePort();
  const storage = path.join(dir, `registry-storage-${port}`);
  await mkdir(storage, { recursive: true });
  const config = path.join(dir, `registry-${port}.yml`);
  const auth = opts.htpasswd ? `auth:\n  htpasswd:\n    realm: lrb-test\n    path: ${opts.htpasswd}\n` : '';
  await writeFile(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const host = `127.0.0.1:${port}`;
  // Up when /v2/ answers: 200 open, 401 when it wants credentials.
  await until(
    `docker-registry on ${host}`,
    20_000,
    async () => [200, 401].includes((await fetch(`http://${host}/v2/`)).status),
    () => (child.exitCode !== null ? `exited ${child.exitCode}: ${stderr}` : undefined),
  );
  return { host, stop: () => void child.kill('SIGTERM') };
}

/** moto's server image, made by .ci/setup-services.sh from Debian trixie's python3-moto. */
export const MOTO_IMAGE = 'lrb-test/moto:trixie';
/** The account moto serves by default. */
export const MOTO_ACCOUNT = '123456789012';

export interface MotoServer {
  container: Container;
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** moto's access log so far (one line per request, on its stderr). */
  log(): string;
}

/** moto's server on a free loopback port (host network), up when its API answers. */
export async function startMoto(engine: DockerodeEngine): Promise<MotoServer> {
  if (!(await engine.inspectImage(MOTO_IMAGE))) throw new Error(`image ${MOTO_IMAGE} is missing: run \`bash .ci/setup-services.sh\``);
  const port = await freePort();
  const container = await engine.createContainer({ image: MOTO_IMAGE, cmd: ['-H', '127.0.0.1', '-p', String(port)], networkMode: 'host' });
  let log = '';
  await container.attach((_stream, chunk) => {
    log += chunk.toString('utf8');
  });
  await container.start();
  const endpoint = `http://127.0.0.1:${port}`;
  await until(`moto on ${endpoint}`, 30_000, async () => (await fetch(`${endpoint}/moto-api/`), true));
  return { container, endpoint, log: () => log };
}

export interface CraftedLayer {
  zip: string;
  manifest: string;
  sha256: string;
}

export interface CraftOverrides {
  platform?: object;
  arch?: string;
}

/**
 * A small zip plus a manifest consistent with it, in `dir` (tests that publish, or make an image
 * of, a layer without building one). By default an al2023 php layer; `overrides` change the platform or arch.
 */
export async function craftLayer(dir: string, name: string, files: Record<string, Uint8Array>, overrides: CraftOverrides = {}): Promise<CraftedLayer> {
  const zip = path.join(dir, `${name}.zip`);
  const bytes = Buffer.from(zipSync(files, { level: 0 }));
  await writeFile(zip, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const manifest = {
    tool: { name: 'lambda-runtime-builder', version: '0.2.0' },
    recipe: { name: 'php', version: '8.2.32', profile: 'minimal', license: 'PHP-3.01', sources: [], rules: [] },
    platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023', glibc: '2.34', buildImage: 'amazonlinux:2023', runtimeImage: 'public.ecr.aws/lambda/provided:al2023', ...overrides.platform },
    arch: overrides.arch ?? 'x86_64',
    zip: { file: path.basename(zip), sha256, bytes: bytes.length },
    inputsHash: 'f'.repeat(64),
  };
  await writeFile(`${zip}.json`, JSON.stringify(manifest, null, 2));
  return { zip, manifest: `${zip}.json`, sha256 };
}

/**
 * Runs commands in a container of `image` with the layer `zip` at /opt and Lambda's PATH and
 * LD_LIBRARY_PATH (what the runtime image gives a function), each command's output and status.
 */
export async function runInRuntimeImage(engine: DockerodeEngine, image: string, zip: string, commands: string[][]): Promise<{ stdout: string; exitCode: number }[]> {
  const entries = await readZipEntries(zip);
  return withContainer(engine, { image, entrypoint: KEEP_ALIVE, cmd: [] }, async (c) => {
    await c.putArchive(packTar(entries, { prefix: 'opt' }), '/');
    await c.start();
    const results = [];
    for (const cmd of commands) {
      const r = await c.exec(cmd, { env: { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH } });
      results.push({ stdout: r.stdout + r.stderr, exitCode: r.exitCode });
    }
    return results;
  });
}
