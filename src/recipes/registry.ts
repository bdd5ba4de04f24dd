import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { compareVersions, pickVersion, satisfies } from './versions.js';
import { extensionRecipeName, recipeSchema, type Recipe } from './schema.js';

/** Where a recipe was loaded from, so errors and `--list` can name the file. */
export interface LoadedRecipe {
  recipe: Recipe;
  file: string;
}

export class RecipeError extends UserError {
  override name = 'RecipeError';
}

/** Turn zod issues into `file: field.path: message` lines. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const field = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
        .join('');
      return `${file}: ${field || '(top level)'}: ${issue.message}`;
    })
    .join('\n');
}

export function parseRecipe(text: string, file: string): Recipe {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new RecipeError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const result = recipeSchema.safeParse(data);
  if (!result.success) {
    throw new RecipeError(`invalid recipe\n${formatIssues(file, result.error.issues)}`);
  }
  const base = path.basename(file, '.json');
  if (result.data.name !== base) {
    throw new RecipeError(`${file}: name: '${result.data.name}' must match the file name '${base}'`);
  }
  return result.data;
}

/** All recipes known to a run; built explicitly from directories, no import side effects. */
export class RecipeRegistry {
  private readonly byName = new Map<string, LoadedRecipe>();

  add(loaded: LoadedRecipe): void {
    this.byName.set(loaded.recipe.name, loaded);
  }

  get(name: string): LoadedRecipe {
    const found = this.byName.get(name);
    if (!found) {
      throw new UserError(
        `unknown recipe '${name}': known recipes are ${[...this.byName.keys()].sort().join(', ')}` +
          ` (add a JSON recipe under recipes/ or pass --recipes <dir>)`,
      );
    }
    return found;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  list(): LoadedRecipe[] {
    return [...this.byName.values()].sort((a, b) => a.recipe.name.localeCompare(b.recipe.name));
  }

  versionsOf(name: string): string[] {
    return this.get(name).recipe.versions.map((v) => v.version).sort(compareVersions);
  }

  /**
   * Cross-recipe checks a schema cannot do: every dependency names a known library
   * recipe, and every pairing rule's default is pinned there and inside its own range.
   */
  checkReferences(): void {
    const problems: string[] = [];
    for (const { recipe, file } of this.byName.values()) {
      (recipe.dependencies ?? []).forEach((dep, i) => {
        const target = this.byName.get(dep.name);
        if (!target) {
          problems.push(`${file}: dependencies[${i}].name: no recipe named '${dep.name}'`);
          return;
        }
        if (target.recipe.kind !== 'library') problems.push(`${file}: dependencies[${i}].name: '${dep.name}' is not a library recipe`);
        const versions = target.recipe.versions.map((v) => v.version);
        dep.rules.forEach((rule, j) => {
          const where = `${file}: dependencies[${i}].rules[${j}]`;
          if (!pickVersion(versions, rule.default)) problems.push(`${where}.default: ${dep.name} ${rule.default} is not pinned in ${target.file}`);
          else if (!satisfies(pickVersion(versions, rule.default)!, rule.allowed)) problems.push(`${where}.default: ${rule.default} is outside its own allowed range ${rule.allowed}`);
        });
      });
    }
    for (const { recipe, file } of this.byName.values()) {
      const ext = recipe.extension;
      if (!ext) continue;
      const interp = this.byName.get(ext.for);
      if (!interp || interp.recipe.kind !== 'interpreter') problems.push(`${file}: extension.for: '${ext.for}' is not an interpreter recipe`);
      else if (!recipe.name.startsWith(extensionRecipeName(ext.for, '')) || recipe.name === extensionRecipeName(ext.for, '')) {
        problems.push(`${file}: name: an extension of ${ext.for} must be named ${extensionRecipeName(ext.for, '<name>')}`);
      }
      (ext.uses ?? []).forEach((u, i) => {
        const other = this.byName.get(u.extension);
        if (!other || other.recipe.extension?.for !== ext.for) problems.push(`${file}: extension.uses[${i}].extension: '${u.extension}' is not an extension recipe of ${ext.for}`);
        else if (other.recipe.extension.uses?.some((x) => x.extension === recipe.name)) problems.push(`${file}: extension.uses[${i}].extension: '${u.extension}' uses ${recipe.name} too (a cycle)`);
      });
    }
    if (problems.length) throw new RecipeError(`invalid recipes\n${problems.join('\n')}`);
  }

  /** Load every `*.json` in each directory; a later directory overrides recipes of the same name. */
  static async load(dirs: readonly string[]): Promise<RecipeRegistry> {
    const registry = new RecipeRegistry();
    for (const dir of dirs) {
      let names: string[];
      try {
        names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
      } catch (err) {
        throw new UserError(`cannot read recipe directory ${dir}: ${(err as Error).message}`);
      }
      for (const n of names) {
        const file = path.join(dir, n);
        registry.add({ recipe: parseRecipe(await readFile(file, 'utf8'), file), file });
      }
    }
    registry.checkReferences();
    return registry;
  }
}
