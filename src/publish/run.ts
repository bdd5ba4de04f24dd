/**
 * `publishLayer()`: publish one built layer to Lambda in several regions, in parallel with a
 * limit. Each region: the newest version of the layer name is looked up; when it holds the same
 * bytes (CodeSha256) nothing is published and its ARN is reported; otherwise the zip is
 * published (in the request, or through the region's S3 bucket), the answer's CodeSha256 is
 * checked against the zip, and the requested permissions are added. A failing region is
 * reported with its error; the others go on. `<zip>.published.json` records the successes.
 */
import { createReadStream } from 'node:fs';
import {
  AddLayerVersionPermissionCommand,
  GetLayerVersionCommand,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  type PublishLayerVersionCommandInput,
} from '@aws-sdk/client-lambda';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { UserError } from '../errors.js';
import { createRegionClients, type AwsClientOptions, type RegionClients } from './aws.js';
import { readLayerInput, readRecord, recordPath, writeRecordAtomically, type LayerInput } from './input.js';
import { checkDeployable, checkLayerName, defaultLayerName, hexToBase64Sha256, layerDescription } from './layer-facts.js';
import {
  bucketFor,
  checkPermission,
  decide,
  permissionInput,
  planRegion,
  publishLayerInput,
  s3KeyFor,
  statementIdFor,
  uploadMode,
  type ExistingVersion,
  type LayerPermission,
  type PlannedCall,
  type PublishTarget,
} from './plan.js';
import { layerArnOf, mergeRecord, type PermissionResult, type PublishReport, type RegionResult } from './results.js';

export interface PublishLayerOptions extends AwsClientOptions {
  /** The zip or its manifest (`<zip>.json`). */
  layer: string;
  regions: readonly string[];
  /** Default: `<recipe>-<version>-<platform>-<arch>` (see defaultLayerName). */
  layerName?: string | undefined;
  permissions?: readonly LayerPermission[] | undefined;
  /** Bucket for the upload (`{region}` is replaced); required above 50 MB. */
  s3Bucket?: string | undefined;
  s3Prefix?: string | undefined;
  /** Regions published at once (default 4). */
  concurrency?: number | undefined;
  now?: () => Date;
  /** Called as each region finishes. */
  onRegion?: (result: RegionResult) => void;
}

export const DEFAULT_CONCURRENCY = 4;
/** An AWS region name, e.g. `eu-west-1`. */
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export interface PreparedPublish {
  input: LayerInput;
  target: PublishTarget;
  regions: string[];
}

/** Everything checked before any call: the manifest, the zip, names, permissions, upload mode. */
export async function preparePublish(o: PublishLayerOptions): Promise<PreparedPublish> {
  const regions = [...new Set(o.regions)];
  if (regions.length === 0) throw new UserError('no region: pass --region (repeatable), e.g. --region eu-west-1');
  for (const r of regions) if (!REGION_PATTERN.test(r)) throw new UserError(`--region '${r}' is not an AWS region name (e.g. eu-west-1)`);
  for (const r of Object.keys(o.regionEndpoints ?? {})) {
    if (!regions.includes(r)) throw new UserError(`--endpoint-url names region ${r}, which is not among the --region values`);
  }
  const input = await readLayerInput(o.layer);
  const { runtime, architecture } = checkDeployable(input.manifest, input.manifestFile);
  const target: PublishTarget = {
    layerName: checkLayerName(o.layerName ?? defaultLayerName(input.manifest)),
    zipFile: input.zipFile,
    zipBytes: input.zipBytes,
    zipSha256: input.manifest.zip.sha256,
    description: layerDescription(input.manifest),
    licenseInfo: input.manifest.recipe.license,
    runtime,
    architecture,
    ...(o.s3Bucket ? { s3Bucket: o.s3Bucket } : {}),
    ...(o.s3Prefix ? { s3Prefix: o.s3Prefix } : {}),
    permissions: (o.permissions ?? []).map(checkPermission),
  };
  uploadMode(target); // refuses a big zip without a bucket, before any call
  return { input, target, regions };
}

/** The calls a run would make, per region (`--dry-run`); makes none. */
export async function planPublish(o: PublishLayerOptions): Promise<{ prepared: PreparedPublish; calls: Record<string, PlannedCall[]> }> {
  const prepared = await preparePublish(o);
  return { prepared, calls: Object.fromEntries(prepared.regions.map((r) => [r, planRegion(prepared.target, r)])) };
}

