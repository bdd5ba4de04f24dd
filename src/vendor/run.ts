/**
 * `build-runtime vendor`: runs Composer with a PHP layer's own PHP in that layer's runtime image and
 * writes the vendor layer (zip, manifest, the lock it installed), each by temp name then rename.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DockerodeEngine } from '../docker/engine.js';
import type { Container, DockerEngine } from '../docker/types.js';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { measure } from '../layer/size.js';
import { packTar, readTarEntries } from '../layer/tar.js';
import { buildZip, readZipEntries } from '../layer/zip.js';
import { runtimeImageFor } from '../pipeline/build-method.js';
import { checkRunsForeign } from '../pipeline/foreign-arch.js';
import { readDirEntries } from '../pipeline/local-files.js';
import type { Manifest } from '../pipeline/manifest.js';
import { ensureWritableDir, writeFileAtomic } from '../pipeline/output-files.js';
import { loadCatalog } from '../pipeline/prepare.js';
import { checkArch, normalizeArch } from '../platforms/registry.js';
import { defaultCacheDir, ensureSources } from '../sources/index.js';
import { composerTree, loadComposerTool, type ComposerTool } from './composer.js';
import {
  checkPhpLayer,
  COMPOSER_ENV,
  composerCommand,
  composerExtensions,
  composerFailure,
  lockPackages,
  projectEntries,
  sharedModules,
  vendorBaseName,
  vendorManifest,
  WORK_DIR,
  type VendorManifest,
} from './plan.js';

export interface VendorOptions {
  /** The project's composer.json; its directory is the project (path repositories inside it work). */
  composerJson: string;
  /** A composer.lock to install from (default: the project's, if it has one; else Composer resolves). */
  lock?: string;
  /** The PHP layer's manifest (`<zip>.json`). */
  forManifest: string;
  outDir?: string;
  cacheDir?: string;
  mirrors?: string[];
  debianBase?: string;
  offline?: boolean;
  engine?: DockerEngine;
  signal?: AbortSignal;
  /** Progress lines (Composer's output as it comes). */
  onProgress?: (line: string) => void;
}

export interface VendorResult {
  zip: string;
  manifest: string;
  lock: string;
  log: string;
  zipSha256: string;
  zippedBytes: number;
  unzippedBytes: number;
  packages: { name: string; version: string }[];
  for: VendorManifest['for'];
}

async function readInput(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UserError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function readPhpLayer(manifestPath: string, tool: ComposerTool): Promise<{ manifest: Manifest; zip: string; bytes: Buffer }> {
  const text = (await readInput(manifestPath, 'the PHP layer manifest')).toString('utf8');
  let data: Partial<Manifest>;
  try {
    data = JSON.parse(text) as Partial<Manifest>;
  } catch (err) {
    throw new UserError(`--for ${manifestPath} is not valid JSON (${(err as Error).message}): give the .zip.json beside a php layer zip`);
  }
  checkPhpLayer(data, manifestPath, tool);
  const manifest = data as Manifest;
  const zip = path.join(path.dirname(manifestPath), manifest.zip.file);
  const bytes = await readInput(zip, 'the PHP layer zip');
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.zip.sha256) {
    throw new UserError(`${zip} has sha256 ${sha}, but its manifest says ${manifest.zip.sha256}: rebuild the php layer, or give the manifest that belongs to it`);
  }
  return { manifest, zip, bytes };
}

