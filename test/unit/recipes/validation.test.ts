import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { paths } from '../../../src/paths.js';
import { RecipeError, RecipeRegistry, parseRecipe } from '../../../src/recipes/registry.js';

const root = mkdtempSync(path.join(tmpdir(), 'lrb-recipes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Json = Record<string, any>;
const real = (name: string): Json => JSON.parse(readFileSync(path.join(paths.recipes, `${name}.json`), 'utf8')) as Json;

let n = 0;
/** Write files into a fresh directory and return it. */
function dirWith(files: Record<string, string | Json>): string {
  const dir = path.join(root, `case-${n++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

async function loadError(files: Record<string, string | Json>): Promise<{ err: Error; dir: string }> {
  const dir = dirWith(files);
  const err = await RecipeRegistry.load([dir]).then(
    () => {
      throw new Error('expected RecipeRegistry.load to fail');
    },
    (e: unknown) => e as Error,
  );
  return { err, dir };
}

describe('RecipeRegistry.load: broken recipes name the file and the field path', () => {
  it('accepts unchanged copies of the real recipes', async () => {
    const names = ['php', 'lua', 'openssl', 'curl', 'zlib', 'libxml2', 'sqlite3', 'oniguruma'];
    const dir = dirWith(Object.fromEntries(names.map((n) => [`${n}.json`, real(n)])));
    const reg = await RecipeRegistry.load([dir]);
    expect(reg.list().map((l) => l.recipe.name)).toEqual(['curl', 'libxml2', 'lua', 'oniguruma', 'openssl', 'php', 'sqlite3', 'zlib']);
    expect(reg.get('php').file).toBe(path.join(dir, 'php.json'));
  });

  it('bad sha256 → versions[0].sources[0].sha256', async () => {
    const php = real('php');
    php.versions[0].sources[0].sha256 = 'ABC123';
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err).toBeInstanceOf(RecipeError);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain(
      `${path.join(dir, 'php.json')}: versions[0].sources[0].sha256: must be 64 lowercase hex characters (a SHA-256)`,
    );
  });

  it("a rule's env names upper-case variables, never the tool's own LRB_ ones", async () => {
    const php = real('php');
    const i = php.rules.findIndex((r: Json) => r.env);
    php.rules[i].env = { LRB_PREFIX: '/usr' };
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err.message).toContain(`${path.join(dir, 'php.json')}: rules[${i}].env.LRB_PREFIX`);
    expect(err.message).toContain('must be an upper-case variable name not starting with LRB_');
  });

  it('an uppercase sha256 of the right length is refused too', async () => {
    const openssl = real('openssl');
    openssl.versions[2].sources[0].sha256 = openssl.versions[2].sources[0].sha256.toUpperCase();
    const { err, dir } = await loadError({ 'openssl.json': openssl });
    expect(err.message).toContain(`${path.join(dir, 'openssl.json')}: versions[2].sources[0].sha256:`);
  });

  it('an interpreter without smoke → smoke', async () => {
    const lua = real('lua');
    delete lua.smoke;
    const { err, dir } = await loadError({ 'lua.json': lua });
    expect(err.message).toContain(`${path.join(dir, 'lua.json')}: smoke: an interpreter needs a smoke test`);
  });

  it("an interpreter without a 'minimal' profile → profiles", async () => {
    const lua = real('lua');
    lua.profiles = { tiny: lua.profiles.minimal };
    const { err, dir } = await loadError({ 'lua.json': lua });
    expect(err.message).toContain(`${path.join(dir, 'lua.json')}: profiles: an interpreter needs at least a 'minimal' profile`);
  });

  it('duplicate version → versions[N].version', async () => {
    const php = real('php');
    php.versions.push(structuredClone(php.versions[2]));
    const last = php.versions.length - 1;
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err.message).toContain(`${path.join(dir, 'php.json')}: versions[${last}].version: duplicate version 7.4.33`);
  });

  it('unknown profile in a rule → rules[N].profiles', async () => {
    const php = real('php');
    php.rules[3].profiles = ['standard', 'fat'];
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err.message).toContain(`${path.join(dir, 'php.json')}: rules[3].profiles: unknown profile 'fat'`);
  });

  it('a repacked source must say who repacked what and why → versions[0].sources[0].repack.*', async () => {
    const zlib = real('zlib');
    zlib.versions[0].sources[0].repack = { by: 'ubuntu', upstream: 'zlib-1.3.1.tar.gz' };
    const { err, dir } = await loadError({ 'zlib.json': zlib });
    const file = path.join(dir, 'zlib.json');
    expect(err.message).toContain(`${file}: versions[0].sources[0].repack.by: `);
    expect(err.message).toContain(`${file}: versions[0].sources[0].repack.upstream: `);
    expect(err.message).toContain(`${file}: versions[0].sources[0].repack.reason: `);
  });

  it('an unknown library policy on a dependency or a rule → its field path', async () => {
    const php = real('php');
    php.dependencies[0].libraryPolicies = ['musl-only'];
    php.rules[0].libraryPolicies = [];
    const { err, dir } = await loadError({ 'php.json': php });
    const file = path.join(dir, 'php.json');
    expect(err.message).toContain(`${file}: dependencies[0].libraryPolicies[0]: `);
    expect(err.message).toContain(`${file}: rules[0].libraryPolicies: `);
  });

  it('a dependency limited to an unknown profile, to none, or to a bad version range → its field path', async () => {
    const php = real('php');
    const i = php.dependencies.findIndex((d: Json) => d.name === 'libxml2');
    expect(php.dependencies[i].profiles).toEqual(['standard']);
    php.dependencies[i].profiles = ['standrad'];
    php.dependencies[0].profiles = [];
    php.dependencies[1].when = 'php 7.4';
    const { err, dir } = await loadError({ 'php.json': php });
    const file = path.join(dir, 'php.json');
    expect(err.message).toContain(`${file}: dependencies[${i}].profiles: unknown profile 'standrad'`);
    expect(err.message).toContain(`${file}: dependencies[0].profiles: `);
    expect(err.message).toContain(`${file}: dependencies[1].when: must be a semver range`);
  });

  it('unknown profile in a smoke check → smoke.checks[N].profiles', async () => {
    const php = real('php');
    const i = php.smoke.checks.findIndex((c: Json) => c.profiles);
    php.smoke.checks[i].profiles = ['standrad'];
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err.message).toContain(`${path.join(dir, 'php.json')}: smoke.checks[${i}].profiles: unknown profile 'standrad'`);
  });

  it("a check's script and {script} come together, and the script stays inside the recipe directory", async () => {
    const php = real('php');
    const i = php.smoke.checks.findIndex((c: Json) => c.script);
    const j = php.smoke.checks.findIndex((c: Json) => !c.script);
    php.smoke.checks[i].command = ['/opt/bin/php', '/tmp/tls.php'];
    php.smoke.checks[j].command = ['/opt/bin/php', '{script}'];
    const { err, dir } = await loadError({ 'php.json': php });
    const file = path.join(dir, 'php.json');
    expect(err.message).toContain(`${file}: smoke.checks[${i}].command: must name the check's script as {script}`);
    expect(err.message).toContain(`${file}: smoke.checks[${j}].command: {script} needs a 'script' to stand for`);
    for (const bad of ['../checks/tls.php', '/etc/passwd', 'checks/../../x.php', 'checks//x.php']) {
      const again = real('php');
      again.smoke.checks[i].script = bad;
      const { err: e, dir: d } = await loadError({ 'php.json': again });
      expect(e.message).toContain(`${path.join(d, 'php.json')}: smoke.checks[${i}].script: must be a path inside the recipe directory`);
    }
  });

  it('a post-build script must be a plain file name → rules[N].postBuild[0].script', async () => {
    const php = real('php');
    const i = php.rules.findIndex((r: Json) => r.postBuild);
    php.rules[i].postBuild[0].script = '../trim.sh';
    const { err, dir } = await loadError({ 'php.json': php });
    expect(err.message).toContain(`${path.join(dir, 'php.json')}: rules[${i}].postBuild[0].script: must be a plain file name`);
  });

  it('patches must come from a later source of the same version, each listed once → versions[0].patches.*', async () => {
    const libxml2 = real('libxml2');
    const patches = libxml2.versions[0].patches;
    libxml2.versions[0].patches = { ...patches, from: libxml2.versions[0].sources[0].name, apply: [patches.apply[0], patches.apply[0]] };
    const { err, dir } = await loadError({ 'libxml2.json': libxml2 });
    expect(err.message).toContain(`${path.join(dir, 'libxml2.json')}: versions[0].patches.from: 'libxml2_2.9.14+dfsg.orig.tar.xz' must name one of this version's sources after the first`);
    expect(err.message).toContain(`versions[0].patches.apply: listed twice: ${patches.apply[0]}`);
  });

  it('a patch path that climbs out of its directory → versions[0].patches.apply[N]', async () => {
    const sqlite3 = real('sqlite3');
    sqlite3.versions[0].patches.apply.push('../../etc/passwd');
    const { err } = await loadError({ 'sqlite3.json': sqlite3 });
    expect(err.message).toContain(`versions[0].patches.apply[${sqlite3.versions[0].patches.apply.length - 1}]: must be a relative path of plain names`);
  });

  it('name / file name mismatch → name', async () => {
    const { err, dir } = await loadError({ 'php8.json': real('php') });
    expect(err).toBeInstanceOf(RecipeError);
    expect(err.message).toBe(`${path.join(dir, 'php8.json')}: name: 'php' must match the file name 'php8'`);
  });

  it('invalid JSON → the file and the parser message', async () => {
    const { err, dir } = await loadError({ 'php.json': '{ "name": "php", }' });
    expect(err).toBeInstanceOf(RecipeError);
    expect(err.message).toMatch(new RegExp(`^${path.join(dir, 'php.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON: `));
  });

  it('an unknown key (strict objects) → its path', async () => {
    const curl = real('curl');
    curl.build.configureArgs = ['--oops'];
    const { err, dir } = await loadError({ 'curl.json': curl });
    expect(err.message).toContain(`${path.join(dir, 'curl.json')}: build:`);
    expect(err.message).toContain('configureArgs');
  });

  it('a source name with a slash → versions[i].sources[j].name', async () => {
    const lua = real('lua');
    lua.versions[1].sources[0].name = '../lua.tar.gz';
    const { err, dir } = await loadError({ 'lua.json': lua });
    expect(err.message).toContain(`${path.join(dir, 'lua.json')}: versions[1].sources[0].name: must be a plain file name (letters, digits, '.', '_', '+', '~', '-', starting with a letter or digit; no slashes)`);
  });

  it('a bad Debian path → versions[i].sources[j].debianPath', async () => {
    const curl = real('curl');
    curl.versions[0].sources[0].debianPath = '/pool/main/c/curl/curl.orig.tar.gz';
    const { err, dir } = await loadError({ 'curl.json': curl });
    expect(err.message).toContain(`${path.join(dir, 'curl.json')}: versions[0].sources[0].debianPath: must look like pool/main/`);
  });

  it('a short rule reason and an empty smoke expectation are both reported, one line each', async () => {
    const php = real('php');
    php.rules[0].reason = 'short';
    php.smoke.version.expect = 'PHP';
    const { err, dir } = await loadError({ 'php.json': php });
    const file = path.join(dir, 'php.json');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('invalid recipe');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')}: rules\\[0\\]\\.reason: `)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')}: smoke\\.version\\.expect: `)));
  });

  it('a missing top-level field → the field name', async () => {
    const lua = real('lua');
    delete lua.versions;
    const { err } = await loadError({ 'lua.json': lua });
    expect(err.message).toMatch(/lua\.json: versions: /);
  });

  it('a non-object document → (top level)', () => {
    expect(() => parseRecipe('[]', '/x/php.json')).toThrow(/\/x\/php\.json: \(top level\): /);
  });

  it('a directory that cannot be read → UserError naming it', async () => {
    const missing = path.join(root, 'does-not-exist');
    await expect(RecipeRegistry.load([missing])).rejects.toThrow(`cannot read recipe directory ${missing}`);
  });

  it('ignores files that are not *.json', async () => {
    const dir = dirWith({ 'lua.json': real('lua'), 'README.md': '# not a recipe', 'php.json.bak': '{' });
    expect((await RecipeRegistry.load([dir])).list().map((l) => l.recipe.name)).toEqual(['lua']);
  });

  it('a later directory overrides a recipe of the same name', async () => {
    const lua = real('lua');
    lua.description = 'override';
    const dir = dirWith({ 'lua.json': lua });
    const reg = await RecipeRegistry.load([paths.recipes, dir]);
    expect(reg.get('lua').recipe.description).toBe('override');
    expect(reg.get('lua').file).toBe(path.join(dir, 'lua.json'));
    expect(reg.get('php').file).toBe(path.join(paths.recipes, 'php.json'));
  });
});