export async function publishLayer(o: PublishLayerOptions): Promise<PublishReport> {
  const prepared = await preparePublish(o);
  const { target, input } = prepared;
  const zipBody = uploadMode(target) === 'direct' ? input.zipData : undefined;
  const results = await mapLimit(prepared.regions, o.concurrency ?? DEFAULT_CONCURRENCY, async (region) => {
    const clients = createRegionClients(o, region);
    let result: RegionResult;
    try {
      result = await publishInRegion(clients, target, region, zipBody);
    } catch (err) {
      result = { region, status: 'failed', layerName: target.layerName, error: describeAwsError(err) };
    } finally {
      clients.destroy();
    }
    o.onRegion?.(result);
    return result;
  });
  const report: PublishReport = { zip: input.zipFile, zipSha256: target.zipSha256, layerName: target.layerName, results };
  if (results.some((r) => r.status !== 'failed')) {
    const file = recordPath(input.zipFile);
    const record = mergeRecord(await readRecord(file), { file: input.manifest.zip.file, sha256: target.zipSha256 }, results, (o.now ?? (() => new Date()))());
    await writeRecordAtomically(file, record);
    report.record = file;
  }
  return report;
}

async function newestVersion(clients: RegionClients, layerName: string): Promise<ExistingVersion | undefined> {
  let listed;
  try {
    listed = await clients.lambda.send(new ListLayerVersionsCommand({ LayerName: layerName, MaxItems: 1 }));
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
  const newest = listed.LayerVersions?.[0];
  if (!newest?.Version || !newest.LayerVersionArn) return undefined;
  const got = await clients.lambda.send(new GetLayerVersionCommand({ LayerName: layerName, VersionNumber: newest.Version }));
  return { version: newest.Version, layerVersionArn: newest.LayerVersionArn, codeSha256: got.Content?.CodeSha256, createdDate: got.CreatedDate ?? newest.CreatedDate };
}

async function publishInRegion(clients: RegionClients, t: PublishTarget, region: string, zipBody: Buffer | undefined): Promise<RegionResult> {
  const decision = decide(await newestVersion(clients, t.layerName), t.zipSha256);
  let version: ExistingVersion;
  let status: 'published' | 'unchanged';
  if (decision.action === 'reuse') {
    version = decision.existing;
    status = 'unchanged';
  } else {
    if (uploadMode(t) === 's3') {
      await clients.s3.send(
        new PutObjectCommand({ Bucket: bucketFor(t, region), Key: s3KeyFor(t), Body: createReadStream(t.zipFile), ContentLength: t.zipBytes, ContentType: 'application/zip', ChecksumSHA256: hexToBase64Sha256(t.zipSha256) }),
      );
    }
    const out = await clients.lambda.send(new PublishLayerVersionCommand(publishLayerInput(t, region, zipBody ?? '') as unknown as PublishLayerVersionCommandInput));
    if (!out.LayerVersionArn || out.Version === undefined) throw new Error('PublishLayerVersion answered without LayerVersionArn/Version');
    const want = hexToBase64Sha256(t.zipSha256);
    if (out.Content?.CodeSha256 !== want) {
      throw new Error(`Lambda stored CodeSha256 ${out.Content?.CodeSha256 ?? 'none'} for ${out.LayerVersionArn}, but the zip's is ${want}`);
    }
    version = { version: out.Version, layerVersionArn: out.LayerVersionArn, codeSha256: out.Content.CodeSha256, createdDate: out.CreatedDate };
    status = 'published';
  }
  const permissions: PermissionResult[] = [];
  for (const p of t.permissions) {
    try {
      permissions.push({ ...(await addPermission(clients, t, p, version.version)), principal: p.principal, ...(p.organizationId ? { organizationId: p.organizationId } : {}) });
    } catch (err) {
      throw new Error(`${status} ${version.layerVersionArn}, but AddLayerVersionPermission for principal ${p.principal} failed: ${describeAwsError(err)}`, { cause: err });
    }
  }
  return {
    region,
    status,
    layerName: t.layerName,
    layerArn: layerArnOf(version.layerVersionArn),
    layerVersionArn: version.layerVersionArn,
    version: version.version,
    codeSha256: version.codeSha256 ?? hexToBase64Sha256(t.zipSha256),
    createdDate: version.createdDate,
    permissions,
  };
}

async function addPermission(clients: RegionClients, t: PublishTarget, p: LayerPermission, version: number): Promise<Pick<PermissionResult, 'statementId' | 'status'>> {
  const statementId = statementIdFor(p);
  try {
    await clients.lambda.send(new AddLayerVersionPermissionCommand(permissionInput(t, p, version) as never));
    return { statementId, status: 'added' };
  } catch (err) {
    // The same statement id is already in the version's policy: granted before.
    if ((err as Error).name === 'ResourceConflictException') return { statementId, status: 'existing' };
    throw err;
  }
}

/** One line: the SDK error's name and message (never a request, never a credential). */
export function describeAwsError(err: unknown): string {
  const e = err as Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  const attempts = e.$metadata?.attempts && e.$metadata.attempts > 1 ? ` after ${e.$metadata.attempts} attempts` : '';
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : e.code ? `${e.code}: ` : '';
  return `${name}${(e.message || String(err)).split('\n')[0]}${status}${attempts}`;
}

/** Runs fn over items with at most `limit` at once; results in the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
