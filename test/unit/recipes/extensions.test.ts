import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogListing, formatCatalog } from '../../../src/catalog.js';
import { UserError } from '../../../src/errors.js';
import { PACKAGE_ROOT, paths } from '../../../src/paths.js';
import { artifactBaseName, formatPlan } from '../../../src/pipeline/plan.js';
import { loadCatalog, prepareTarget, type Catalog, type PrepareOptions } from '../../../src/pipeline/prepare.js';
import { checksToRun } from '../../../src/pipeline/steps/smoke.js';
import { RecipeError, RecipeRegistry } from '../../../src/recipes/registry.js';
import { builtLibraries, extensionsOf, resolveBuild, type BuildSpec, type ResolveOptions } from '../../../src/recipes/resolve.js';
import { renderBuild } from '../../../src/render/dockerfile.js';

let catalog: Catalog;
let opts: ResolveOptions;
beforeAll(async () => {
  catalog = await loadCatalog();
  opts = { platform: catalog.platforms.get('al2023-portable'), arch: 'x86_64' };
});

const resolve = (target: string, extensions: string[], extra: Partial<ResolveOptions> = {}): BuildSpec =>
  resolveBuild(catalog.recipes, target, { ...opts, extensions, ...extra });
const refusal = (target: string, extensions: string[]): string => {
  try {
    resolve(target, extensions);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error(`expected ${target} --ext ${extensions.join(' --ext ')} to be refused`);
};
const prepare = (target: string, extensions: string[], extra: Partial<PrepareOptions> = {}) =>
  prepareTarget(catalog, target, {
    platform: 'al2023-portable',
    arch: 'x86_64',
    outDir: '/tmp/lrb-ext-out',
    mirrors: [],
    maxUnzippedBytes: 262_144_000,
    today: '2026-12-02',
    extensions,
    ...extra,
  });

describe('the extension recipes', () => {
  it('php has apcu, igbinary, pgsql and redis; lua has none', () => {
    expect(extensionsOf(catalog.recipes, 'php').sort()).toEqual(['apcu', 'igbinary', 'pgsql', 'redis']);
    expect(extensionsOf(catalog.recipes, 'lua')).toEqual([]);
  });

  it('every PECL source is pinned with Debian path and checksum evidence, and every version says which PHP it supports', () => {
    for (const short of extensionsOf(catalog.recipes, 'php')) {
      const { recipe } = catalog.recipes.get(`php-ext-${short}`);
      if (recipe.extension!.bundled) continue; // built from PHP's own source (pgsql): below
      expect(recipe.kind).toBe('extension');
      expect(recipe.extension!.for).toBe('php');
      for (const v of recipe.versions) {
        expect(v.supports, `${short} ${v.version}`).toMatch(/^>=\d/);
        for (const s of v.sources) {
          expect(s.url).toBe(`https://pecl.php.net/get/${recipe.extension!.module}-${v.version}.tgz`);
          expect(s.debianPath).toMatch(new RegExp(`^pool/main/p/php-${short}/php-${short}_${v.version.replace(/\./g, '\\.')}\\.orig\\.tar\\.gz$`));
          expect(s.checksumEvidence).toMatch(/Official PECL bytes/);
        }
      }
    }
  });
});

describe('recipe validation of extensions', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'lrb-ext-recipes-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const real = (name: string) => JSON.parse(readFileSync(path.join(paths.recipes, `${name}.json`), 'utf8')) as Record<string, any>;
  let n = 0;
  async function loadError(files: Record<string, Record<string, any>>): Promise<string> {
    const dir = path.join(root, `case-${n++}`);
    mkdirSync(dir);
    for (const [name, content] of Object.entries({ 'php.json': real('php'), 'openssl.json': real('openssl'), 'curl.json': real('curl'), 'zlib.json': real('zlib'), ...files })) {
      writeFileSync(path.join(dir, name), JSON.stringify(content));
    }
    const err = await RecipeRegistry.load([dir]).then(
      () => {
        throw new Error('expected the recipes to be refused');
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(RecipeError);
    return err.message.replaceAll(dir + path.sep, '');
  }

  it('accepts the real ones', async () => {
    const dir = path.join(root, 'real');
    mkdirSync(dir);
    for (const name of ['php', 'openssl', 'curl', 'zlib', 'libxml2', 'sqlite3', 'oniguruma', 'libpq', 'php-ext-apcu', 'php-ext-igbinary', 'php-ext-pgsql', 'php-ext-redis']) writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(real(name)));
    const reg = await RecipeRegistry.load([dir]);
    expect(extensionsOf(reg, 'php').sort()).toEqual(['apcu', 'igbinary', 'pgsql', 'redis']);
  });

  it('a version without supports is refused, naming the field', async () => {
    const apcu = real('php-ext-apcu');
    delete apcu.versions[0].supports;
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain('php-ext-apcu.json: versions[0].supports: an extension version must say which interpreter versions it supports');
  });

  it('supports must be a semver range', async () => {
    const apcu = real('php-ext-apcu');
    apcu.versions[0].supports = 'PHP 7 and up';
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain('php-ext-apcu.json: versions[0].supports: must be a semver range');
  });

  it('an extension without its section, or an interpreter with one, is refused', async () => {
    const apcu = real('php-ext-apcu');
    delete apcu.extension;
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain('php-ext-apcu.json: extension: an extension recipe needs an extension section');
    const php = real('php');
    php.extension = { for: 'php', module: 'php' };
    php.versions[0].supports = '*';
    const message = await loadError({ 'php.json': php });
    expect(message).toContain('php.json: extension: only an extension recipe has an extension section (this is a interpreter)');
    expect(message).toContain('php.json: versions[0].supports: only extension versions say which interpreter versions they support');
  });

  it('an extension may not carry profiles or a version check of its own', async () => {
    const apcu = real('php-ext-apcu');
    apcu.profiles = real('php').profiles;
    apcu.smoke.version = { command: ['/opt/bin/php', '-v'], expect: 'PHP {version}' };
    const message = await loadError({ 'php-ext-apcu.json': apcu });
    expect(message).toContain('php-ext-apcu.json: profiles: an extension takes the profiles of the interpreter it is built into');
    expect(message).toContain('php-ext-apcu.json: smoke: an extension is checked by its module name and smoke.checks only');
  });

  it('a bundled extension takes its interpreter\'s version and source: versions are refused; its libraries have no profiles', async () => {
    const pgsql = real('php-ext-pgsql');
    pgsql.versions = real('php-ext-apcu').versions;
    pgsql.dependencies[0].profiles = ['standard'];
    const message = await loadError({ 'php-ext-pgsql.json': pgsql, 'libpq.json': real('libpq') });
    expect(message).toContain('php-ext-pgsql.json: versions: a bundled extension (extension.bundled) takes the version and source of its interpreter: drop versions');
    expect(message).toContain('php-ext-pgsql.json: dependencies[0].profiles: an extension is built the same for every profile: drop profiles');
    const apcu = real('php-ext-apcu');
    apcu.versions = [];
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain('php-ext-apcu.json: versions: a recipe needs at least one pinned version');
  });

  it("an extension's library must be a library recipe whose pairing default is pinned", async () => {
    const pgsql = real('php-ext-pgsql');
    pgsql.dependencies[0].rules[0].default = '16.1';
    expect(await loadError({ 'php-ext-pgsql.json': pgsql, 'libpq.json': real('libpq') })).toContain('php-ext-pgsql.json: dependencies[0].rules[0].default: libpq 16.1 is not pinned');
    expect(await loadError({ 'php-ext-pgsql.json': real('php-ext-pgsql') })).toContain("php-ext-pgsql.json: dependencies[0].name: no recipe named 'libpq'");
  });

  it('extension.for must name an interpreter, and the file name must follow <interpreter>-ext-<name>', async () => {
    const apcu = real('php-ext-apcu');
    apcu.extension.for = 'openssl';
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain("php-ext-apcu.json: extension.for: 'openssl' is not an interpreter recipe");
    const other = { ...real('php-ext-apcu'), name: 'apcu' };
    expect(await loadError({ 'apcu.json': other })).toContain('apcu.json: name: an extension of php must be named php-ext-<name>');
  });

  it('uses must name another extension of the same interpreter, without cycles', async () => {
    const redis = real('php-ext-redis');
    redis.extension.uses[0].extension = 'php-ext-msgpack';
    expect(await loadError({ 'php-ext-redis.json': redis, 'php-ext-igbinary.json': real('php-ext-igbinary') })).toContain(
      "php-ext-redis.json: extension.uses[0].extension: 'php-ext-msgpack' is not an extension recipe of php",
    );
    const igbinary = real('php-ext-igbinary');
    igbinary.extension.uses = [{ name: 'igbinary-uses-redis', extension: 'php-ext-redis', reason: 'a made-up cycle for the test', args: [] }];
    expect(await loadError({ 'php-ext-redis.json': real('php-ext-redis'), 'php-ext-igbinary.json': igbinary })).toMatch(/uses php-ext-(redis|igbinary) too \(a cycle\)/);
  });

  it('a malformed ini setting name is refused', async () => {
    const apcu = real('php-ext-apcu');
    apcu.extension.ini = [['apc enable', '1']];
    expect(await loadError({ 'php-ext-apcu.json': apcu })).toContain('php-ext-apcu.json: extension.ini[0][0]: must be a PHP ini setting name');
  });
});

describe('resolving --ext against the exact interpreter', () => {
  it('picks the newest version that supports the PHP of the build, in build and load order', () => {
    const spec = resolve('php@8.2.32', ['redis', 'apcu', 'igbinary']);
    expect(spec.extensions.map((e) => `${e.short}@${e.version}`)).toEqual(['apcu@5.1.24', 'igbinary@3.2.16', 'redis@6.2.0']);
    expect(spec.extensions.map((e) => e.ini.path)).toEqual(['etc/php/conf.d/20-apcu.ini', 'etc/php/conf.d/21-igbinary.ini', 'etc/php/conf.d/22-redis.ini']);
    expect(spec.extensions[1]!.uses).toEqual(['php-ext-apcu']);
    expect(spec.extensions[0]!.ini.lines).toEqual(['extension=apcu', 'apc.enable_cli=1']);
  });

  it('the order given does not matter', () => {
    const a = resolve('php@8.2.32', ['apcu', 'redis']);
    const b = resolve('php@8.2.32', ['redis', 'apcu']);
    expect(a.extensions.map((e) => e.name)).toEqual(b.extensions.map((e) => e.name));
  });

  it('redis uses igbinary only when igbinary is in the build, by a named rule', () => {
    const alone = resolve('php@8.2.32', ['redis']).extensions[0]!;
    expect(alone.args).toEqual(['--enable-redis', '--disable-redis-session']);
    expect(alone.uses).toEqual([]);
    expect(alone.ini.path).toBe('etc/php/conf.d/20-redis.ini');
    const both = resolve('php@8.2.32', ['redis', 'igbinary']).extensions.find((e) => e.short === 'redis')!;
    expect(both.args).toEqual(['--enable-redis', '--disable-redis-session', '--enable-redis-igbinary']);
    expect(both.uses).toEqual(['php-ext-igbinary']);
    expect(both.rules.map((r) => r.name)).toEqual(['redis-without-session-handler', 'redis-serializer-igbinary']);
  });

  it('an extension version request is honoured', () => {
    expect(resolve('php@8.2.32', ['apcu@5.1']).extensions[0]!.version).toBe('5.1.24');
    expect(refusal('php@8.2.32', ['apcu@4'])).toBe("--ext apcu@4: no apcu version matches '4': pinned versions are 5.1.24");
    expect(refusal('php@8.2.32', ['apcu@lots'])).toMatch(/^--ext apcu@lots: 'lots' is neither a version nor a semver range/);
  });

  it('refuses an incompatible PHP version with one line naming what each version supports', () => {
    expect(refusal('php@7.3.33', ['redis'])).toBe(
      `--ext redis: redis 6.2.0 supports php >=7.4.0 <8.5.0; not php 7.3.33 (build another php version, or pin a redis version for it in ${path.join(paths.recipes, 'php-ext-redis.json')})`,
    );
    expect(refusal('php@8.5.9', ['apcu'])).toMatch(/^--ext apcu: apcu 5\.1\.24 supports php >=7\.0\.0 <8\.5\.0; not php 8\.5\.9 /);
    expect(refusal('php@8.5.9', ['apcu'])).not.toContain('\n');
  });

  it('pgsql is bundled with PHP: the PHP version and source, ext/pgsql, and libpq paired by its rule', () => {
    const [pgsql] = resolve('php@8.2.32', ['pgsql']).extensions;
    expect(pgsql).toMatchObject({ short: 'pgsql', version: '8.2.32', supports: '>=7.3.0', module: 'pgsql', bundledDir: 'ext/pgsql', sources: [], args: ['--with-pgsql=/opt'] });
    expect(pgsql!.dependencies.map((d) => `${d.name}@${d.version} ${d.pairing.name}`)).toEqual(['libpq@15.18 libpq-15']);
    expect(resolve('php@7.4.33', ['pgsql']).extensions[0]!.version).toBe('7.4.33');
    expect(resolve('php@8.2.32', ['pgsql@8.2']).extensions[0]!.version).toBe('8.2.32');
    expect(refusal('php@8.2.32', ['pgsql@8.1'])).toBe('--ext pgsql@8.1: pgsql is bundled with php, so its version is the php version (8.2.32): drop @8.1');
    // The interpreter's own libraries are unchanged: libpq is the extension's.
    expect(resolve('php@8.2.32', ['pgsql']).dependencies.map((d) => d.name)).toEqual(['zlib', 'openssl', 'curl']);
    expect(builtLibraries(resolve('php@8.2.32', ['pgsql'])).map((d) => d.name)).toEqual(['zlib', 'openssl', 'curl', 'libpq']);
  });

  it("an extension links as its PHP did: its stage gets the interpreter's rule env (DT_RPATH to /opt/lib), baked in or as a layer; its libraries do not", () => {
    const env = { LDFLAGS: '-Wl,--disable-new-dtags -Wl,-rpath,/opt/lib' };
    const spec = resolve('php@8.2.32', ['pgsql', 'redis']);
    for (const e of spec.extensions) expect(e.env, e.name).toEqual(env);
    for (const d of spec.extensions.flatMap((e) => e.dependencies)) expect(d.env, d.name).toEqual({});
    const layer = resolveBuild(catalog.recipes, 'php-ext-redis@6', { ...opts, for: 'php@8.2.32' });
    expect(layer.extensionLayer!.extension.env).toEqual(env);
  });

  it('--with naming an extension\'s library is refused in one line naming the extension and its rule', () => {
    const message = (() => {
      try {
        resolveBuild(catalog.recipes, 'php@8.2.32', { platform: catalog.platforms.get('al2023-portable'), arch: 'x86_64', extensions: ['pgsql'], with: ['libpq@15.18'] });
      } catch (e) {
        return (e as Error).message;
      }
      return 'not refused';
    })();
    expect(message).toBe(
      `--with libpq@15.18: libpq is a library of the extension php-ext-pgsql, paired by its own rules (e.g. 'libpq-15': libpq 15.18); --with pins only php's own libraries (drop --with libpq, or change the rule in ${path.join(paths.recipes, 'php-ext-pgsql.json')})`,
    );
  });

  it('--list shows a bundled extension with its interpreter\'s version and source, and its library', async () => {
    const listing = await catalogListing({ probe: false, cacheDir: mkdtempSync(path.join(tmpdir(), 'lrb-list-')) });
    expect(listing.recipes.find((e) => e.name === 'php-ext-pgsql')).toMatchObject({ kind: 'extension', version: "php's", pairs: { php: '>=7.3.0', libpq: '15.18' }, sources: [] });
    expect(formatCatalog(listing)).toMatch(/php-ext-pgsql@php's +extension +php >=7\.3\.0, libpq 15\.18 +all platforms +built from php's source/);
  });

  it('refuses an unknown extension, naming those that exist', () => {
    expect(refusal('php@8.2.32', ['imagick'])).toBe("unknown extension 'imagick' for php: recipes exist for apcu, igbinary, pgsql, redis (add recipes/php-ext-imagick.json)");
    expect(refusal('lua@5.4.7', ['redis'])).toBe("unknown extension 'redis' for lua: no extension recipes exist (add recipes/lua-ext-redis.json)");
  });

  it('refuses an extension given twice, and a malformed name', () => {
    expect(refusal('php@8.2.32', ['apcu', 'apcu@5.1'])).toBe('--ext apcu was given more than once: give it once');
    expect(refusal('php@8.2.32', ['Redis!'])).toMatch(/^--ext Redis!: write NAME or NAME@VERSION/);
  });

  it('an extension recipe is not a target', () => {
    expect(() => resolveBuild(catalog.recipes, 'php-ext-redis@6', opts)).toThrow('php-ext-redis is an extension of php: build it into a php layer with --ext redis');
  });

  it('no --ext: no extensions', () => {
    expect(resolve('php@8.2.32', []).extensions).toEqual([]);
  });
});

describe('plans with extensions', () => {
  it('the artifact and image are named with the extensions, never like a build without them', async () => {
    const without = await prepare('php@8.2.32', []);
    const withExt = await prepare('php@8.2.32', ['redis', 'apcu']);
    expect(artifactBaseName(without.spec)).toBe('php-8.2.32-al2023-portable-x86_64');
    expect(artifactBaseName(withExt.spec)).toBe('php-8.2.32+apcu+redis-al2023-portable-x86_64');
    const standard = await prepare('php@8.2.32', ['apcu'], { profile: 'standard' });
    expect(artifactBaseName(standard.spec)).toBe('php-8.2.32-standard+apcu-al2023-portable-x86_64');
    expect(without.plan.images.tag).toBe('lambda-runtime-builder/php:8.2.32-minimal-al2023-portable-x86_64');
    expect(withExt.plan.images.tag).toBe('lambda-runtime-builder/php:8.2.32-minimal.apcu.redis-al2023-portable-x86_64');
    expect(withExt.plan.inputsHash).not.toBe(without.plan.inputsHash);
    expect(withExt.plan.imageHash).not.toBe(without.plan.imageHash);
  });

  it('the extensions are part of the inputs hash: another set or version hashes differently', async () => {
    const a = await prepare('php@8.2.32', ['apcu']);
    const b = await prepare('php@8.2.32', ['apcu', 'igbinary']);
    const c = await prepare('php@8.2.32', ['apcu@5.1.24']);
    expect(a.plan.inputsHash).not.toBe(b.plan.inputsHash);
    expect(a.plan.inputsHash).toBe(c.plan.inputsHash);
  });

  it('the plan lists each extension with its version, range, ini file and what it uses', async () => {
    const p = await prepare('php@8.2.32', ['redis', 'igbinary']);
    expect(p.plan.extensions).toEqual([
      { name: 'igbinary', recipe: 'php-ext-igbinary', version: '3.2.16', supports: '>=7.0.0 <8.5.0', module: 'igbinary', ini: { path: 'etc/php/conf.d/20-igbinary.ini', lines: ['extension=igbinary'] }, uses: [] },
      { name: 'redis', recipe: 'php-ext-redis', version: '6.2.0', supports: '>=7.4.0 <8.5.0', module: 'redis', ini: { path: 'etc/php/conf.d/21-redis.ini', lines: ['extension=redis'] }, uses: ['php-ext-igbinary'] },
    ]);
    const text = formatPlan(p.plan);
    expect(text).toContain('  extension  redis 6.2.0 (php-ext-redis, supports php >=7.4.0 <8.5.0), uses php-ext-igbinary: etc/php/conf.d/21-redis.ini: extension=redis');
    expect(text).toContain('  rule       php-ext-redis: redis-serializer-igbinary: ');
    expect(text).toContain('  stages     toolchain → dep-zlib → dep-openssl → dep-curl → interpreter → ext-igbinary → ext-redis');
    expect(p.plan.sources.map((s) => s.name)).toEqual(expect.arrayContaining(['igbinary-3.2.16.tgz', 'redis-6.2.0.tgz']));
  });

  it("the extensions' checks run after the interpreter's, each judged against its own recipe's version", async () => {
    const p = await prepare('php@8.2.32', ['apcu', 'redis', 'igbinary']);
    const names = checksToRun(p.spec).map((c) => `${c.check.name}@${c.version}`);
    expect(names.slice(-3)).toEqual(['apcu-store-fetch@5.1.24', 'igbinary-round-trip@3.2.16', 'redis-client-connects@6.2.0']);
    expect(names).toContain('opcache-jit-available-but-off@8.2.32');
  });
});

describe('Dockerfile with extensions', () => {
  it('php@8.2.32 minimal on al2023-portable with apcu, igbinary and redis', async () => {
    const r = renderBuild(resolve('php@8.2.32', ['apcu', 'redis', 'igbinary']), catalog.templates);
    expect(r.stages).toEqual(['toolchain', 'dep-zlib', 'dep-openssl', 'dep-curl', 'interpreter', 'ext-apcu', 'ext-igbinary', 'ext-redis']);
    // phpize needs autoconf: installed once, in the first extension stage.
    expect(r.dockerfile.match(/install -y --no-install-recommends autoconf/g)).toHaveLength(1);
    // Headers, phpize and php-config are pruned only after the last extension stage.
    const lastStage = r.dockerfile.slice(r.dockerfile.lastIndexOf('\nFROM '));
    expect(lastStage).toMatch(/^\nFROM ext-igbinary AS ext-redis\n/);
    expect(lastStage).toContain('finalize.sh include');
    expect(r.files.map((f) => f.path)).toEqual(expect.arrayContaining(['scripts/build-php-extension.sh', 'scripts/write-ini.sh', 'sources/redis-6.2.0.tgz']));
    await expect(r.dockerfile).toMatchFileSnapshot('../render/__snapshots__/dockerfiles/php-8.2.32-minimal+apcu+igbinary+redis-al2023-portable.Dockerfile');
  });

  it('php@8.2.32 minimal on al2023-portable with pgsql: libpq after the interpreter, pgsql from the PHP source', async () => {
    const r = renderBuild(resolve('php@8.2.32', ['pgsql']), catalog.templates);
    expect(r.stages).toEqual(['toolchain', 'dep-zlib', 'dep-openssl', 'dep-curl', 'interpreter', 'ext-pgsql-dep-libpq', 'ext-pgsql']);
    // The interpreter's stages are those of the layer without pgsql (an extension layer's PHP is the runtime layer's).
    const without = renderBuild(resolve('php@8.2.32', []), catalog.templates).dockerfile;
    const upToInterpreter = (d: string, end: string) => d.slice(d.indexOf('\nFROM toolchain AS dep-zlib'), d.indexOf(end)).trimEnd();
    expect(upToInterpreter(r.dockerfile, '\nFROM interpreter AS')).toBe(upToInterpreter(without, '\nCOPY scripts/finalize.sh'));
    expect(r.dockerfile).toContain("LRB_SOURCE=/usr/src/lrb/sources/php-8.2.32.tar.xz LRB_PREFIX=/opt LRB_VERSION=8.2.32 LRB_EXT_DIR=ext/pgsql LDFLAGS='-Wl,--disable-new-dtags -Wl,-rpath,/opt/lib' \\\n    sh /usr/src/lrb/scripts/build-php-extension.sh");
    // The PHP source is in the context once, for both stages.
    expect(r.files.filter((f) => f.path === 'sources/php-8.2.32.tar.xz')).toHaveLength(1);
    expect(r.files.map((f) => f.path)).toEqual(expect.arrayContaining(['scripts/build-libpq.sh', 'sources/postgresql-15.18.tar.bz2']));
    await expect(r.dockerfile).toMatchFileSnapshot('../render/__snapshots__/dockerfiles/php-8.2.32-minimal+pgsql-al2023-portable.Dockerfile');
  });

  it('without extensions the interpreter stage is the last, as before', () => {
    const r = renderBuild(resolve('php@8.2.32', []), catalog.templates);
    expect(r.stages.at(-1)).toBe('interpreter');
    expect(r.dockerfile).not.toContain('build-php-extension.sh');
  });
});

describe('OPcache in every profile', () => {
  it('before PHP 8.5 it is built shared and loaded from 10-opcache.ini; from 8.5 it is built in', () => {
    for (const profile of ['minimal', 'standard']) {
      const old = resolve('php@8.2.32', [], { profile });
      expect(old.interpreter.args).toContain('--enable-opcache');
      expect(old.interpreter.postBuild[0]).toEqual({ rule: 'opcache-shared-before-php-8.5', script: 'write-ini.sh', args: ['etc/php/conf.d/10-opcache.ini', 'zend_extension=opcache'] });
      expect(old.interpreter.profileSpec.mustLoad).toContain('Zend OPcache');
      const v85 = resolve('php@8.5.9', [], { profile });
      expect(v85.interpreter.args).not.toContain('--enable-opcache');
      expect(v85.interpreter.postBuild.map((s) => s.script)).not.toContain('write-ini.sh');
      expect(v85.interpreter.rules.map((r) => r.name)).toContain('opcache-built-in-from-php-8.5');
    }
  });

  it("the opcache ini and the extensions' inis are in the interpreter's scan dir", () => {
    const php = catalog.recipes.get('php').recipe;
    const scan = php.build.args.find((a) => a.startsWith('--with-config-file-scan-dir='))!;
    expect(scan.split('=')[1]!.split(':')).toContain(`/opt/${php.extensionIniDir}`);
  });

  it('the layer php.ini enables it for the CLI with the JIT off', () => {
    const ini = readFileSync(path.join(PACKAGE_ROOT, 'runtime/php/layer/etc/php/php.ini'), 'utf8');
    for (const line of ['opcache.enable_cli = 1', 'opcache.validate_timestamps = 0', 'opcache.interned_strings_buffer = 4', 'opcache.jit = disable', 'opcache.jit_buffer_size = 0']) {
      expect(ini.split('\n')).toContain(line);
    }
  });
});
