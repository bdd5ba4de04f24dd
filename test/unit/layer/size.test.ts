import { describe, expect, it } from 'vitest';
import { LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES, LAMBDA_MAX_UNZIPPED_BYTES } from '../../../src/lambda.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import {
  ByteSizeError,
  LayerTooLargeError,
  checkBudget,
  formatBytes,
  formatSizeReport,
  measure,
  parseByteSize,
  sizeReportJson,
} from '../../../src/layer/size.js';

const file = (path: string, bytes: number): LayerEntry => ({ type: 'file', path, mode: 0o644, data: Buffer.alloc(bytes) });

const layer: LayerEntry[] = [
  { type: 'directory', path: 'bin', mode: 0o755 },
  file('bin/php', 30_000),
  file('bootstrap', 100),
  { type: 'directory', path: 'lib', mode: 0o755 },
  file('lib/libssl.so.1.1', 5_000),
  { type: 'symlink', path: 'lib/libssl.so', mode: 0o777, target: 'libssl.so.1.1' }, // 13 bytes
  file('lib/php/extensions/opcache.so', 20_000),
  file('lib/php/extensions/intl.so', 25_000),
  { type: 'directory', path: 'empty', mode: 0o755 },
];

describe('measure', () => {
  const report = measure(layer, 12_345);

  it('sums file sizes and symlink target lengths', () => {
    expect(report.unzippedBytes).toBe(30_000 + 100 + 5_000 + 13 + 20_000 + 25_000);
    expect(report.zippedBytes).toBe(12_345);
    expect(report.fileCount).toBe(5);
    expect(report.symlinkCount).toBe(1);
  });

  it('lists the largest files', () => {
    expect(report.largest(3)).toEqual([
      { path: 'bin/php', bytes: 30_000 },
      { path: 'lib/php/extensions/intl.so', bytes: 25_000 },
      { path: 'lib/php/extensions/opcache.so', bytes: 20_000 },
    ]);
    expect(report.largest(0)).toEqual([]);
    expect(report.largest(100)).toHaveLength(5);
  });

  it('computes recursive per-directory totals, sorted by size', () => {
    expect(report.directories).toEqual([
      { path: 'lib', bytes: 50_013, fileCount: 3 },
      { path: 'lib/php', bytes: 45_000, fileCount: 2 },
      { path: 'lib/php/extensions', bytes: 45_000, fileCount: 2 },
      { path: 'bin', bytes: 30_000, fileCount: 1 },
      { path: 'empty', bytes: 0, fileCount: 0 },
    ]);
    // directories implied only by file paths are counted too
    expect(report.directoryCount).toBe(5);
  });

  it('zippedBytes is undefined when unknown; an empty layer measures zero', () => {
    const empty = measure([]);
    expect(empty.zippedBytes).toBeUndefined();
    expect([empty.unzippedBytes, empty.fileCount, empty.directories.length]).toEqual([0, 0, 0]);
  });
});

describe('checkBudget', () => {
  it('returns no warnings for a small layer', () => {
    expect(checkBudget(measure(layer, 1000), { maxUnzippedBytes: LAMBDA_MAX_UNZIPPED_BYTES })).toEqual([]);
  });

  it('accepts exactly the maximum', () => {
    expect(() => checkBudget(measure([file('a', 1000)]), { maxUnzippedBytes: 1000, warnUnzippedFraction: 1 })).not.toThrow();
  });

  it('warns when the zip is over the direct-upload size (default 50 MB)', () => {
    const warnings = checkBudget(measure(layer, LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES + 1), { maxUnzippedBytes: LAMBDA_MAX_UNZIPPED_BYTES });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/52,428,801 bytes \(50\.0 MB\).*S3/);
    expect(checkBudget(measure(layer, LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES), { maxUnzippedBytes: LAMBDA_MAX_UNZIPPED_BYTES })).toEqual([]);
    expect(checkBudget(measure(layer, 2000), { maxUnzippedBytes: LAMBDA_MAX_UNZIPPED_BYTES, warnZippedBytes: 1000 })).toHaveLength(1);
  });

  it('warns when the unzipped size is close to the maximum', () => {
    const warnings = checkBudget(measure([file('a', 95)]), { maxUnzippedBytes: 100 });
    expect(warnings).toEqual([expect.stringMatching(/95\.0% of the 100 bytes/)]);
  });

  it('throws LayerTooLargeError with both sizes, the excess, the 10 largest files and what to do', () => {
    const files = Array.from({ length: 12 }, (_, i) => file(`lib/ext/f${String(i).padStart(2, '0')}.so`, 30 * 1024 * 1024 - i * 1000));
    const report = measure(files);
    const max = LAMBDA_MAX_UNZIPPED_BYTES;
    let error: unknown;
    try {
      checkBudget(report, { maxUnzippedBytes: max });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LayerTooLargeError);
    const e = error as LayerTooLargeError;
    expect(e.unzippedBytes).toBe(report.unzippedBytes);
    expect(e.maxUnzippedBytes).toBe(max);
    expect(e.excessBytes).toBe(report.unzippedBytes - max);
    expect(e.largestFiles).toHaveLength(10);
    const msg = e.message;
    expect(msg).toContain(`${report.unzippedBytes.toLocaleString('en-US')} bytes (${(report.unzippedBytes / 2 ** 20).toFixed(1)} MB)`);
    expect(msg).toContain('262,144,000 bytes (250.0 MB)');
    expect(msg).toContain(`by ${(report.unzippedBytes - max).toLocaleString('en-US')} bytes`);
    for (let i = 0; i < 10; i++) expect(msg).toContain(`lib/ext/f${String(i).padStart(2, '0')}.so`);
    expect(msg).not.toContain('f10.so');
    expect(msg).not.toContain('f11.so');
    expect(msg).toMatch(/drop extensions/);
    expect(msg).toContain('--max-unzipped');
  });

  it('throws when over a custom maximum even if under Lambda’s', () => {
    expect(() => checkBudget(measure(layer), { maxUnzippedBytes: 1000 })).toThrow(LayerTooLargeError);
  });
});

