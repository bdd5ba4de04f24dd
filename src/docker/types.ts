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
  target?: string;
  onEvent?: (event: BuildEvent) => void;
  signal?: AbortSignal;
}

export interface ImageInfo {
  id: string;
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
}

/** One container; `remove()` is idempotent and always safe to call. */
export interface Container {
  readonly id: string;
  start(): Promise<void>;
  exec(cmd: string[], opts?: { env?: Record<string, string>; user?: string }): Promise<ExecResult>;
  /** Wait for the main process to exit; returns its exit code. */
  wait(): Promise<number>;
  logs(): Promise<{ stdout: string; stderr: string }>;
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
  buildImage(opts: BuildImageOptions): Promise<ImageInfo>;
  removeImage(ref: string): Promise<void>;
  createContainer(opts: ContainerOptions): Promise<Container>;
  /** Ids of containers (any state) carrying all the given labels. */
  listContainers(labels: Record<string, string>): Promise<string[]>;
  /** Remove every container this process created and has not removed yet. */
  removeAll(): Promise<void>;
}
