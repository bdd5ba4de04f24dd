import type { Container, ContainerOptions, DockerEngine } from '../docker/types.js';

/**
 * The engine as one build's steps see it: every container created through it is remembered and
 * removed by `removeContainers()`, which the runner calls when the build ends or is interrupted.
 * After that, a container whose creation was still in flight is removed as soon as it exists.
 */
export class TrackedEngine implements DockerEngine {
  private readonly live = new Set<Container>();
  private closed = false;
  private removing: Promise<void> | undefined;

  constructor(private readonly inner: DockerEngine) {}

  ping: DockerEngine['ping'] = () => this.inner.ping();
  info: DockerEngine['info'] = () => this.inner.info();
  inspectImage: DockerEngine['inspectImage'] = (ref) => this.inner.inspectImage(ref);
  pullImage: DockerEngine['pullImage'] = (ref, onEvent) => this.inner.pullImage(ref, onEvent);
  buildImage: DockerEngine['buildImage'] = (opts) => this.inner.buildImage(opts);
  removeImage: DockerEngine['removeImage'] = (ref) => this.inner.removeImage(ref);
  listImages: DockerEngine['listImages'] = (labels) => this.inner.listImages(labels);
  listContainers: DockerEngine['listContainers'] = (labels) => this.inner.listContainers(labels);

  async createContainer(opts: ContainerOptions): Promise<Container> {
    const c = await this.inner.createContainer(opts);
    if (this.closed) {
      await c.remove();
      throw new Error('the build was stopped; the container it was creating was removed');
    }
    this.live.add(c); // remove() is idempotent, so removing it again at the end is harmless
    return c;
  }

  /** Remove every container still alive; later creations are refused. Idempotent. */
  removeContainers(): Promise<void> {
    this.closed = true;
    this.removing ??= Promise.resolve();
    this.removing = this.removing.then(async () => {
      await Promise.allSettled([...this.live].map((c) => c.remove()));
    });
    return this.removing;
  }

  async removeAll(): Promise<void> {
    await this.removeContainers();
  }
}
