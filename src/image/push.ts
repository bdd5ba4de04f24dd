/**
 * `push`: an image to a registry through the engine. Credentials: for ECR repositories, a token
 * from ECR's GetAuthorizationToken (the SDK's default credential chain); for any registry,
 * `--registry-auth`. None is ever printed.
 */
import { readFile } from 'node:fs/promises';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { DockerodeEngine } from '../docker/engine.js';
import type { BuildEvent } from '../docker/build-output.js';
import type { RegistryAuth } from '../docker/types.js';
import { UserError } from '../errors.js';
import { sdkClientConfig, type AwsClientOptions } from '../publish/aws.js';
import type { ImageEngine } from './build.js';
import { checkRepo } from './context.js';

/** `123456789012.dkr.ecr.eu-west-1.amazonaws.com/...` → its registry host and region. */
export function ecrRegistryOf(repo: string): { host: string; region: string } | undefined {
  const m = /^((\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)\//.exec(repo);
  return m ? { host: m[1]!, region: m[3]! } : undefined;
}

/** The registry host of a repository name (`docker.io` when it names none). */
export function registryHostOf(repo: string): string {
  const first = repo.split('/')[0]!;
  return repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** Splits `repo:tag` (a port's colon is not a tag's). */
export function splitImageRef(ref: string): { repo: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: undefined };
}

/**
 * `--registry-auth`: `@FILE` (a file holding `user:password`), `env:VAR` (a variable holding
 * it) or `user:password` itself (visible in the process list: prefer the other two).
 */
export async function parseRegistryAuth(value: string, host: string, env: NodeJS.ProcessEnv = process.env): Promise<RegistryAuth> {
  let text: string;
  if (value.startsWith('@')) {
    try {
      text = (await readFile(value.slice(1), 'utf8')).trim();
    } catch (err) {
      throw new UserError(`--registry-auth: cannot read ${value.slice(1)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  } else if (value.startsWith('env:')) {
    const name = value.slice(4);
    const v = env[name];
    if (v === undefined || v === '') throw new UserError(`--registry-auth: the environment variable ${name} is not set`);
    text = v.trim();
  } else text = value;
  const colon = text.indexOf(':');
  if (colon < 1 || colon === text.length - 1) {
    throw new UserError('--registry-auth must give user:password (as @FILE, env:VAR, or the value itself)');
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1), serveraddress: host };
}

/** ECR's token for a registry: base64 of `AWS:<password>`. */
export async function ecrAuth(host: string, region: string, aws: AwsClientOptions): Promise<RegistryAuth> {
  const client = new ECRClient(sdkClientConfig(aws, region, aws.endpointUrl));
  try {
    const out = await client.send(new GetAuthorizationTokenCommand({}));
    const token = out.authorizationData?.[0]?.authorizationToken;
    if (!token) throw new UserError(`ECR in ${region} gave no authorization token`);
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host };
  } finally {
    client.destroy();
  }
}

export interface PushImageOptions extends AwsClientOptions {
  /** A local image: `repo:tag` or an id. */
  image: string;
  /** Target repository (default: the image's own). */
  to?: string | undefined;
  /** Target tag (default: the image's own). */
  tag?: string | undefined;
  registryAuth?: string | undefined;
  engine?: ImageEngine;
  onEvent?: (event: BuildEvent) => void;
}

export interface PushedImage {
  repo: string;
  tag: string;
  digest: string;
  /** `repo@sha256:...`: what a function's ImageUri or a `docker pull` can name. */
  reference: string;
}

export async function pushLayerImage(o: PushImageOptions): Promise<PushedImage> {
  const engine = o.engine ?? new DockerodeEngine();
  await engine.ping();
  const local = await engine.inspectImageDetails(o.image);
  if (!local) throw new UserError(`image ${o.image} is not in the Docker engine: build it first (build-runtime image <zip>)`);
  const own = splitImageRef(o.image);
  const repo = o.to ?? own.repo;
  const tag = o.tag ?? own.tag;
  if (tag === undefined) throw new UserError(`${o.image} has no tag: pass --tag`);
  const bad = checkRepo(repo);
  if (bad) throw new UserError(`--to ${bad}`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new UserError(`--tag '${tag}' is not a Docker tag`);
  const host = registryHostOf(repo);
  const ecr = ecrRegistryOf(repo);
  const auth = o.registryAuth ? await parseRegistryAuth(o.registryAuth, host) : ecr ? await ecrAuth(ecr.host, ecr.region, o) : undefined;
  if (repo !== own.repo || tag !== own.tag) await engine.tagImage(local.id, repo, tag);
  const digest = await engine.pushImage(repo, tag, auth, o.onEvent);
  return { repo, tag, digest, reference: `${repo}@${digest}` };
}
