/**
 * Which Docker engine to talk to, decided the way the docker CLI decides it (without its flags):
 *
 * 1. `DOCKER_HOST` set (non-empty): that address; TLS from `DOCKER_TLS_VERIFY` / `DOCKER_TLS` /
 *    `DOCKER_CERT_PATH` (default `$DOCKER_CONFIG` or `~/.docker`).
 * 2. else `DOCKER_CONTEXT`, else `currentContext` in `<config dir>/config.json`: that context's
 *    `Endpoints.docker.Host` from `<config dir>/contexts/meta/<sha256(name)>/meta.json`, TLS
 *    material from `<config dir>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem`.
 *    The context named `default` means "no context".
 * 3. else the local socket (docker-modem's default: `~/.docker/run/docker.sock` when present,
 *    else `/var/run/docker.sock`).
 *
 * What docker-modem does by itself from the environment (lib/modem.js, 5.x), and so what this
 * module adds: it reads `DOCKER_HOST`, but turns TLS on only for `DOCKER_TLS_VERIFY=1` (the CLI:
 * any non-empty value) or port 2376 (the CLI: never by port), reads certificates only from
 * `DOCKER_CERT_PATH` (no `~/.docker` default), leaves the port empty for `tcp://host` (the CLI:
 * 2375), accepts any scheme as plain HTTP, throws a raw ENOENT for a missing certificate, and
 * knows nothing of contexts or `DOCKER_TLS` (TLS without verification).
 *
 * Pure: the environment and file reads come in as arguments, so every rule is unit-tested.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { UserError } from '../errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The file system as far as this module needs it. */
export interface FsReader {
  /** The file's bytes, or undefined when it does not exist. Other failures may throw. */
  readFile(path: string): Buffer | undefined;
  /** The user's home directory (the CLI's `~`), used when `HOME` is unset. */
  homedir(): string;
}

export interface TlsMaterial {
  /** Verify the engine's certificate (against `ca` when given, else the system's CAs). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export type EngineEndpoint =
  /** The local engine, at the socket docker-modem finds by itself. */
  | { kind: 'local' }
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls?: TlsMaterial }
  /** Runs `docker system dial-stdio` on the host over SSH; keys come from the SSH agent. */
  | { kind: 'ssh'; host: string; port: number; username: string; agentSocket?: string };

export interface EngineConfig {
  endpoint: EngineEndpoint;
  /** The address in docker's notation, for messages (`tcp://10.0.0.5:2376`). */
  address: string;
  /** Where the choice came from, for messages (`DOCKER_HOST`, `context "build" (DOCKER_CONTEXT)`). */
  source: string;
}

const DEFAULT_TCP_PORT = 2375;
const DEFAULT_SSH_PORT = 22;
const LOCAL_ADDRESS = 'unix:///var/run/docker.sock';
const ADDRESS_FORMS = 'unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://USER@HOST';

const nonEmpty = (value: string | undefined): value is string => value !== undefined && value !== '';

/** `$DOCKER_CONFIG`, else `~/.docker`. */
export function dockerConfigDir(env: Env, fs: FsReader): string {
  if (nonEmpty(env['DOCKER_CONFIG'])) return env['DOCKER_CONFIG'];
  return posix.join(nonEmpty(env['HOME']) ? env['HOME'] : fs.homedir(), '.docker');
}

/** The directory name the docker CLI stores a context under: the SHA-256 of its name, in hex. */
export function contextDirName(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

interface ParsedHost {
  scheme: 'unix' | 'tcp' | 'ssh';
  socketPath?: string;
  host?: string;
  port?: number;
  username?: string;
}

/**
 * Parses a docker host address (`unix:///run/docker.sock`, `tcp://host:2376`, `host:2375`,
 * `ssh://user@host:22`). `where` names the setting for the error (`DOCKER_HOST=…`).
 */
function parseHost(raw: string, where: string, fix: string): ParsedHost {
  const value = raw.trim();
  const bad = (why: string): UserError => new UserError(`${where} ${why}: ${fix}`);
  const withScheme = value.includes('://') ? value : `tcp://${value}`;
  const scheme = withScheme.slice(0, withScheme.indexOf('://')).toLowerCase();
  const rest = withScheme.slice(scheme.length + 3);
  if (scheme === 'unix') return { scheme, socketPath: rest === '' ? '/var/run/docker.sock' : rest };
  if (scheme === 'npipe') throw bad('is a Windows named pipe, which does not exist here');
  if (scheme !== 'tcp' && scheme !== 'ssh') throw bad(`is not a Docker engine address (use ${ADDRESS_FORMS})`);
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw bad(`is not a valid address (use ${ADDRESS_FORMS})`);
  }
  if (url.pathname !== '' && url.pathname !== '/') throw bad(`has a path (${url.pathname}), which is not supported`);
  if (url.search !== '' || url.hash !== '') throw bad('has a query or fragment, which is not supported');
  // WHATWG URL keeps IPv6 brackets in `hostname`; the socket APIs want them off.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (scheme === 'ssh') {
    if (host === '') throw bad('names no host');
    if (url.password !== '') throw bad('has a password; use an SSH agent (SSH_AUTH_SOCK) instead');
    const port = url.port === '' ? DEFAULT_SSH_PORT : Number(url.port);
    return { scheme, host, port, ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}) };
  }
  if (url.username !== '' || url.password !== '') throw bad('has a user name, which tcp:// addresses do not take');
  // The CLI fills in localhost and 2375 for `tcp://:2375` and `tcp://host`.
  return { scheme, host: host === '' ? 'localhost' : host, port: url.port === '' ? DEFAULT_TCP_PORT : Number(url.port) };
}

