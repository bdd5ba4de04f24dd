import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { LayerEntry } from '../layer/entries.js';
import { sha256Hex } from './hash.js';

/**
 * Read a directory of the repository (a recipe's runtime files) as layer entries.
 * Modes are normalised to what git keeps: 0755 for executables, 0644 otherwise.
 */
export async function readDirEntries(root: string): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  const walk = async (rel: string) => {
    const names = (await readdir(path.join(root, rel))).sort();
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, relPath);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) out.push({ type: 'symlink', path: relPath, mode: 0o777, target: await readlink(abs) });
      else if (st.isDirectory()) {
        out.push({ type: 'directory', path: relPath, mode: 0o755 });
        await walk(relPath);
      } else if (st.isFile()) {
        out.push({ type: 'file', path: relPath, mode: st.mode & 0o111 ? 0o755 : 0o644, data: await readFile(abs) });
      }
    }
  };
  await walk('');
  return out;
}

export function digestEntries(entries: readonly LayerEntry[]): { path: string; mode: number; sha256: string }[] {
  return entries
    .filter((e) => e.type !== 'directory')
    .map((e) => ({
      path: e.path,
      mode: e.mode,
      sha256: sha256Hex(e.type === 'file' ? e.data : `symlink:${e.type === 'symlink' ? e.target : ''}`),
    }));
}
