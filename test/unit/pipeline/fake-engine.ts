import { Readable } from 'node:stream';
import type {
  Attachment,
  BuildImageOptions,
  Container,
  ContainerOptions,
  ContainerState,
  DockerEngine,
  ExecResult,
  ImageInfo,
  ImageSummary,
} from '../../../src/docker/types.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { packTar, readTarEntries } from '../../../src/layer/tar.js';

/** What a fake container answers for one exec'd command (matched on the joined argv). */
export type ExecAnswer = (cmd: string[]) => ExecResult | Promise<ExecResult> | undefined;

export interface FakeEngineOptions {
  /** Trees served by `getArchive(path)`, per image: `{ image: { '/opt': entries } }`. */
  archives: Record<string, Record<string, LayerEntry[]>>;
  exec: ExecAnswer;
  /** Called when a step starts an operation: lets a test abort at a precise moment. */
  onCall?: (what: string) => void | Promise<void>;
  arch?: string;
}

/**
 * A DockerEngine without Docker, for the runner's unit tests: images are labels in a map,
 * containers answer from fixed trees and an exec table, and every container ever created is
 * recorded with whether it was removed.
 */
export class FakeEngine implements DockerEngine {
  readonly images = new Map<string, ImageInfo>();
  readonly containers: FakeContainer[] = [];
  readonly calls: string[] = [];

  constructor(readonly opts: FakeEngineOptions) {}

  private async call(what: string): Promise<void> {
    this.calls.push(what);
    await this.opts.onCall?.(what);
  }

  async ping(): Promise<void> {
    await this.call('ping');
  }
  async info() {
    await this.call('info');
    return { cpus: 2, serverVersion: 'fake', arch: this.opts.arch ?? 'x86_64' };
  }
  async inspectImage(ref: string): Promise<ImageInfo | null> {
    await this.call(`inspectImage ${ref}`);
    return this.images.get(ref) ?? null;
  }
  async pullImage(ref: string): Promise<void> {
    await this.call(`pullImage ${ref}`);
    throw new Error(`pull access denied for ${ref}`);
  }
  async buildImage(o: BuildImageOptions): Promise<ImageInfo> {
    await this.call(`buildImage ${o.tag}`);
    for await (const _ of o.context) {
      // drain the context like the engine would
    }
    o.onEvent?.({ kind: 'log', text: 'Step 1/2 : FROM debian:bookworm' });
    await this.call(`building ${o.tag}`);
    if (o.signal?.aborted) throw o.signal.reason;
    o.onEvent?.({ kind: 'log', text: 'Step 2/2 : RUN make' });
    const info = { id: `sha256:${'ab'.repeat(32)}`, labels: o.labels };
    this.images.set(o.tag, info);
    return info;
  }
  async removeImage(ref: string): Promise<void> {
    this.images.delete(ref);
  }
  async listImages(): Promise<ImageSummary[]> {
    return [];
  }
  async createContainer(o: ContainerOptions): Promise<Container> {
    await this.call(`createContainer ${o.image}`);
    const c = new FakeContainer(this, o);
    this.containers.push(c);
    return c;
  }
  async listContainers(): Promise<string[]> {
    return this.containers.filter((c) => !c.removed).map((c) => c.id);
  }
  async removeAll(): Promise<void> {
    await Promise.all(this.containers.map((c) => c.remove()));
  }
  /** Containers never removed: must be none after any run. */
  leftovers(): FakeContainer[] {
    return this.containers.filter((c) => !c.removed);
  }
}

let nextId = 1;

export class FakeContainer implements Container {
  readonly id = `fake${nextId++}`;
  removed = false;
  /** Every putArchive: the directory and the entries of its tar. */
  readonly putArchives: { path: string; entries: LayerEntry[] }[] = [];
  constructor(
    private readonly engine: FakeEngine,
    readonly options: ContainerOptions,
  ) {}

  async start(): Promise<void> {
    if (this.removed) throw new Error(`no such container: ${this.id}`);
  }
  async exec(cmd: string[]): Promise<ExecResult> {
    await this.engine.opts.onCall?.(`exec ${cmd[0]}`);
    this.engine.calls.push(`exec ${cmd.join(' ').slice(0, 80)}`);
    if (this.removed) throw new Error(`no such container: ${this.id}`);
    return (await this.engine.opts.exec(cmd)) ?? { stdout: '', stderr: `fake: no answer for ${cmd.join(' ')}`, exitCode: 127 };
  }
  async wait(): Promise<number> {
    return 0;
  }
  async logs(): Promise<{ stdout: string; stderr: string }> {
    return { stdout: '', stderr: '' };
  }
  async attach(): Promise<Attachment> {
    return { close() {} };
  }
  async inspect(): Promise<ContainerState> {
    return { running: !this.removed, oomKilled: false, startedAt: undefined };
  }
  async getArchive(path: string): Promise<Readable> {
    const tree = this.engine.opts.archives[this.options.image]?.[path];
    if (!tree) throw new Error(`(HTTP code 404) no such file - ${path}`);
    const base = path.slice(path.lastIndexOf('/') + 1);
    return packTar(tree, { prefix: base });
  }
  async putArchive(tar: Readable, path: string): Promise<void> {
    this.putArchives.push({ path, entries: await readTarEntries(tar) });
  }
  async stats() {
    return {};
  }
  async kill(): Promise<void> {}
  async remove(): Promise<void> {
    this.removed = true;
  }
}
