import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { loadCatalog, type Catalog } from '../../../src/pipeline/prepare.js';
import { resolveBuild, type BuildSpec, type ResolveOptions } from '../../../src/recipes/resolve.js';
import { satisfies } from '../../../src/recipes/versions.js';
import { platformPackages } from '../../../src/platforms/registry.js';
import semver from 'semver';

let catalog: Catalog;
let opts: ResolveOptions;

beforeAll(async () => {
  catalog = await loadCatalog();
  opts = { platform: catalog.platforms.get('al2'), arch: 'x86_64' };
});

const resolve = (target: string, extra: Partial<ResolveOptions> = {}): BuildSpec =>
  resolveBuild(catalog.recipes, target, { ...opts, ...extra });

const PHP_BASE_ARGS = [
  '--disable-all',
  '--disable-cgi',
  '--disable-phpdbg',
  '--enable-cli',
  '--enable-pcntl',
  '--without-pear',
  '--with-config-file-path=/opt/etc/php',
  '--with-config-file-scan-dir=/opt/etc/php/conf.d:/var/task/php/conf.d',
];

describe('the catalog', () => {
  it('loads the built-in recipes: nine, and four extensions of php', () => {
    expect(catalog.recipes.list().map((l) => l.recipe.name)).toEqual([
      'curl', 'libpq', 'libxml2', 'lua', 'oniguruma', 'openssl', 'php', 'php-ext-apcu', 'php-ext-igbinary', 'php-ext-pgsql', 'php-ext-redis', 'sqlite3', 'zlib',
    ]);
    expect(catalog.recipes.versionsOf('php')).toEqual([
      '7.3.0', '7.3.33', '7.4.33', '8.0.30', '8.1.34', '8.2.32', '8.2.33', '8.3.33', '8.4.24', '8.5.9',
    ]);
    expect(catalog.recipes.versionsOf('openssl')).toEqual(['1.0.1k', '1.0.2u', '1.1.1w', '3.0.21', '3.5.7', '3.6.3']);
  });

  it('every rule range and pairing range is a valid semver range', () => {
    for (const { recipe, file } of catalog.recipes.list()) {
      for (const r of recipe.rules ?? []) expect(semver.validRange(r.when), `${file} rule ${r.name}`).not.toBeNull();
      for (const d of recipe.dependencies ?? []) {
        for (const r of d.rules) {
          expect(semver.validRange(r.when), `${file} ${d.name} rule ${r.name}.when`).not.toBeNull();
          expect(semver.validRange(r.allowed), `${file} ${d.name} rule ${r.name}.allowed`).not.toBeNull();
        }
      }
    }
  });

  it('each interpreter version a dependency is built for matches exactly one pairing rule, whose default it allows', () => {
    for (const { recipe } of catalog.recipes.list()) {
      for (const dep of recipe.dependencies ?? []) {
        const depVersions = catalog.recipes.versionsOf(dep.name);
        for (const { version } of recipe.versions) {
          if (dep.when && !satisfies(version, dep.when)) continue;
          const matching = dep.rules.filter((r) => satisfies(version, r.when));
          expect(matching.map((r) => r.name), `${recipe.name} ${version} → ${dep.name}`).toHaveLength(1);
          const rule = matching[0]!;
          expect(depVersions, `${rule.name}.default`).toContain(rule.default);
          expect(satisfies(rule.default, rule.allowed), `${rule.name}: default within allowed`).toBe(true);
        }
      }
    }
  });
});

describe('resolveBuild: interpreter versions', () => {
  it.each([
    ['php@7.3', '7.3.33'],
    ['php@7', '7.4.33'],
    ['php@7.4.33', '7.4.33'],
    ['php@7.3.0', '7.3.0'],
    ['php@8', '8.5.9'],
    ['php@8.2', '8.2.33'],
    ['php@^8.1 <8.3', '8.2.33'],
    ['php@>=8.0 <8.2', '8.1.34'],
    ['php@8.4', '8.4.24'],
    ['php', '8.5.9'],
    ['lua', '5.4.8'],
    ['lua@5.4.7', '5.4.7'],
  ])('%s → %s', (target, version) => {
    const spec = resolve(target);
    expect(spec.interpreter.version).toBe(version);
    expect(spec.target).toBe(target);
    expect(spec.interpreter.sources.map((s) => s.name)).toEqual([
      `${spec.interpreter.name}-${version}.tar.${spec.interpreter.name === 'php' ? 'xz' : 'gz'}`,
    ]);
  });

  it('no match → error listing the pinned versions in order', () => {
    expect(() => resolve('php@7.2')).toThrow(UserError);
    expect(() => resolve('php@7.2')).toThrow(
      "no php version matches '7.2': pinned versions are 7.3.0, 7.3.33, 7.4.33, 8.0.30, 8.1.34, 8.2.32, 8.2.33, 8.3.33, 8.4.24, 8.5.9",
    );
    expect(() => resolve('php@9')).toThrow(/no php version matches '9'/);
  });

  it('invalid range → clear error', () => {
    expect(() => resolve('php@banana')).toThrow(UserError);
    expect(() => resolve('php@banana')).toThrow(
      "'php@banana': 'banana' is neither a version nor a semver range (e.g. 7.4, 7.4.33, ^8.1)",
    );
  });

  it('unknown recipe → error naming the known ones', () => {
    expect(() => resolve('python@3.12')).toThrow(UserError);
    expect(() => resolve('python@3.12')).toThrow(/unknown recipe 'python': known recipes are curl, libpq, libxml2, lua, oniguruma, openssl, php, php-ext-apcu, php-ext-igbinary, php-ext-pgsql, php-ext-redis, sqlite3, zlib/);
  });

  it('a library as target → error pointing at --with and naming its users', () => {
    expect(() => resolve('openssl@1.1')).toThrow(UserError);
    expect(() => resolve('openssl@1.1')).toThrow(
      'openssl is a library recipe, built as part of an interpreter (php); pin its version with --with openssl@VERSION',
    );
    expect(() => resolve('curl')).toThrow(/curl is a library recipe.*\(php\).*--with curl@VERSION/);
  });

  it('unreadable target text → parse error', () => {
    expect(() => resolve('PHP@7.4')).toThrow(/cannot read target 'PHP@7.4'/);
  });
});

