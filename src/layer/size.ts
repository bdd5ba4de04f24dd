/**
 * Size accounting for a layer against Lambda's limits.
 *
 * Units: this module follows AWS's own usage, where "250 MB" means 262,144,000 bytes = 250 × 2^20.
 * So in `parseByteSize`, KB/MB/GB and KiB/MiB/GiB (and K/M/G) are all binary multiples
 * (2^10, 2^20, 2^30), and `formatBytes` prints MB as 2^20 bytes. A plain number is bytes.
 */
import { LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES, LAMBDA_MAX_UNZIPPED_BYTES } from '../lambda.js';
import { type LayerEntry, ancestorPaths } from './entries.js';

/** 1 MB as AWS counts it (2^20 bytes). */
export const MIB = 1024 * 1024;

export interface FileSize {
  path: string;
  bytes: number;
}

export interface DirectorySize {
  /** Directory path inside the layer (the root itself is not listed; its total is `unzippedBytes`). */
  path: string;
  /** Recursive total of file sizes and symlink target lengths below this directory. */
  bytes: number;
  /** Recursive number of regular files below this directory. */
  fileCount: number;
}

export interface SizeReport {
  /** Sum of file sizes plus symlink target lengths (what a symlink occupies when extracted). */
  unzippedBytes: number;
  /** Size of the zip, when known. */
  zippedBytes: number | undefined;
  /** Number of regular files. */
  fileCount: number;
  symlinkCount: number;
  directoryCount: number;
  /** Every regular file, largest first (ties by path). */
  files: FileSize[];
  /** Every directory with its recursive totals, largest first (ties by path). */
  directories: DirectorySize[];
  /** The n largest regular files. */
  largest(n: number): FileSize[];
}

const bySizeDesc = <T extends { path: string; bytes: number }>(a: T, b: T): number =>
  b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Measures a layer's entries (and optionally its zip size). */
export function measure(entries: readonly LayerEntry[], zipBytes?: number): SizeReport {
  const files: FileSize[] = [];
  const dirs = new Map<string, DirectorySize>();
  const dir = (path: string): DirectorySize => {
    let d = dirs.get(path);
    if (d === undefined) {
      d = { path, bytes: 0, fileCount: 0 };
      dirs.set(path, d);
    }
    return d;
  };
  let unzippedBytes = 0;
  let symlinkCount = 0;
  for (const entry of entries) {
    let bytes = 0;
    if (entry.type === 'directory') {
      dir(entry.path);
    } else if (entry.type === 'file') {
      bytes = entry.data.length;
      files.push({ path: entry.path, bytes });
    } else {
      bytes = Buffer.byteLength(entry.target, 'utf8');
      symlinkCount++;
    }
    unzippedBytes += bytes;
    for (const ancestor of ancestorPaths(entry.path)) {
      const d = dir(ancestor);
      d.bytes += bytes;
      if (entry.type === 'file') d.fileCount++;
    }
  }
  files.sort(bySizeDesc);
  const directories = [...dirs.values()].sort(bySizeDesc);
  return {
    unzippedBytes,
    zippedBytes: zipBytes,
    fileCount: files.length,
    symlinkCount,
    directoryCount: directories.length,
    files,
    directories,
    largest: (n: number) => files.slice(0, Math.max(0, Math.floor(n))),
  };
}

/** `262144000` → `262,144,000 bytes (250.0 MB)`; MB = 2^20 bytes as in AWS's limits. */
export function formatBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} bytes (${formatMB(bytes)})`;
}

/** Bytes as MB (2^20) with one decimal: `262144000` → `250.0 MB`. */
export function formatMB(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MB`;
}

/** Human size for tables: B, KB, MB, GB (binary multiples). */
export function formatHumanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * MIB) return `${(bytes / MIB).toFixed(1)} MB`;
  return `${(bytes / (1024 * MIB)).toFixed(2)} GB`;
}

/** The unzipped layer exceeds the allowed size. */
export class LayerTooLargeError extends Error {
  override readonly name = 'LayerTooLargeError';
  constructor(
    readonly unzippedBytes: number,
    readonly maxUnzippedBytes: number,
    readonly largestFiles: FileSize[],
  ) {
    super(layerTooLargeMessage(unzippedBytes, maxUnzippedBytes, largestFiles));
  }
  get excessBytes(): number {
    return this.unzippedBytes - this.maxUnzippedBytes;
  }
}

