import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { UserError } from '../errors.js';
import { BuildOutputParser, type BuildEvent } from './build-output.js';
import { describeEngine, resolveEngineConfig, type EngineConfig, type EngineEndpoint, type Env, type FsReader } from './engine-config.js';
import {
  ImageInUseError,
  type Attachment,
  type BuildImageOptions,
  type Container,
  type ContainerOptions,
  type ContainerState,
  type DockerEngine,
  type ExecResult,
  type ImageInfo,
  type ImageSummary,
  type ImageDetails,
  type RegistryAuth,
  type RegistryEngine,
  type OutputStream,
} from './types.js';

/** The label every container and image we create carries, so leftovers can be found. */
export const OWNER_LABEL = 'io.lambda-runtime-builder';

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err
    ? (err as { statusCode?: number }).statusCode
    : undefined;
}

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * Read a build or pull progress stream to its end, parsing every line; the first
 * `error` the engine reports (with HTTP 200) becomes the rejection.
 */
async function followProgress(stream: NodeJS.ReadableStream, onEvent: (event: BuildEvent) => void): Promise<void> {
  const parser = new BuildOutputParser();
  let failure: string | undefined;
  const handle = (events: BuildEvent[]) => {
    for (const e of events) {
      if (e.kind === 'error' && failure === undefined) failure = e.message;
      onEvent(e);
    }
  };
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => handle(parser.push(chunk)));
    stream.on('end', () => {
      handle(parser.end());
      resolve();
    });
    stream.on('error', reject);
  });
  if (failure !== undefined) throw new Error(failure.trim());
}

class DockerodeContainer implements Container {
  /** The one removal: a second caller (a second Ctrl-C's cleanup) waits for it instead of racing it. */
  private removal: Promise<void> | undefined;
  constructor(
    private readonly docker: Docker,
    private readonly container: Docker.Container,
    private readonly onRemoved: (id: string) => void,
  ) {}

  get id(): string {
    return this.container.id;
  }

  async start(): Promise<void> {
    await this.container.start();
  }

