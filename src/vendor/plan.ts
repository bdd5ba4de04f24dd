/**
 * A vendor layer: `composer install --no-dev --optimize-autoloader` for one PHP runtime layer, run
 * with that layer's own PHP, written as a layer whose `vendor/` Lambda extracts to `/opt/vendor`
 * (the runtime requires `/opt/vendor/autoload.php` when the function has no `vendor/` of its own).
 * Pure: checks of the inputs, the command, names, the manifest.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { runtimeLayerRefFromManifest, type Manifest, type RuntimeLayerRef } from '../pipeline/manifest.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import type { ComposerTool } from './composer.js';

/** Where the container holds the project, the PHP layer and Composer. */
export const WORK_DIR = '/work';

/** The PHP layer a vendor layer is built for: its manifest (as read) and its zip beside it. */
export interface PhpLayerInput {
  manifestPath: string;
  manifest: Manifest;
  zip: string;
}

/**
 * Refuses, in one line each, a manifest that is not a PHP runtime layer's, or a PHP without what
 * Composer needs to run at all (mbstring or iconv).
 */
export function checkPhpLayer(m: Partial<Manifest>, file: string, tool: ComposerTool): void {
  const what = `--for ${file}`;
  if (m.kind === 'extension-layer' || m.kind === 'vendor-layer') {
    throw new UserError(`${what} is the manifest of a${m.kind === 'extension-layer' ? 'n extension' : ' vendor'} layer: give the manifest of the PHP runtime layer (php-<version>-...zip.json)`);
  }
  if (m.recipe?.name !== 'php' || !m.zip?.file || !m.platform?.name || !m.arch || !m.inputsHash) {
    throw new UserError(`${what} is not the manifest of a PHP layer built by ${TOOL_NAME} (no recipe php, zip, platform, arch or inputsHash): give the .zip.json beside a php layer zip`);
  }
  const modules = (m.smoke?.modules ?? []).map((x) => x.toLowerCase());
  if (!tool.needsOneOf.some((x) => modules.includes(x))) {
    throw new UserError(
      `${what}: php ${m.recipe.version} ${m.recipe.profile} has neither ${tool.needsOneOf.join(' nor ')}, and Composer needs one: build the php layer with --profile standard`,
    );
  }
}

/** Shared modules a layer holds (`lib/php/extensions/<api>/<name>.so`), by name. */
export function sharedModules(entries: readonly LayerEntry[]): string[] {
  return entries.flatMap((e) => /^lib\/php\/extensions\/[^/]+\/([^/]+)\.so$/.exec(e.path)?.[1] ?? []).sort();
}

/**
 * The extensions to load for the Composer run (`-d extension=`): each of `needsAll` the layer has as
 * a shared module but does not enable. One the layer has neither way is refused in one line.
 */
export function composerExtensions(m: Manifest, file: string, tool: ComposerTool, shared: readonly string[]): string[] {
  const modules = (m.smoke?.modules ?? []).map((x) => x.toLowerCase());
  const missing = tool.needsAll.filter((x) => !modules.includes(x) && !shared.includes(x));
  if (missing.length) {
    throw new UserError(
      `--for ${file}: php ${m.recipe.version} ${m.recipe.profile} has no ${missing.join(', ')}, which Composer (${tool.from}) needs: build the php layer with --profile standard`,
    );
  }
  return tool.needsAll.filter((x) => !modules.includes(x));
}

/** The command the container runs: the layer's PHP (with `load` enabled), Composer from its Debian files. */
export function composerCommand(tool: ComposerTool, load: readonly string[] = []): string[] {
  return [
    // Composer rewrites and re-reads its own files; the layer's CLI OPcache settings must not serve stale ones.
    '-d', 'opcache.enable_cli=0',
    '-d', 'memory_limit=-1',
    ...load.flatMap((x) => ['-d', `extension=${x}`]),
    `/${tool.bin}`,
    'install',
    '--no-dev',
    '--optimize-autoloader',
    '--no-interaction',
    '--no-progress',
    '--no-ansi',
    // Scripts and plugins run arbitrary project code while the layer is built: off, so the layer is the lock's packages only.
    '--no-scripts',
    '--no-plugins',
    `--working-dir=${WORK_DIR}`,
  ];
}

export const COMPOSER_ENV: Record<string, string> = {
  // As on Lambda: the layer's libraries (OpenSSL, curl, zlib; ICU and the C++ runtime for intl) are found in /opt/lib.
  LD_LIBRARY_PATH: '/opt/lib',
  // The layer's own CA bundle (Debian's Composer looks for the system's, which the runtime image lacks).
  SSL_CERT_FILE: '/opt/ssl/cert.pem',
  HOME: '/tmp',
  COMPOSER_HOME: '/tmp/composer',
  COMPOSER_CACHE_DIR: '/tmp/composer/cache',
  COMPOSER_NO_INTERACTION: '1',
  COMPOSER_ALLOW_SUPERUSER: '1',
};

