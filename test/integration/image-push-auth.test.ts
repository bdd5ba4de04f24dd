import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { buildLayerImage, type LayerImage } from '../../src/image/index.js';
import { NO_HANDLER_EXIT_STATUS } from '../../src/image/context.js';
import {
  MOTO_ACCOUNT,
  REPO_ROOT,
  craftLayer,
  execFileP,
  freePort,
  requireEngine,
  startMoto,
  startRegistry,
  tempDir,
  type LocalRegistry,
  type MotoServer,
} from './helpers.js';

// `push` with credentials, for real: Debian's docker-registry on loopback behind an htpasswd file
// (bcrypt, written by Debian's `htpasswd -B`), and an ECR token from moto's server used for that
// registry through --ecr-region. The image is made from a tiny crafted layer on debian:bookworm:
// no interpreter is built here.
const USER = 'lrb-pusher';
const PASSWORD = 'right-pw-7f3c1a9e';
const WRONG_PASSWORD = 'wrong-pw-0b5d2e64';
// moto's GetAuthorizationToken answers base64("AWS:<account>-auth-token") for the account it
// serves (moto/ecr/responses.py, python3-moto 5.1.1); the registry knows that user too, so only a
// push that really logged in with the token moto gave gets in.
const ECR_USER = 'AWS';
const ECR_PASSWORD = `${MOTO_ACCOUNT}-auth-token`;
const AWS_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SESSION_TOKEN: 'testing' };
const SECRETS = [PASSWORD, WRONG_PASSWORD, ECR_PASSWORD];

let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let registry: LocalRegistry;
let moto: MotoServer;
let image: LayerImage;
const created: string[] = [];

/** `htpasswd -B` reading the password from stdin (`-i`), so it is in no process list. */
async function addUser(file: string, user: string, password: string, create: boolean): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('htpasswd', [...(create ? ['-c'] : []), '-B', '-i', file, user], (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(password);
  });
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

/**
 * stderr without the warning block Node prints for the AWS SDK's NodeVersionSupportWarning (the
 * SDK's notice that later versions need Node 22, on any SDK command): what the tool itself said.
 */
function toolLines(stderr: string): string[] {
  return stderr
    .replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?^\(Use `node --trace-warnings \.\.\.`[^\n]*\n/m, '')
    .trimEnd()
    .split('\n');
}

