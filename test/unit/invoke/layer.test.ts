import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { listTarEntries } from '../../../src/layer/tar.js';
import { buildZip } from '../../../src/layer/zip.js';
import { paths } from '../../../src/paths.js';
import { PlatformRegistry } from '../../../src/platforms/registry.js';
import {
  chooseRuntimeImage,
  hasOwnBootstrap,
  packFunction,
  packLayer,
  readLayerManifest,
} from '../../../src/invoke/layer.js';

const EXAMPLES = path.resolve(import.meta.dirname, '../../../examples');
let registry: PlatformRegistry;
let dir: string;

beforeAll(async () => {
  registry = await PlatformRegistry.load(paths.platforms);
  dir = await mkdtemp(path.join(os.tmpdir(), 'invoke-layer-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chooseRuntimeImage', () => {
  const manifest = { platform: { name: 'debian-bookworm', runtimeImage: 'debian:bookworm' }, arch: 'x86_64' };

  it("uses the manifest's platform and the registry's runtime image", () => {
    expect(chooseRuntimeImage({ layer: 'l.zip', manifest, registry })).toEqual({ platform: 'debian-bookworm', image: 'debian:bookworm', source: 'manifest' });
  });

  it('--platform overrides the manifest, --image overrides both', () => {
    expect(chooseRuntimeImage({ layer: 'l.zip', manifest, platform: 'al2023', registry })).toEqual({
      platform: 'al2023',
      image: 'public.ecr.aws/lambda/provided:al2023',
      source: 'platform option',
    });
    expect(chooseRuntimeImage({ layer: 'l.zip', manifest: undefined, platform: 'debian-bullseye', registry }).image).toBe('debian:bullseye');
    expect(chooseRuntimeImage({ layer: 'l.zip', manifest, image: 'my/image:1', registry })).toEqual({
      platform: 'debian-bookworm',
      image: 'my/image:1',
      source: 'image option',
    });
  });

  it("falls back to the manifest's recorded image for a platform unknown here", () => {
    const odd = { platform: { name: 'gone', runtimeImage: 'old:image' } };
    expect(chooseRuntimeImage({ layer: 'l.zip', manifest: odd, registry }).image).toBe('old:image');
    expect(() => chooseRuntimeImage({ layer: 'l.zip', manifest: { platform: { name: 'gone' } }, registry })).toThrow(
      /names platform 'gone', which is unknown here: pass --platform/,
    );
  });

  it('says what to do when neither the manifest nor an option names a platform', () => {
    const call = () => chooseRuntimeImage({ layer: 'l.zip', manifest: undefined, registry });
    expect(call).toThrow(UserError);
    expect(call).toThrow(/cannot tell which platform l\.zip was built for: it has no manifest \(l\.zip\.json\).*pass --platform \(one of .*debian-bookworm.*\) or --image/);
    expect(() => chooseRuntimeImage({ layer: 'l.zip', manifest: {}, registry })).toThrow(/cannot tell which platform/);
    expect(() => chooseRuntimeImage({ layer: 'l.zip', manifest: undefined, platform: 'solaris', registry })).toThrow(/unknown platform 'solaris'/);
  });
});

describe('readLayerManifest', () => {
  it('reads <zip>.json, undefined when absent, an error when broken', async () => {
    const zip = path.join(dir, 'm.zip');
    expect(await readLayerManifest(zip)).toBeUndefined();
    await writeFile(`${zip}.json`, JSON.stringify({ platform: { name: 'debian-bookworm' }, arch: 'x86_64' }));
    expect(await readLayerManifest(zip)).toMatchObject({ platform: { name: 'debian-bookworm' }, arch: 'x86_64' });
    await writeFile(`${zip}.json`, '{oops');
    await expect(readLayerManifest(zip)).rejects.toThrow(/the layer manifest .*m\.zip\.json is not valid/);
    await writeFile(`${zip}.json`, '[]');
    await expect(readLayerManifest(zip)).rejects.toThrow(/not a JSON object/);
  });
});

describe('packing for putArchive', () => {
  it('puts the layer under opt/, modes and symlinks kept', async () => {
    const zip = path.join(dir, 'layer.zip');
    await writeFile(
      zip,
      await buildZip([
        { type: 'file', path: 'bootstrap', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
        { type: 'directory', path: 'bin', mode: 0o755 },
        { type: 'file', path: 'bin/php', mode: 0o755, data: Buffer.from('elf') },
        { type: 'symlink', path: 'bin/php7', mode: 0o777, target: 'php' },
      ]),
    );
    const { archive, entries } = await packLayer(zip);
    expect(archive.path).toBe('/');
    expect(entries.map((e) => e.path)).toEqual(['bin', 'bin/php', 'bin/php7', 'bootstrap']);
    const listing = await listTarEntries(Readable.from([archive.tar]));
    expect(listing.map((e) => [e.path, e.type, e.mode.toString(8), e.linkTarget])).toEqual([
      ['opt/bin', 'directory', '755', undefined],
      ['opt/bin/php', 'file', '755', undefined],
      ['opt/bin/php7', 'symlink', '777', 'php'],
      ['opt/bootstrap', 'file', '755', undefined],
    ]);
  });

  it('refuses a layer whose symlink leaves /opt, with the same rule and words as the builder', async () => {
    // buildZip refuses such a link, so write the zip with yazl as another tool could.
    const zip = path.join(dir, 'escaping.zip');
    const z = new yazl.ZipFile();
    z.addBuffer(Buffer.from('#!/bin/sh\n'), 'bootstrap', { mode: 0o100755 });
    z.addBuffer(Buffer.from('../../../../etc/passwd'), 'runtime/passwd', { mode: 0o120777, compress: false });
    z.end();
    const chunks: Buffer[] = [];
    for await (const chunk of z.outputStream) chunks.push(chunk as Buffer);
    await writeFile(zip, Buffer.concat(chunks));
    const error = await packLayer(zip).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain('"runtime/passwd": symlink target "../../../../etc/passwd" leaves the layer root');
  });

  it('a missing or broken layer zip is a user error', async () => {
    await expect(packLayer(path.join(dir, 'none.zip'))).rejects.toThrow(/does not exist/);
    await writeFile(path.join(dir, 'bad.zip'), 'not a zip');
    await expect(packLayer(path.join(dir, 'bad.zip'))).rejects.toThrow(/cannot read the layer zip/);
  });

  it('puts a function directory under var/task/', async () => {
    const { archive, entries } = await packFunction(path.join(EXAMPLES, 'file-function'));
    expect(hasOwnBootstrap(entries)).toBe(false);
    const listing = await listTarEntries(Readable.from([archive.tar]));
    expect(listing.map((e) => `${e.path} ${e.type} ${e.mode.toString(8)}`)).toEqual([
      'var/task directory 755',
      'var/task/README.md file 644',
      'var/task/lib directory 755',
      'var/task/lib/greeter.php file 644',
    ]);
  });

  it('takes a function zip too, and notices a bootstrap of its own', async () => {
    const zip = path.join(dir, 'fn.zip');
    await writeFile(
      zip,
      await buildZip([
        { type: 'file', path: 'bootstrap', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
        { type: 'file', path: 'index.php', mode: 0o644, data: Buffer.from('<?php') },
      ]),
    );
    const { archive, entries } = await packFunction(zip);
    expect(hasOwnBootstrap(entries)).toBe(true);
    expect((await listTarEntries(Readable.from([archive.tar]))).map((e) => e.path)).toEqual(['var/task', 'var/task/bootstrap', 'var/task/index.php']);
    await expect(packFunction(path.join(dir, 'missing'))).rejects.toThrow(/--function .*missing does not exist/);
  });
});
