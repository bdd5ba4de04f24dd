import { describe, expect, it } from 'vitest';
import { billedDurationMs, formatEndLine, formatReportLine, formatStartLine } from '../../../src/emulator/index.js';

describe('Lambda platform log lines', () => {
  const id = '8f5a8f0e-4c2b-4a9e-9d3e-6f7f0f1e2d3c';

  it('formats START and END', () => {
    expect(formatStartLine(id)).toBe(`START RequestId: ${id} Version: $LATEST`);
    expect(formatStartLine(id, '3')).toBe(`START RequestId: ${id} Version: 3`);
    expect(formatEndLine(id)).toBe(`END RequestId: ${id}`);
  });

  it('formats a cold-start REPORT with Init Duration, billing init + duration', () => {
    expect(formatReportLine({ requestId: id, durationMs: 2.254, initDurationMs: 113.651, memorySizeMb: 128, maxMemoryUsedMb: 57.2 })).toBe(
      `REPORT RequestId: ${id}\tInit Duration: 113.65 ms\tDuration: 2.25 ms\tBilled Duration: 116 ms\tMemory Size: 128 MB\tMax Memory Used: 58 MB`,
    );
  });

  it('formats a warm REPORT without Init Duration, and a status when given', () => {
    expect(formatReportLine({ requestId: id, durationMs: 0.4, memorySizeMb: 1024, maxMemoryUsedMb: 30 })).toBe(
      `REPORT RequestId: ${id}\tDuration: 0.40 ms\tBilled Duration: 1 ms\tMemory Size: 1024 MB\tMax Memory Used: 30 MB`,
    );
    expect(
      formatReportLine({ requestId: id, durationMs: 3000.01, billedDurationMs: 3000, memorySizeMb: 128, maxMemoryUsedMb: 30, status: 'timeout' }),
    ).toBe(`REPORT RequestId: ${id}\tDuration: 3000.01 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tStatus: timeout`);
  });

  it('bills whole milliseconds, rounded up, at least 1', () => {
    expect(billedDurationMs(0)).toBe(1);
    expect(billedDurationMs(1.01)).toBe(2);
    expect(billedDurationMs(10, 5.5)).toBe(16);
  });
});