function readJson(fs: FsReader, path: string, what: string, fix: string): unknown | undefined {
  const bytes = fs.readFile(path);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new UserError(`${what} ${path} is not valid JSON (${(err as Error).message}): ${fix}`);
  }
}

/** TLS for a tcp:// `DOCKER_HOST`, from `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and `DOCKER_CERT_PATH`. */
function tlsFromEnv(env: Env, fs: FsReader, hostScheme: ParsedHost['scheme']): TlsMaterial | undefined {
  const verify = nonEmpty(env['DOCKER_TLS_VERIFY']); // the CLI: any non-empty value, "0" included
  const tls = verify || nonEmpty(env['DOCKER_TLS']);
  const explicitDir = env['DOCKER_CERT_PATH'];
  const dir = nonEmpty(explicitDir) ? explicitDir : dockerConfigDir(env, fs);
  const files = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;
  const read = (name: keyof typeof files): Buffer | undefined => fs.readFile(posix.join(dir, files[name]));
  if (nonEmpty(explicitDir) && hostScheme !== 'unix') {
    // An explicit certificate directory must hold all three files: anything else is a mistake
    // (and docker-modem itself would throw ENOENT for it, TLS or not).
    const material: Partial<Record<keyof typeof files, Buffer>> = {};
    for (const name of Object.keys(files) as (keyof typeof files)[]) {
      const bytes = read(name);
      if (bytes === undefined) {
        throw new UserError(
          `DOCKER_CERT_PATH=${explicitDir} has no ${files[name]}: put ca.pem, cert.pem and key.pem there, or point DOCKER_CERT_PATH at the directory that holds them`,
        );
      }
      material[name] = bytes;
    }
    return tls && hostScheme === 'tcp' ? { verify, ...material } : undefined;
  }
  if (!tls || hostScheme !== 'tcp') return undefined;
  const ca = verify ? read('ca') : undefined;
  if (verify && ca === undefined) {
    throw new UserError(
      `DOCKER_TLS_VERIFY is set but ${posix.join(dir, files.ca)} does not exist: set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem`,
    );
  }
  return { verify, ...(ca ? { ca } : {}), ...clientPair(read('cert'), read('key'), dir, 'set DOCKER_CERT_PATH to the directory holding both') };
}

/** A client certificate and its key come together or not at all. */
function clientPair(cert: Buffer | undefined, key: Buffer | undefined, dir: string, fix: string): { cert?: Buffer; key?: Buffer } {
  if (cert !== undefined && key !== undefined) return { cert, key };
  if (cert === undefined && key === undefined) return {};
  throw new UserError(`${dir} has ${cert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}: ${fix}`);
}

function toEndpoint(parsed: ParsedHost, env: Env, tls: TlsMaterial | undefined): EngineEndpoint {
  switch (parsed.scheme) {
    case 'unix':
      return { kind: 'unix', socketPath: parsed.socketPath as string };
    case 'tcp':
      return { kind: 'tcp', host: parsed.host as string, port: parsed.port as number, ...(tls ? { tls } : {}) };
    case 'ssh': {
      // Like ssh(1): the URL's user, else the local user name.
      const username = parsed.username ?? env['USER'] ?? env['LOGNAME'] ?? 'root';
      const agent = env['SSH_AUTH_SOCK'];
      return { kind: 'ssh', host: parsed.host as string, port: parsed.port as number, username, ...(nonEmpty(agent) ? { agentSocket: agent } : {}) };
    }
  }
}

