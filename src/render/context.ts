import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { RenderedBuild } from './dockerfile.js';

const MTIME = new Date(Date.UTC(1980, 0, 1));

/** Where each context file's bytes are on disk (verified sources, scripts). */
export interface ContextSources {
  scriptPath: (script: string) => string;
  sourcePath: (sha256: string) => string;
}

/**
 * Stream the build context as a tar: the Dockerfile, then every file it copies, in
 * the rendered order. Sources are streamed from the verified cache, never buffered.
 */
export function packContext(rendered: RenderedBuild, from: ContextSources): Readable {
  const tar = pack();
  const run = async () => {
    const add = (name: string, data: Buffer, mode: number) =>
      new Promise<void>((resolve, reject) =>
        tar.entry({ name, mode, mtime: MTIME, uid: 0, gid: 0 }, data, (err) => (err ? reject(err) : resolve())),
      );
    await add('Dockerfile', Buffer.from(rendered.dockerfile), 0o644);
    const seen = new Set<string>();
    for (const f of rendered.files) {
      if (seen.has(f.path)) continue;
      seen.add(f.path);
      const file = f.kind === 'script' ? from.scriptPath(f.script) : from.sourcePath(f.sha256);
      const { size } = await stat(file);
      await new Promise<void>((resolve, reject) => {
        const entry = tar.entry(
          { name: f.path, size, mode: f.kind === 'script' ? 0o755 : 0o644, mtime: MTIME, uid: 0, gid: 0 },
          (err) => (err ? reject(err) : resolve()),
        );
        const input = createReadStream(file);
        input.on('error', (err) => {
          entry.destroy(err);
          reject(err);
        });
        input.pipe(entry);
      });
    }
    tar.finalize();
  };
  run().catch((err: unknown) => tar.destroy(err as Error));
  return tar as unknown as Readable;
}
