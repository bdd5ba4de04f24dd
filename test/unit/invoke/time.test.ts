import { describe, expect, it } from 'vitest';
import { epochMsOfTimestamp } from '../../../src/invoke/time.js';

describe('epochMsOfTimestamp', () => {
  it('keeps the sub-millisecond part the engine reports', () => {
    const base = Date.parse('2026-11-21T05:56:31Z');
    expect(epochMsOfTimestamp('2026-11-21T05:56:31.872305593Z')).toBeCloseTo(base + 872.305593, 6);
    expect(epochMsOfTimestamp('2026-11-21T05:56:31Z')).toBe(base);
    expect(epochMsOfTimestamp('2026-11-21T06:56:31.5+01:00')).toBe(base + 500);
  });

  it('refuses what is not RFC 3339', () => {
    for (const bad of ['', 'yesterday', '2026-11-21 05:56:31Z', '2026-13-45T99:99:99Z']) expect(epochMsOfTimestamp(bad)).toBeUndefined();
  });
});