/** Runs Composer in a container; resolves with its exit code and everything it printed. */
async function runComposer(c: Container, onProgress: (line: string) => void): Promise<{ exitCode: number; output: string }> {
  const chunks: string[] = [];
  let partial = '';
  const attachment = await c.attach((_stream, chunk) => {
    const text = chunk.toString('utf8');
    chunks.push(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onProgress(l);
  });
  try {
    await c.start();
    const exitCode = await c.wait();
    if (partial.trim()) onProgress(partial);
    return { exitCode, output: chunks.join('') };
  } finally {
    attachment.close();
  }
}

async function prepareContainer(
  engine: DockerEngine,
  image: string,
  command: string[],
  inputs: { php: LayerEntry[]; composer: LayerEntry[]; project: LayerEntry[] },
): Promise<Container> {
  const c = await engine.createContainer({
    image,
    entrypoint: ['/opt/bin/php'],
    cmd: command,
    env: COMPOSER_ENV,
    networkMode: 'bridge',
    labels: { 'lambda-runtime-builder.purpose': 'vendor' },
  });
  await c.putArchive(packTar(inputs.php, { prefix: 'opt' }), '/');
  await c.putArchive(packTar(inputs.composer), '/');
  await c.putArchive(packTar(inputs.project, { prefix: WORK_DIR.slice(1) }), '/');
  return c;
}

export async function buildVendorLayer(o: VendorOptions): Promise<VendorResult> {
  const progress = o.onProgress ?? (() => {});
  const tool = await loadComposerTool();
  const forManifest = path.resolve(o.forManifest);
  const php = await readPhpLayer(forManifest, tool);
  const composerJson = path.resolve(o.composerJson);
  if (path.basename(composerJson) !== 'composer.json' || !(await stat(composerJson).catch(() => undefined))?.isFile()) {
    throw new UserError(`--composer ${o.composerJson}: not a composer.json file; give the path of the project's composer.json`);
  }
  const lockArg = o.lock !== undefined ? await readInput(path.resolve(o.lock), '--lock') : undefined;
  if (lockArg) lockPackages(lockArg, `--lock ${o.lock}`);
  const outDir = path.resolve(o.outDir ?? 'dist');
  await ensureWritableDir(outDir, 'output directory (--out)');

  const catalog = await loadCatalog();
  const platform = catalog.platforms.get(php.manifest.platform.name);
  const arch = checkArch(platform, normalizeArch(php.manifest.arch));
  const engine = o.engine ?? new DockerodeEngine();
  const engineArch = normalizeArch((await engine.info()).arch);
  const runtime = runtimeImageFor(platform, arch, engineArch);
  if (runtime.foreign) await checkRunsForeign(engine, { image: runtime.image, arch, engineArch, makeImages: runtime.makeImages, what: `vendor for ${php.manifest.zip.file}` });
  else if (!(await engine.inspectImage(runtime.image))) await engine.pullImage(runtime.image);

  progress(`composer ${tool.version} (${tool.from}): fetching ${tool.sources.length} pinned packages`);
  const fetched = await ensureSources(tool.sources, {
    cacheDir: path.resolve(o.cacheDir ?? defaultCacheDir()),
    mirrors: o.mirrors ?? [],
    ...(o.debianBase ? { debianBase: o.debianBase } : {}),
    ...(o.offline ? { offline: true } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const debs = new Map(await Promise.all(fetched.map(async (f) => [f.sha256, await readFile(f.path)] as const)));
  const inputs = {
    // The bytes whose SHA-256 was just checked against the manifest, not a second read of the file.
    php: await readZipEntries(php.bytes),
    composer: await composerTree(tool, debs),
    project: projectEntries(await readDirEntries(path.dirname(composerJson)), lockArg),
  };

  const load = composerExtensions(php.manifest, forManifest, tool, sharedModules(inputs.php));
  progress(`composer install --no-dev --optimize-autoloader with ${php.manifest.zip.file}'s php in ${runtime.image}${load.length ? ` (loading ${load.join(', ')} for Composer)` : ''}`);
  const c = await prepareContainer(engine, runtime.image, composerCommand(tool, load), inputs);
  try {
    const onAbort = () => void c.remove();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const run = await runComposer(c, progress);
    o.signal?.removeEventListener('abort', onAbort);
    o.signal?.throwIfAborted();
    const logFile = path.join(outDir, `vendor-for-${path.basename(php.zip, '.zip')}.log`);
    await writeFileAtomic(logFile, run.output, 'Composer log');
    if (run.exitCode !== 0) {
      throw new UserError(`composer install failed (exit ${run.exitCode}) with the php of ${php.manifest.zip.file}: ${composerFailure(run.output)} (full output: ${logFile})`);
    }
    const vendor = await readTarEntries(await c.getArchive(`${WORK_DIR}/vendor`), { stripPrefix: 'vendor', symlinkRoot: `${WORK_DIR}/vendor` });
    const lockEntries = await readTarEntries(await c.getArchive(`${WORK_DIR}/composer.lock`));
    const lockFile = lockEntries.find((e) => e.type === 'file');
    if (!lockFile || lockFile.type !== 'file') throw new Error('composer install wrote no composer.lock');
    return await writeVendorLayer({ vendor, lock: lockFile.data, php, tool, outDir, log: logFile });
  } finally {
    await c.remove();
  }
}

async function writeVendorLayer(o: {
  vendor: LayerEntry[];
  lock: Buffer;
  php: { manifest: Manifest; zip: string };
  tool: ComposerTool;
  outDir: string;
  log: string;
}): Promise<VendorResult> {
  const entries: LayerEntry[] = [{ type: 'directory', path: 'vendor', mode: 0o755 }, ...o.vendor.map((e) => ({ ...e, path: `vendor/${e.path}` }))];
  const zipBytes = await buildZip(entries);
  const lockSha = createHash('sha256').update(o.lock).digest('hex');
  const base = path.join(o.outDir, vendorBaseName(lockSha, o.php.zip));
  const zip = { file: `${path.basename(base)}.zip`, sha256: createHash('sha256').update(zipBytes).digest('hex'), bytes: zipBytes.length };
  const unzippedBytes = measure(entries).unzippedBytes;
  const manifest = vendorManifest({ php: o.php.manifest, tool: o.tool, lock: o.lock, zip, unzippedBytes, builtAt: new Date().toISOString() });
  await writeFileAtomic(`${base}.zip`, zipBytes, 'vendor layer zip');
  await writeFileAtomic(`${base}.lock`, o.lock, 'composer.lock');
  await writeFileAtomic(`${base}.zip.json`, JSON.stringify(manifest, null, 2) + '\n', 'vendor layer manifest');
  return {
    zip: `${base}.zip`,
    manifest: `${base}.zip.json`,
    lock: `${base}.lock`,
    log: o.log,
    zipSha256: zip.sha256,
    zippedBytes: zip.bytes,
    unzippedBytes,
    packages: manifest.packages,
    for: manifest.for,
  };
}
