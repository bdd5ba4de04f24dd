/**
 * "Max Memory Used", approximated from inside the sandbox (pure: the probe command and the
 * parsing of its output).
 *
 * Docker's stats endpoint answers only after a ~1 s sampling period, too slow to ask after every
 * invocation, so one `sh` is exec'd in the container (builtins only: no other process starts) and
 * prints two measures; the larger is kept, and the peak over the samples:
 *
 * 1. The memory cgroup: `memory.max_usage_in_bytes` (v1, the peak since the container started),
 *    `memory.peak` (v2, the same) or `memory.current` (v2 on older kernels: the usage now). It
 *    counts what was charged to the sandbox: the processes' anonymous memory and page cache they
 *    caused. Pages of files the engine wrote (the layer and function, put in with putArchive) are
 *    charged to the engine, not to the sandbox, so the PHP binary and its libraries are missing.
 * 2. The sum over the sandbox's processes of their peak resident size (`VmHWM` in
 *    /proc/PID/status): it includes the mapped binary and libraries (as Lambda, whose sandbox is a
 *    whole VM, counts them), counts shared pages once per process, and forgets processes that
 *    exited (e.g. a PHP restarted by the bootstrap after a fatal error).
 *
 * Samples are taken after init and after each invocation (not during it): a short spike inside an
 * invocation is caught by measure 1 where the cgroup keeps a peak, and by measure 2 for processes
 * still alive. The probing shell itself is left out of measure 2 and adds well under 1 MB to 1.
 */

export const CGROUP_MEMORY_FILES = {
  v1Peak: '/sys/fs/cgroup/memory/memory.max_usage_in_bytes',
  v2Peak: '/sys/fs/cgroup/memory.peak',
  v2Current: '/sys/fs/cgroup/memory.current',
} as const;

/**
 * Prints `<cgroup file> <bytes>` for each readable cgroup file, then `hwm <kB>` for each process
 * of the sandbox but itself.
 */
export const MEMORY_PROBE_COMMAND: readonly string[] = [
  'sh',
  '-c',
  `for f in ${Object.values(CGROUP_MEMORY_FILES).join(' ')}; do ` +
    'if [ -r "$f" ] && read -r v < "$f"; then echo "$f $v"; fi; done; ' +
    'for d in /proc/[0-9]*; do ' +
    '[ "${d#/proc/}" = "$$" ] && continue; ' +
    '{ while read -r k v u; do if [ "$k" = "VmHWM:" ]; then echo "hwm $v"; break; fi; done < "$d/status"; } 2>/dev/null; ' +
    'done',
];

export interface MemorySample {
  /** Peak of the cgroup since the container started, when the cgroup keeps one. */
  peakBytes?: number;
  /** Usage of the cgroup at the time of the probe (cgroup v2 only). */
  currentBytes?: number;
  /** Sum of the processes' peak resident sizes (VmHWM). */
  processesPeakBytes?: number;
}

/** Parses the probe's output; unknown or malformed lines are ignored. */
export function parseMemoryProbe(output: string): MemorySample {
  const sample: MemorySample = {};
  for (const line of output.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || value === undefined || !/^\d+$/.test(value)) continue;
    const number = Number(value);
    if (key === CGROUP_MEMORY_FILES.v1Peak || key === CGROUP_MEMORY_FILES.v2Peak) {
      sample.peakBytes = Math.max(sample.peakBytes ?? 0, number);
    } else if (key === CGROUP_MEMORY_FILES.v2Current) {
      sample.currentBytes = number;
    } else if (key === 'hwm') {
      sample.processesPeakBytes = (sample.processesPeakBytes ?? 0) + number * 1024;
    }
  }
  return sample;
}

/** The peak over the samples of one sandbox. */
export class MemoryPeak {
  private peak = 0;

  observe(sample: MemorySample): void {
    this.peak = Math.max(this.peak, sample.peakBytes ?? 0, sample.currentBytes ?? 0, sample.processesPeakBytes ?? 0);
  }

  get bytes(): number {
    return this.peak;
  }
}
