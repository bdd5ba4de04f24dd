import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { buildLayerImage, type ImageEngine } from '../../../src/image/build.js';
import { FIXTURE_LOCK_SHA256 } from '../../fixtures/vendor-manifest.js';

// An extension or vendor layer has no bootstrap and no interpreter: it cannot be a function image by itself.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-image-ext-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FOR_PHP = { name: 'php', version: '8.2.32', profile: 'minimal', extensions: [], platform: 'al2023', arch: 'x86_64', zip: 'php-8.2.32-al2023-x86_64.zip', inputsHash: 'a'.repeat(64) };

/**
 * Writes a zip of `file` and a manifest of `kind` beside it, asks `image` for it, and returns the
 * error it gives and every engine method it called.
 */
async function imageOf(zipName: string, file: [string, string], kind: Record<string, unknown>): Promise<{ zip: string; err: unknown; asked: string[] }> {
  const zip = path.join(dir, zipName);
  const bytes = Buffer.from(zipSync({ [file[0]]: new TextEncoder().encode(file[1]) }, { level: 0 }));
  await writeFile(zip, bytes);
  const manifest = {
    tool: { name: 'lambda-runtime-builder', version: '0.2.0' },
    for: FOR_PHP,
    ...kind,
    platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023', runtimeImage: 'public.ecr.aws/lambda/provided:al2023' },
    arch: 'x86_64',
    zip: { file: zipName, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length },
    inputsHash: 'c'.repeat(64),
  };
  await writeFile(`${zip}.json`, JSON.stringify(manifest));
  const asked: string[] = [];
  const engine = new Proxy({}, { get: (_t, name) => () => asked.push(String(name)) }) as unknown as ImageEngine;
  const err = await buildLayerImage({ layer: zip, engine }).catch((e: unknown) => e);
  return { zip, err, asked };
}

describe('image from a layer with no runtime of its own', () => {
  it('an extension layer is refused in one line before the engine is asked anything', async () => {
    const { zip, err, asked } = await imageOf('php-ext-redis-6.2.0-for-php-8.2.32-al2023-x86_64.zip', ['etc/php/conf.d/20-redis.ini', 'extension=redis\n'], {
      kind: 'extension-layer',
      recipe: { name: 'php-ext-redis', version: '6.2.0', profile: 'minimal' },
    });
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `${zip}.json is an extension layer (for php-8.2.32-al2023-x86_64.zip), with no runtime of its own: make the image from a runtime layer that has the extension built in (--ext)`,
    );
    expect(asked).toEqual([]);
  });

  it('a vendor layer is refused in one line, saying where vendor/ goes instead, before the engine is asked anything', async () => {
    const { zip, err, asked } = await imageOf('vendor-ab12cd34ef56-for-php-8.2.32-al2023-x86_64.zip', ['vendor/autoload.php', '<?php\n'], {
      kind: 'vendor-layer',
      lock: { sha256: FIXTURE_LOCK_SHA256 },
    });
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `${zip}.json is a vendor layer (for php-8.2.32-al2023-x86_64.zip), with no runtime of its own: make the image from that PHP layer and ship vendor/ with the function code (the runtime loads the function's vendor/autoload.php)`,
    );
    expect(asked).toEqual([]);
  });
});
