/**
 * The calls `publish` makes in one region (pure), as data: the same list drives the run and
 * `--dry-run`. Calls that depend on an answer carry `when`, saying on what.
 */
import { UserError } from '../errors.js';
import { LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES } from '../lambda.js';
import { hexToBase64Sha256, type LambdaArchitecture } from './layer-facts.js';

export interface LayerPermission {
  /** An AWS account id (12 digits) or `*` (everyone, or everyone in `organizationId`). */
  principal: string;
  organizationId?: string;
}

export interface PublishTarget {
  layerName: string;
  zipFile: string;
  zipBytes: number;
  /** Hex, as in the manifest. */
  zipSha256: string;
  description: string;
  licenseInfo: string | undefined;
  runtime: string;
  architecture: LambdaArchitecture;
  /** Bucket name; `{region}` is replaced by the region (buckets are regional). */
  s3Bucket?: string;
  /** Key prefix inside the bucket. */
  s3Prefix?: string;
  permissions: LayerPermission[];
}

export interface PlannedCall {
  service: 'lambda' | 's3';
  operation: 'ListLayerVersions' | 'GetLayerVersion' | 'PutObject' | 'PublishLayerVersion' | 'AddLayerVersionPermission';
  input: Record<string, unknown>;
  /** The condition under which the call is made; absent: always. */
  when?: string;
}

/** Where the zip goes in: in the request, or through the region's bucket. */
export function uploadMode(t: Pick<PublishTarget, 'zipBytes' | 's3Bucket' | 'zipFile'>): 'direct' | 's3' {
  if (t.s3Bucket) return 's3';
  if (t.zipBytes > LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES) {
    throw new UserError(
      `${t.zipFile} has ${t.zipBytes} bytes, over Lambda's direct-upload limit of ${LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES} bytes: pass --s3-bucket (a bucket in each region; {region} in the name is replaced)`,
    );
  }
  return 'direct';
}

export function bucketFor(t: Pick<PublishTarget, 's3Bucket'>, region: string): string {
  if (!t.s3Bucket) throw new Error('no bucket');
  return t.s3Bucket.replaceAll('{region}', region);
}

export function s3KeyFor(t: Pick<PublishTarget, 's3Prefix' | 'layerName' | 'zipSha256'>): string {
  const prefix = t.s3Prefix ? (t.s3Prefix.endsWith('/') ? t.s3Prefix : `${t.s3Prefix}/`) : '';
  return `${prefix}${t.layerName}/${t.zipSha256}.zip`;
}

/** StatementId of a permission: stable, so that adding it again is recognised as a conflict. */
export function statementIdFor(p: LayerPermission): string {
  const who = p.principal === '*' ? 'public' : `account-${p.principal}`;
  return `lambda-runtime-builder-${who}${p.organizationId ? `-${p.organizationId}` : ''}`;
}

export function checkPermission(p: LayerPermission): LayerPermission {
  if (p.principal !== '*' && !/^\d{12}$/.test(p.principal)) {
    throw new UserError(`--principal '${p.principal}' is not an AWS account id: give 12 digits (or use --public)`);
  }
  if (p.organizationId !== undefined && !/^o-[a-z0-9]{10,32}$/.test(p.organizationId)) {
    throw new UserError(`--organization-id '${p.organizationId}' is not an AWS Organizations id (o-xxxxxxxxxx)`);
  }
  return p;
}

export function publishLayerInput(t: PublishTarget, region: string, zipFile: Uint8Array | string): Record<string, unknown> {
  const content =
    uploadMode(t) === 's3' ? { S3Bucket: bucketFor(t, region), S3Key: s3KeyFor(t) } : { ZipFile: zipFile };
  return {
    LayerName: t.layerName,
    Description: t.description,
    Content: content,
    CompatibleRuntimes: [t.runtime],
    CompatibleArchitectures: [t.architecture],
    ...(t.licenseInfo ? { LicenseInfo: t.licenseInfo } : {}),
  };
}

export function permissionInput(t: PublishTarget, p: LayerPermission, version: number | string): Record<string, unknown> {
  return {
    LayerName: t.layerName,
    VersionNumber: version,
    StatementId: statementIdFor(p),
    Action: 'lambda:GetLayerVersion',
    Principal: p.principal,
    ...(p.organizationId ? { OrganizationId: p.organizationId } : {}),
  };
}

/** Every call in one region, in order; the zip's bytes are shown as `<N bytes of FILE>`. */
export function planRegion(t: PublishTarget, region: string): PlannedCall[] {
  const codeSha256 = hexToBase64Sha256(t.zipSha256);
  const changed = `the newest version's Content.CodeSha256 is not ${codeSha256} (or there is none)`;
  const calls: PlannedCall[] = [
    { service: 'lambda', operation: 'ListLayerVersions', input: { LayerName: t.layerName, MaxItems: 1 } },
    { service: 'lambda', operation: 'GetLayerVersion', input: { LayerName: t.layerName, VersionNumber: '<newest>' }, when: 'a version exists' },
  ];
  if (uploadMode(t) === 's3') {
    calls.push({
      service: 's3',
      operation: 'PutObject',
      input: { Bucket: bucketFor(t, region), Key: s3KeyFor(t), Body: `<${t.zipBytes} bytes of ${t.zipFile}>`, ContentLength: t.zipBytes, ChecksumSHA256: codeSha256 },
      when: changed,
    });
  }
  calls.push({
    service: 'lambda',
    operation: 'PublishLayerVersion',
    input: publishLayerInput(t, region, `<${t.zipBytes} bytes of ${t.zipFile}>`),
    when: changed,
  });
  for (const p of t.permissions) {
    calls.push({ service: 'lambda', operation: 'AddLayerVersionPermission', input: permissionInput(t, p, '<published or newest>') });
  }
  return calls;
}

export function formatPlannedCalls(region: string, calls: readonly PlannedCall[]): string {
  return calls
    .map((c) => `${region}: ${c.service} ${c.operation} ${JSON.stringify(c.input)}${c.when ? `\n${' '.repeat(region.length + 2)}only if ${c.when}` : ''}`)
    .join('\n');
}

/** The newest version in a region, as ListLayerVersions + GetLayerVersion report it. */
export interface ExistingVersion {
  version: number;
  layerVersionArn: string;
  /** Base64, as Lambda reports it. */
  codeSha256: string | undefined;
  createdDate?: string | undefined;
}

export type PublishDecision = { action: 'reuse'; existing: ExistingVersion } | { action: 'publish'; reason: string };

/** Idempotency: the newest version already holds these bytes → publish nothing. */
export function decide(existing: ExistingVersion | undefined, zipSha256Hex: string): PublishDecision {
  if (existing === undefined) return { action: 'publish', reason: 'no version of this layer exists in the region' };
  const want = hexToBase64Sha256(zipSha256Hex);
  if (existing.codeSha256 === want) return { action: 'reuse', existing };
  return { action: 'publish', reason: `the newest version (${existing.version}) has CodeSha256 ${existing.codeSha256 ?? 'unknown'}, not ${want}` };
}