  async exec(cmd: string[], opts: { env?: Record<string, string>; user?: string } = {}): Promise<ExecResult> {
    const exec = await this.container.exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      ...(opts.env ? { Env: Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ...(opts.user ? { User: opts.user } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    this.docker.modem.demuxStream(stream, out, err);
    const [stdout, stderr] = await Promise.all([
      collect(out),
      collect(err),
      new Promise<void>((resolve, reject) => {
        stream.on('end', () => {
          out.end();
          err.end();
          resolve();
        });
        stream.on('error', reject);
      }),
    ]);
    const info = await exec.inspect();
    return { stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), exitCode: info.ExitCode ?? -1 };
  }

  async wait(): Promise<number> {
    const r = (await this.container.wait()) as { StatusCode: number };
    return r.StatusCode;
  }

  async logs(): Promise<{ stdout: string; stderr: string }> {
    const buf = (await this.container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    // Non-TTY logs are multiplexed: 8-byte header (stream, 0, 0, 0, size32be) per frame.
    let stdout = '';
    let stderr = '';
    let i = 0;
    while (i + 8 <= buf.length) {
      const kind = buf[i];
      const size = buf.readUInt32BE(i + 4);
      const text = buf.subarray(i + 8, i + 8 + size).toString('utf8');
      if (kind === 2) stderr += text;
      else stdout += text;
      i += 8 + size;
    }
    return { stdout, stderr };
  }

  async attach(onOutput: (stream: OutputStream, chunk: Buffer) => void): Promise<Attachment> {
    const stream = (await this.container.attach({ stream: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & {
      destroy(): void;
    };
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (chunk: Buffer) => onOutput('stdout', chunk));
    err.on('data', (chunk: Buffer) => onOutput('stderr', chunk));
    // Non-TTY output is multiplexed (8-byte frame headers); the modem reassembles split frames.
    this.docker.modem.demuxStream(stream, out, err);
    const done = (): void => {
      out.end();
      err.end();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done); // the container went away: nothing more to read
    return { close: () => stream.destroy() };
  }

  async inspect(): Promise<ContainerState> {
    const info = await this.container.inspect();
    const state = info.State;
    return {
      running: state.Running,
      oomKilled: state.OOMKilled,
      // A never-started container has StartedAt 0001-01-01T00:00:00Z.
      startedAt: state.StartedAt && !state.StartedAt.startsWith('0001-') ? state.StartedAt : undefined,
    };
  }

  async getArchive(path: string): Promise<Readable> {
    return (await this.container.getArchive({ path })) as unknown as Readable;
  }

  async putArchive(tar: Readable, path: string): Promise<void> {
    await this.container.putArchive(tar, { path });
  }

  async stats(): Promise<{ memoryMaxBytes?: number; memoryBytes?: number }> {
    const s = (await this.container.stats({ stream: false })) as {
      memory_stats?: { max_usage?: number; usage?: number };
    };
    const out: { memoryMaxBytes?: number; memoryBytes?: number } = {};
    if (s.memory_stats?.max_usage !== undefined) out.memoryMaxBytes = s.memory_stats.max_usage;
    if (s.memory_stats?.usage !== undefined) out.memoryBytes = s.memory_stats.usage;
    return out;
  }

  async kill(signal = 'SIGKILL'): Promise<void> {
    try {
      await this.container.kill({ signal });
    } catch (err) {
      const code = statusOf(err);
      if (code !== 404 && code !== 409) throw err; // gone, or not running
    }
  }

  remove(): Promise<void> {
    // A second DELETE while the first runs gets 409 "removal already in progress" at once, and a
    // caller that took that for done would exit before the container is gone.
    this.removal ??= this.container.remove({ force: true, v: true }).then(
      () => this.onRemoved(this.id),
      (err: unknown) => {
        if (statusOf(err) === 404) return this.onRemoved(this.id);
        this.removal = undefined; // let a later call try again
        throw err;
      },
    );
    return this.removal;
  }
}

/** The machine's files, for `resolveEngineConfig`; an unreadable file is a user error naming it. */
export const nodeFsReader: FsReader = {
  readFile(path) {
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new UserError(`cannot read ${path} (${code ?? (err as Error).message}): check that it is a readable file`, { cause: err });
    }
  },
  homedir: () => os.homedir(),
};

/** dockerode (docker-modem) options for an endpoint; `local` leaves the socket to docker-modem. */
function dockerodeOptions(endpoint: EngineEndpoint): Docker.DockerOptions {
  switch (endpoint.kind) {
    case 'local':
      return {};
    case 'unix':
      return { socketPath: endpoint.socketPath };
    case 'tcp': {
      // pathPrefix: docker-modem sets it only when it parses DOCKER_HOST itself.
      const base = { host: endpoint.host, port: endpoint.port, pathPrefix: '/' };
      const tls = endpoint.tls;
      if (tls === undefined) return { ...base, protocol: 'http' };
      // Without verification (DOCKER_TLS, or a context's SkipTLSVerify) an agent that accepts any
      // server certificate; docker-modem passes no rejectUnauthorized of its own.
      const agent = tls.verify ? {} : { agent: new HttpsAgent({ rejectUnauthorized: false }) };
      return { ...base, protocol: 'https', ca: tls.ca, cert: tls.cert, key: tls.key, ...agent } as Docker.DockerOptions;
    }
    case 'ssh':
      return {
        protocol: 'ssh',
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.username,
        sshOptions: endpoint.agentSocket ? { agent: endpoint.agentSocket } : {},
      };
  }
}

/** Why a connection failed, in one line (OpenSSL and the engine answer over several). */
function connectionFailure(err: unknown): string {
  const message = (err as Error).message.replace(/\s+/g, ' ').trim();
  // TLS alerts 42 (bad certificate) and 116 (certificate required): the engine wants a client certificate it trusts.
  if (/alert (bad certificate|certificate required)|SSL alert number (42|116)\b/.test(message)) {
    return 'the engine refused the client certificate, or wanted one and got none';
  }
  return message;
}

/** The one place that talks to dockerode. */
export class DockerodeEngine implements DockerEngine, RegistryEngine {
  /** Which engine, and where that came from; undefined when the configuration is bad. */
  readonly config: EngineConfig | undefined;
  private readonly client: Docker | undefined;
  private readonly configError: unknown;
  private readonly live = new Map<string, Container>();

  /**
   * Talks to the engine the docker CLI would use (see `resolveEngineConfig`). A bad setting
   * (DOCKER_HOST, a certificate, a context) does not throw here, so commands that never reach
   * the engine still run: the UserError comes from the first call that needs the engine.
   */
  constructor(env: Env = process.env, fs: FsReader = nodeFsReader) {
    let config: EngineConfig | undefined;
    let client: Docker | undefined;
    let error: unknown;
    try {
      config = resolveEngineConfig(env, fs);
      client = new Docker(dockerodeOptions(config.endpoint));
    } catch (err) {
      // docker-modem also parses process.env itself and throws plain Errors for what it rejects.
      error = err instanceof UserError ? err : new UserError(`cannot use the Docker engine settings: ${(err as Error).message}`, { cause: err });
    }
    this.config = error === undefined ? config : undefined;
    this.client = client;
    this.configError = error;
  }

  private get docker(): Docker {
    if (this.client === undefined) throw this.configError;
    return this.client;
  }

  async ping(): Promise<void> {
    const docker = this.docker;
    try {
      await docker.ping();
    } catch (err) {
      const config = this.config as EngineConfig;
      const settings =
        config.source !== 'DOCKER_HOST'
          ? 'the context (`docker context inspect`)'
          : config.endpoint.kind === 'tcp'
            ? 'DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH'
            : 'DOCKER_HOST';
      const fix =
        config.endpoint.kind === 'local'
          ? 'start one (e.g. `dockerd &` or `systemctl start docker`) or set DOCKER_HOST'
          : `start one there, or fix ${settings}`;
      throw new UserError(`no Docker engine answers at ${describeEngine(config)} (${connectionFailure(err)}): ${fix}`, { cause: err });
    }
  }

  async info(): Promise<{ cpus: number; serverVersion: string; arch: string }> {
    const i = (await this.docker.info()) as { NCPU: number; ServerVersion: string; Architecture: string };
    return { cpus: i.NCPU, serverVersion: i.ServerVersion, arch: i.Architecture };
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    try {
      const i = await this.docker.getImage(ref).inspect();
      return { id: i.Id, labels: (i.Config?.Labels as Record<string, string> | null) ?? {} };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async pullImage(ref: string, onEvent?: (event: BuildEvent) => void): Promise<void> {
    await followProgress((await this.docker.pull(ref)) as NodeJS.ReadableStream, (e) => onEvent?.(e));
  }

  async buildImage(opts: BuildImageOptions): Promise<ImageInfo> {
    const stream = (await this.docker.buildImage(opts.context as unknown as NodeJS.ReadableStream, {
      t: opts.tag,
      labels: { ...opts.labels, [OWNER_LABEL]: 'true' },
      rm: true,
      forcerm: true,
      networkmode: 'host',
      ...(opts.noCache ? { nocache: true } : {}),
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(opts.signal ? { abortSignal: opts.signal } : {}),
    })) as NodeJS.ReadableStream;
    let imageId: string | undefined;
    await followProgress(stream, (e) => {
      if (e.kind === 'image') imageId = e.id;
      opts.onEvent?.(e);
    });
    const info = await this.inspectImage(opts.tag);
    if (!info) throw new Error(`the engine reported no error but image ${opts.tag} does not exist${imageId ? ` (last id ${imageId})` : ''}`);
    return info;
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(ref).remove({ force: true });
    } catch (err) {
      const status = statusOf(err);
      if (status === 409) throw new ImageInUseError(`image ${ref} is in use: ${(err as Error).message}`, { cause: err });
      if (status !== 404) throw err;
    }
  }

  async listImages(labels: Record<string, string>): Promise<ImageSummary[]> {
    const images = await this.docker.listImages({
      filters: JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }),
    });
    return images.map((i) => ({
      id: i.Id,
      // Docker reports an untagged image as `<none>:<none>` (or no RepoTags at all).
      tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
      sizeBytes: i.Size,
      created: i.Created,
      labels: i.Labels ?? {},
    }));
  }

  async createContainer(opts: ContainerOptions): Promise<Container> {
    const created = await this.docker.createContainer({
      Image: opts.image,
      ...(opts.cmd ? { Cmd: opts.cmd } : {}),
      ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
      Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: { ...opts.labels, [OWNER_LABEL]: 'true' },
      ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
      HostConfig: {
        NetworkMode: opts.networkMode ?? 'none',
        ...(opts.binds ? { Binds: opts.binds } : {}),
        ...(opts.memoryBytes ? { Memory: opts.memoryBytes, MemorySwap: opts.memoryBytes } : {}),
      },
    });
    const c = new DockerodeContainer(this.docker, created, (id) => this.live.delete(id));
    this.live.set(c.id, c);
    return c;
  }

  async listContainers(labels: Record<string, string>): Promise<string[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
    });
    return list.map((c) => c.Id);
  }

  async inspectImageDetails(ref: string): Promise<ImageDetails | null> {
    try {
      const i = await this.docker.getImage(ref).inspect();
      return {
        id: i.Id,
        labels: (i.Config?.Labels as Record<string, string> | null) ?? {},
        entrypoint: (i.Config?.Entrypoint as string[] | null | undefined) ?? null,
        cmd: (i.Config?.Cmd as string[] | null | undefined) ?? null,
        env: i.Config?.Env ?? [],
        workingDir: i.Config?.WorkingDir ?? '',
        repoDigests: i.RepoDigests ?? [],
        architecture: i.Architecture,
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async tagImage(source: string, repo: string, tag: string): Promise<void> {
    await this.docker.getImage(source).tag({ repo, tag });
  }

  async pushImage(repo: string, tag: string, auth?: RegistryAuth, onEvent?: (event: BuildEvent) => void): Promise<string> {
    const stream = (await this.docker.getImage(`${repo}:${tag}`).push({ tag, ...(auth ? { authconfig: auth } : {}) })) as NodeJS.ReadableStream;
    let digest: string | undefined;
    await followProgress(stream, (e) => {
      // The engine ends a push with "<tag>: digest: sha256:... size: N".
      const m = e.kind === 'status' ? /digest: (sha256:[0-9a-f]{64})/.exec(e.text) : null;
      if (m) digest = m[1];
      onEvent?.(e);
    });
    if (digest === undefined) {
      const known = (await this.inspectImageDetails(`${repo}:${tag}`))?.repoDigests.find((d) => d.startsWith(`${repo}@`));
      digest = known?.slice(repo.length + 1);
    }
    if (digest === undefined) throw new Error(`the push of ${repo}:${tag} reported no digest`);
    return digest;
  }

  async pullImageWithAuth(ref: string, auth?: RegistryAuth, onEvent?: (event: BuildEvent) => void): Promise<void> {
    const stream = (await this.docker.pull(ref, auth ? { authconfig: auth } : {})) as NodeJS.ReadableStream;
    await followProgress(stream, (e) => onEvent?.(e));
  }

  async removeAll(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((c) => c.remove()));
  }
}

/** Run `fn` with a container that is removed afterwards, whatever happens. */
export async function withContainer<T>(
  engine: DockerEngine,
  opts: ContainerOptions,
  fn: (c: Container) => Promise<T>,
): Promise<T> {
  const c = await engine.createContainer(opts);
  try {
    return await fn(c);
  } finally {
    await c.remove();
  }
}
