import { describe, expect, it } from 'vitest';
import { DEFAULT_EMULATE_LIMIT_S, MB, emulateLimitFromArgv, formatBuildBench, renderBenchTable, type BuildBenchResult } from '../../../bench/build-bench.js';

function result(sizes: BuildBenchResult['sizes'], extra: Partial<BuildBenchResult> = {}): BuildBenchResult {
  return {
    date: '2026-11-21',
    cpus: 2,
    noopRebuildS: 0.6,
    runtimeOnlyRebuildS: 2.7,
    runtimeOnlyCompiled: false,
    sizes,
    ...extra,
  } as BuildBenchResult;
}

describe('bench table: each goal is judged from the numbers', () => {
  it('a size exactly at the goal meets it, one byte over does not (1 MB = 1,048,576 bytes)', () => {
    const rows = formatBuildBench(
      result([
        { target: 'php@8.2.32', profile: 'standard', platform: 'al2023-portable', zippedBytes: 20 * MB, unzippedBytes: 60 * MB },
        { target: 'php@8.2.33', profile: 'standard', platform: 'debian-bookworm', zippedBytes: 20 * MB + 1, unzippedBytes: 1 },
        { target: 'php@7.4.33', profile: 'minimal', platform: 'debian-bookworm', zippedBytes: 1, unzippedBytes: 25 * MB + 1 },
      ]),
    );
    const sizes = rows.filter((r) => r.measure.includes('zipped'));
    expect(sizes.map((r) => r.met)).toEqual([true, false, false]);
    expect(sizes[0]!.goal).toBe('<= 20 MB / 60 MB');
    expect(sizes[0]!.measure).toBe('php@8.2.32 standard al2023-portable: zipped / unzipped');
    expect(sizes[0]!.result).toBe(`20.00 MB / 60.00 MB (${20 * MB} / ${60 * MB} bytes)`);
  });

  it('a runtime-only rebuild that compiled fails its goal however fast it was', () => {
    const rows = formatBuildBench(result([], { runtimeOnlyCompiled: true }));
    expect(rows.find((r) => r.measure.startsWith('runtime-only'))!.met).toBe(false);
  });

  it('arm64: both cold walls side by side, the cross ratio judged against 1.3, the emulated ratio or why it was skipped', () => {
    const base = { target: 'php@8.2.32', platform: 'al2023-portable', x86ColdS: 400, crossColdS: 520, crossRatio: 1.3 };
    const rows = formatBuildBench(result([], { arm64: { ...base, emulated: { coldS: 1800, ratio: 4.5 } } }));
    expect(rows.filter((r) => /arm64/.test(r.measure)).map((r) => [r.measure, r.result, r.goal, r.met])).toEqual([
      ['cold build php@8.2.32 minimal al2023-portable: x86_64 native / arm64 cross', '400.0 s / 520.0 s', '', undefined],
      ['arm64 cross / x86_64 cold build ratio', '1.300', '<= 1.3', true],
      ['arm64 emulated / x86_64 cold build ratio', '4.500 (1800.0 s)', '', undefined],
    ]);
    const slow = formatBuildBench(result([], { arm64: { ...base, crossColdS: 521, crossRatio: 521 / 400, emulated: { skipped: 'not finished within 2700 s' } } }));
    expect(slow.find((r) => r.measure.startsWith('arm64 cross'))!.met).toBe(false);
    expect(slow.find((r) => r.measure.startsWith('arm64 emulated'))!.result).toBe('skipped: not finished within 2700 s');
    expect(formatBuildBench(result([])).some((r) => r.measure.includes('arm64'))).toBe(false);
  });

  it('--emulate-limit: seconds from argv, the default when absent, a bad number refused', () => {
    expect(emulateLimitFromArgv(['node', 'bench', '--emulate-limit', '600'])).toBe(600);
    expect(emulateLimitFromArgv(['node', 'bench'])).toBe(DEFAULT_EMULATE_LIMIT_S);
    expect(() => emulateLimitFromArgv(['node', 'bench', '--emulate-limit', 'soon'])).toThrow('--emulate-limit must be a positive integer');
  });

  it('renders yes / NO, and nothing for rows without a goal', () => {
    const text = renderBenchTable([
      { measure: 'a', result: '1', goal: '<= 2', met: true },
      { measure: 'bb', result: '3', goal: '<= 2', met: false },
      { measure: 'c', result: '4', goal: '' },
    ]);
    expect(text.split('\n')).toEqual(['measure  result  goal  met', 'a        1       <= 2  yes', 'bb       3       <= 2  NO', 'c        4', '']);
  });
});
