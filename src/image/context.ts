/**
 * A Lambda container image from a built layer (pure): the Dockerfile per kind of runtime image,
 * the small scripts it copies, the labels and the tag.
 *
 * Two kinds of base:
 * - `lambda-base`: AWS's OS-only images (`public.ecr.aws/lambda/provided:*`). Their entrypoint
 *   `/lambda-entrypoint.sh` takes the handler as its one argument (the function's CMD), exports
 *   it as `_HANDLER` and runs `/var/runtime/bootstrap` (under the Runtime Interface Emulator when
 *   AWS_LAMBDA_RUNTIME_API is unset). The image keeps that entrypoint; `/var/runtime/bootstrap`
 *   hands over to the layer's `/opt/bootstrap`. It is a script, not a symlink: bootstraps find
 *   their files next to `$0`.
 * - `plain`: any other image (Debian, amazonlinux:2017.03). It gets Lambda's fixed environment
 *   (PATH, LD_LIBRARY_PATH, LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR), `/var/task` as working
 *   directory and an entrypoint that takes the handler the same way and runs `/opt/bootstrap`.
 *
 * Either way, a user's `FROM <image>` + `COPY` of their code to /var/task + `CMD ["handler"]`
 * is a function image.
 */
import { LAMBDA_ENV } from '../lambda.js';
import type { LayerEntry } from '../layer/entries.js';
import { normalizeArch, ociArch } from '../platforms/registry.js';
import type { Manifest } from '../pipeline/manifest.js';

export type BaseKind = 'lambda-base' | 'plain';

/** The manifest fields an image is made from. */
export type ImageManifest = Pick<Manifest, 'tool' | 'arch' | 'zip' | 'inputsHash'> & {
  /** Extensions built into the layer (`--ext`); only their names matter here. */
  extensions?: Pick<NonNullable<Manifest['extensions']>[number], 'name'>[] | undefined;
  recipe: Pick<Manifest['recipe'], 'name' | 'version' | 'profile'> & { license?: string | undefined };
  platform: Pick<Manifest['platform'], 'name' | 'deployable' | 'lambdaRuntime' | 'runtimeImage'>;
};

export const IMAGE_LABEL_PREFIX = 'io.lambda-runtime-builder.layer';
/** Where the `plain` kind's entrypoint lives in the image. */
export const PLAIN_ENTRYPOINT = '/usr/local/bin/lambda-runtime-builder-entrypoint';
/** Where a `lambda-base` image runs the runtime from (its /lambda-entrypoint.sh says so). */
export const LAMBDA_BASE_BOOTSTRAP = `${LAMBDA_ENV.LAMBDA_RUNTIME_DIR}/bootstrap`;
export const LAMBDA_BASE_ENTRYPOINT = '/lambda-entrypoint.sh';

export function baseKind(runtimeImage: string): BaseKind {
  return /^public\.ecr\.aws\/lambda\/provided(:|@|$)/.test(runtimeImage) ? 'lambda-base' : 'plain';
}

/** Docker's platform string for a layer arch (an arch other than arm64 gets x86_64's, as always). */
export function dockerPlatform(arch: string): string {
  return `linux/${ociArch(normalizeArch(arch) === 'arm64' ? 'arm64' : 'x86_64')}`;
}

/** `<name>-<version>[-<profile>]-<platform>-<arch>`, as the zip is named. */
/**
 * The zip's own name as a tag: `php-8.2.32-al2023-portable-x86_64`, and with extensions built in
 * `php-8.2.32.apcu.redis-…` (a tag cannot hold the zip name's `+`), never a plain layer's tag.
 */
export function imageTag(m: ImageManifest): string {
  const profile = m.recipe.profile && m.recipe.profile !== 'minimal' ? `-${m.recipe.profile}` : '';
  const extensions = (m.extensions ?? []).map((e) => `.${e.name}`).sort().join('');
  return `${m.recipe.name}-${m.recipe.version}${profile}${extensions}-${m.platform.name}-${m.arch}`.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128);
}