function layerTooLargeMessage(unzipped: number, max: number, largest: FileSize[]): string {
  const lines = [
    `Layer is too large: ${formatBytes(unzipped)} unzipped, over the limit of ${formatBytes(max)} ` +
      `by ${formatBytes(unzipped - max)}.`,
  ];
  if (largest.length > 0) {
    lines.push(`Largest files:`);
    const width = Math.max(...largest.map((f) => formatHumanBytes(f.bytes).length));
    for (const f of largest) lines.push(`  ${formatHumanBytes(f.bytes).padStart(width)}  ${f.path}`);
  }
  lines.push(
    `To fix: drop extensions you do not need from the recipe (or split them into a separate layer), ` +
      `or, if your function and other layers leave room, raise the limit with --max-unzipped ` +
      `(Lambda allows ${formatBytes(LAMBDA_MAX_UNZIPPED_BYTES)} for the function and all its layers together).`,
  );
  return lines.join('\n');
}

export interface BudgetOptions {
  /** Maximum unzipped size in bytes; exceeding it throws `LayerTooLargeError`. */
  maxUnzippedBytes: number;
  /** Warn when the zip is larger than this (default 52,428,800 bytes: Lambda's direct-upload limit). */
  warnZippedBytes?: number;
  /** Warn when the unzipped size uses more than this fraction of the maximum (default 0.9). */
  warnUnzippedFraction?: number;
}

/**
 * Checks a report against the budget. Throws `LayerTooLargeError` when unzipped > max (the
 * message names both sizes in bytes and MB, the excess, the 10 largest files and the remedies).
 * Otherwise returns warnings (possibly none): zip over the direct-upload size, unzipped size close
 * to the maximum.
 */
export function checkBudget(report: SizeReport, opts: BudgetOptions): string[] {
  const { maxUnzippedBytes, warnZippedBytes = LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES, warnUnzippedFraction = 0.9 } = opts;
  if (report.unzippedBytes > maxUnzippedBytes) {
    throw new LayerTooLargeError(report.unzippedBytes, maxUnzippedBytes, report.largest(10));
  }
  const warnings: string[] = [];
  if (report.zippedBytes !== undefined && report.zippedBytes > warnZippedBytes) {
    warnings.push(
      `Zip is ${formatBytes(report.zippedBytes)}, over ${formatBytes(warnZippedBytes)}: ` +
        `too large for a direct upload (--zip-file); publish it through S3 instead.`,
    );
  }
  if (maxUnzippedBytes > 0 && report.unzippedBytes > maxUnzippedBytes * warnUnzippedFraction) {
    const pct = ((report.unzippedBytes / maxUnzippedBytes) * 100).toFixed(1);
    warnings.push(
      `Unzipped size ${formatBytes(report.unzippedBytes)} is ${pct}% of the ${formatBytes(maxUnzippedBytes)} limit; ` +
        `little room is left for the function code and other layers.`,
    );
  }
  return warnings;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: MIB,
  mb: MIB,
  mib: MIB,
  g: 1024 * MIB,
  gb: 1024 * MIB,
  gib: 1024 * MIB,
};

/** An unparseable size given on the command line. */
export class ByteSizeError extends Error {
  override readonly name = 'ByteSizeError';
  constructor(readonly value: string) {
    super(
      `invalid size ${JSON.stringify(value)}: expected a number of bytes (262144000) or a number with a unit ` +
        `B, KB, MB, GB (KiB, MiB, GiB, K, M, G are accepted too; all binary: MB = MiB = 1,048,576 bytes), e.g. 250MB`,
    );
  }
}

/**
 * Parses a size from CLI input: `262144000`, `262_144_000`, `250MB`, `250MiB`, `200 MB`,
 * `1.5GB`, `512k`. Units are case-insensitive and binary, matching AWS's usage
 * (250 MB = 262,144,000 bytes): KB = KiB = K = 2^10, MB = MiB = M = 2^20, GB = GiB = G = 2^30.
 * Fractions are allowed with a unit and rounded down to whole bytes. Throws `ByteSizeError`
 * naming the bad value for anything else (negative, empty, unknown unit, bare fraction of a byte).
 */