/** The project's files the container gets: its directory without `vendor/` and `.git/`; `lock` replaces `composer.lock`. */
export function projectEntries(entries: readonly LayerEntry[], lock: Buffer | undefined): LayerEntry[] {
  const top = (p: string) => p.split('/')[0];
  const kept = entries.filter((e) => top(e.path) !== 'vendor' && top(e.path) !== '.git' && !(lock && e.path === 'composer.lock'));
  if (!kept.some((e) => e.path === 'composer.json' && e.type === 'file')) throw new Error('the project has no composer.json');
  return lock ? [...kept, { type: 'file', path: 'composer.lock', mode: 0o644, data: lock }] : kept;
}

/**
 * The lines of Composer's output that say why it failed (its "Problem" blocks, its error box), joined
 * into one: what a user needs to read first. The whole output goes to the log.
 */
export function composerFailure(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const problems = lines.filter((l) => l.startsWith('- ') && l.includes(' -> '));
  if (problems.length) return problems.map((l) => l.slice(2)).join('; ');
  const errors = lines.filter((l) => !/^(Loading|Installing|Updating|Verifying|Writing|Generating|Nothing to|No composer\.lock|Lock file|Package operations|Warning)/.test(l));
  return errors.slice(-3).join(' ') || 'no output';
}

/** What tells vendor layers apart in their names: the first 12 hex digits of the lock's SHA-256. */
export function vendorLayerId(lockSha256: string): string {
  return lockSha256.slice(0, 12);
}

/** Name of the vendor layer for a lock file and a PHP layer: `vendor-<12 hex>-for-<php layer>`. */
export function vendorBaseName(lockSha256: string, phpZip: string): string {
  return `vendor-${vendorLayerId(lockSha256)}-for-${path.basename(phpZip, '.zip')}`;
}

export interface VendorManifest {
  tool: { name: string; version: string };
  kind: 'vendor-layer';
  for: RuntimeLayerRef;
  composer: { version: string; from: string; sources: { name: string; package: string; version: string; sha256: string }[] };
  lock: { sha256: string; contentHash?: string };
  packages: { name: string; version: string }[];
  platform: Manifest['platform'];
  arch: string;
  zip: { file: string; sha256: string; bytes: number };
  unzippedBytes: number;
  builtAt: string;
  /** Same lock, same PHP layer build, same Composer: same inputs, same zip bytes. */
  inputsHash: string;
}

export function vendorInputsHash(lock: Buffer, php: Manifest, tool: ComposerTool): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ php: php.inputsHash, composer: tool.sources.map((s) => s.sha256), tool: TOOL_VERSION }));
  h.update(lock);
  return h.digest('hex');
}

/** The packages a lock file installs without `--dev`, by name and version. */
export function lockPackages(lock: Buffer, what: string): { packages: { name: string; version: string }[]; contentHash?: string } {
  let data: { packages?: { name?: unknown; version?: unknown }[]; 'content-hash'?: unknown };
  try {
    data = JSON.parse(lock.toString('utf8')) as typeof data;
  } catch (err) {
    throw new UserError(`${what} is not valid JSON (${(err as Error).message}): give the composer.lock Composer wrote`);
  }
  const packages = (data.packages ?? []).map((p) => ({ name: String(p.name), version: String(p.version) }));
  return { packages, ...(typeof data['content-hash'] === 'string' ? { contentHash: data['content-hash'] } : {}) };
}

export function vendorManifest(o: {
  php: Manifest;
  tool: ComposerTool;
  lock: Buffer;
  zip: { file: string; sha256: string; bytes: number };
  unzippedBytes: number;
  builtAt: string;
}): VendorManifest {
  const { packages, contentHash } = lockPackages(o.lock, 'the composer.lock');
  return {
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    kind: 'vendor-layer',
    for: runtimeLayerRefFromManifest(o.php),
    composer: {
      version: o.tool.version,
      from: o.tool.from,
      sources: o.tool.sources.map((s) => ({ name: s.name, package: s.package, version: s.version, sha256: s.sha256 })),
    },
    lock: { sha256: createHash('sha256').update(o.lock).digest('hex'), ...(contentHash ? { contentHash } : {}) },
    packages,
    platform: o.php.platform,
    arch: o.php.arch,
    zip: o.zip,
    unzippedBytes: o.unzippedBytes,
    builtAt: o.builtAt,
    inputsHash: vendorInputsHash(o.lock, o.php, o.tool),
  };
}
