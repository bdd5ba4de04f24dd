import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import { parseRecipe } from '../../../src/recipes/registry.js';
import { applyRules } from '../../../src/recipes/rules.js';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

/** The real PHP recipe with `rules` added after its own. */
function phpWith(rules: Record<string, unknown>[]) {
  const file = path.join(paths.recipes, 'php.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { rules: unknown[] };
  json.rules.push(...rules);
  return parseRecipe(JSON.stringify(json), file);
}

describe("a rule's env", () => {
  it('reaches the build script; rules naming the same variable are joined with a space, in rule order', () => {
    const recipe = phpWith([
      { name: 'first-flag', reason: 'a test rule adding a flag', when: '>=8.0.0', env: { CFLAGS: '-DFIRST' } },
      { name: 'second-flag', reason: 'a test rule adding another', when: '>=8.0.0', env: { CFLAGS: '-DSECOND', LDFLAGS: '-Wl,-z,now' } },
      { name: 'not-this-version', reason: 'a test rule for PHP 7 only', when: '<8.0.0', env: { CFLAGS: '-DSEVEN' } },
    ]);
    const { env } = applyRules(recipe, '8.2.32', 'minimal', catalog.platforms.get('al2023-portable'), 'native');
    expect(env).toEqual({ LDFLAGS: '-Wl,--disable-new-dtags -Wl,-rpath,/opt/lib -Wl,-z,now', CFLAGS: '-DFIRST -DSECOND' });
  });

  it('is empty when no rule sets one (a dependency recipe)', () => {
    const zlib = catalog.recipes.get('zlib').recipe;
    expect(applyRules(zlib, '1.3.1', undefined, catalog.platforms.get('al2023-portable'), 'native').env).toEqual({});
  });
});