export function parseByteSize(s: string): number {
  const m = /^\s*(\d+(?:_\d+)*(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(String(s));
  if (!m) throw new ByteSizeError(String(s));
  const numberText = (m[1] as string).replace(/_/g, '');
  const unit = (m[2] as string).toLowerCase();
  const multiplier = UNITS[unit];
  if (multiplier === undefined) throw new ByteSizeError(s);
  const value = Number(numberText);
  if (!Number.isFinite(value)) throw new ByteSizeError(s);
  if (multiplier === 1 && !Number.isInteger(value)) throw new ByteSizeError(s);
  const bytes = Math.floor(value * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new ByteSizeError(s);
  return bytes;
}

export interface SizeReportOptions {
  /** Number of files and of directories listed (default 20). */
  top?: number;
  /** Only list directories at most this deep (1 = top-level like `lib`). Default: all depths. */
  maxDepth?: number;
  /** Budget to show next to the totals. */
  maxUnzippedBytes?: number;
}

export interface SizeReportJson {
  unzippedBytes: number;
  zippedBytes: number | null;
  maxUnzippedBytes: number | null;
  fileCount: number;
  symlinkCount: number;
  directoryCount: number;
  largestFiles: FileSize[];
  directories: DirectorySize[];
}

const depth = (path: string): number => path.split('/').length;

/** JSON-friendly form of a report for `--size-report --json` (top lists only, no methods). */
export function sizeReportJson(report: SizeReport, opts: SizeReportOptions = {}): SizeReportJson {
  const top = opts.top ?? 20;
  const dirs = report.directories.filter((d) => opts.maxDepth === undefined || depth(d.path) <= opts.maxDepth);
  return {
    unzippedBytes: report.unzippedBytes,
    zippedBytes: report.zippedBytes ?? null,
    maxUnzippedBytes: opts.maxUnzippedBytes ?? null,
    fileCount: report.fileCount,
    symlinkCount: report.symlinkCount,
    directoryCount: report.directoryCount,
    largestFiles: report.largest(top),
    directories: dirs.slice(0, top).map((d) => ({ ...d })),
  };
}

/** Human-readable text tables (totals, largest files, largest directories) for `--size-report`. */
export function formatSizeReport(report: SizeReport, opts: SizeReportOptions = {}): string {
  const json = sizeReportJson(report, opts);
  const lines: string[] = [];
  let total = `Unzipped: ${formatBytes(report.unzippedBytes)}`;
  if (opts.maxUnzippedBytes !== undefined && opts.maxUnzippedBytes > 0) {
    total += ` of ${formatBytes(opts.maxUnzippedBytes)} (${((report.unzippedBytes / opts.maxUnzippedBytes) * 100).toFixed(1)}%)`;
  }
  lines.push(total);
  if (report.zippedBytes !== undefined) lines.push(`Zipped:   ${formatBytes(report.zippedBytes)}`);
  lines.push(`Entries:  ${report.fileCount} files, ${report.symlinkCount} symlinks, ${report.directoryCount} directories`);

  const table = (title: string, header: string[], rows: string[][]): void => {
    lines.push('', title);
    if (rows.length === 0) {
      lines.push('  (none)');
      return;
    }
    const all = [header, ...rows];
    const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
    // Numbers right-aligned; the last column (the path) left as is.
    const fmt = (r: string[]): string =>
      '  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padStart(widths[i] ?? 0))).join('  ');
    lines.push(fmt(header));
    for (const r of rows) lines.push(fmt(r));
  };
  const share = (bytes: number): string =>
    report.unzippedBytes > 0 ? `${((bytes / report.unzippedBytes) * 100).toFixed(1)}%` : '-';

  table(
    `Largest files (top ${json.largestFiles.length} of ${report.fileCount}):`,
    ['size', 'bytes', 'share', 'path'],
    json.largestFiles.map((f) => [formatHumanBytes(f.bytes), String(f.bytes), share(f.bytes), f.path]),
  );
  table(
    `Largest directories (recursive; top ${json.directories.length}):`,
    ['size', 'bytes', 'share', 'files', 'path'],
    json.directories.map((d) => [formatHumanBytes(d.bytes), String(d.bytes), share(d.bytes), String(d.fileCount), `${d.path}/`]),
  );
  return lines.join('\n');
}
