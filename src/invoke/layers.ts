/**
 * Several layers for one function, as Lambda combines them (pure: no Docker, no files): extracted
 * into `/opt` in the order given, a later layer's file over an earlier one's; at most 5 layers;
 * the function plus every layer at most 250 MB unzipped; one platform and one architecture.
 */
import { UserError } from '../errors.js';
import { LAMBDA_MAX_LAYERS, LAMBDA_MAX_UNZIPPED_BYTES } from '../lambda.js';
import { type LayerEntry, LayerConflictError, mergeLayers } from '../layer/entries.js';
import { MIB, measure } from '../layer/size.js';
import { normalizeArch } from '../platforms/registry.js';
import type { LayerManifestInfo } from './layer.js';

/** One layer zip as read: its path, entries and manifest (when it has one). */
export interface LayerInput {
  zip: string;
  entries: readonly LayerEntry[];
  manifest: LayerManifestInfo | undefined;
}

/** What each layer and the function add to Lambda's 250 MB budget. */
export interface SizeBudget {
  layers: { zip: string; unzippedBytes: number }[];
  functionBytes: number;
  totalBytes: number;
  limitBytes: number;
}

export interface CombinedLayers {
  /** The entries Lambda's `/opt` holds once every layer is extracted. */
  entries: LayerEntry[];
  /** The manifest that decides the platform: the first layer whose manifest names one. */
  manifest: LayerManifestInfo | undefined;
  /** Which zip that manifest belongs to (for messages). */
  manifestZip: string;
  budget: SizeBudget;
}

/** Lambda counts each layer and the function unzipped, whatever later layers overwrite. */
export function sizeBudget(layers: readonly LayerInput[], functionEntries: readonly LayerEntry[]): SizeBudget {
  const perLayer = layers.map((l) => ({ zip: l.zip, unzippedBytes: measure(l.entries).unzippedBytes }));
  const functionBytes = measure(functionEntries).unzippedBytes;
  const totalBytes = perLayer.reduce((sum, l) => sum + l.unzippedBytes, functionBytes);
  return { layers: perLayer, functionBytes, totalBytes, limitBytes: LAMBDA_MAX_UNZIPPED_BYTES };
}

const mb = (bytes: number): string => `${(bytes / MIB).toFixed(2)} MB`;

/** `php.zip 14.45 MB + redis.zip 0.41 MB + function 0.01 MB = 14.87 MB of 250 MB`. */
export function formatBudget(b: SizeBudget, name: (zip: string) => string = (z) => z): string {
  const parts = [...b.layers.map((l) => `${name(l.zip)} ${mb(l.unzippedBytes)}`), `function ${mb(b.functionBytes)}`];
  return `${parts.join(' + ')} = ${mb(b.totalBytes)} of ${b.limitBytes / MIB} MB unzipped`;
}

const hash12 = (h: string | undefined): string => (h ? h.slice(0, 12) : 'none recorded');

/** The build-runtime command that makes `ext` (an extension layer's manifest) for the runtime layer `runtime`. */
function rebuildCommand(ext: LayerManifestInfo, runtime: LayerManifestInfo): string {
  const r = runtime.recipe ?? {};
  const exts = (runtime.extensions ?? []).map((e) => ` --ext ${e.name}`).join('');
  return (
    `npm run build-runtime -- ${ext.recipe?.name}@${ext.recipe?.version} --for ${r.name}@${r.version} --profile ${r.profile}${exts}` +
    ` --platform ${runtime.platform?.name} --arch ${runtime.arch}`
  );
}

/**
 * An extension layer goes over the runtime layer it was built for (its manifest's `for`): the nearest
 * runtime layer given before it must be that very build, by inputs hash. Layers without a manifest are
 * the user's own files and are passed over; with none before it, the extension layer is refused.
 */
export function checkExtensionLayers(layers: readonly LayerInput[]): void {
  layers.forEach((l, i) => {
    const m = l.manifest;
    if (m?.kind !== 'extension-layer') return;
    const wanted = m.for ?? {};
    const what = `${l.zip} is an extension layer for ${wanted.zip ?? 'a runtime layer'} (inputs ${hash12(wanted.inputsHash)})`;
    const runtime = layers
      .slice(0, i)
      .reverse()
      .find((x) => x.manifest !== undefined && (x.manifest.kind === undefined || x.manifest.kind === 'runtime-layer'));
    if (!runtime) {
      throw new UserError(`${what}, and no runtime layer with a manifest is given before it: give that layer first (--layer ${wanted.zip ?? 'RUNTIME.zip'} --layer ${l.zip})`);
    }
    const have = runtime.manifest!.inputsHash;
    if (!wanted.inputsHash || have !== wanted.inputsHash) {
      throw new UserError(
        `${what}, not for ${runtime.zip} (inputs ${hash12(have)}), the runtime layer before it: give the layer it was built for, or build it for this one: ${rebuildCommand(m, runtime.manifest!)}`,
      );
    }
  });
}

/**
 * Checks and merges the layers of one function. Each refusal is one line naming the layer(s) and
 * what to do: more than 5 layers, layers built for different platforms or architectures, two
 * layers whose paths conflict (a file where another has a directory), an extension layer not over
 * the runtime layer it was built for, or over 250 MB in all.
 */
export function combineLayers(layers: readonly LayerInput[], functionEntries: readonly LayerEntry[]): CombinedLayers {
  if (layers.length === 0) throw new UserError('--layer is required, e.g. --layer dist/php-8.2.32-al2023-portable-x86_64.zip');
  if (layers.length > LAMBDA_MAX_LAYERS) {
    throw new UserError(`${layers.length} layers given: a Lambda function takes at most ${LAMBDA_MAX_LAYERS}; bake extensions into the runtime layer to use fewer`);
  }
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.zip)) throw new UserError(`--layer ${l.zip} is given twice: give each layer once, in the order Lambda extracts them`);
    seen.add(l.zip);
  }
  const named = layers.filter((l) => l.manifest?.platform?.name);
  const first = named[0];
  for (const l of named.slice(1)) {
    if (l.manifest!.platform!.name !== first!.manifest!.platform!.name) {
      throw new UserError(
        `${l.zip} is built for platform ${l.manifest!.platform!.name} but ${first!.zip} for ${first!.manifest!.platform!.name}: the layers of one function must share a platform`,
      );
    }
  }
  const withArch = layers.filter((l) => l.manifest?.arch !== undefined);
  const arch = (l: LayerInput): string => normalizeArch(l.manifest!.arch!);
  for (const l of withArch.slice(1)) {
    if (arch(l) !== arch(withArch[0]!)) {
      throw new UserError(`${l.zip} is built for ${arch(l)} but ${withArch[0]!.zip} for ${arch(withArch[0]!)}: the layers of one function must share an architecture`);
    }
  }
  checkExtensionLayers(layers);
  let entries: LayerEntry[];
  try {
    entries = mergeLayers(...layers.map((l) => ({ name: l.zip, entries: l.entries })));
  } catch (err) {
    if (err instanceof LayerConflictError) throw new UserError(`the layers cannot be combined: ${err.message}`);
    throw err;
  }
  const budget = sizeBudget(layers, functionEntries);
  if (budget.totalBytes > budget.limitBytes) {
    throw new UserError(`the function and its layers are over Lambda's limit: ${formatBudget(budget)}; drop a layer or make one smaller`);
  }
  return { entries, manifest: (first ?? layers[0])!.manifest, manifestZip: (first ?? layers[0])!.zip, budget };
}
