// The real PHP recipe with test rules added after its own, parsed as the registry would.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { paths } from '../../../src/paths.js';
import { parseRecipe } from '../../../src/recipes/registry.js';
import type { Recipe } from '../../../src/recipes/schema.js';

export function phpWith(rules: Record<string, unknown>[]): Recipe {
  const file = path.join(paths.recipes, 'php.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { rules: unknown[] };
  json.rules.push(...rules);
  return parseRecipe(JSON.stringify(json), file);
}