describe('resolveBuild: dependency pairing', () => {
  const deps = (spec: BuildSpec) => spec.dependencies.map((d) => `${d.name}@${d.version}`);

  it.each([
    ['php@7.3.0', ['openssl@1.1.1w', 'curl@7.88.1']],
    ['php@7.3', ['openssl@1.1.1w', 'curl@7.88.1']],
    ['php@7.4', ['openssl@1.1.1w', 'curl@7.88.1']],
    ['php@8.0', ['openssl@1.1.1w', 'curl@7.88.1']],
    ['php@8.1', ['openssl@3.5.7', 'curl@8.14.1']],
    ['php@8.2', ['openssl@3.5.7', 'curl@8.14.1']],
    ['php@8.3', ['openssl@3.5.7', 'curl@8.14.1']],
    ['php@8.4', ['openssl@3.5.7', 'curl@8.14.1']],
    ['php@8.5', ['openssl@3.5.7', 'curl@8.14.1']],
    ['lua@5.4', []],
  ])('%s builds with %j, OpenSSL first', (target, expected) => {
    expect(deps(resolve(target))).toEqual(expected);
  });

  it('php 7.4: openssl 1.1.1w by the 1.x rule, curl 7.88.1; both not overridden', () => {
    const spec = resolve('php@7.4');
    const [openssl, curl] = spec.dependencies;
    expect(openssl!.pairing).toEqual({
      name: 'openssl-1.x-before-php-8.1',
      reason: 'PHP 7.1 to 8.0 need OpenSSL >= 1.0.1 and < 3.0; 1.1.1w is the last 1.x release.',
      allowed: '>=1.0.1 <3.0.0',
      overridden: false,
    });
    expect(openssl!.sources[0]!.sha256).toBe('cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8');
    expect(openssl!.args).toEqual(['--libdir=lib', 'shared', 'no-tests']);
    expect(openssl!.rules.map((r) => r.name)).toEqual(['no-tests-from-1.1']);
    expect(openssl!.packages).toEqual(['perl']);
    expect(curl!.pairing).toMatchObject({ name: 'curl-7.88-with-openssl-1.x', overridden: false });
    expect(curl!.sources[0]!.sha256).toBe('cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7');
    expect(curl!.args).toContain('--with-openssl=/opt');
  });

  it('php 8.2: openssl 3.5.7 (LTS) with no-tests and no-docs, curl 8.14.1', () => {
    const spec = resolve('php@8.2');
    const [openssl, curl] = spec.dependencies;
    expect(openssl!.version).toBe('3.5.7');
    expect(openssl!.pairing).toMatchObject({ name: 'openssl-3-lts-from-php-8.1', allowed: '>=1.0.2 <4.0.0' });
    expect(openssl!.sources[0]!.sha256).toBe('a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8');
    expect(openssl!.args).toEqual(['--libdir=lib', 'shared', 'no-tests', 'no-docs']);
    expect(curl!.version).toBe('8.14.1');
    expect(curl!.sources[0]!.sha256).toBe('6766ada7101d292b42b8b15681120acd68effa4a9660935853cf6d61f0d984d4');
    expect(curl!.pairing.name).toBe('curl-8-from-php-8.1');
  });

  it('php 8.4: the 1.1.1-minimum rule', () => {
    expect(resolve('php@8.4').dependencies[0]!.pairing.name).toBe('openssl-1.1.1-minimum-from-php-8.4');
  });

  it('--with openssl@1.0.1k on php 7.3 is accepted and marked overridden', () => {
    const spec = resolve('php@7.3', { with: ['openssl@1.0.1k'] });
    const openssl = spec.dependencies.find((d) => d.name === 'openssl')!;
    expect(openssl.version).toBe('1.0.1k');
    expect(openssl.pairing).toMatchObject({ name: 'openssl-1.x-before-php-8.1', overridden: true });
    expect(openssl.sources[0]!.sha256).toBe('8f9faeaebad088e772f4ef5e38252d472be4d878c6b3a2718c10a4fcebe7a41c');
    // 1.0.x knows neither no-tests nor no-docs.
    expect(openssl.args).toEqual(['--libdir=lib', 'shared']);
    expect(openssl.rules).toEqual([]);
    // curl is untouched.
    expect(spec.dependencies.find((d) => d.name === 'curl')).toMatchObject({ version: '7.88.1', pairing: { overridden: false } });
  });

  it('--with takes ranges too: openssl@1.0 on php 7.4 → 1.0.2u', () => {
    expect(resolve('php@7.4', { with: ['openssl@1.0'] }).dependencies[0]).toMatchObject({ version: '1.0.2u' });
  });

  it('--with openssl@3.5.7 on php 7.4 is refused with the rule name and reason', () => {
    const run = () => resolve('php@7.4', { with: ['openssl@3.5.7'] });
    expect(run).toThrow(UserError);
    expect(run).toThrow(
      "php 7.4.33 cannot use openssl 3.5.7: rule 'openssl-1.x-before-php-8.1' allows openssl >=1.0.1 <3.0.0 because PHP 7.1 to 8.0 need OpenSSL >= 1.0.1 and < 3.0; 1.1.1w is the last 1.x release.",
    );
  });

  it('--with openssl@1.0.2u on php 8.4 is refused by the 1.1.1 minimum', () => {
    expect(() => resolve('php@8.4', { with: ['openssl@1.0.2u'] })).toThrow(
      /php 8\.4\.24 cannot use openssl 1\.0\.2u: rule 'openssl-1\.1\.1-minimum-from-php-8\.4' allows openssl >=1\.1\.1 <4\.0\.0/,
    );
  });

  it('--with lua@5.4 is refused: not a dependency', () => {
    expect(() => resolve('php@8.2', { with: ['lua@5.4'] })).toThrow(
      "--with lua@5.4: php does not depend on 'lua' (its dependencies: zlib, openssl, curl, libxml2, sqlite3, oniguruma)",
    );
    expect(() => resolve('lua', { with: ['openssl@3.5'] })).toThrow(
      "--with openssl@3.5: lua does not depend on 'openssl' (it has no dependencies)",
    );
  });

  it('--with a version that is not pinned → the usual no-match error', () => {
    expect(() => resolve('php@7.4', { with: ['openssl@2'] })).toThrow(/no openssl version matches '2': pinned versions are 1\.0\.1k, 1\.0\.2u/);
  });
});

