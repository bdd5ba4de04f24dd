import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import { withContainer, type DockerodeEngine } from '../../src/docker/engine.js';
import { RuntimeApiServer } from '../../src/emulator/runtime-api-server.js';
import { buildLayerImage, pushLayerImage, type LayerImage } from '../../src/image/index.js';
import { invokeEnvironment } from '../../src/invoke/environment.js';
import { LAMBDA_ENV } from '../../src/lambda.js';
import { packFunction } from '../../src/invoke/layer.js';
import { Sandbox } from '../../src/invoke/sandbox.js';
import { packTar, readTarEntries } from '../../src/layer/tar.js';
import { readZipEntries } from '../../src/layer/zip.js';
import { REPO_ROOT, requireEngine, startRegistry, tempDir, X86_PHP, type LocalRegistry, HEAVY_BUILDS } from './helpers.js';

// A real built x86_64 minimal layer (X86_PHP, al2023-portable, the build portable.test.ts makes, so a reuse in CI)
// as a Lambda image: its runtime image is the glibc-only one, which has nothing but glibc and
// busybox's sh. One invocation through the image's own entrypoint, then a push to Debian's
// docker-registry on loopback and a pull back by digest.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let layer: string;
let image: LayerImage;
let registry: LocalRegistry | undefined;
let registryHost: string;

/**
 * A user's function image, as the README says to write it: `FROM` the built image, `COPY` of
 * examples/hello to /var/task, `CMD ["hello"]`. One invocation through its inherited ENTRYPOINT
 * and its CMD, with only what Lambda itself sets: neither the handler nor Lambda's fixed paths
 * (PATH, LD_LIBRARY_PATH, ...) are passed in; they must come from the image.
 */
async function expectOneInvocation(built: LayerImage): Promise<void> {
  expect((await engine.inspectImageDetails(built.image))!.entrypoint).toEqual(built.entrypoint);
  const { entries } = await packFunction(path.join(REPO_ROOT, 'examples/hello'));
  const dockerfile = `FROM ${built.image}\nCOPY function/ /var/task/\nCMD ["hello"]\n`;
  const functionImage = `${built.repo}-function:${built.tag}`;
  await engine.buildImage({
    context: packTar([
      { type: 'file', path: 'Dockerfile', mode: 0o644, data: Buffer.from(dockerfile) },
      { type: 'directory', path: 'function', mode: 0o755 },
      ...entries.map((e) => ({ ...e, path: `function/${e.path}` })),
    ]),
    tag: functionImage,
    labels: {},
  });
  const api = new RuntimeApiServer({ functionName: 'hello', timeoutMs: 10_000, region: 'us-east-1' });
  await api.listen();
  try {
    const details = (await engine.inspectImageDetails(functionImage))!;
    expect(details.entrypoint).toEqual(built.entrypoint);
    expect(details.cmd).toEqual(['hello']);
    const full = invokeEnvironment({ runtimeApi: api.address, handler: 'hello', functionName: 'hello', memoryMb: 128, region: 'us-east-1' });
    expect(full._HANDLER).toBe('hello');
    const env = Object.fromEntries(Object.entries(full).filter(([k]) => k !== '_HANDLER' && !(k in LAMBDA_ENV)));
    const output: string[] = [];
    const sandbox = await Sandbox.create({
      engine,
      api,
      image: functionImage,
      env,
      memoryMb: 128,
      archives: [],
      entrypoint: details.entrypoint!,
      cmd: details.cmd!,
      onOutput: (_s, text) => output.push(text),
    });
    try {
      const init = await sandbox.start();
      expect(init.status, output.join('')).toBe('ready');
      const result = await api.invoke('{"name":"Image"}');
      expect(result.status, output.join('')).toBe('success');
      expect(JSON.parse(result.body.toString())).toBe('Hello, Image!'); // the runtime JSON-encodes a handler's return value
    } finally {
      await sandbox.remove();
    }
  } finally {
    await api.close();
    await engine.removeImage(functionImage);
  }
}

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-image-');
  const report = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: out.dir, renderer: 'silent', engine });
  layer = report.results[0]!.zip;
  image = await buildLayerImage({ layer, repo: 'lrb-test/php-image', engine });
  registry = await startRegistry(out.dir);
  registryHost = registry.host;
});

