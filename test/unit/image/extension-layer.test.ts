import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { buildLayerImage, type ImageEngine } from '../../../src/image/build.js';

// An extension or vendor layer has no bootstrap and no interpreter: it cannot be a function image by itself.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-image-ext-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('image from an extension layer', () => {
  it('is refused in one line before the engine is asked anything', async () => {
    const zip = path.join(dir, 'php-ext-redis-6.2.0-for-php-8.2.32-al2023-x86_64.zip');
    const bytes = Buffer.from(zipSync({ 'etc/php/conf.d/20-redis.ini': new TextEncoder().encode('extension=redis\n') }, { level: 0 }));
    await writeFile(zip, bytes);
    const manifest = {
      tool: { name: 'lambda-runtime-builder', version: '0.2.0' },
      kind: 'extension-layer',
      for: { name: 'php', version: '8.2.32', profile: 'minimal', extensions: [], platform: 'al2023', arch: 'x86_64', zip: 'php-8.2.32-al2023-x86_64.zip', inputsHash: 'a'.repeat(64) },
      recipe: { name: 'php-ext-redis', version: '6.2.0', profile: 'minimal' },
      platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023', runtimeImage: 'public.ecr.aws/lambda/provided:al2023' },
      arch: 'x86_64',
      zip: { file: path.basename(zip), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length },
      inputsHash: 'c'.repeat(64),
    };
    await writeFile(`${zip}.json`, JSON.stringify(manifest));
    const asked: string[] = [];
    const engine = new Proxy({}, { get: (_t, name) => () => asked.push(String(name)) }) as unknown as ImageEngine;
    const err = await buildLayerImage({ layer: zip, engine }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `${zip}.json is an extension layer (for php-8.2.32-al2023-x86_64.zip), with no runtime of its own: make the image from a runtime layer that has the extension built in (--ext)`,
    );
    expect(asked).toEqual([]);
  });
});

describe('image from a vendor layer', () => {
  it('is refused in one line, saying where vendor/ goes instead, before the engine is asked anything', async () => {
    const zip = path.join(dir, 'vendor-ab12cd34ef56-for-php-8.2.32-al2023-x86_64.zip');
    const bytes = Buffer.from(zipSync({ 'vendor/autoload.php': new TextEncoder().encode('<?php\n') }, { level: 0 }));
    await writeFile(zip, bytes);
    const manifest = {
      tool: { name: 'lambda-runtime-builder', version: '0.2.0' },
      kind: 'vendor-layer',
      for: { name: 'php', version: '8.2.32', profile: 'minimal', extensions: [], platform: 'al2023', arch: 'x86_64', zip: 'php-8.2.32-al2023-x86_64.zip', inputsHash: 'a'.repeat(64) },
      lock: { sha256: 'ab12cd34ef56'.padEnd(64, '0') },
      platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023', runtimeImage: 'public.ecr.aws/lambda/provided:al2023' },
      arch: 'x86_64',
      zip: { file: path.basename(zip), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length },
      inputsHash: 'c'.repeat(64),
    };
    await writeFile(`${zip}.json`, JSON.stringify(manifest));
    const asked: string[] = [];
    const engine = new Proxy({}, { get: (_t, name) => () => asked.push(String(name)) }) as unknown as ImageEngine;
    const err = await buildLayerImage({ layer: zip, engine }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `${zip}.json is a vendor layer (for php-8.2.32-al2023-x86_64.zip), with no runtime of its own: make the image from that PHP layer and ship vendor/ with the function code (the runtime loads the function's vendor/autoload.php)`,
    );
    expect(asked).toEqual([]);
  });
});