describe('resolveBuild: profiles and per-version rules', () => {
  const ruleNames = (spec: BuildSpec) => spec.interpreter.rules.map((r) => r.name);

  it('defaults to the minimal profile', () => {
    const spec = resolve('php@8.2');
    expect(spec.interpreter.profile).toBe('minimal');
    expect(spec.interpreter.profileSpec.mustLoad).toContain('json');
  });

  it('a platform rule refuses a version on a platform it cannot be built for, with the reason', () => {
    expect(() => resolve('php@8.4', { platform: catalog.platforms.get('amzn-2017.03') })).toThrow(
      /php 8\.4\.24 cannot be built for platform amzn-2017\.03: rule 'c11-compiler-from-php-8\.4': PHP 8\.4 requires a C11 compiler/,
    );
    expect(resolve('php@8.3', { platform: catalog.platforms.get('amzn-2017.03') }).interpreter.version).toBe('8.3.33');
    expect(resolve('php@8.4', { platform: catalog.platforms.get('al2023') }).interpreter.version).toBe('8.4.24');
  });

  it('php 7.3 on al2023 (ICU 67.1, libxml2 2.10): both profiles resolve, with the pre-7.4 arguments and no ICU workaround', () => {
    const al2023 = catalog.platforms.get('al2023');
    const minimal = resolve('php@7.3', { platform: al2023 });
    expect(minimal.interpreter.version).toBe('7.3.33');
    expect(minimal.interpreter.args).toEqual([...PHP_BASE_ARGS, '--enable-json', '--with-openssl=/opt', '--with-curl=/opt', '--with-zlib', '--enable-opcache']);
    expect(minimal.dependencies.map((d) => `${d.name}@${d.version}`)).toEqual(['openssl@1.1.1w', 'curl@7.88.1']);
    for (const v of ['7.3.0', '7.3.33']) {
      const standard = resolve(`php@${v}`, { platform: al2023, profile: 'standard' });
      expect(ruleNames(standard), v).toEqual([
        'json-extension-before-php-8',
        'prefix-arguments-before-php-7.4',
        'opcache-shared-before-php-8.5',
        'bundled-libraries-found-before-lambda-system-libraries',
        'libxml-switch-renamed-in-7.4',
        'icu-data-without-charset-tables',
      ]);
      expect(standard.interpreter.args, v).toEqual(expect.arrayContaining(['--enable-libxml', '--enable-intl=shared', '--with-openssl=/opt']));
      // No flag papers over an ICU >= 68 / >= 70 incompatibility: AL2023's ICU is older than both.
      expect(standard.interpreter.args.filter((a) => /U_DEFINE_FALSE_AND_TRUE|FLAGS=/.test(a)), v).toEqual([]);
    }
  });

  it('a profile-scoped platform rule refuses only that profile: php 7.3 standard (intl) on ICU 72 debian-bookworm', () => {
    const bookworm = catalog.platforms.get('debian-bookworm');
    for (const v of ['7.3.0', '7.3.33']) {
      expect(() => resolve(`php@${v}`, { platform: bookworm, profile: 'standard' }), v).toThrow(
        new RegExp(`^php ${v.replaceAll('.', '\\.')} cannot be built for platform debian-bookworm: rule 'intl-before-php-7\\.4-needs-icu-below-70': PHP 7\\.3's intl does not compile against ICU 70`),
      );
      expect(resolve(`php@${v}`, { platform: bookworm }).interpreter.version, `${v} minimal`).toBe(v);
    }
    expect(resolve('php@7.4', { platform: bookworm, profile: 'standard' }).interpreter.version).toBe('7.4.33');
    for (const name of ['al2023', 'al2023-portable', 'debian-bullseye', 'al2']) {
      expect(resolve('php@7.3', { platform: catalog.platforms.get(name), profile: 'standard' }).interpreter.version, name).toBe('7.3.33');
    }
  });

  it('unknown profile → error listing the profiles', () => {
    expect(() => resolve('php@8.2', { profile: 'full' })).toThrow(UserError);
    expect(() => resolve('php@8.2', { profile: 'full' })).toThrow(
      "php has no profile 'full': use one of minimal, standard (--profile)",
    );
    expect(() => resolve('lua', { profile: 'full' })).toThrow("lua has no profile 'full': use one of minimal, standard (--profile)");
  });

  it('php 7.3 minimal: --enable-json and prefix arguments', () => {
    const spec = resolve('php@7.3');
    expect(spec.interpreter.args).toEqual([
      ...PHP_BASE_ARGS,
      '--enable-json',
      '--with-openssl=/opt',
      '--with-curl=/opt',
      '--with-zlib',
      '--enable-opcache',
    ]);
    expect(spec.interpreter.packages).toEqual(['zlib']);
    expect(ruleNames(spec)).toEqual(['json-extension-before-php-8', 'prefix-arguments-before-php-7.4', 'opcache-shared-before-php-8.5', 'bundled-libraries-found-before-lambda-system-libraries']);
  });

  it('php 7.4 minimal: --enable-json and pkg-config arguments', () => {
    const spec = resolve('php@7.4');
    expect(spec.interpreter.args).toEqual([...PHP_BASE_ARGS, '--enable-json', '--with-openssl', '--with-curl', '--with-zlib', '--enable-opcache']);
    expect(ruleNames(spec)).toEqual(['json-extension-before-php-8', 'pkg-config-from-php-7.4', 'opcache-shared-before-php-8.5', 'bundled-libraries-found-before-lambda-system-libraries']);
  });

  it('php 8.0 minimal: no --enable-json any more', () => {
    const spec = resolve('php@8.0');
    expect(spec.interpreter.args).toEqual([...PHP_BASE_ARGS, '--with-openssl', '--with-curl', '--with-zlib', '--enable-opcache']);
    expect(spec.interpreter.args).not.toContain('--enable-json');
    expect(ruleNames(spec)).toEqual(['pkg-config-from-php-7.4', 'opcache-shared-before-php-8.5', 'bundled-libraries-found-before-lambda-system-libraries']);
  });

  it('standard adds its args after the rules, and its packages', () => {
    const spec = resolve('php@8.2', { profile: 'standard' });
    const profile = catalog.recipes.get('php').recipe.profiles!['standard']!;
    expect(spec.interpreter.profile).toBe('standard');
    expect(spec.interpreter.profileSpec).toBe(profile);
    expect(spec.interpreter.args).toEqual([
      ...PHP_BASE_ARGS,
      '--with-openssl',
      '--with-curl',
      '--with-zlib',
      '--enable-opcache',
      '--with-libxml',
      ...profile.args,
    ]);
    expect(spec.interpreter.args).toContain('--enable-intl=shared');
    // al2 builds SQLite and Oniguruma from source (its buildFromSource), so their packages are not installed.
    expect(spec.interpreter.packages).toEqual(['zlib', 'icu-tools', 'libxml2', 'icu']);
    expect(ruleNames(spec)).toEqual([
      'pkg-config-from-php-7.4',
      'opcache-shared-before-php-8.5',
      'bundled-libraries-found-before-lambda-system-libraries',
      'libxml-with-from-7.4',
      'mbstring-needs-oniguruma-from-7.4',
      'sqlite3-and-pdo-sqlite-need-sqlite-from-7.4',
      'icu-data-without-charset-tables',
    ]);
    expect(spec.interpreter.postBuild).toEqual([
      { rule: 'opcache-shared-before-php-8.5', script: 'write-ini.sh', args: ['etc/php/conf.d/10-opcache.ini', 'zend_extension=opcache'] },
      { rule: 'icu-data-without-charset-tables', script: 'trim-icu-data.sh', args: ['*.cnv'] },
    ]);
  });

  it('post-build steps come only from rules that apply (profile and version), in rule order', () => {
    expect(resolve('php@8.2').interpreter.postBuild.map((s) => s.rule)).toEqual(['opcache-shared-before-php-8.5']);
    expect(resolve('php@8.5').interpreter.postBuild).toEqual([]);
    const versions = catalog.recipes.versionsOf('php');
    for (const v of versions) {
      const opcache = v.startsWith('8.5') ? [] : ['write-ini.sh'];
      expect(resolve(`php@${v}`, { profile: 'standard' }).interpreter.postBuild.map((s) => s.script), v).toEqual([...opcache, 'trim-icu-data.sh']);
    }
    const spec = resolve('php@8.2', { profile: 'standard' });
    for (const dep of spec.dependencies) expect(dep.postBuild, dep.name).toEqual([]);
  });

  it('standard on php 7.3: --enable-libxml (pre-7.4 name), no oniguruma (bundled before 7.4)', () => {
    const spec = resolve('php@7.3', { profile: 'standard' });
    expect(spec.interpreter.args).toContain('--enable-libxml');
    expect(spec.interpreter.args).not.toContain('--with-libxml');
    expect(spec.interpreter.packages).toEqual(['zlib', 'icu-tools', 'libxml2', 'icu']);
    expect(ruleNames(spec)).toEqual([
      'json-extension-before-php-8',
      'prefix-arguments-before-php-7.4',
      'opcache-shared-before-php-8.5',
      'bundled-libraries-found-before-lambda-system-libraries',
      'libxml-switch-renamed-in-7.4',
      'icu-data-without-charset-tables',
    ]);
  });

  it('standard on php 7.4: --with-libxml and oniguruma (the package where the platform has a usable one)', () => {
    const spec = resolve('php@7.4', { profile: 'standard', platform: catalog.platforms.get('al2023') });
    expect(spec.interpreter.args).toContain('--with-libxml');
    expect(spec.interpreter.args).not.toContain('--enable-libxml');
    expect(spec.interpreter.packages).toContain('oniguruma');
    expect(spec.interpreter.rules.map((r) => r.name)).toContain('mbstring-needs-oniguruma-from-7.4');
  });

  it('profile-scoped rules never apply to minimal', () => {
    for (const v of catalog.recipes.versionsOf('php')) {
      const spec = resolve(`php@${v}`);
      expect(spec.interpreter.args.filter((a) => /libxml/.test(a)), v).toEqual([]);
      expect(spec.interpreter.packages, v).toEqual(['zlib']);
    }
  });

  it("the profile does not change minimal's dependencies, which come first (so their image stages are shared)", () => {
    for (const v of catalog.recipes.versionsOf('php')) {
      const a = resolve(`php@${v}`);
      const b = resolve(`php@${v}`, { profile: 'standard' });
      expect(b.dependencies.slice(0, a.dependencies.length).map((d) => [d.name, d.version, d.args, d.packages])).toEqual(
        a.dependencies.map((d) => [d.name, d.version, d.args, d.packages]),
      );
      // On al2, standard adds only SQLite and Oniguruma, built from source (its buildFromSource), from PHP 7.4.
      expect(b.dependencies.slice(a.dependencies.length).map((d) => d.name), v).toEqual(satisfies(v, '>=7.4.0') ? ['sqlite3', 'oniguruma'] : []);
    }
  });

  it('carries the platform and arch through', () => {
    const spec = resolve('php@8.2', { platform: catalog.platforms.get('al2023'), arch: 'arm64' });
    expect(spec.platform.name).toBe('al2023');
    expect(spec.arch).toBe('arm64');
  });
});

