/** Per-region results of `publish`, their summary, and the `<zip>.published.json` record (pure). */

export interface PermissionResult {
  statementId: string;
  principal: string;
  organizationId?: string;
  status: 'added' | 'existing';
}

export type RegionResult =
  | {
      region: string;
      status: 'published' | 'unchanged';
      layerName: string;
      layerArn: string;
      layerVersionArn: string;
      version: number;
      /** Base64, as Lambda reports it. */
      codeSha256: string;
      /** Lambda's CreatedDate of the version. */
      createdDate: string | undefined;
      permissions: PermissionResult[];
    }
  | { region: string; status: 'failed'; layerName: string; error: string };

export interface PublishReport {
  zip: string;
  zipSha256: string;
  layerName: string;
  results: RegionResult[];
  /** Where the record was written (absent on a dry run or when nothing succeeded). */
  record?: string;
}

/** 0 when every region succeeded, else 1. */
export function exitCodeOf(results: readonly RegionResult[]): 0 | 1 {
  return results.length > 0 && results.every((r) => r.status !== 'failed') ? 0 : 1;
}

/** The layer's ARN without the version. */
export function layerArnOf(layerVersionArn: string): string {
  return layerVersionArn.replace(/:\d+$/, '');
}

export function formatSummary(report: PublishReport): string {
  const width = Math.max(...report.results.map((r) => r.region.length), 6);
  const lines = report.results.map((r) => {
    const region = r.region.padEnd(width);
    if (r.status === 'failed') return `${region}  FAILED     ${r.error}`;
    const perms = r.permissions.length ? `  (${r.permissions.map((p) => `${p.principal}${p.organizationId ? ` in ${p.organizationId}` : ''}: ${p.status}`).join(', ')})` : '';
    return `${region}  ${r.status === 'published' ? 'published' : 'unchanged'}  ${r.layerVersionArn}${perms}`;
  });
  const failed = report.results.filter((r) => r.status === 'failed').length;
  lines.push(
    failed === 0
      ? `${report.results.length} region(s) ok: ${report.layerName} = ${report.zip} (sha256 ${report.zipSha256})`
      : `${failed} of ${report.results.length} region(s) failed`,
  );
  return lines.join('\n');
}

export interface PublishedEntry {
  region: string;
  layerName: string;
  layerArn: string;
  layerVersionArn: string;
  version: number;
  codeSha256: string;
  /** Lambda's CreatedDate of the version (when it was published). */
  publishedAt: string;
  /** When this tool last saw it in place. */
  checkedAt: string;
}

export interface PublishedRecord {
  zip: string;
  zipSha256: string;
  layers: PublishedEntry[];
}

/**
 * The record after a run: each successful region's entry replaces the one for the same region
 * and layer name; failed regions keep what was there. A record of another zip SHA-256 (the zip
 * was rebuilt) starts over.
 */
export function mergeRecord(
  previous: PublishedRecord | undefined,
  zip: { file: string; sha256: string },
  results: readonly RegionResult[],
  now: Date,
): PublishedRecord {
  const kept = previous && previous.zipSha256 === zip.sha256 ? previous.layers : [];
  const byKey = new Map(kept.map((e) => [`${e.region}\0${e.layerName}`, e]));
  for (const r of results) {
    if (r.status === 'failed') continue;
    const key = `${r.region}\0${r.layerName}`;
    const before = byKey.get(key);
    byKey.set(key, {
      region: r.region,
      layerName: r.layerName,
      layerArn: r.layerArn,
      layerVersionArn: r.layerVersionArn,
      version: r.version,
      codeSha256: r.codeSha256,
      publishedAt: r.createdDate ?? (before?.layerVersionArn === r.layerVersionArn ? before.publishedAt : now.toISOString()),
      checkedAt: now.toISOString(),
    });
  }
  const layers = [...byKey.values()].sort((a, b) => a.layerName.localeCompare(b.layerName) || a.region.localeCompare(b.region));
  return { zip: zip.file, zipSha256: zip.sha256, layers };
}
