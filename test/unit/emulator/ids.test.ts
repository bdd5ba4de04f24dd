import { describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN, newRequestId, newTraceId } from '../../../src/emulator/index.js';

describe('ids', () => {
  it('makes X-Ray trace headers with the current epoch and random parts', () => {
    const now = Date.UTC(2024, 0, 2, 3, 4, 5);
    const trace = newTraceId(now);
    expect(trace).toMatch(TRACE_ID_PATTERN);
    expect(trace.startsWith(`Root=1-${Math.floor(now / 1000).toString(16)}-`)).toBe(true);
    expect(trace.endsWith(';Sampled=0')).toBe(true);
    expect(newTraceId()).not.toBe(newTraceId());
  });

  it('makes UUID request ids', () => {
    expect(newRequestId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(newRequestId()).not.toBe(newRequestId());
  });
});
