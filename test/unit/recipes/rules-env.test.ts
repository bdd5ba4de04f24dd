import { beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import { applyRules } from '../../../src/recipes/rules.js';
import { phpWith } from './php-with.js';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

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