describe('resolveBuild: the portable platform (library policy glibc-only)', () => {
  const portable = () => ({ platform: catalog.platforms.get('al2023-portable') });
  const deps = (spec: BuildSpec) => spec.dependencies.map((d) => `${d.name}@${d.version}`);

  it.each(['php@7.3', 'php@7.4', 'php@8.0', 'php@8.2', 'php@8.5'])('%s builds zlib from source first, on every profile', (target) => {
    for (const profile of ['minimal', 'standard']) {
      const spec = resolve(target, { ...portable(), profile });
      expect(deps(spec)[0]).toBe('zlib@1.3.1');
      expect(spec.dependencies[0]!.pairing.name).toBe('zlib-from-source-on-portable');
      expect(spec.dependencies.map((d) => d.name).slice(0, 3)).toEqual(['zlib', 'openssl', 'curl']);
    }
  });

  it.each(['php@7.4', 'php@8.0', 'php@8.2.32', 'php@8.5'])(
    '%s standard also builds libxml2, SQLite and Oniguruma from source, after the stages minimal shares; minimal builds only zlib, OpenSSL and curl',
    (target) => {
      const minimal = resolve(target, portable());
      const standard = resolve(target, { ...portable(), profile: 'standard' });
      expect(deps(minimal).map((d) => d.split('@')[0])).toEqual(['zlib', 'openssl', 'curl']);
      expect(deps(standard).slice(3)).toEqual(['libxml2@2.9.14', 'sqlite3@3.46.1', 'oniguruma@6.9.9']);
      expect(standard.dependencies.slice(3).map((d) => d.pairing.name)).toEqual([
        'libxml2-from-source-on-portable-from-php-7.4',
        'sqlite3-from-source-on-portable-from-php-7.4',
        'oniguruma-from-source-from-php-7.4',
      ]);
      // The shared stages are the same, so Docker's cache serves standard from minimal's.
      const shape = (s: BuildSpec) => s.dependencies.slice(0, 3).map((d) => [d.name, d.version, d.args, d.packages]);
      expect(shape(standard)).toEqual(shape(minimal));
      // The interpreter installs none of the three from Debian: only ICU and its tools are left.
      expect(standard.interpreter.packages.sort()).toEqual(['icu', 'icu-tools']);
      // libxml2 links the layer's zlib: no stage installs Debian's.
      for (const d of standard.dependencies) expect(d.packages, d.name).not.toContain('zlib');
      expect(standard.dependencies.find((d) => d.name === 'libxml2')!.args).toEqual(
        expect.arrayContaining(['--without-python', '--without-lzma', '--without-icu', '--with-zlib']),
      );
      expect(standard.dependencies.find((d) => d.name === 'sqlite3')!.packages).toEqual(['tcl']);
      expect(standard.dependencies.find((d) => d.name === 'oniguruma')!.packages).toEqual(['autoconf', 'automake', 'libtool']);
    },
  );

  it('php 7.3 standard keeps the platform libxml2 package and installs no SQLite or Oniguruma (it bundles both and finds libxml2 by xml2-config in /usr)', () => {
    for (const platform of ['al2023-portable', 'al2', 'al2023', 'amzn-2017.03']) {
      const spec = resolve('php@7.3', { platform: catalog.platforms.get(platform), profile: 'standard' });
      expect(deps(spec).map((d) => d.split('@')[0]), platform).toEqual(platform === 'al2023-portable' ? ['zlib', 'openssl', 'curl'] : ['openssl', 'curl']);
      expect(spec.interpreter.packages, platform).toEqual(expect.arrayContaining(['libxml2', 'icu', 'icu-tools']));
      expect(spec.interpreter.packages.filter((p) => p === 'sqlite3' || p === 'oniguruma'), platform).toEqual([]);
      expect(spec.interpreter.rules.map((r) => r.name)).not.toContain('sqlite3-and-pdo-sqlite-need-sqlite-from-7.4');
    }
  });

  it('the platforms with usable packages never build them: debian-bookworm, al2023 and debian-bullseye standard install the packages', () => {
    for (const name of ['debian-bookworm', 'debian-bullseye', 'al2023']) {
      const spec = resolve('php@8.2.32', { platform: catalog.platforms.get(name), profile: 'standard' });
      expect(spec.dependencies.map((d) => d.name), name).toEqual(['openssl', 'curl']);
      expect(spec.interpreter.packages, name).toEqual(expect.arrayContaining(['zlib', 'libxml2', 'sqlite3', 'oniguruma', 'icu', 'icu-tools']));
    }
  });

  it.each(['al2', 'amzn-2017.03'])(
    '%s builds Oniguruma from its pinned source for PHP 7.4+ standard (its buildFromSource: the package is too old or missing), and keeps its other packages',
    (name) => {
      const platform = catalog.platforms.get(name);
      expect(platform.buildFromSource?.['oniguruma']).toMatch(name === 'al2' ? /5\.9\.6/ : /no oniguruma package/);
      for (const target of ['php@7.4', 'php@8.2.32']) {
        const spec = resolve(target, { platform, profile: 'standard' });
        // al2 builds SQLite too (its own entry, tested below).
        const sqlite = name === 'al2' ? ['sqlite3@3.46.1'] : [];
        expect(deps(spec), `${name} ${target}`).toEqual([expect.stringMatching(/^openssl@/), expect.stringMatching(/^curl@/), ...sqlite, 'oniguruma@6.9.9']);
        const onig = spec.dependencies.find((d) => d.name === 'oniguruma')!;
        expect(onig.pairing.name).toBe('oniguruma-from-source-from-php-7.4');
        expect(onig.packages).toEqual(['autoconf', 'automake', 'libtool']);
        // The build replaces the package: mbstring links the built libonig, found by pkg-config.
        expect(spec.interpreter.packages).not.toContain('oniguruma');
        expect(spec.interpreter.packages).toEqual(expect.arrayContaining(['zlib', 'libxml2', 'icu']));
      }
      // Minimal has no mbstring; PHP 7.3 compiles its bundled Oniguruma.
      expect(deps(resolve('php@8.2.32', { platform }))).not.toContain('oniguruma@6.9.9');
      expect(deps(resolve('php@7.3', { platform, profile: 'standard' }))).not.toContain('oniguruma@6.9.9');
      // Its autoreconf tools map to this platform's package names (a missing one would throw).
      expect(platformPackages(platform, ['autoconf', 'automake', 'libtool'], 'test')).toEqual(['autoconf', 'automake', 'libtool']);
    },
  );

  it('al2 builds SQLite from its pinned source for PHP 7.4+ standard (PHP 8.4 needs 3.13, AL2 has 3.7.17), with tcl for its tclsh', () => {
    const platform = catalog.platforms.get('al2');
    expect(platform.buildFromSource?.['sqlite3']).toMatch(/3\.7\.17/);
    for (const target of ['php@7.4', 'php@8.4']) {
      const spec = resolve(target, { platform, profile: 'standard' });
      const sqlite = spec.dependencies.find((d) => d.name === 'sqlite3')!;
      expect(sqlite.version, target).toBe('3.46.1');
      expect(sqlite.packages).toEqual(['tcl']);
      // pdo_sqlite and sqlite3 link the built library, found by pkg-config, not AL2's sqlite-devel.
      expect(spec.interpreter.packages, target).not.toContain('sqlite3');
    }
    expect(platformPackages(platform, ['tcl'], 'test')).toEqual(['tcl']);
    // PHP 7.3 compiles its own SQLite; minimal has no SQLite; other Amazon Linux platforms keep their package.
    expect(deps(resolve('php@7.3', { platform, profile: 'standard' }))).not.toContain('sqlite3@3.46.1');
    expect(deps(resolve('php@8.4', { platform }))).not.toContain('sqlite3@3.46.1');
    for (const other of ['al2023', 'amzn-2017.03']) {
      expect(deps(resolve('php@8.2.32', { platform: catalog.platforms.get(other), profile: 'standard' })), other).not.toContain('sqlite3@3.46.1');
    }
  });

  it('every buildFromSource entry names a library recipe an interpreter depends on', () => {
    const depended = new Set(catalog.recipes.list().flatMap((l) => (l.recipe.dependencies ?? []).map((d) => d.name)));
    const entries = catalog.platforms.list().flatMap((p) => Object.keys(p.buildFromSource ?? {}).map((lib) => `${p.name}:${lib}`));
    expect(entries.sort()).toEqual(['al2:oniguruma', 'al2:sqlite3', 'amzn-2017.03:oniguruma']);
    for (const e of entries) expect(depended.has(e.split(':')[1]!), e).toBe(true);
  });

  it('ICU stays the build distro package on the portable platform, by a named rule that says why', () => {
    const spec = resolve('php@8.2.32', { ...portable(), profile: 'standard' });
    const rule = spec.interpreter.rules.find((r) => r.name === 'icu-from-the-build-distro-package-on-portable');
    expect(rule?.reason).toMatch(/manifest/);
    expect(rule?.reason).toMatch(/libstdc\+\+/);
    expect(spec.interpreter.rules.map((r) => r.name)).toContain('icu-data-without-charset-tables');
    // Only there, and only for the profile that builds intl.
    expect(resolve('php@8.2.32', portable()).interpreter.rules.map((r) => r.name)).not.toContain(rule!.name);
    expect(resolve('php@8.2.32', { platform: catalog.platforms.get('debian-bookworm'), profile: 'standard' }).interpreter.rules.map((r) => r.name)).not.toContain(
      rule!.name,
    );
  });

  it('--with libxml2@VERSION is refused for a profile or PHP version that does not build it, saying which would', () => {
    expect(resolve('php@8.2.32', { ...portable(), profile: 'standard', with: ['libxml2@2.9.14'] }).dependencies[3]!.pairing.overridden).toBe(true);
    expect(() => resolve('php@8.2.32', { ...portable(), with: ['libxml2@2.9.14'] })).toThrow(
      '--with libxml2@2.9.14: php builds libxml2 only for profile standard, not minimal (drop --with libxml2, or build with --profile standard)',
    );
    expect(() => resolve('php@7.3', { ...portable(), profile: 'standard', with: ['sqlite3@3.46.1'] })).toThrow(
      '--with sqlite3@3.46.1: php builds sqlite3 only for php >=7.4.0, not php 7.3.33 (drop --with sqlite3, or build another php version)',
    );
    expect(() => resolve('php@8.2.32', { platform: catalog.platforms.get('al2023'), profile: 'standard', with: ['oniguruma@6.9.9'] })).toThrow(
      '--with oniguruma@6.9.9: php builds oniguruma only on platforms with library policy glibc-only or that build it from source (buildFromSource); platform al2023 uses its package (drop --with oniguruma, or build for such a platform)',
    );
    expect(resolve('php@8.2.32', { profile: 'standard', with: ['oniguruma@6.9.9'] }).dependencies[3]!.pairing.overridden).toBe(true);
  });

  it('nowhere else: the other platforms keep their own zlib package', () => {
    for (const name of ['al2', 'al2023', 'amzn-2017.03', 'debian-bullseye', 'debian-bookworm']) {
      const spec = resolve('php@7.4', { platform: catalog.platforms.get(name) });
      expect(spec.dependencies.map((d) => d.name), name).toEqual(['openssl', 'curl']);
      expect(spec.interpreter.packages, name).toContain('zlib');
      expect(spec.dependencies[1]!.packages, name).toEqual(['zlib']);
    }
  });

  it("no component installs the platform's zlib when zlib is built (curl and PHP link the built one)", () => {
    const spec = resolve('php@7.4', portable());
    expect(spec.interpreter.packages).not.toContain('zlib');
    for (const d of spec.dependencies) expect(d.packages, d.name).not.toContain('zlib');
  });

  it('the zlib source is a pinned Debian repack, saying so', () => {
    const zlib = resolve('php@7.4', portable()).dependencies[0]!;
    expect(zlib.sources).toEqual([
      expect.objectContaining({
        name: 'zlib_1.3.dfsg+really1.3.1.orig.tar.gz',
        sha256: '60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb',
        debianPath: 'pool/main/z/zlib/zlib_1.3.dfsg+really1.3.1.orig.tar.gz',
        repack: expect.objectContaining({ by: 'debian', upstream: 'https://zlib.net/fossils/zlib-1.3.1.tar.gz' }),
      }),
    ]);
    expect(zlib.recipe.license).toBe('Zlib');
  });

  it('PHP 7.x uses its own crypt() instead of libcrypt there (rule bundled-crypt-without-libcrypt-before-php-8)', () => {
    const spec = resolve('php@7.4', portable());
    expect(spec.interpreter.args).toContain('ac_cv_lib_crypt_crypt=no');
    expect(spec.interpreter.rules.map((r) => r.name)).toContain('bundled-crypt-without-libcrypt-before-php-8');
    expect(resolve('php@7.3', portable()).interpreter.args).toContain('ac_cv_lib_crypt_crypt=no');
    // PHP 8 never links libcrypt unless asked; other platforms have libcrypt on the system.
    expect(resolve('php@8.2', portable()).interpreter.args).not.toContain('ac_cv_lib_crypt_crypt=no');
    expect(resolve('php@7.4').interpreter.args).not.toContain('ac_cv_lib_crypt_crypt=no');
    expect(resolve('php@7.4', { platform: catalog.platforms.get('debian-bullseye') }).interpreter.rules.map((r) => r.name)).not.toContain(
      'bundled-crypt-without-libcrypt-before-php-8',
    );
  });

  it("PHP 8's OPcache links libgcc's unwinder in there, instead of needing libgcc_s (rule opcache-jit-unwinder-linked-in-on-portable)", () => {
    const flags = ['EXTRA_LDFLAGS=-Wc,-static-libgcc', 'EXTRA_LDFLAGS_PROGRAM=-static-libgcc'];
    for (const target of ['php@8.0', 'php@8.2.32', 'php@8.5']) {
      const spec = resolve(target, portable());
      expect(spec.interpreter.args, target).toEqual(expect.arrayContaining(flags));
      expect(spec.interpreter.rules.map((r) => r.name), target).toContain('opcache-jit-unwinder-linked-in-on-portable');
    }
    // PHP 7 has no JIT; platforms without the glibc-only policy have libgcc_s on the system.
    expect(resolve('php@7.4', portable()).interpreter.args).not.toEqual(expect.arrayContaining([flags[0]]));
    expect(resolve('php@8.2').interpreter.args).not.toEqual(expect.arrayContaining([flags[0]]));
    expect(resolve('php@8.2', { platform: catalog.platforms.get('debian-bookworm') }).interpreter.args).not.toEqual(expect.arrayContaining([flags[0]]));
  });

  it("every PHP's bin/php finds /opt/lib through DT_RPATH, before Lambda's /lib64 (rule bundled-libraries-found-before-lambda-system-libraries)", () => {
    const env = { LDFLAGS: '-Wl,--disable-new-dtags -Wl,-rpath,/opt/lib' };
    for (const [target, platform] of [['php@7.3', 'al2'], ['php@7.4', 'al2023-portable'], ['php@8.2.32', 'al2023'], ['php@8.5', 'debian-bookworm'], ['php@7.3', 'amzn-2017.03']] as const) {
      const spec = resolve(target, { platform: catalog.platforms.get(platform) });
      expect(spec.interpreter.env, `${target} ${platform}`).toEqual(env);
      expect(spec.interpreter.rules.map((r) => r.name)).toContain('bundled-libraries-found-before-lambda-system-libraries');
      // In the environment, not as a configure argument (which would replace the script's LDFLAGS).
      expect(spec.interpreter.args.filter((a) => a.startsWith('LDFLAGS='))).toEqual([]);
    }
    // Dependencies are libraries: no program of theirs ships.
    for (const dep of resolve('php@8.2.32', portable()).dependencies) expect(dep.env, dep.name).toEqual({});
  });

  it('a cross build gets the configure answers a native glibc build finds (rule cross-configure-answers-for-glibc-linux); native and emulated builds do not', () => {
    const answers = ['ac_cv_func_fnmatch_works=yes', 'php_cv_sizeof_intmax_t=8', 'ac_cv_func_getaddrinfo=yes', 'ac_cv_write_stdout=yes', 'ac_cv_copy_file_range=yes'];
    for (const target of ['php@7.4', 'php@8.2.32']) {
      const cross = resolve(target, { ...portable(), arch: 'arm64', buildMethod: 'cross' });
      expect(cross.interpreter.args).toEqual(expect.arrayContaining(answers));
      expect(cross.interpreter.rules.map((r) => r.name)).toEqual(expect.arrayContaining(['cross-configure-answers-for-glibc-linux', 'cross-opcache-shared-memory-for-linux']));
      expect(cross.interpreter.args).toContain('CFLAGS=-O2 -DHAVE_SHM_MMAP_ANON=1');
      for (const buildMethod of ['native', 'emulated'] as const) {
        const other = resolve(target, { ...portable(), arch: 'arm64', buildMethod });
        expect(other.interpreter.rules.map((r) => r.name).filter((n) => n.startsWith('cross-'))).toEqual([]);
        expect(other.interpreter.args.filter((a) => answers.includes(a))).toEqual([]);
      }
      expect(resolve(target, portable()).interpreter.args.filter((a) => answers.includes(a))).toEqual([]);
    }
  });

  it('--with zlib@1.3.1 works on the portable platform and is refused elsewhere, saying why', () => {
    expect(resolve('php@7.4', { ...portable(), with: ['zlib@1.3.1'] }).dependencies[0]!.pairing.overridden).toBe(true);
    expect(() => resolve('php@7.4', { with: ['zlib@1.3.1'] })).toThrow(UserError);
    expect(() => resolve('php@7.4', { with: ['zlib@1.3.1'] })).toThrow(
      '--with zlib@1.3.1: php builds zlib only on platforms with library policy glibc-only or that build it from source (buildFromSource); platform al2 uses its package (drop --with zlib, or build for such a platform)',
    );
  });
});