function expectNoSecret(r: CliRun): void {
  for (const s of SECRETS) {
    expect(r.stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
}

/** The registry's own answer for a manifest, with or without credentials. */
async function registryStatus(repoPath: string, ref: string, auth?: { user: string; password: string }): Promise<number> {
  const headers: Record<string, string> = { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' };
  if (auth) headers['Authorization'] = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  return (await fetch(`http://${registry.host}/v2/${repoPath}/manifests/${ref}`, { method: 'HEAD', headers })).status;
}

/** Drops every local name of the image, pulls `reference` back with `auth` and checks it is the same image. */
async function expectPullBack(reference: string, auth: { username: string; password: string }): Promise<void> {
  const name = reference.slice(0, reference.indexOf('@'));
  await engine.removeImage(`${name}:${image.tag}`);
  // Without credentials the registry gives nothing.
  await expect(engine.pullImageWithAuth(reference)).rejects.toThrow(/unauthorized|authentication required|no basic auth/i);
  await engine.pullImageWithAuth(reference, { ...auth, serveraddress: registry.host });
  const pulled = (await engine.inspectImageDetails(reference))!;
  expect(pulled.id).toBe(image.id);
  expect(pulled.repoDigests).toContain(reference);
  expect(pulled.labels['io.lambda-runtime-builder.layer.zip-sha256']).toBe(image.labels['io.lambda-runtime-builder.layer.zip-sha256']);
  await engine.removeImage(reference);
}

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-push-auth-');
  const htpasswd = path.join(out.dir, 'htpasswd');
  await addUser(htpasswd, USER, PASSWORD, true);
  await addUser(htpasswd, ECR_USER, ECR_PASSWORD, false);
  registry = await startRegistry(out.dir, { htpasswd });
  moto = await startMoto(engine);
  const layer = await craftLayer(out.dir, 'tiny', { bootstrap: new TextEncoder().encode('#!/bin/sh\necho crafted-bootstrap\n') }, {
    platform: { name: 'debian-bookworm', deployable: false, lambdaRuntime: null, glibc: '2.36', buildImage: 'debian:bookworm', runtimeImage: 'debian:bookworm' },
  });
  image = await buildLayerImage({ layer: layer.manifest, repo: 'lrb-test/push-auth', engine });
  created.push(image.image, image.id);
}, 120_000);

afterAll(async () => {
  registry?.stop();
  await moto?.container.remove();
  for (const ref of created) await engine.removeImage(ref).catch(() => undefined);
  await out?.cleanup();
});

describe('push --registry-auth to a registry that wants credentials (htpasswd, bcrypt)', () => {
  it('the registry really refuses anonymous and wrong credentials', async () => {
    expect((await fetch(`http://${registry.host}/v2/`)).status).toBe(401);
    expect(await registryStatus('lrb/none', 'x', { user: USER, password: WRONG_PASSWORD })).toBe(401);
  });

  it('right credentials (env:VAR): pushed, the registry holds that digest, pulled back by digest with them', async () => {
    const repo = `${registry.host}/lrb/auth`;
    const r = await cli(['push', image.image, '--to', repo, '--registry-auth', 'env:LRB_TEST_REGISTRY_AUTH'], { LRB_TEST_REGISTRY_AUTH: `${USER}:${PASSWORD}` });
    expect(r.code, r.stderr).toBe(0);
    expectNoSecret(r);
    const reference = r.stdout.trim();
    expect(reference).toMatch(new RegExp(`^${repo.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    created.push(`${repo}:${image.tag}`);
    const digest = reference.slice(reference.indexOf('@') + 1);
    expect(await registryStatus('lrb/auth', digest)).toBe(401);
    expect(await registryStatus('lrb/auth', digest, { user: USER, password: PASSWORD })).toBe(200);
    await expectPullBack(reference, { username: USER, password: PASSWORD });
  });

  it('right credentials (@FILE) with --json', async () => {
    const file = path.join(out.dir, 'registry-auth');
    await writeFile(file, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
    const repo = `${registry.host}/lrb/auth-file`;
    const r = await cli(['push', image.image, '--to', repo, '--registry-auth', `@${file}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expectNoSecret(r);
    created.push(`${repo}:${image.tag}`);
    const pushed = JSON.parse(r.stdout) as { repo: string; tag: string; digest: string; reference: string };
    expect(pushed).toMatchObject({ repo, tag: image.tag, reference: `${repo}@${pushed.digest}` });
    expect(await registryStatus('lrb/auth-file', pushed.digest, { user: USER, password: PASSWORD })).toBe(200);
  });

  it('wrong credentials: one line naming the registry and what to check, exit 2, no secret, nothing stored', async () => {
    const repo = `${registry.host}/lrb/wrong`;
    const r = await cli(['push', image.image, '--to', repo, '--registry-auth', 'env:LRB_TEST_REGISTRY_AUTH'], { LRB_TEST_REGISTRY_AUTH: `${USER}:${WRONG_PASSWORD}` });
    created.push(`${repo}:${image.tag}`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expectNoSecret(r);
    const lines = toolLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^lambda-runtime-builder: push of ${repo.replace(/[.]/g, '\\.')}:${image.tag} to ${registry.host.replace(/[.]/g, '\\.')} failed: .*unauthorized.*: check the user and password that --registry-auth gives$`, 'i'));
    expect(await registryStatus('lrb/wrong', image.tag, { user: USER, password: PASSWORD })).toBe(404);
  });

  it('no credentials: one line saying the registry wants them, exit 2', async () => {
    const repo = `${registry.host}/lrb/anonymous`;
    const r = await cli(['push', image.image, '--to', repo]);
    created.push(`${repo}:${image.tag}`);
    expect(r.code).toBe(2);
    expect(toolLines(r.stderr), r.stderr).toEqual([expect.stringMatching(/^lambda-runtime-builder: push of .* failed: .*: the registry wants credentials: pass --registry-auth/)]);
  });
});

describe('push --ecr-region: an ECR token (moto) for a registry behind another host name', () => {
  it('logs in with the token GetAuthorizationToken gave; the image is pulled back by digest with it', async () => {
    const repo = `${registry.host}/lrb/ecr`;
    const r = await cli(['push', image.image, '--to', repo, '--ecr-region', 'us-east-1', '--endpoint-url', moto.endpoint], AWS_CREDENTIALS);
    expect(r.code, r.stderr).toBe(0);
    expectNoSecret(r);
    created.push(`${repo}:${image.tag}`);
    const reference = r.stdout.trim();
    expect(reference).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(moto.log()).toMatch(/POST \/ HTTP/); // the token came from moto (ECR's API is JSON over POST /)
    await expectPullBack(reference, { username: ECR_USER, password: ECR_PASSWORD });
  });

  it('ECR unreachable: one line naming the region, exit 2, nothing pushed', async () => {
    const repo = `${registry.host}/lrb/ecr-down`;
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['push', image.image, '--to', repo, '--ecr-region', 'us-east-1', '--endpoint-url', down], { ...AWS_CREDENTIALS, AWS_MAX_ATTEMPTS: '1' });
    expect(r.code).toBe(2);
    const lines = toolLines(r.stderr);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^lambda-runtime-builder: cannot get an ECR authorization token in us-east-1: .*ECONNREFUSED/);
    expect(await registryStatus('lrb/ecr-down', image.tag, { user: USER, password: PASSWORD })).toBe(404);
  }, 60_000);

  it('--ecr-region with --registry-auth is refused before anything is pushed', async () => {
    const r = await cli(['push', image.image, '--to', `${registry.host}/lrb/both`, '--ecr-region', 'us-east-1', '--registry-auth', 'env:X']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('lambda-runtime-builder: --registry-auth and --ecr-region both give credentials: pass one\n');
  });
});

describe('the image of a crafted layer', () => {
  it('with no CMD, or CMD [""], the entrypoint stops with one line naming what to set, exit 142', async () => {
    expect((await engine.inspectImageDetails(image.image))!.cmd).toBeNull();
    for (const cmd of [undefined, ['']]) {
      const c = await engine.createContainer({ image: image.image, ...(cmd ? { cmd } : {}) });
      try {
        await c.start();
        expect(await c.wait()).toBe(NO_HANDLER_EXIT_STATUS);
        const logs = await c.logs();
        expect(logs.stdout).toBe('');
        expect(logs.stderr).toMatch(/^lambda-runtime-builder: no handler: set CMD \["<handler>"\] in the Dockerfile of your function image/);
        expect(logs.stderr.trimEnd().split('\n')).toHaveLength(1);
      } finally {
        await c.remove();
      }
    }
  });

  it('a layer for arm64 on an x86_64 base image is refused in one line naming both', async () => {
    const arm = await craftLayer(out.dir, 'tiny-arm64', { bootstrap: new TextEncoder().encode('#!/bin/sh\n') }, {
      arch: 'arm64',
      platform: { name: 'debian-bookworm', deployable: false, lambdaRuntime: null, glibc: '2.36', buildImage: 'debian:bookworm', runtimeImage: 'debian:bookworm' },
    });
    const r = await cli(['image', arm.manifest, '--repo', 'lrb-test/push-auth-arm']);
    created.push('lrb-test/push-auth-arm:php-8.2.32-debian-bookworm-arm64'); // removed afterwards should the check ever let it through
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lambda-runtime-builder: the base image debian:bookworm is x86_64 but the layer is arm64: the image needs a runtime image of the layer's architecture (create or pull the arm64 one, or use a x86_64 layer)\n",
    );
    expect(await engine.inspectImage('lrb-test/push-auth-arm:php-8.2.32-debian-bookworm-arm64')).toBeNull();
  });
});
