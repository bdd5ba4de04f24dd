/**
 * A remote engine over TCP with TLS, as docker CLI users set one up: a second dockerd, started
 * and stopped here, on a loopback port with its own CA, certificates, data root, exec root,
 * pid file and unix socket (so the main engine at /var/run/docker.sock is neither needed nor
 * touched), reached through DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and a Docker context.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, openSync, closeSync } from 'node:fs';
import { access, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerodeEngine } from '../../src/docker/engine.js';
import { execFileP, tempDir, freePort } from './helpers.js';

const WAIT_FOR_DOCKERD_MS = 5 * 60_000;
const START_TIMEOUT_MS = 90_000;

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** dockerd may still be being installed by .ci/setup-machine.sh: wait for it a while. */
async function waitForDockerd(): Promise<string> {
  const deadline = Date.now() + WAIT_FOR_DOCKERD_MS;
  for (;;) {
    const found = await findOnPath('dockerd');
    if (found) return found;
    if (Date.now() > deadline) throw new Error('dockerd is not installed: run `bash .ci/setup-machine.sh` (it installs docker.io)');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

const openssl = (args: string[], cwd: string) => execFileP('openssl', args, { cwd });
/** The second engine's default bridge (not docker0, which belongs to the main engine). */
const BRIDGE = 'lrb-it-br0';
const BRIDGE_ADDRESS = '10.213.77.1/24';

/** A CA, and certificates it signs: the server's for 127.0.0.1, a client's for clientAuth. */
async function makeCa(dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', 'ca-key.pem', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

async function signCert(dir: string, prefix: string, subject: string, extensions: string, serial: number): Promise<void> {
  await writeFile(path.join(dir, `${prefix}.ext`), extensions);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${prefix}-key.pem`, '-out', `${prefix}.csr`], dir);
  await openssl(
    ['x509', '-req', '-in', `${prefix}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', String(serial), '-days', '2',
      '-extfile', `${prefix}.ext`, '-out', `${prefix}-cert.pem`],
    dir,
  );
}

/** A certificate directory in DOCKER_CERT_PATH's layout. */
async function certDir(dir: string, pki: string, client: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(pki, 'ca.pem'), path.join(dir, 'ca.pem'));
  await copyFile(path.join(pki, `${client}-cert.pem`), path.join(dir, 'cert.pem'));
  await copyFile(path.join(pki, `${client}-key.pem`), path.join(dir, 'key.pem'));
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('a remote engine over TCP with TLS (a second dockerd on a loopback port)', () => {
  let root: { dir: string; cleanup: () => Promise<void> };
  let dockerd: ChildProcess | undefined;
  let port: number;
  let address: string;
  let clientCerts: string;
  const logFile = () => path.join(root.dir, 'dockerd.log');

  beforeAll(async () => {
    const binary = await waitForDockerd();
    root = await tempDir('lrb-remote-');
    const pki = path.join(root.dir, 'pki');
    await makeCa(pki, 'lrb-test-ca');
    await signCert(pki, 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n', 2);
    await signCert(pki, 'client', '/CN=lrb-client', 'extendedKeyUsage=clientAuth\n', 3);
    clientCerts = path.join(root.dir, 'client');
    await certDir(clientCerts, pki, 'client');
    // A client of another CA: it trusts a different CA and holds a certificate the engine does not.
    const otherPki = path.join(root.dir, 'other-pki');
    await makeCa(otherPki, 'lrb-other-ca');
    await signCert(otherPki, 'client', '/CN=lrb-intruder', 'extendedKeyUsage=clientAuth\n', 4);
    await certDir(path.join(root.dir, 'other'), otherPki, 'client');

    port = await freePort();
    address = `tcp://127.0.0.1:${port}`;
    const config = path.join(root.dir, 'daemon.json');
    await writeFile(config, '{}\n');
    // A bridge of its own: with `--bridge none`, dockerd deletes the host's docker0 at start-up,
    // the main engine's default network, and every later container of that engine fails to start.
    await execFileP('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await execFileP('ip', ['link', 'add', 'name', BRIDGE, 'type', 'bridge']);
    await execFileP('ip', ['addr', 'add', BRIDGE_ADDRESS, 'dev', BRIDGE]);
    const log = openSync(logFile(), 'a');
    // prettier-ignore
    dockerd = spawn(binary, [
      '--config-file', config,
      '--host', address,
      '--host', `unix://${path.join(root.dir, 'docker.sock')}`,
      '--tlsverify',
      '--tlscacert', path.join(pki, 'ca.pem'),
      '--tlscert', path.join(pki, 'server-cert.pem'),
      '--tlskey', path.join(pki, 'server-key.pem'),
      '--data-root', path.join(root.dir, 'data'),
      '--exec-root', path.join(root.dir, 'exec'),
      '--pidfile', path.join(root.dir, 'dockerd.pid'),
      '--storage-driver', 'vfs',
      '--bridge', BRIDGE,
      '--iptables=false',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);

    const engine = new DockerodeEngine({ DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: clientCerts });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (dockerd.exitCode !== null || dockerd.signalCode !== null) {
        throw new Error(`the second dockerd exited early (${dockerd.exitCode ?? dockerd.signalCode}):\n${(await readFile(logFile(), 'utf8')).slice(-3000)}`);
      }
      try {
        await engine.ping();
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`the second dockerd did not answer within ${START_TIMEOUT_MS / 1000} s (${(err as Error).message}):\n${(await readFile(logFile(), 'utf8')).slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });

  afterAll(async () => {
    if (dockerd && dockerd.pid !== undefined) {
      dockerd.kill('SIGTERM');
      if (!(await exited(dockerd, 30_000))) {
        dockerd.kill('SIGKILL');
        await exited(dockerd, 10_000);
        // dockerd's own containerd outlives a SIGKILLed dockerd: stop it by its pid file.
        const pid = Number((await readFile(path.join(root.dir, 'exec', 'containerd', 'containerd.pid'), 'utf8').catch(() => '')).trim());
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    await execFileP('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
    await root?.cleanup();
  });

  it('answers ping and info through DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    const engine = new DockerodeEngine({ DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: clientCerts });
    expect(engine.config?.endpoint).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port, tls: { verify: true } });
    await engine.ping();
    const info = await engine.info();
    expect(info.serverVersion).toMatch(/^\d+\.\d+/);
    expect(info.cpus).toBeGreaterThan(0);
    // Its own, fresh data root: no images and no containers, whatever the main engine holds.
    expect(await engine.listImages({})).toEqual([]);
    expect(await engine.listContainers({})).toEqual([]);
  });

  it('works from process.env, as the CLIs construct it', async () => {
    const saved = { ...process.env };
    try {
      delete process.env['DOCKER_CONTEXT'];
      Object.assign(process.env, { DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: clientCerts });
      const engine = new DockerodeEngine();
      await engine.ping();
      expect((await engine.info()).serverVersion).toMatch(/^\d+\.\d+/);
    } finally {
      for (const key of ['DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it('works through a Docker context (DOCKER_CONTEXT, meta.json and the context TLS store)', async () => {
    const configDir = path.join(root.dir, 'docker-config');
    const hash = createHash('sha256').update('lrb-remote').digest('hex');
    await mkdir(path.join(configDir, 'contexts', 'meta', hash), { recursive: true });
    await writeFile(
      path.join(configDir, 'contexts', 'meta', hash, 'meta.json'),
      JSON.stringify({ Name: 'lrb-remote', Metadata: {}, Endpoints: { docker: { Host: address, SkipTLSVerify: false } } }),
    );
    const tls = path.join(configDir, 'contexts', 'tls', hash, 'docker');
    await mkdir(tls, { recursive: true });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await copyFile(path.join(clientCerts, f), path.join(tls, f));
    const byEnv = new DockerodeEngine({ DOCKER_CONFIG: configDir, DOCKER_CONTEXT: 'lrb-remote' });
    expect(byEnv.config?.source).toBe('context "lrb-remote" (DOCKER_CONTEXT)');
    await byEnv.ping();
    await writeFile(path.join(configDir, 'config.json'), JSON.stringify({ currentContext: 'lrb-remote' }));
    const byConfig = new DockerodeEngine({ DOCKER_CONFIG: configDir });
    await byConfig.ping();
    expect((await byConfig.info()).serverVersion).toMatch(/^\d+\.\d+/);
  });

  it('refuses clients without the right certificates', async () => {
    // Plain HTTP to the TLS port.
    await expect(new DockerodeEngine({ DOCKER_HOST: address }).ping()).rejects.toThrow(
      new RegExp(`^no Docker engine answers at ${address} without TLS \\(from DOCKER_HOST\\)`),
    );
    // TLS that trusts the engine's CA but presents no client certificate (--tlsverify demands one).
    const home = path.join(root.dir, 'ca-only-home');
    await mkdir(path.join(home, '.docker'), { recursive: true });
    await copyFile(path.join(clientCerts, 'ca.pem'), path.join(home, '.docker', 'ca.pem'));
    const noClientCert = new DockerodeEngine({ HOME: home, DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1' });
    expect(noClientCert.config?.endpoint).toMatchObject({ tls: { verify: true } });
    expect(noClientCert.config?.endpoint).not.toHaveProperty('tls.cert');
    await expect(noClientCert.ping()).rejects.toThrow(
      new RegExp(`^no Docker engine answers at ${address} with TLS \\(from DOCKER_HOST\\) \\(the engine refused the client certificate, or wanted one and got none\\): start one there, or fix DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH$`),
    );
    // Certificates of another CA: the engine's certificate is not trusted, nor is the client's.
    await expect(
      new DockerodeEngine({ DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(root.dir, 'other') }).ping(),
    ).rejects.toThrow(/no Docker engine answers at .* with TLS .*certificate/);
    // Without verification the engine's certificate is accepted, but the client still has none it trusts.
    await expect(new DockerodeEngine({ HOME: home, DOCKER_HOST: address, DOCKER_TLS: '1' }).ping()).rejects.toThrow(
      /with TLS, unverified \(from DOCKER_HOST\) \(the engine refused the client certificate/,
    );
    // Each refusal is one line.
    const messages = await Promise.all(
      [{ DOCKER_HOST: address }, { HOME: home, DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1' }].map((env) =>
        new DockerodeEngine(env).ping().then(() => 'answered', (e: Error) => e.message),
      ),
    );
    for (const m of messages) expect(m).toMatch(/^no Docker engine answers at [^\n]*$/);
  });

  it('a missing certificate file is one line naming DOCKER_CERT_PATH', async () => {
    const empty = path.join(root.dir, 'empty-certs');
    await mkdir(empty, { recursive: true });
    await expect(new DockerodeEngine({ DOCKER_HOST: address, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: empty }).ping()).rejects.toThrow(
      `DOCKER_CERT_PATH=${empty} has no ca.pem: put ca.pem, cert.pem and key.pem there, or point DOCKER_CERT_PATH at the directory that holds them`,
    );
  });
});