export const DEFAULT_IMAGE_REPO = 'lambda-runtime-builder';

/** A repository name as Docker accepts it: lowercase path components, optional `host[:port]/`. */
export function checkRepo(repo: string): string | undefined {
  const host = '(?:[a-zA-Z0-9.-]+(?::\\d+)?/)?';
  const part = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  return new RegExp(`^${host}${part}(?:/${part})*$`).test(repo) ? undefined : `'${repo}' is not a Docker repository name (lowercase, e.g. registry.example.com:5000/team/php)`;
}

export function imageLabels(m: ImageManifest): Record<string, string> {
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': `${m.recipe.name} ${m.recipe.version} Lambda runtime (${m.platform.name}, ${m.arch})`,
    'org.opencontainers.image.version': m.recipe.version,
    'org.opencontainers.image.base.name': m.platform.runtimeImage,
    [`${IMAGE_LABEL_PREFIX}.recipe`]: m.recipe.name,
    [`${IMAGE_LABEL_PREFIX}.version`]: m.recipe.version,
    [`${IMAGE_LABEL_PREFIX}.profile`]: m.recipe.profile,
    [`${IMAGE_LABEL_PREFIX}.platform`]: m.platform.name,
    [`${IMAGE_LABEL_PREFIX}.lambda-runtime`]: m.platform.lambdaRuntime ?? 'none',
    [`${IMAGE_LABEL_PREFIX}.deployable`]: String(m.platform.deployable),
    [`${IMAGE_LABEL_PREFIX}.arch`]: m.arch,
    [`${IMAGE_LABEL_PREFIX}.zip-sha256`]: m.zip.sha256,
    [`${IMAGE_LABEL_PREFIX}.inputs-hash`]: m.inputsHash,
    [`${IMAGE_LABEL_PREFIX}.tool-version`]: m.tool.version,
  };
  if (m.recipe.license) labels['org.opencontainers.image.licenses'] = m.recipe.license;
  if (m.extensions?.length) labels[`${IMAGE_LABEL_PREFIX}.extensions`] = m.extensions.map((e) => e.name).join(',');
  return labels;
}

/** The file the `lambda-base` kind copies to /var/runtime/bootstrap. */
export function lambdaBaseBootstrapScript(): string {
  return [
    '#!/bin/sh',
    "# Lambda's base image runs /var/runtime/bootstrap; the runtime is the layer's (at /opt).",
    'exec /opt/bootstrap "$@"',
    '',
  ].join('\n');
}

/**
 * Exit status of the `plain` entrypoint when no handler is given: the one AWS's
 * /lambda-entrypoint.sh uses for the same mistake.
 */
export const NO_HANDLER_EXIT_STATUS = 142;

/**
 * The `plain` kind's entrypoint: the handler as first argument, like /lambda-entrypoint.sh (or,
 * with no argument, an `ENV _HANDLER` of the image). No handler at all, or an empty one, is the
 * function image's mistake: it stops here with one line that says what to set, before any
 * runtime starts.
 */
export function plainEntrypointScript(): string {
  return [
    '#!/bin/sh',
    '# Entrypoint of a Lambda image made by lambda-runtime-builder: the first argument (the',
    "# image's CMD, or the function's ImageConfig.Command) is the handler; /opt/bootstrap serves it.",
    'if [ "$#" -gt 0 ]; then',
    '  _HANDLER="$1"',
    'fi',
    'if [ -z "${_HANDLER:-}" ]; then',
    "  echo 'lambda-runtime-builder: no handler: set CMD [\"<handler>\"] in the Dockerfile of your function image (or ImageConfig.Command of the function), e.g. CMD [\"index\"]' >&2",
    `  exit ${NO_HANDLER_EXIT_STATUS}`,
    'fi',
    'export _HANDLER',
    'exec /opt/bootstrap',
    '',
  ].join('\n');
}

