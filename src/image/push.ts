/**
 * `push`: an image to a registry through the engine. Credentials, one source per push:
 * - `--registry-auth` (`user:password`, as @FILE, env:VAR or the value) for any registry;
 * - an ECR authorization token (ECR's GetAuthorizationToken through the SDK's default credential
 *   chain) for a repository on ECR's own host name, `<account>.dkr.ecr.<region>.amazonaws.com`;
 * - `--ecr-region <region>`: that token for a registry on any other host name (ECR through a
 *   proxy, a pull-through cache or a VPC endpoint's own DNS name).
 * None is ever printed.
 */
import { readFile } from 'node:fs/promises';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { DockerodeEngine } from '../docker/engine.js';
import type { BuildEvent } from '../docker/build-output.js';
import type { RegistryAuth } from '../docker/types.js';
import { UserError } from '../errors.js';
import { sdkClientConfig, type AwsClientOptions } from '../publish/aws.js';
import { REGION_PATTERN } from '../publish/run.js';
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
  const auth = userPassword(text, host);
  if (!auth) throw new UserError('--registry-auth must give user:password (as @FILE, env:VAR, or the value itself)');
  return auth;
}

/** `user:password` (neither part empty) → registry credentials for `host`; undefined otherwise. */
function userPassword(text: string, host: string): RegistryAuth | undefined {
  const colon = text.indexOf(':');
  if (colon < 1 || colon === text.length - 1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1), serveraddress: host };
}

/** Where a push's credentials come from (decided before any call). */
export type PushAuthSource =
  | { kind: 'registry-auth'; value: string; host: string }
  | { kind: 'ecr'; region: string; host: string }
  | { kind: 'none'; host: string };

/** The one credential source for a push to `repo` (pure): refuses options that contradict. */
export function pushAuthSource(repo: string, o: { registryAuth?: string | undefined; ecrRegion?: string | undefined }): PushAuthSource {
  const host = registryHostOf(repo);
  const ecr = ecrRegistryOf(repo);
  if (o.ecrRegion !== undefined) {
    if (o.registryAuth !== undefined) throw new UserError('--registry-auth and --ecr-region both give credentials: pass one');
    if (!REGION_PATTERN.test(o.ecrRegion)) throw new UserError(`--ecr-region '${o.ecrRegion}' is not an AWS region name (e.g. eu-west-1)`);
    if (ecr && ecr.region !== o.ecrRegion) throw new UserError(`--ecr-region ${o.ecrRegion} contradicts ${ecr.host}, an ECR registry in ${ecr.region}: drop --ecr-region`);
    if (host === 'docker.io') throw new UserError(`--ecr-region needs --to with the registry's host, e.g. --to ecr-proxy.example.com/php (${repo} names none)`);
    return { kind: 'ecr', region: o.ecrRegion, host };
  }
  if (o.registryAuth !== undefined) return { kind: 'registry-auth', value: o.registryAuth, host };
  if (ecr) return { kind: 'ecr', region: ecr.region, host: ecr.host };
  return { kind: 'none', host };
}

/** `AWS:<password>`, base64, as ECR's authorizationToken is → the registry credentials. */
export function decodeEcrToken(token: string, host: string): RegistryAuth {
  const auth = userPassword(Buffer.from(token, 'base64').toString('utf8'), host);
  if (!auth) throw new UserError('ECR gave an authorization token that is not base64 of user:password');
  return auth;
}

/** ECR's token (GetAuthorizationToken in `region`), as credentials for the registry at `host`. */
export async function ecrAuth(host: string, region: string, aws: AwsClientOptions): Promise<RegistryAuth> {
  const client = new ECRClient(sdkClientConfig(aws, region, aws.endpointUrl));
  try {
    let token: string | undefined;
    try {
      const out = await client.send(new GetAuthorizationTokenCommand({}));
      token = out.authorizationData?.[0]?.authorizationToken;
    } catch (err) {
      // The SDK's messages name what is missing (credentials, the endpoint), never a secret.
      throw new UserError(`cannot get an ECR authorization token in ${region}: ${oneLine((err as Error).message)}`);
    }
    if (!token) throw new UserError(`ECR in ${region} gave no authorization token`);
    return decodeEcrToken(token, host);
  } finally {
    client.destroy();
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A push the registry or the engine refused, said in one line, with what to check. */
export function pushFailure(target: string, source: PushAuthSource, message: string): string {
  const text = oneLine(message);
  const denied = /unauthorized|authentication required|denied|forbidden|no basic auth credentials|\b401\b|\b403\b/i.test(text);
  const hint = !denied
    ? ''
    : source.kind === 'registry-auth'
      ? ': check the user and password that --registry-auth gives'
      : source.kind === 'ecr'
        ? `: the ECR token from ${source.region} was refused (check the AWS account, the region, and that the repository exists)`
        : ': the registry wants credentials: pass --registry-auth (or --ecr-region for ECR behind another host name)';
  return `push of ${target} to ${source.host} failed: ${text}${hint}`;
}

export interface PushImageOptions extends AwsClientOptions {
  /** A local image: `repo:tag` or an id. */
  image: string;
  /** Target repository (default: the image's own). */
  to?: string | undefined;
  /** Target tag (default: the image's own). */
  tag?: string | undefined;
  registryAuth?: string | undefined;
  /** Credentials from ECR's token in this region, for a registry not on ECR's own host name. */
  ecrRegion?: string | undefined;
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
  const source = pushAuthSource(repo, o);
  const auth =
    source.kind === 'registry-auth' ? await parseRegistryAuth(source.value, source.host) : source.kind === 'ecr' ? await ecrAuth(source.host, source.region, o) : undefined;
  if (repo !== own.repo || tag !== own.tag) await engine.tagImage(local.id, repo, tag);
  let digest: string;
  try {
    digest = await engine.pushImage(repo, tag, auth, o.onEvent);
  } catch (err) {
    throw new UserError(pushFailure(`${repo}:${tag}`, source, (err as Error).message));
  }
  return { repo, tag, digest, reference: `${repo}@${digest}` };
}
