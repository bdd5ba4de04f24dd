import type { Readable } from 'node:stream';
import type { BuildEvent } from './build-output.js';

/** What a command run in a container printed and how it ended. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface BuildImageOptions {
  /** Build context: a tar stream holding `Dockerfile` and the files it copies. */
  context: Readable;
  tag: string;
  labels: Record<string, string>;
  /** Ignore Docker's layer cache (every stage runs again). */
  noCache?: boolean;
  /** `linux/amd64` or `linux/arm64`: which variant of a multi-arch base image to build FROM. */
  platform?: string;
  onEvent?: (event: BuildEvent) => void;
  signal?: AbortSignal;
}

export interface ImageInfo {
  id: string;
  labels: Record<string, string>;
}

/** The engine refused to remove an image: a container or a newer image still uses it. */
export class ImageInUseError extends Error {
  override name = 'ImageInUseError';
}

/** An image as listed by the engine. */
export interface ImageSummary {
  id: string;
  /** `repo:tag` names; empty when the image has lost its tag to a newer build. */
  tags: string[];
  sizeBytes: number;
  /** Seconds since the epoch. */
  created: number;
  labels: Record<string, string>;
}

export interface ContainerOptions {
  image: string;
  /** Overrides the image's entrypoint; the default keeps the container idle. */
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  /** `host` lets a container reach servers on the host's 127.0.0.1 (used by invoke). */
  networkMode?: 'host' | 'none' | 'bridge';
  labels?: Record<string, string>;
  binds?: string[];
  memoryBytes?: number;
  /** Working directory of the main process (and of exec'd commands). Default: the image's. */
  workingDir?: string;
}

/** Which stream of a container's main process a chunk of output came from. */
export type OutputStream = 'stdout' | 'stderr';

/** A live attachment to a container's main-process output (see `Container.attach`). */
export interface Attachment {
  /** Stops receiving output. Idempotent. */
  close(): void;
}

/** What the engine knows about a container's main process. */
export interface ContainerState {
  running: boolean;
  /** Whether the kernel's OOM killer struck inside the container (memory limit). */
  oomKilled: boolean;
  /**
   * When the engine started the main process (last start), as it reports it (RFC 3339 with
   * nanoseconds, e.g. `2026-01-02T03:04:05.123456789Z`); undefined if it was never started.
   */
  startedAt: string | undefined;
}

/** One container; `remove()` is idempotent and always safe to call. */
export interface Container {
  readonly id: string;
  start(): Promise<void>;
  exec(cmd: string[], opts?: { env?: Record<string, string>; user?: string }): Promise<ExecResult>;
  /** Wait for the main process to exit; returns its exit code. */
  wait(): Promise<number>;
  /** Everything the main process has printed so far (used by tests reading a service container's log). */
  logs(): Promise<{ stdout: string; stderr: string }>;
  /**
   * Streams the main process's stdout/stderr as it is written, until it exits. Attach before
   * `start()` to miss nothing; a restarted container needs a new attachment.
   */
  attach(onOutput: (stream: OutputStream, chunk: Buffer) => void): Promise<Attachment>;
  inspect(): Promise<ContainerState>;
  getArchive(path: string): Promise<Readable>;
  putArchive(tar: Readable, path: string): Promise<void>;
  stats(): Promise<{ memoryMaxBytes?: number; memoryBytes?: number }>;
  kill(signal?: string): Promise<void>;
  remove(): Promise<void>;
}

/** The engine, as the pipeline sees it. Implemented over dockerode in `engine.ts`. */
export interface DockerEngine {
  ping(): Promise<void>;
  info(): Promise<{ cpus: number; serverVersion: string; arch: string }>;
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /** Pull an image from its registry; rejects with the engine's error message. */
  pullImage(ref: string, onEvent?: (event: BuildEvent) => void): Promise<void>;
  buildImage(opts: BuildImageOptions): Promise<ImageInfo>;
  /** Removes an image (a missing one is fine); rejects with ImageInUseError when something uses it. */
  removeImage(ref: string): Promise<void>;
  /** Top-level images carrying all the given labels, tagged or not. */
  listImages(labels: Record<string, string>): Promise<ImageSummary[]>;
  createContainer(opts: ContainerOptions): Promise<Container>;
  /** Ids of containers (any state) carrying all the given labels. */
  listContainers(labels: Record<string, string>): Promise<string[]>;
  /** Remove every container this process created and has not removed yet. */
  removeAll(): Promise<void>;
}

/** Registry credentials for a push (ECR's token, or `--registry-auth`); never logged. */
export interface RegistryAuth {
  username: string;
  password: string;
  /** The registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  serveraddress: string;
}

/** An image's configuration and the digests it is known by in registries. */
export interface ImageDetails extends ImageInfo {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  /** `repo@sha256:...`, one per registry repository the image was pushed to or pulled from. */
  repoDigests: string[];
  architecture: string;
}

/** What `push` needs of an engine beyond DockerEngine (implemented by DockerodeEngine). */
export interface RegistryEngine {
  inspectImageDetails(ref: string): Promise<ImageDetails | null>;
  /** Gives `source` (an id or reference) the name `repo:tag`. */
  tagImage(source: string, repo: string, tag: string): Promise<void>;
  /** Pushes `repo:tag`; resolves with the manifest digest the registry reported (`sha256:...`). */
  pushImage(repo: string, tag: string, auth?: RegistryAuth, onEvent?: (event: BuildEvent) => void): Promise<string>;
  /** Pulls `ref` (e.g. `repo@sha256:...`) with credentials. */
  pullImageWithAuth(ref: string, auth?: RegistryAuth, onEvent?: (event: BuildEvent) => void): Promise<void>;
}
