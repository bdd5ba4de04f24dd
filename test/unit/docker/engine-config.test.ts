import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import {
  type Env,
  type FsReader,
  contextDirName,
  describeEngine,
  resolveEngineConfig,
} from '../../../src/docker/engine-config.js';
import { DockerodeEngine } from '../../../src/docker/engine.js';

/** A file system made of a map; every other path does not exist. */
function files(map: Record<string, string> = {}, home = '/home/u'): FsReader {
  return {
    readFile: (p) => (p in map ? Buffer.from(map[p] as string) : undefined),
    homedir: () => home,
  };
}
const HOME: Env = { HOME: '/home/u' };
const CERTS = { '/certs/ca.pem': 'CA', '/certs/cert.pem': 'CERT', '/certs/key.pem': 'KEY' };

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return err as UserError;
  }
  throw new Error('expected a UserError');
}

/** Writes a context the way `docker context create` stores it. */
function context(name: string, endpoint: Record<string, unknown>, tls: Record<string, string> = {}, dir = '/home/u/.docker'): Record<string, string> {
  const hash = contextDirName(name);
  const out: Record<string, string> = {
    [`${dir}/contexts/meta/${hash}/meta.json`]: JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: endpoint } }),
  };
  for (const [file, text] of Object.entries(tls)) out[`${dir}/contexts/tls/${hash}/docker/${file}`] = text;
  return out;
}

