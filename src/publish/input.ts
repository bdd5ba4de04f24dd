/**
 * The layer to publish: its manifest (`<zip>.json`) and the zip beside it, checked against each
 * other. Accepts the path of either.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../pipeline/output-files.js';
import path from 'node:path';
import { z } from 'zod';
import { checkBundledLoadOrder, formatLoadOrderViolation } from '../elf/load-order.js';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { readZipEntries } from '../layer/zip.js';
import type { PublishManifest } from './layer-facts.js';
import type { PublishedRecord } from './results.js';
import { vendorLayerId } from '../vendor/plan.js';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const toolSchema = z.object({ name: z.string(), version: z.string() });
const platformSchema = z.object({ name: z.string(), deployable: z.boolean(), lambdaRuntime: z.string().nullable(), runtimeImage: z.string().min(1).optional() });
const zipSchema = z.object({ file: z.string(), sha256: sha256Hex, bytes: z.number().int().nonnegative() });

/** A runtime or extension layer's manifest (build-runtime's), as far as publishing reads it. */
const manifestSchema = z.object({
  tool: toolSchema,
  recipe: z.object({ name: z.string(), version: z.string(), profile: z.string(), license: z.string().optional() }),
  platform: platformSchema,
  arch: z.string(),
  zip: zipSchema,
  inputsHash: z.string().optional(),
  kind: z.enum(['runtime-layer', 'extension-layer']).optional(),
  for: z.object({ name: z.string(), version: z.string(), zip: z.string() }).optional(),
});

/** A vendor layer's manifest (`build-runtime vendor`'s VendorManifest), as far as publishing reads it. */
const vendorManifestSchema = z.object({
  tool: toolSchema,
  kind: z.literal('vendor-layer'),
  for: z.object({ name: z.string(), version: z.string(), profile: z.string(), zip: z.string() }),
  lock: z.object({ sha256: sha256Hex }),
  platform: platformSchema,
  arch: z.string(),
  zip: zipSchema,
  inputsHash: z.string(),
});

/** `data` parsed by `schema`, or one line naming the file and the first bad field. */
function parseManifest<T>(schema: z.ZodType<T>, data: unknown, manifestFile: string, what: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new UserError(`${manifestFile} is not a ${what}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

/**
 * What publishing needs from a manifest's data (pure). A vendor layer has no recipe of its own: it
 * is published as `vendor` at the version its file name carries (the lock's SHA-256, shortened),
 * for the PHP layer it was installed with, under that layer's profile; no LicenseInfo (its
 * packages' licenses are their own).
 */
export function publishManifestOf(data: unknown, manifestFile: string): PublishManifest {
  if ((data as { kind?: unknown } | null)?.kind !== 'vendor-layer') return parseManifest(manifestSchema, data, manifestFile, 'layer manifest');
  const v = parseManifest(vendorManifestSchema, data, manifestFile, 'vendor layer manifest');
  return {
    tool: v.tool,
    kind: 'vendor-layer',
    recipe: { name: 'vendor', version: vendorLayerId(v.lock.sha256), profile: v.for.profile },
    for: { name: v.for.name, version: v.for.version, zip: v.for.zip },
    platform: v.platform,
    arch: v.arch,
    zip: v.zip,
    inputsHash: v.inputsHash,
  };
}

export interface LayerInput {
  manifestFile: string;
  zipFile: string;
  manifest: PublishManifest;
  zipBytes: number;
  /** The zip's bytes, read once here and hashed (publish uploads them when it uploads directly). */
  zipData: Buffer;
  /** The zip's entries, parsed from those bytes (for the load-order check, and for `image`'s build context). */
  entries: LayerEntry[];
}

/** `x.zip` or `x.zip.json` → both paths. */
export function layerPaths(given: string): { manifestFile: string; zipFile: string } {
  return given.endsWith('.json') ? { manifestFile: given, zipFile: given.slice(0, -'.json'.length) } : { manifestFile: `${given}.json`, zipFile: given };
}

/** Reads the manifest and proves the zip beside it is the one it describes (SHA-256 and size). */
export async function readLayerInput(given: string): Promise<LayerInput> {
  const { manifestFile } = layerPaths(given);
  let text: string;
  try {
    text = await readFile(manifestFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? `${manifestFile} does not exist: give a layer built by build-runtime (its zip or <zip>.json)` : `cannot read ${manifestFile}: ${(err as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${manifestFile} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = publishManifestOf(data, manifestFile);
  const zipFile = path.join(path.dirname(manifestFile), path.basename(manifest.zip.file));
  let zipData: Buffer;
  try {
    zipData = await readFile(zipFile);
  } catch {
    throw new UserError(`${zipFile} (named by ${manifestFile}) does not exist: rebuild the layer`);
  }
  const bytes = zipData.length;
  const actual = createHash('sha256').update(zipData).digest('hex');
  if (actual !== manifest.zip.sha256 || bytes !== manifest.zip.bytes) {
    throw new UserError(
      `${zipFile} does not match ${manifestFile}: SHA-256 ${actual} (${bytes} bytes), the manifest says ${manifest.zip.sha256} (${manifest.zip.bytes} bytes); rebuild the layer, publish nothing you cannot trace`,
    );
  }
  const entries = await readZipEntries(zipData);
  refuseShadowedLibraries(entries, zipFile);
  return { manifestFile, zipFile, manifest, zipBytes: bytes, zipData, entries };
}

/**
 * Refuses a layer whose programs would load Amazon Linux's libraries instead of the ones it bundles
 * (`src/elf/load-order.ts`): a layer built before that check was made had `bin/php` find `/opt/lib`
 * through DT_RUNPATH. Checked on the zip, whatever its manifest says.
 */
export function refuseShadowedLibraries(entries: readonly LayerEntry[], zipFile: string): void {
  const [first, ...more] = checkBundledLoadOrder(entries);
  if (!first) return;
  throw new UserError(
    `${zipFile}: ${formatLoadOrderViolation(first)}${more.length ? ` (and ${more.length} more program${more.length > 1 ? 's' : ''})` : ''}; ` +
      'rebuild the layer with this version of build-runtime (same command) and use the new zip',
  );
}

export function recordPath(zipFile: string): string {
  return `${zipFile}.published.json`;
}

export async function readRecord(file: string): Promise<PublishedRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PublishedRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof SyntaxError) return undefined; // a broken record is rewritten from this run
    throw err;
  }
}

/** Written to a temporary name in the same directory, then renamed: never half-written. */
export async function writeRecordAtomically(file: string, record: PublishedRecord): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n', 'the publish record');
}
