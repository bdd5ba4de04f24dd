/**
 * `image`: a Lambda container image from a built layer (zip + manifest), built by the engine
 * from a tar context streamed to it: the rendered Dockerfile (see context.ts) and the layer's
 * files under opt/ with their modes and symlinks.
 */
import { DockerodeEngine } from '../docker/engine.js';
import type { DockerEngine, RegistryEngine } from '../docker/types.js';
import type { BuildEvent } from '../docker/build-output.js';
import { UserError } from '../errors.js';
import type { LayerKind } from '../pipeline/manifest.js';
import { packTar } from '../layer/tar.js';
import { readLayerInput } from '../publish/input.js';
import { baseImageArch, checkBaseArch, checkRepo, contextEntries, DEFAULT_IMAGE_REPO, dockerPlatform, imageLabels, imageTag, renderImage, type BaseKind, type ImageManifest } from './context.js';

export type ImageEngine = DockerEngine & RegistryEngine;

export interface BuildLayerImageOptions {
  /** The zip or its manifest (`<zip>.json`). */
  layer: string;
  /** Repository of the tag (default `lambda-runtime-builder/<recipe>`). */
  repo?: string | undefined;
  engine?: ImageEngine;
  onEvent?: (event: BuildEvent) => void;
}

export interface LayerImage {
  /** `repo:tag`. */
  image: string;
  repo: string;
  tag: string;
  id: string;
  kind: BaseKind;
  baseImage: string;
  entrypoint: string[];
  labels: Record<string, string>;
}

/** The layers that cannot be an image by themselves, and what to make the image from instead. */
const NO_RUNTIME_OF_ITS_OWN: Partial<Record<LayerKind, { what: string; forWhat: string; instead: string }>> = {
  'extension-layer': { what: 'an extension layer', forWhat: 'a runtime layer', instead: 'make the image from a runtime layer that has the extension built in (--ext)' },
  'vendor-layer': {
    what: 'a vendor layer',
    forWhat: 'a PHP layer',
    instead: "make the image from that PHP layer and ship vendor/ with the function code (the runtime loads the function's vendor/autoload.php)",
  },
};

export async function buildLayerImage(o: BuildLayerImageOptions): Promise<LayerImage> {
  const input = await readLayerInput(o.layer); // the zip must be the one the manifest describes
  const refusal = input.manifest.kind ? NO_RUNTIME_OF_ITS_OWN[input.manifest.kind] : undefined;
  if (refusal) {
    throw new UserError(`${input.manifestFile} is ${refusal.what} (for ${input.manifest.for?.zip ?? refusal.forWhat}), with no runtime of its own: ${refusal.instead}`);
  }
  const { runtimeImage } = input.manifest.platform;
  const { inputsHash } = input.manifest;
  if (!runtimeImage || inputsHash === undefined) throw new UserError(`${input.manifestFile} lacks platform.runtimeImage or inputsHash: rebuild the layer with this tool`);
  const manifest: ImageManifest = { ...input.manifest, platform: { ...input.manifest.platform, runtimeImage }, inputsHash };
  const repo = o.repo ?? `${DEFAULT_IMAGE_REPO}/${manifest.recipe.name}`;
  const bad = checkRepo(repo);
  if (bad) throw new UserError(`--repo ${bad}`);
  const tag = imageTag(manifest);
  const rendered = renderImage(manifest);
  const labels = imageLabels(manifest);

  const engine = o.engine ?? new DockerodeEngine();
  await engine.ping();
  const base = manifest.platform.runtimeImage;
  let baseDetails = await engine.inspectImageDetails(base);
  if (baseDetails === null) {
    try {
      await engine.pullImage(base, o.onEvent);
    } catch (err) {
      throw new UserError(`the runtime image ${base} is not in the Docker engine and cannot be pulled (${(err as Error).message}): pull or create it first`);
    }
    baseDetails = await engine.inspectImageDetails(base);
    if (baseDetails === null) throw new UserError(`the runtime image ${base} was pulled but the engine does not have it`);
  }
  const wrongArch = checkBaseArch(base, baseImageArch(baseDetails), manifest.arch);
  if (wrongArch) throw new UserError(wrongArch);
  const entries = contextEntries(rendered, input.entries);
  const info = await engine.buildImage({
    context: packTar(entries),
    tag: `${repo}:${tag}`,
    labels,
    platform: dockerPlatform(manifest.arch),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  return { image: `${repo}:${tag}`, repo, tag, id: info.id, kind: rendered.kind, baseImage: base, entrypoint: rendered.entrypoint, labels };
}
