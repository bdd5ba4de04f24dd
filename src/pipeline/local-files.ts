import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { ancestorPaths, type LayerEntry } from '../layer/entries.js';
import type { Recipe } from '../recipes/schema.js';
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

/**
 * The files that a recipe's smoke checks run (`smoke.checks[].script`, relative to the recipe's
 * directory) as entries at those relative paths, with their directories. A missing file is the
 * recipe author's mistake: one line naming the recipe, the field and the path.
 */
export async function readCheckScripts(recipe: Recipe, recipeFile: string): Promise<LayerEntry[]> {
  const files = new Map<string, LayerEntry>();
  const checks = recipe.smoke?.checks ?? [];
  for (const [i, check] of checks.entries()) {
    if (!check.script || files.has(check.script)) continue;
    const abs = path.join(path.dirname(recipeFile), check.script);
    let data: Buffer;
    try {
      data = await readFile(abs);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new UserError(`${recipeFile}: smoke.checks[${i}].script: cannot read ${abs}: ${why}`);
    }
    files.set(check.script, { type: 'file', path: check.script, mode: 0o644, data });
  }
  const dirs = new Set([...files.keys()].flatMap((p) => ancestorPaths(p)));
  return [...[...dirs].map((d): LayerEntry => ({ type: 'directory', path: d, mode: 0o755 })), ...files.values()];
}
