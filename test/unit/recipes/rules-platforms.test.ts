// A rule's `platforms` (applies only there) and `preBuild` (scripts before the build script), and the
// rule that uses both: icu-config for PHP 7.3's intl where the platform's ICU ships none.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import { resolveBuild } from '../../../src/recipes/resolve.js';
import { applyRules } from '../../../src/recipes/rules.js';
import { phpWith } from './php-with.js';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

const ICU_RULE = 'icu-config-for-php-7.3-where-icu-ships-none';
const ICU_STEP = { rule: ICU_RULE, script: 'icu-config.sh', args: ['--install', '/usr/local/bin/icu-config'] };

describe("a rule's platforms and preBuild", () => {
  const recipe = phpWith([
    { name: 'only-on-bullseye', reason: 'a test rule for one platform', when: '>=8.0.0', platforms: ['debian-bullseye'], args: ['--with-test'], preBuild: [{ script: 'first.sh', args: ['a'] }] },
    { name: 'everywhere', reason: 'a test rule for every platform', when: '>=8.0.0', preBuild: [{ script: 'second.sh', args: [] }] },
  ]);

  it('applies on the platforms it names, its preBuild steps in rule order', () => {
    const applied = applyRules(recipe, '8.2.32', 'minimal', catalog.platforms.get('debian-bullseye'), 'native');
    expect(applied.args).toContain('--with-test');
    expect(applied.rules.map((r) => r.name)).toContain('only-on-bullseye');
    expect(applied.preBuild).toEqual([
      { rule: 'only-on-bullseye', script: 'first.sh', args: ['a'] },
      { rule: 'everywhere', script: 'second.sh', args: [] },
    ]);
  });

  it('does not apply on any other platform', () => {
    const applied = applyRules(recipe, '8.2.32', 'minimal', catalog.platforms.get('al2023-portable'), 'native');
    expect(applied.args).not.toContain('--with-test');
    expect(applied.rules.map((r) => r.name)).not.toContain('only-on-bullseye');
    expect(applied.preBuild).toEqual([{ rule: 'everywhere', script: 'second.sh', args: [] }]);
  });

  it('a platform name that does not exist is refused when the catalog loads (it would never apply)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lrb-rule-platforms-'));
    try {
      const lua = JSON.parse(readFileSync(path.join(paths.recipes, 'lua.json'), 'utf8')) as { name: string; rules?: unknown[] };
      lua.name = 'toylua';
      lua.rules = [...(lua.rules ?? []), { name: 'typo', reason: 'a rule naming a platform that does not exist', when: '*', platforms: ['al2024'] }];
      writeFileSync(path.join(dir, 'toylua.json'), JSON.stringify(lua));
      await expect(loadCatalog([dir])).rejects.toThrow(
        `${path.join(dir, 'toylua.json')}: rule 'typo': platforms names unknown platform 'al2024' (known: ${catalog.platforms.names().join(', ')})`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`rule ${ICU_RULE}`, () => {
  const resolve = (target: string, platform: string, profile = 'standard') =>
    resolveBuild(catalog.recipes, target, { platform: catalog.platforms.get(platform), arch: 'x86_64', profile });

  it("installs icu-config before PHP 7.3's standard build on the Debian-built platforms (Debian's ICU has none)", () => {
    for (const platform of ['al2023-portable', 'debian-bullseye']) {
      for (const v of ['7.3.0', '7.3.33']) {
        const php = resolve(`php@${v}`, platform).interpreter;
        expect(php.preBuild, `${v} ${platform}`).toEqual([ICU_STEP]);
        expect(php.rules.map((r) => r.name)).toContain(ICU_RULE);
      }
    }
  });

  it('not on Amazon Linux (its ICU package has icu-config), not for minimal (no intl), not from PHP 7.4 (pkg-config only)', () => {
    for (const platform of ['al2023', 'al2', 'amzn-2017.03']) expect(resolve('php@7.3.33', platform).interpreter.preBuild, platform).toEqual([]);
    expect(resolve('php@7.3.33', 'al2023-portable', 'minimal').interpreter.preBuild).toEqual([]);
    expect(resolve('php@7.4.33', 'al2023-portable').interpreter.preBuild).toEqual([]);
    expect(resolve('php@7.4.33', 'debian-bullseye').interpreter.preBuild).toEqual([]);
  });

  it('debian-bookworm still refuses php@7.3 standard (its ICU 72 is too new for 7.3) before any step is planned', () => {
    expect(() => resolve('php@7.3.33', 'debian-bookworm')).toThrow(/rule 'intl-before-php-7.4-needs-icu-below-70'/);
  });
});
