import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import { resolveBuild } from '../../../src/recipes/resolve.js';
import { packContext, type ContextSources } from '../../../src/render/context.js';
import { renderBuild, type RenderedBuild } from '../../../src/render/dockerfile.js';

interface ReadEntry {
  name: string;
  size: number | undefined;
  mode: number | undefined;
  mtime: Date | undefined;
  uid: number | undefined;
  gid: number | undefined;
  type: string | null | undefined;
  body: Buffer;
}

async function readTar(stream: Readable): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(Buffer.from(c as Uint8Array)));
      body.on('end', () => {
        out.push({
          name: header.name,
          size: header.size,
          mode: header.mode,
          mtime: header.mtime,
          uid: header.uid,
          gid: header.gid,
          type: header.type,
          body: Buffer.concat(chunks),
        });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(extract);
  await done;
  return out;
}

const root = mkdtempSync(path.join(tmpdir(), 'lrb-context-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let catalog: Catalog;
let rendered: RenderedBuild;
let from: ContextSources;
const scriptBodies = new Map<string, Buffer>();
const sourceBodies = new Map<string, Buffer>();

beforeAll(async () => {
  catalog = await loadCatalog();
  const spec = resolveBuild(catalog.recipes, 'php@7.4', { platform: catalog.platforms.get('debian-bookworm'), arch: 'x86_64' });
  rendered = renderBuild(spec, catalog.templates);
  mkdirSync(path.join(root, 'scripts'));
  mkdirSync(path.join(root, 'sources'));
  let i = 0;
  for (const f of rendered.files) {
    i++;
    if (f.kind === 'script') {
      const body = Buffer.from(`#!/bin/sh\n# ${f.script}\necho ${'x'.repeat(i * 37)}\n`);
      scriptBodies.set(f.script, body);
      // Written 0644 on purpose: the context decides the mode, not the file on disk.
      writeFileSync(path.join(root, 'scripts', f.script), body, { mode: 0o644 });
    } else {
      // Sizes that cross 512-byte tar block boundaries, with non-text bytes.
      const body = Buffer.alloc(1000 * i + 7, i);
      body.write(f.sourceName, 0);
      sourceBodies.set(f.sha256, body);
      writeFileSync(path.join(root, 'sources', f.sha256), body);
    }
  }
  from = {
    scriptPath: (s) => path.join(root, 'scripts', s),
    sourcePath: (sha) => path.join(root, 'sources', sha),
  };
});

describe('packContext', () => {
  it('Dockerfile first, then every context file in rendered order', async () => {
    const entries = await readTar(packContext(rendered, from));
    expect(entries.map((e) => e.name)).toEqual([
      'Dockerfile',
      'scripts/common.sh',
      'scripts/build-openssl.sh',
      'scripts/apply-patches.sh',
      'sources/openssl-1.1.1w.tar.gz',
      'sources/openssl_1.1.1w-0+deb11u8.debian.tar.xz',
      'scripts/build-autotools.sh',
      'sources/curl-7.88.1.tar.gz',
      'sources/curl_7.88.1-10+deb12u15.debian.tar.xz',
      'sources/php-7.4.33.tar.xz',
      'scripts/write-ini.sh',
      'scripts/finalize.sh',
    ]);
    expect(entries.every((e) => e.type === 'file')).toBe(true);
  });

  it('carries the exact bytes and sizes', async () => {
    const entries = await readTar(packContext(rendered, from));
    const dockerfile = entries[0]!;
    expect(dockerfile.body.toString('utf8')).toBe(rendered.dockerfile);
    expect(dockerfile.size).toBe(Buffer.byteLength(rendered.dockerfile));
    for (const f of rendered.files) {
      const e = entries.find((x) => x.name === f.path)!;
      const expected = f.kind === 'script' ? scriptBodies.get(f.script)! : sourceBodies.get(f.sha256)!;
      expect(e.size, f.path).toBe(expected.length);
      expect(e.body.equals(expected), f.path).toBe(true);
    }
  });

  it('scripts are 0755, the Dockerfile and sources 0644; owner root; fixed mtime', async () => {
    const entries = await readTar(packContext(rendered, from));
    for (const e of entries) {
      const expectedMode = e.name.startsWith('scripts/') ? 0o755 : 0o644;
      expect((e.mode! & 0o7777).toString(8), e.name).toBe(expectedMode.toString(8));
      expect(e.mtime!.toISOString(), e.name).toBe('1980-01-01T00:00:00.000Z');
      expect([e.uid, e.gid], e.name).toEqual([0, 0]);
    }
  });

  it('is byte-for-byte reproducible', async () => {
    const bytes = async () => {
      const chunks: Buffer[] = [];
      for await (const c of packContext(rendered, from)) chunks.push(Buffer.from(c as Uint8Array));
      return Buffer.concat(chunks);
    };
    const [a, b] = [await bytes(), await bytes()];
    expect(a.length).toBeGreaterThan(0);
    expect(a.equals(b)).toBe(true);
  });

  it('writes a path listed twice only once', async () => {
    const twice: RenderedBuild = { ...rendered, files: [...rendered.files, rendered.files[2]!, rendered.files[0]!] };
    const names = (await readTar(packContext(twice, from))).map((e) => e.name);
    expect(names).toHaveLength(1 + rendered.files.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it('a missing source file fails the stream with the path', async () => {
    const missing: ContextSources = { ...from, sourcePath: (sha) => path.join(root, 'nowhere', sha) };
    await expect(readTar(packContext(rendered, missing))).rejects.toThrow(/ENOENT.*nowhere/);
  });
});
