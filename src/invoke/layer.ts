/**
 * The inputs of a sandbox: the layer zip (and the platform its manifest names), the function
 * code, both packed as tar archives for Docker's putArchive.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { packTar } from '../layer/tar.js';
import { readZipEntries } from '../layer/zip.js';
import { readDirEntries } from '../pipeline/local-files.js';
import type { Manifest, RuntimeLayerRef } from '../pipeline/manifest.js';
import type { PlatformRegistry } from '../platforms/registry.js';

/** The part of a layer manifest (`<zip>.json`) that `invoke` uses (read as is: any field may be missing). */
export type LayerManifestInfo = {
  platform?: Partial<Manifest['platform']>;
  arch?: string;
  /** Absent: a runtime layer (manifests from before extension layers). */
  kind?: Manifest['kind'];
  /** An extension layer: the runtime layer it was built for. */
  for?: Partial<RuntimeLayerRef>;
  inputsHash?: string;
  recipe?: Partial<Pick<Manifest['recipe'], 'name' | 'version' | 'profile'>>;
  extensions?: Partial<NonNullable<Manifest['extensions']>[number]>[];
};

/** Reads `<zip>.json` beside the zip; `undefined` when there is none. A broken one is an error. */
export async function readLayerManifest(zipPath: string): Promise<LayerManifestInfo | undefined> {
  const file = `${zipPath}.json`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read the layer manifest ${file}: ${(err as Error).message}`);
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('not a JSON object');
    return data as LayerManifestInfo;
  } catch (err) {
    throw new UserError(`the layer manifest ${file} is not valid: ${(err as Error).message}`);
  }
}

export interface RuntimeImageChoice {
  /** The platform name, when known. */
  platform: string | undefined;
  image: string;
  /** Where the choice came from, for messages. */
  source: 'image option' | 'platform option' | 'manifest';
}

/**
 * Which image runs the layer: `--image`, else the runtime image of `--platform`, else of the
 * manifest's platform (the registry's current data first, the manifest's record second).
 */
export function chooseRuntimeImage(opts: {
  layer: string;
  manifest: LayerManifestInfo | undefined;
  platform?: string | undefined;
  image?: string | undefined;
  registry: Pick<PlatformRegistry, 'get' | 'names'>;
}): RuntimeImageChoice {
  const fromManifest = opts.manifest?.platform?.name;
  if (opts.image !== undefined && opts.image !== '') {
    return { platform: opts.platform ?? fromManifest, image: opts.image, source: 'image option' };
  }
  if (opts.platform !== undefined && opts.platform !== '') {
    return { platform: opts.platform, image: opts.registry.get(opts.platform).runtimeImage, source: 'platform option' };
  }
  if (fromManifest !== undefined && fromManifest !== '') {
    if (opts.registry.names().includes(fromManifest)) {
      return { platform: fromManifest, image: opts.registry.get(fromManifest).runtimeImage, source: 'manifest' };
    }
    const recorded = opts.manifest?.platform?.runtimeImage;
    if (recorded !== undefined && recorded !== '') return { platform: fromManifest, image: recorded, source: 'manifest' };
    throw new UserError(
      `the manifest of ${opts.layer} names platform '${fromManifest}', which is unknown here: pass --platform (one of ${opts.registry.names().join(', ')}) or --image`,
    );
  }
  throw new UserError(
    `cannot tell which platform ${opts.layer} was built for: it has no manifest (${opts.layer}.json) naming one; ` +
      `pass --platform (one of ${opts.registry.names().join(', ')}) or --image`,
  );
}

/** A tar archive kept in memory, to be put into any number of containers. */
export interface PackedArchive {
  tar: Buffer;
  /** Where Docker extracts it (`/`: the archive's names start with `opt/` or `var/task/`). */
  path: string;
}

export async function tarBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** A layer zip's entries; a missing or unreadable zip is one line naming it. */
export async function readLayerEntries(zipPath: string): Promise<LayerEntry[]> {
  try {
    return await readZipEntries(zipPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`layer zip ${zipPath} does not exist (build one with npm run build-runtime)`);
    throw new UserError(`cannot read the layer zip ${zipPath}: ${(err as Error).message}`);
  }
}

/** Entries under `/opt`, as Lambda extracts layers, packed for the container. */
export async function packOpt(entries: readonly LayerEntry[]): Promise<PackedArchive> {
  return { tar: await tarBuffer(packTar([...entries], { prefix: 'opt' })), path: '/' };
}

/** The layer's files under `/opt`, as Lambda extracts a layer. */
export async function packLayer(zipPath: string): Promise<{ archive: PackedArchive; entries: LayerEntry[] }> {
  const entries = await readLayerEntries(zipPath);
  return { archive: await packOpt(entries), entries };
}

/**
 * The function code under `/var/task`: a directory (modes normalised to 0755/0644, like a zip
 * made from it) or a function zip.
 */
export async function packFunction(functionPath: string): Promise<{ archive: PackedArchive; entries: LayerEntry[] }> {
  let info;
  try {
    info = await stat(functionPath);
  } catch {
    throw new UserError(`--function ${functionPath} does not exist (give the function's directory or zip)`);
  }
  try {
    const entries = info.isDirectory() ? await readDirEntries(functionPath) : await readZipEntries(functionPath);
    // An explicit task directory (0755) so that /var/task exists even for an empty function.
    const withRoot: LayerEntry[] = [
      { type: 'directory', path: 'task', mode: 0o755 },
      ...entries.map((e) => ({ ...e, path: `task/${e.path}` })),
    ];
    return { archive: { tar: await tarBuffer(packTar(withRoot, { prefix: 'var' })), path: '/' }, entries };
  } catch (err) {
    throw new UserError(`cannot read the function ${functionPath}: ${(err as Error).message}`);
  }
}

/** Lambda runs `/var/task/bootstrap` when the function ships one, else `/opt/bootstrap`. */
export function hasOwnBootstrap(functionEntries: readonly LayerEntry[]): boolean {
  return functionEntries.some((e) => e.path === 'bootstrap' && e.type !== 'directory');
}