describe('resolveEngineConfig: DOCKER_HOST', () => {
  it('uses the local default when nothing is set', () => {
    expect(resolveEngineConfig(HOME, files())).toEqual({ endpoint: { kind: 'local' }, address: 'unix:///var/run/docker.sock', source: 'the local default' });
  });

  it('takes unix sockets, with the default path for a bare unix://', () => {
    expect(resolveEngineConfig({ DOCKER_HOST: 'unix:///tmp/d.sock' }, files()).endpoint).toEqual({ kind: 'unix', socketPath: '/tmp/d.sock' });
    expect(resolveEngineConfig({ DOCKER_HOST: 'unix://' }, files()).endpoint).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock' });
  });

  it('takes tcp addresses as the CLI does: default port 2375, no scheme means tcp, no TLS by port', () => {
    expect(resolveEngineConfig({ DOCKER_HOST: 'tcp://10.0.0.5' }, files()).endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375 });
    expect(resolveEngineConfig({ DOCKER_HOST: '10.0.0.5:1234' }, files()).endpoint).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 1234 });
    expect(resolveEngineConfig({ DOCKER_HOST: 'tcp://h:2376' }, files()).endpoint).toEqual({ kind: 'tcp', host: 'h', port: 2376 });
    const v6 = resolveEngineConfig({ DOCKER_HOST: 'tcp://[::1]:2376' }, files());
    expect(v6.endpoint).toEqual({ kind: 'tcp', host: '::1', port: 2376 });
    expect(v6.address).toBe('tcp://[::1]:2376');
  });

  it('turns TLS on for any non-empty DOCKER_TLS_VERIFY ("0" too) and reads DOCKER_CERT_PATH', () => {
    for (const value of ['1', '0', 'true']) {
      const config = resolveEngineConfig({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: value, DOCKER_CERT_PATH: '/certs' }, files(CERTS));
      expect(config.endpoint).toEqual({
        kind: 'tcp',
        host: 'h',
        port: 2376,
        tls: { verify: true, ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') },
      });
      expect(describeEngine(config)).toBe('tcp://h:2376 with TLS (from DOCKER_HOST)');
    }
    expect(resolveEngineConfig({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '/certs' }, files(CERTS)).endpoint).toEqual({
      kind: 'tcp',
      host: 'h',
      port: 2376,
    });
  });

  it('defaults the certificate directory to $DOCKER_CONFIG or ~/.docker', () => {
    const home = files({ '/home/u/.docker/ca.pem': 'HOMECA', '/home/u/.docker/cert.pem': 'C', '/home/u/.docker/key.pem': 'K' });
    const tls = (env: Env, fs: FsReader) => {
      const e = resolveEngineConfig(env, fs).endpoint;
      return e.kind === 'tcp' ? e.tls : undefined;
    };
    expect(tls({ ...HOME, DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1' }, home)?.ca?.toString()).toBe('HOMECA');
    // HOME unset: the reader's home directory.
    expect(tls({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1' }, home)?.ca?.toString()).toBe('HOMECA');
    expect(tls({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: '/cfg' }, files({ '/cfg/ca.pem': 'CFGCA' }))).toEqual({
      verify: true,
      ca: Buffer.from('CFGCA'),
    });
  });

  it('DOCKER_TLS alone means TLS without verification (no CA needed)', () => {
    const config = resolveEngineConfig({ ...HOME, DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS: '1' }, files());
    expect(config.endpoint).toEqual({ kind: 'tcp', host: 'h', port: 2376, tls: { verify: false } });
    expect(describeEngine(config)).toBe('tcp://h:2376 with TLS, unverified (from DOCKER_HOST)');
  });

  it('a missing certificate is one line naming the variable and the fix', () => {
    const noKey = userError(() =>
      resolveEngineConfig({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, files({ '/certs/ca.pem': 'CA', '/certs/cert.pem': 'C' })),
    );
    expect(noKey.message).toBe(
      'DOCKER_CERT_PATH=/certs has no key.pem: put ca.pem, cert.pem and key.pem there, or point DOCKER_CERT_PATH at the directory that holds them',
    );
    const noCa = userError(() => resolveEngineConfig({ ...HOME, DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1' }, files()));
    expect(noCa.message).toBe(
      'DOCKER_TLS_VERIFY is set but /home/u/.docker/ca.pem does not exist: set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem',
    );
    expect(userError(() => resolveEngineConfig({ ...HOME, DOCKER_HOST: 'tcp://h', DOCKER_TLS: '1' }, files({ '/home/u/.docker/cert.pem': 'C' }))).message).toMatch(
      /\/home\/u\/.docker has cert.pem but no key.pem/,
    );
    // A unix socket never reads certificates.
    expect(resolveEngineConfig({ DOCKER_HOST: 'unix:///s', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nowhere' }, files()).endpoint.kind).toBe('unix');
  });

  it.each([
    ['ftp://h', /^DOCKER_HOST=ftp:\/\/h is not a Docker engine address \(use unix:\/\/\/path\/to\/docker.sock, tcp:\/\/HOST:PORT or ssh:\/\/USER@HOST\): fix DOCKER_HOST or unset it/],
    ['tcp://h:99999', /^DOCKER_HOST=tcp:\/\/h:99999 is not a valid address/],
    ['tcp://h:2375/v1.41', /has a path \(\/v1.41\), which is not supported/],
    ['tcp://u@h:2375', /has a user name/],
    ['npipe:////./pipe/docker_engine', /Windows named pipe/],
    ['ssh://', /names no host/],
  ])('refuses DOCKER_HOST=%s with one line', (value, message) => {
    expect(userError(() => resolveEngineConfig({ DOCKER_HOST: value }, files())).message).toMatch(message);
  });

  it('takes ssh addresses: user from the URL or $USER, port 22, the agent from SSH_AUTH_SOCK', () => {
    expect(resolveEngineConfig({ DOCKER_HOST: 'ssh://ci@build.example:2222', SSH_AUTH_SOCK: '/run/agent' }, files()).endpoint).toEqual({
      kind: 'ssh',
      host: 'build.example',
      port: 2222,
      username: 'ci',
      agentSocket: '/run/agent',
    });
    const config = resolveEngineConfig({ DOCKER_HOST: 'ssh://build.example', USER: 'me' }, files());
    expect(config.endpoint).toEqual({ kind: 'ssh', host: 'build.example', port: 22, username: 'me' });
    expect(describeEngine(config)).toBe('ssh://me@build.example:22 (from DOCKER_HOST)');
  });
});

describe('resolveEngineConfig: contexts', () => {
  const remote = context('remote', { Host: 'tcp://10.1.2.3:2376', SkipTLSVerify: false }, { 'ca.pem': 'CA', 'cert.pem': 'CERT', 'key.pem': 'KEY' });

  it('stores contexts under the SHA-256 of their name, as the docker CLI does', () => {
    expect(contextDirName('local')).toBe('25bf8e1a2393f1108d37029b3df5593236c755742ec93465bbafa9b290bddcf6');
  });

  it('uses DOCKER_CONTEXT: endpoint from meta.json, TLS material from the context store', () => {
    const config = resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'remote' }, files(remote));
    expect(config).toEqual({
      endpoint: { kind: 'tcp', host: '10.1.2.3', port: 2376, tls: { verify: true, ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') } },
      address: 'tcp://10.1.2.3:2376',
      source: 'context "remote" (DOCKER_CONTEXT)',
    });
  });

  it('uses currentContext from config.json; DOCKER_CONTEXT beats it; DOCKER_HOST beats both', () => {
    const fs = files({
      ...remote,
      ...context('other', { Host: 'unix:///other.sock' }),
      '/home/u/.docker/config.json': JSON.stringify({ auths: {}, currentContext: 'remote' }),
    });
    expect(resolveEngineConfig(HOME, fs).source).toBe('context "remote" (currentContext in /home/u/.docker/config.json)');
    expect(resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'other' }, fs).endpoint).toEqual({ kind: 'unix', socketPath: '/other.sock' });
    expect(resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'other', DOCKER_HOST: 'unix:///env.sock' }, fs)).toMatchObject({
      endpoint: { kind: 'unix', socketPath: '/env.sock' },
      source: 'DOCKER_HOST',
    });
    // "default" means no context, and so does a config without currentContext.
    expect(resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'default' }, fs).endpoint).toEqual({ kind: 'local' });
    expect(resolveEngineConfig(HOME, files({ '/home/u/.docker/config.json': '{"auths":{}}' })).endpoint).toEqual({ kind: 'local' });
  });

  it('honours DOCKER_CONFIG for the config file and the context store', () => {
    const fs = files({ ...context('ci', { Host: 'ssh://ci@box' }, {}, '/cfg'), '/cfg/config.json': '{"currentContext":"ci"}' });
    expect(resolveEngineConfig({ ...HOME, DOCKER_CONFIG: '/cfg' }, fs).endpoint).toEqual({ kind: 'ssh', host: 'box', port: 22, username: 'ci' });
  });

  it('TLS only when the context has TLS material or skips verification', () => {
    const plain = resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'p' }, files(context('p', { Host: 'tcp://h:2375' })));
    expect(plain.endpoint).toEqual({ kind: 'tcp', host: 'h', port: 2375 });
    expect(describeEngine(plain)).toBe('tcp://h:2375 without TLS (from context "p" (DOCKER_CONTEXT))');
    const skip = resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 's' }, files(context('s', { Host: 'tcp://h:2376', SkipTLSVerify: true })));
    expect(skip.endpoint).toEqual({ kind: 'tcp', host: 'h', port: 2376, tls: { verify: false } });
    // TLS environment variables belong to DOCKER_HOST, not to contexts.
    expect(resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'p', DOCKER_TLS_VERIFY: '1' }, files(context('p', { Host: 'tcp://h:2375' }))).endpoint).toEqual({
      kind: 'tcp',
      host: 'h',
      port: 2375,
    });
  });

  it('an unknown or broken context is one line naming where it came from and the fix', () => {
    const hash = contextDirName('gone');
    expect(userError(() => resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'gone' }, files())).message).toBe(
      `the Docker context "gone" (DOCKER_CONTEXT) does not exist (no /home/u/.docker/contexts/meta/${hash}/meta.json): set DOCKER_CONTEXT to a context from \`docker context ls\`, or unset it`,
    );
    expect(userError(() => resolveEngineConfig(HOME, files({ '/home/u/.docker/config.json': '{"currentContext":"gone"}' }))).message).toMatch(
      /^the Docker context "gone" \(currentContext in \/home\/u\/.docker\/config.json\) does not exist .*: run `docker context use default`/,
    );
    expect(userError(() => resolveEngineConfig(HOME, files({ '/home/u/.docker/config.json': '{oops' }))).message).toMatch(
      /^the docker CLI configuration \/home\/u\/.docker\/config.json is not valid JSON .*: fix it, or set DOCKER_HOST$/,
    );
    expect(userError(() => resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'x' }, files(context('x', { Host: 'ftp://h' })))).message).toMatch(
      /^the Docker context "x" \(DOCKER_CONTEXT\) has the endpoint ftp:\/\/h, which is not a Docker engine address .*docker context update x/,
    );
    expect(userError(() => resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'k' }, files(context('k', { Host: 'tcp://h' }, { 'key.pem': 'K' })))).message).toMatch(
      /has key.pem but no cert.pem/,
    );
    expect(userError(() => resolveEngineConfig({ ...HOME, DOCKER_CONTEXT: 'n' }, files(context('n', {})))).message).toMatch(/has no docker endpoint/);
  });
});

describe('DockerodeEngine configuration', () => {
  it('a bad setting does not throw at construction but at the first call, as a UserError', async () => {
    const engine = new DockerodeEngine({ DOCKER_HOST: 'ftp://nowhere' }, files());
    expect(engine.config).toBeUndefined();
    await expect(engine.ping()).rejects.toThrow(UserError);
    await expect(engine.ping()).rejects.toThrow(/^DOCKER_HOST=ftp:\/\/nowhere is not a Docker engine address/);
    await expect(engine.listContainers({})).rejects.toThrow(/DOCKER_HOST=ftp/);
  });

  it('an engine that does not answer is named with where its address came from', async () => {
    const engine = new DockerodeEngine({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, files());
    expect(engine.config?.address).toBe('unix:///nonexistent/docker.sock');
    await expect(engine.ping()).rejects.toThrow(
      /^no Docker engine answers at unix:\/\/\/nonexistent\/docker.sock \(from DOCKER_HOST\) \(.*ENOENT.*\): start one there, or fix DOCKER_HOST$/,
    );
  });
});