/**
 * The label that states an image's real architecture where the engine's record cannot be
 * trusted: .ci's `docker import`ed arm64 images, which Docker 20.10 records as the engine's arch.
 */
export const ARCH_LABEL = 'io.lambda-runtime-builder.arch';

/** A base image's architecture as the tool's names say it (`x86_64`, `arm64`): its label, else the engine's record. */
export function baseImageArch(details: { architecture: string; labels: Readonly<Record<string, string>> }): string {
  return normalizeArch(details.labels[ARCH_LABEL] ?? details.architecture);
}

/** Why an image of `layerArch` cannot be made FROM `baseImage` (of `baseArch`), or undefined when it can. */
export function checkBaseArch(baseImage: string, baseArch: string, layerArch: string): string | undefined {
  const base = normalizeArch(baseArch);
  const layer = normalizeArch(layerArch);
  return base === layer
    ? undefined
    : `the base image ${baseImage} is ${base} but the layer is ${layer}: the image needs a runtime image of the layer's architecture (create or pull the ${layer} one, or use a ${base} layer)`;
}

export interface ImageContextFile {
  path: string;
  mode: number;
  text: string;
}

export interface RenderedImage {
  kind: BaseKind;
  dockerfile: string;
  /** Files beside the Dockerfile (besides `opt/`, the layer). */
  files: ImageContextFile[];
  /** What the image runs: its ENTRYPOINT (kept from the base for `lambda-base`). */
  entrypoint: string[];
}

export function renderImage(m: ImageManifest): RenderedImage {
  const kind = baseKind(m.platform.runtimeImage);
  const head = [
    `# Generated by ${m.tool.name} ${m.tool.version}: ${m.recipe.name} ${m.recipe.version} (${m.recipe.profile}) for ${m.platform.name} ${m.arch}`,
    `# layer zip sha256 ${m.zip.sha256}`,
    `FROM ${m.platform.runtimeImage}`,
    '# The layer, as Lambda extracts it: modes and symlinks as in the zip.',
    'COPY opt/ /opt/',
  ];
  if (kind === 'lambda-base') {
    return {
      kind,
      dockerfile: [
        ...head,
        `COPY runtime-bootstrap ${LAMBDA_BASE_BOOTSTRAP}`,
        `# ENTRYPOINT stays ${LAMBDA_BASE_ENTRYPOINT}: it takes the handler from CMD (set it in your Dockerfile).`,
        '',
      ].join('\n'),
      files: [{ path: 'runtime-bootstrap', mode: 0o755, text: lambdaBaseBootstrapScript() }],
      entrypoint: [LAMBDA_BASE_ENTRYPOINT],
    };
  }
  const env = Object.entries(LAMBDA_ENV).map(([k, v]) => `ENV ${k}=${v}`);
  return {
    kind,
    dockerfile: [
      ...head,
      `COPY entrypoint ${PLAIN_ENTRYPOINT}`,
      ...env,
      `WORKDIR ${LAMBDA_ENV.LAMBDA_TASK_ROOT}`,
      `ENTRYPOINT ["${PLAIN_ENTRYPOINT}"]`,
      '',
    ].join('\n'),
    files: [{ path: 'entrypoint', mode: 0o755, text: plainEntrypointScript() }],
    entrypoint: [PLAIN_ENTRYPOINT],
  };
}

/** The build context's entries: Dockerfile, the scripts, and the layer under `opt/`. */
export function contextEntries(rendered: RenderedImage, layer: readonly LayerEntry[]): LayerEntry[] {
  return [
    { type: 'file', path: 'Dockerfile', mode: 0o644, data: Buffer.from(rendered.dockerfile) },
    ...rendered.files.map((f): LayerEntry => ({ type: 'file', path: f.path, mode: f.mode, data: Buffer.from(f.text) })),
    { type: 'directory', path: 'opt', mode: 0o755 },
    ...layer.map((e): LayerEntry => ({ ...e, path: `opt/${e.path}` })),
  ];
}
