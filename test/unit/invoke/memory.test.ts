import { describe, expect, it } from 'vitest';
import { CGROUP_MEMORY_FILES, MEMORY_PROBE_COMMAND, MemoryPeak, parseMemoryProbe } from '../../../src/invoke/memory.js';

describe('memory probe', () => {
  it('reads every cgroup file and the processes\' VmHWM with one shell and its builtins', () => {
    expect(MEMORY_PROBE_COMMAND.slice(0, 2)).toEqual(['sh', '-c']);
    for (const file of Object.values(CGROUP_MEMORY_FILES)) expect(MEMORY_PROBE_COMMAND[2]).toContain(file);
    expect(MEMORY_PROBE_COMMAND[2]).toContain('VmHWM:');
    expect(MEMORY_PROBE_COMMAND[2]).toContain('"$$"'); // skips itself
    expect(MEMORY_PROBE_COMMAND[2]).not.toMatch(/\b(cat|grep|awk|sed)\b/);
  });

  it('sums the processes\' peak resident sizes (kB)', () => {
    expect(parseMemoryProbe('/sys/fs/cgroup/memory/memory.max_usage_in_bytes 5000000\nhwm 1652\nhwm 11264\n')).toEqual({
      peakBytes: 5000000,
      processesPeakBytes: (1652 + 11264) * 1024,
    });
  });

  it('cgroup v1: the peak', () => {
    expect(parseMemoryProbe('/sys/fs/cgroup/memory/memory.max_usage_in_bytes 6291456\n')).toEqual({ peakBytes: 6291456 });
  });

  it('cgroup v2: peak and current', () => {
    expect(parseMemoryProbe('/sys/fs/cgroup/memory.peak 9000000\n/sys/fs/cgroup/memory.current 4000000\n')).toEqual({
      peakBytes: 9000000,
      currentBytes: 4000000,
    });
    expect(parseMemoryProbe('/sys/fs/cgroup/memory.current 4000000')).toEqual({ currentBytes: 4000000 });
  });

  it('ignores noise', () => {
    expect(parseMemoryProbe('')).toEqual({});
    expect(parseMemoryProbe('sh: 1: cannot open\n/sys/fs/cgroup/memory.current max\n/etc/passwd 12\n')).toEqual({});
  });

  it('keeps the peak over samples', () => {
    const peak = new MemoryPeak();
    expect(peak.bytes).toBe(0);
    peak.observe({ currentBytes: 5 });
    peak.observe({ currentBytes: 3 });
    expect(peak.bytes).toBe(5);
    peak.observe({ peakBytes: 8, currentBytes: 2 });
    peak.observe({});
    expect(peak.bytes).toBe(8);
    peak.observe({ peakBytes: 6, processesPeakBytes: 13 });
    expect(peak.bytes).toBe(13);
  });
});
