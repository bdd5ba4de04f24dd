/**
 * What a published layer version says about itself (pure): its name, Description, LicenseInfo,
 * compatibility, and the ARN shape Lambda answers with. Lambda's limits are from
 * shared/reference/lambda.md (PublishLayerVersion).
 */
import { UserError } from '../errors.js';
import type { Manifest } from '../pipeline/manifest.js';

/** Lambda's limits on PublishLayerVersion fields. */
export const LAYER_LIMITS = { description: 256, licenseInfo: 512, layerName: 140, compatibleRuntimes: 15 } as const;

/** A layer name as Lambda accepts it (the name form, not an ARN). */
export const LAYER_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,140}$/;

/**
 * A layer version ARN: `arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>`.
 * Capture groups: partition, region, account, name, version.
 */
export const LAYER_VERSION_ARN_PATTERN = /^arn:(aws[a-z-]*):lambda:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):layer:([a-zA-Z0-9_-]{1,140}):(\d+)$/;

/** Lambda's architectures, as the manifest names them (the tool's `--arch` values). */
export const LAMBDA_ARCHITECTURES = ['x86_64', 'arm64'] as const;
export type LambdaArchitecture = (typeof LAMBDA_ARCHITECTURES)[number];

/** The fields of a manifest that publishing uses. */
export type PublishManifest = Pick<Manifest, 'tool' | 'arch' | 'zip'> & {
  recipe: Pick<Manifest['recipe'], 'name' | 'version' | 'profile'> & { license?: string | undefined };
  platform: Pick<Manifest['platform'], 'name' | 'deployable' | 'lambdaRuntime'> & { runtimeImage?: string | undefined };
  /** Read too, so that `image` needs no second pass over the manifest. */
  inputsHash?: string | undefined;
  kind?: Manifest['kind'] | undefined;
  /** An extension layer: the runtime layer it is for (its names say which PHP). */
  for?: Pick<NonNullable<Manifest['for']>, 'name' | 'version' | 'zip'> | undefined;
};

/**
 * Default layer name: `<recipe>-<version>-<platform>-<arch>` (an extension layer adds `-for-<interpreter>-<version>`)
 * with the characters Lambda refuses as `-`.
 */
export function defaultLayerName(m: PublishManifest): string {
  const profile = m.recipe.profile && m.recipe.profile !== 'minimal' ? `-${m.recipe.profile}` : '';
  const forLayer = m.for ? `-for-${m.for.name}-${m.for.version}` : '';
  return `${m.recipe.name}-${m.recipe.version}${forLayer}${profile}-${m.platform.name}-${m.arch}`.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, LAYER_LIMITS.layerName);
}

export function checkLayerName(name: string): string {
  if (!LAYER_NAME_PATTERN.test(name)) {
    throw new UserError(`--layer-name '${name}' is not a Lambda layer name: use 1 to 140 letters, digits, '-' or '_'`);
  }
  return name;
}

/**
 * The layer's Description: tool version, recipe version and zip SHA-256, within 256 characters.
 * The SHA-256 is always kept whole (it is what `publish` compares); the recipe part is
 * shortened first when something is unusually long.
 */
export function layerDescription(m: PublishManifest): string {
  const sha = `sha256:${m.zip.sha256}`;
  const tool = `${m.tool.name} ${m.tool.version}`;
  const forLayer = m.for ? ` for ${m.for.name} ${m.for.version}` : '';
  const what = `${m.recipe.name} ${m.recipe.version}${forLayer} (${m.recipe.profile}) ${m.platform.name} ${m.arch}`;
  const full = `${what}; built by ${tool}; zip ${sha}`;
  if (full.length <= LAYER_LIMITS.description) return full;
  const fixed = `; built by ${tool}; zip ${sha}`;
  const room = LAYER_LIMITS.description - fixed.length;
  if (room >= 8) return `${what.slice(0, room - 1)}…${fixed}`;
  return `zip ${sha}`.slice(0, LAYER_LIMITS.description);
}

/** Refuses what must not be published: a layer for a local-only platform, an unknown architecture. */
export function checkDeployable(m: PublishManifest, manifestFile: string): { runtime: string; architecture: LambdaArchitecture } {
  if (!m.platform.deployable || !m.platform.lambdaRuntime) {
    throw new UserError(
      `${manifestFile}: platform ${m.platform.name} is for local verification only and cannot be published to Lambda: build with --platform al2023 (or al2)`,
    );
  }
  if (!(LAMBDA_ARCHITECTURES as readonly string[]).includes(m.arch)) {
    throw new UserError(`${manifestFile}: arch '${m.arch}' is not a Lambda architecture (${LAMBDA_ARCHITECTURES.join(', ')})`);
  }
  return { runtime: m.platform.lambdaRuntime, architecture: m.arch as LambdaArchitecture };
}

/** Lambda reports CodeSha256 as base64 of the SHA-256 bytes; the manifest has hex. */
export function hexToBase64Sha256(hex: string): string {
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new UserError(`'${hex}' is not a SHA-256 in hex`);
  return Buffer.from(hex, 'hex').toString('base64');
}

export function base64ToHexSha256(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex');
}