afterAll(async () => {
  registry?.stop();
  if (image) {
    for (const ref of [image.image, image.id]) await engine.removeImage(ref).catch(() => undefined);
  }
  await out?.cleanup();
});

describe('image: a Lambda container image from the built layer', () => {
  it('is tagged and labelled from the manifest, with the layer at /opt exactly as zipped', async () => {
    expect(image.image).toBe(`lrb-test/php-image:${X86_PHP.zip.replace(/\.zip$/, '')}`);
    expect(image.kind).toBe('plain');
    expect(image.baseImage).toBe('lambda-runtime-builder/glibc-only:bullseye-x86_64');
    const details = (await engine.inspectImageDetails(image.image))!;
    expect(details.labels).toMatchObject({
      'io.lambda-runtime-builder.layer.recipe': 'php',
      'io.lambda-runtime-builder.layer.version': X86_PHP.version,
      'io.lambda-runtime-builder.layer.platform': 'al2023-portable',
      'io.lambda-runtime-builder.layer.arch': 'x86_64',
      'io.lambda-runtime-builder.layer.lambda-runtime': 'provided.al2023',
      'io.lambda-runtime-builder.layer.deployable': 'true',
      'org.opencontainers.image.base.name': 'lambda-runtime-builder/glibc-only:bullseye-x86_64',
      'org.opencontainers.image.licenses': 'PHP-3.01',
    });
    expect(details.entrypoint).toEqual(['/usr/local/bin/lambda-runtime-builder-entrypoint']);
    expect(details.workingDir).toBe('/var/task');
    expect(details.env).toEqual(expect.arrayContaining(Object.entries(LAMBDA_ENV).map(([k, v]) => `${k}=${v}`)));

    const zipped = await readZipEntries(layer);
    const inImage = await withContainer(engine, { image: image.image, entrypoint: ['/bin/true'] }, async (c) =>
      readTarEntries((await c.getArchive('/opt')) as unknown as NodeJS.ReadableStream, { stripPrefix: 'opt' }),
    );
    const view = (es: typeof zipped) =>
      es
        .map((e) => `${e.type} ${e.path} ${e.mode.toString(8)}${e.type === 'symlink' ? ` -> ${e.target}` : ''}${e.type === 'file' ? ` ${e.data.length}` : ''}`)
        .sort();
    expect(view(inImage)).toEqual(view(zipped));
    expect(zipped.some((e) => e.type === 'symlink')).toBe(true);
  });

  it("a function image FROM it + COPY serves one invocation through its entrypoint, the handler as CMD", async () => {
    await expectOneInvocation(image);
  });

  it('push: to a local registry, then pulled back by digest with the same id and labels', async () => {
    const repo = `${registryHost}/lrb/php`;
    const pushed = await pushLayerImage({ image: image.image, to: repo, engine });
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.reference).toBe(`${repo}@${pushed.digest}`);
    const manifest = await fetch(`http://${registryHost}/v2/lrb/php/manifests/${image.tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    expect(manifest.headers.get('docker-content-digest')).toBe(pushed.digest);

    await engine.removeImage(`${repo}:${image.tag}`);
    await engine.removeImage(image.image);
    expect(await engine.inspectImage(image.id)).toBeNull();
    await engine.pullImageWithAuth(pushed.reference);
    const pulled = (await engine.inspectImageDetails(pushed.reference))!;
    expect(pulled.id).toBe(image.id);
    expect(pulled.repoDigests).toContain(pushed.reference);
    expect(pulled.labels['io.lambda-runtime-builder.layer.zip-sha256']).toBe(image.labels['io.lambda-runtime-builder.layer.zip-sha256']);
    await engine.removeImage(pushed.reference);
  });
});
