import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import type { Manifest } from '../../../src/pipeline/manifest.js';
import { loadComposerTool } from '../../../src/vendor/composer.js';
import { checkPhpLayer, composerCommand, composerExtensions, composerFailure, lockPackages, projectEntries, sharedModules, vendorBaseName, vendorManifest } from '../../../src/vendor/plan.js';

const tool = await loadComposerTool();
const php = {
  kind: 'runtime-layer',
  recipe: { name: 'php', version: '8.2.32', profile: 'standard', sources: [], rules: [] },
  extensions: [{ name: 'redis' }],
  platform: { name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023', glibc: '2.31', buildImage: 'debian:bullseye', runtimeImage: 'glibc-only' },
  arch: 'x86_64',
  zip: { file: 'php-8.2.32-standard-al2023-portable-x86_64.zip', sha256: 'f'.repeat(64), bytes: 1 },
  inputsHash: 'e'.repeat(64),
  smoke: { command: [], output: '', modules: ['core', 'mbstring', 'json'] },
} as unknown as Manifest;
const lock = Buffer.from(JSON.stringify({ 'content-hash': 'abc', packages: [{ name: 'acme/greeter', version: '1.0.0' }], 'packages-dev': [{ name: 'x/dev', version: '1' }] }));

describe('vendor layer inputs', () => {
  it('takes a php runtime layer with mbstring or iconv', () => {
    expect(() => checkPhpLayer(php, 'php.zip.json', tool)).not.toThrow();
    expect(() => checkPhpLayer({ ...php, smoke: { ...php.smoke, modules: ['Core', 'iconv'] } }, 'php.zip.json', tool)).not.toThrow();
  });

  it('refuses, in one line naming the file and what to do: no mbstring/iconv, an extension or vendor layer, not a php layer', () => {
    const refuse = (m: unknown, msg: string) => {
      expect(() => checkPhpLayer(m as Manifest, 'x.zip.json', tool)).toThrow(UserError);
      expect(() => checkPhpLayer(m as Manifest, 'x.zip.json', tool)).toThrow(msg);
    };
    refuse({ ...php, recipe: { ...php.recipe, profile: 'minimal' }, smoke: { ...php.smoke, modules: ['core', 'curl'] } }, '--for x.zip.json: php 8.2.32 minimal has neither mbstring nor iconv, and Composer needs one: build the php layer with --profile standard');
    refuse({ ...php, kind: 'extension-layer' }, '--for x.zip.json is the manifest of an extension layer: give the manifest of the PHP runtime layer');
    refuse({ ...php, kind: 'vendor-layer' }, '--for x.zip.json is the manifest of a vendor layer');
    refuse({ ...php, recipe: { ...php.recipe, name: 'lua' } }, '--for x.zip.json is not the manifest of a PHP layer built by lambda-runtime-builder');
    refuse({}, 'is not the manifest of a PHP layer');
  });

  it("loads intl for Composer's run when the layer has it shared but not enabled; refuses a layer without it", () => {
    const so = (name: string) => ({ type: 'file' as const, path: `lib/php/extensions/no-debug-non-zts-20220829/${name}.so`, mode: 0o755, data: Buffer.alloc(1) });
    const shared = sharedModules([so('opcache'), so('intl'), { type: 'file', path: 'lib/libicuuc.so.67', mode: 0o644, data: Buffer.alloc(1) }]);
    expect(shared).toEqual(['intl', 'opcache']);
    expect(composerExtensions(php, 'x.zip.json', tool, shared)).toEqual(['intl']);
    expect(composerExtensions({ ...php, smoke: { ...php.smoke, modules: ['mbstring', 'intl'] } }, 'x.zip.json', tool, [])).toEqual([]);
    expect(() => composerExtensions(php, 'x.zip.json', tool, ['opcache'])).toThrow(
      '--for x.zip.json: php 8.2.32 standard has no intl, which Composer (debian trixie packages) needs: build the php layer with --profile standard',
    );
    expect(composerCommand(tool, ['intl']).slice(4, 7)).toEqual(['-d', 'extension=intl', '/usr/bin/composer']);
  });

  it("the project: its directory without vendor/ and .git/; --lock replaces the project's composer.lock", () => {
    const f = (path: string, text = '') => ({ type: 'file' as const, path, mode: 0o644, data: Buffer.from(text) });
    const entries = [f('composer.json', '{}'), f('composer.lock', 'old'), f('vendor/autoload.php'), { type: 'directory' as const, path: '.git', mode: 0o755 }, f('.git/HEAD'), f('packages/a/composer.json'), f('vendors.txt')];
    expect(projectEntries(entries, undefined).map((e) => e.path)).toEqual(['composer.json', 'composer.lock', 'packages/a/composer.json', 'vendors.txt']);
    const withLock = projectEntries(entries, Buffer.from('new'));
    expect(withLock.map((e) => e.path)).toEqual(['composer.json', 'packages/a/composer.json', 'vendors.txt', 'composer.lock']);
    expect(withLock.find((e) => e.path === 'composer.lock')).toMatchObject({ data: Buffer.from('new') });
    expect(() => projectEntries([f('x.json')], undefined)).toThrow('the project has no composer.json');
  });

  it("runs Composer's entry script with the layer's php: install, no dev, optimized, no scripts or plugins, in /work", () => {
    expect(composerCommand(tool)).toEqual([
      '-d', 'opcache.enable_cli=0', '-d', 'memory_limit=-1', '/usr/bin/composer', 'install', '--no-dev', '--optimize-autoloader',
      '--no-interaction', '--no-progress', '--no-ansi', '--no-scripts', '--no-plugins', '--working-dir=/work',
    ]);
  });
});

describe("Composer's failure, in one line", () => {
  it('is its problem lines', () => {
    const out = [
      'Installing dependencies from lock file',
      'Your lock file does not contain a compatible set of packages. Please run composer update.',
      '',
      '  Problem 1',
      '    - acme/redis-cache is locked to version 1.0.0 and an update of this package was not requested.',
      '    - acme/redis-cache 1.0.0 requires ext-redis * -> it is missing from your system. Install or enable PHP\'s redis extension.',
      '  Problem 2',
      '    - Root composer.json requires php >=9 but your php version (8.2.32) does not satisfy that requirement. -> x',
    ].join('\n');
    expect(composerFailure(out)).toBe(
      "acme/redis-cache 1.0.0 requires ext-redis * -> it is missing from your system. Install or enable PHP's redis extension.; Root composer.json requires php >=9 but your php version (8.2.32) does not satisfy that requirement. -> x",
    );
  });

  it('else its last lines that are not progress', () => {
    expect(composerFailure('Loading composer repositories with package information\n\nIn Foo.php line 3:\n  Something broke\n')).toBe('In Foo.php line 3: Something broke');
    expect(composerFailure('')).toBe('no output');
  });
});

describe('vendor layer outputs', () => {
  it('is named by the lock and the php layer', () => {
    expect(vendorBaseName('0123456789abcdef'.repeat(4), '/d/php-8.2.32-standard-al2023-portable-x86_64.zip')).toBe('vendor-0123456789ab-for-php-8.2.32-standard-al2023-portable-x86_64');
  });

  it('its manifest names the php layer, Composer and every .deb, the lock and its packages (not the dev ones)', () => {
    const m = vendorManifest({ php, tool, lock, zip: { file: 'v.zip', sha256: 'a'.repeat(64), bytes: 10 }, unzippedBytes: 20, builtAt: '2026-12-06T00:00:00.000Z' });
    expect(m).toMatchObject({
      kind: 'vendor-layer',
      for: { name: 'php', version: '8.2.32', profile: 'standard', extensions: ['redis'], platform: 'al2023-portable', arch: 'x86_64', zip: php.zip.file, inputsHash: php.inputsHash },
      composer: { version: '2.8.8', from: 'debian trixie packages' },
      lock: { contentHash: 'abc' },
      packages: [{ name: 'acme/greeter', version: '1.0.0' }],
      platform: php.platform,
      arch: 'x86_64',
    });
    expect(m.composer.sources).toHaveLength(tool.sources.length);
    expect(m.inputsHash).toMatch(/^[0-9a-f]{64}$/);
    // The inputs: the lock, the php build and Composer; not the time.
    const again = vendorManifest({ php, tool, lock, zip: m.zip, unzippedBytes: 20, builtAt: '2027-01-01T00:00:00.000Z' });
    expect(again.inputsHash).toBe(m.inputsHash);
    expect(vendorManifest({ php: { ...php, inputsHash: '1'.repeat(64) }, tool, lock, zip: m.zip, unzippedBytes: 20, builtAt: '' }).inputsHash).not.toBe(m.inputsHash);
  });

  it('a lock that is not JSON is refused naming it', () => {
    expect(() => lockPackages(Buffer.from('nope'), '--lock x.lock')).toThrow(/^--lock x\.lock is not valid JSON .*: give the composer\.lock Composer wrote$/);
  });
});