function addressOf(endpoint: EngineEndpoint): string {
  switch (endpoint.kind) {
    case 'local':
      return LOCAL_ADDRESS;
    case 'unix':
      return `unix://${endpoint.socketPath}`;
    case 'tcp': {
      const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
      return `tcp://${host}:${endpoint.port}`;
    }
    case 'ssh':
      return `ssh://${endpoint.username}@${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  }
}

/** Which context the CLI would use, and why; undefined for "no context". */
function contextName(env: Env, fs: FsReader): { name: string; source: string; configFile?: string } | undefined {
  if (nonEmpty(env['DOCKER_CONTEXT'])) return { name: env['DOCKER_CONTEXT'], source: 'DOCKER_CONTEXT' };
  const configFile = posix.join(dockerConfigDir(env, fs), 'config.json');
  const config = readJson(fs, configFile, 'the docker CLI configuration', 'fix it, or set DOCKER_HOST');
  if (typeof config !== 'object' || config === null) return undefined;
  const current = (config as { currentContext?: unknown }).currentContext;
  if (typeof current !== 'string' || current === '') return undefined;
  return { name: current, source: `currentContext in ${configFile}`, configFile };
}

function fromContext(ctx: { name: string; source: string; configFile?: string }, env: Env, fs: FsReader): EngineConfig {
  const dir = dockerConfigDir(env, fs);
  const hash = contextDirName(ctx.name);
  const metaFile = posix.join(dir, 'contexts', 'meta', hash, 'meta.json');
  const label = `the Docker context "${ctx.name}" (${ctx.source})`;
  const choose = ctx.configFile
    ? `run \`docker context use default\` (or another context from \`docker context ls\`), or set DOCKER_HOST`
    : 'set DOCKER_CONTEXT to a context from `docker context ls`, or unset it';
  const meta = readJson(fs, metaFile, `the metadata of ${label}`, 'recreate the context with `docker context create`');
  if (meta === undefined) throw new UserError(`${label} does not exist (no ${metaFile}): ${choose}`);
  const docker = (meta as { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } } | null)?.Endpoints?.docker;
  if (typeof docker?.Host !== 'string' || docker.Host === '') {
    throw new UserError(`${label} has no docker endpoint (Endpoints.docker.Host in ${metaFile}): ${choose}`);
  }
  const fix = `fix it with \`docker context update ${ctx.name} --docker host=…\``;
  const parsed = parseHost(docker.Host, `${label} has the endpoint ${docker.Host}, which`, fix);
  let tls: TlsMaterial | undefined;
  if (parsed.scheme === 'tcp') {
    const tlsDir = posix.join(dir, 'contexts', 'tls', hash, 'docker');
    const ca = fs.readFile(posix.join(tlsDir, 'ca.pem'));
    const pair = clientPair(fs.readFile(posix.join(tlsDir, 'cert.pem')), fs.readFile(posix.join(tlsDir, 'key.pem')), tlsDir, fix);
    const skipVerify = docker.SkipTLSVerify === true;
    // As the CLI: TLS when the context stores any TLS material or asks to skip verification.
    if (ca !== undefined || pair.cert !== undefined || skipVerify) tls = { verify: !skipVerify, ...(ca ? { ca } : {}), ...pair };
  }
  const endpoint = toEndpoint(parsed, env, tls);
  return { endpoint, address: addressOf(endpoint), source: `context "${ctx.name}" (${ctx.source})` };
}

/**
 * Decides the engine from the environment and the docker CLI's configuration files.
 * Throws `UserError` (one line naming the variable or file and the fix) for a bad `DOCKER_HOST`,
 * a missing certificate, an unknown context or an unreadable context.
 */
export function resolveEngineConfig(env: Env, fs: FsReader): EngineConfig {
  const dockerHost = env['DOCKER_HOST'];
  if (nonEmpty(dockerHost)) {
    const parsed = parseHost(dockerHost, `DOCKER_HOST=${dockerHost}`, 'fix DOCKER_HOST or unset it to use the local engine');
    const endpoint = toEndpoint(parsed, env, tlsFromEnv(env, fs, parsed.scheme));
    return { endpoint, address: addressOf(endpoint), source: 'DOCKER_HOST' };
  }
  const ctx = contextName(env, fs);
  if (ctx !== undefined && ctx.name !== 'default') return fromContext(ctx, env, fs);
  return { endpoint: { kind: 'local' }, address: LOCAL_ADDRESS, source: 'the local default' };
}

/** A one-line description for messages: `tcp://10.0.0.5:2376 with TLS (from DOCKER_HOST)`. */
export function describeEngine(config: EngineConfig): string {
  const e = config.endpoint;
  const tls = e.kind === 'tcp' ? (e.tls ? (e.tls.verify ? ' with TLS' : ' with TLS, unverified') : ' without TLS') : '';
  return `${config.address}${tls} (from ${config.source})`;
}