describe('parseByteSize', () => {
  it.each<[string, number]>([
    ['262144000', 262_144_000],
    ['262_144_000', 262_144_000],
    ['250MB', 262_144_000],
    ['250MiB', 262_144_000],
    ['250mb', 262_144_000],
    ['250M', 262_144_000],
    ['200 MB', 200 * 1024 * 1024],
    [' 50 MB ', 52_428_800],
    ['1.5GB', 1_610_612_736],
    ['1GiB', 1024 ** 3],
    ['512k', 512 * 1024],
    ['512KB', 512 * 1024],
    ['100B', 100],
    ['0', 0],
    ['0.5KB', 512],
    ['1.3KB', 1331], // rounded down
    ['.5MB', 524_288],
  ])('%j → %d', (input, expected) => {
    expect(parseByteSize(input)).toBe(expected);
  });

  it.each(['', ' ', 'abc', '-1', '-5MB', '250XB', '250 M B', '1.5', '1e9', '250MBs', 'MB', '1,000', '0x10', '1..5MB', '99999999999999999999'])(
    'rejects %j with an error naming it',
    (input) => {
      expect(() => parseByteSize(input)).toThrow(ByteSizeError);
      expect(() => parseByteSize(input)).toThrow(JSON.stringify(input));
    },
  );
});

describe('formatting', () => {
  it('formatBytes prints bytes and binary MB', () => {
    expect(formatBytes(262_144_000)).toBe('262,144,000 bytes (250.0 MB)');
    expect(formatBytes(0)).toBe('0 bytes (0.0 MB)');
  });

  it('formatSizeReport prints totals, a file table and a directory table', () => {
    const text = formatSizeReport(measure(layer, 40_000), { top: 2, maxUnzippedBytes: 262_144_000 });
    const lines = text.split('\n');
    expect(lines[0]).toBe('Unzipped: 80,113 bytes (0.1 MB) of 262,144,000 bytes (250.0 MB) (0.0%)');
    expect(lines[1]).toBe('Zipped:   40,000 bytes (0.0 MB)');
    expect(lines[2]).toBe('Entries:  5 files, 1 symlinks, 5 directories');
    expect(text).toContain('Largest files (top 2 of 5):');
    expect(text).toMatch(/29\.3 KB\s+30000\s+37\.4%\s+bin\/php/);
    expect(text).toMatch(/24\.4 KB\s+25000\s+31\.2%\s+lib\/php\/extensions\/intl\.so/);
    expect(text).not.toContain('opcache.so');
    expect(text).toContain('Largest directories (recursive; top 2):');
    expect(text).toMatch(/48\.8 KB\s+50013\s+62\.4%\s+3\s+lib\/$/m);
    expect(text).toMatch(/lib\/php\/$/m);
  });

  it('formatSizeReport can limit directory depth and handles an empty layer', () => {
    const text = formatSizeReport(measure(layer), { maxDepth: 1 });
    const dirSection = text.slice(text.indexOf('Largest directories'));
    expect(dirSection).toMatch(/ lib\/$/m);
    expect(dirSection).toMatch(/ bin\/$/m);
    expect(dirSection).not.toMatch(/lib\/php\//);
    expect(formatSizeReport(measure(layer)).slice(text.indexOf('Largest directories'))).toMatch(/lib\/php\/$/m);
    expect(formatSizeReport(measure([]))).toContain('(none)');
  });

  it('sizeReportJson is plain JSON', () => {
    const json = sizeReportJson(measure(layer), { top: 1 });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json).toEqual({
      unzippedBytes: 80_113,
      zippedBytes: null,
      maxUnzippedBytes: null,
      fileCount: 5,
      symlinkCount: 1,
      directoryCount: 5,
      largestFiles: [{ path: 'bin/php', bytes: 30_000 }],
      directories: [{ path: 'lib', bytes: 50_013, fileCount: 3 }],
    });
  });
});
