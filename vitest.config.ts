import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Vitest's own order (failed and slow files first), except that heavy-builds.test.ts, when it is
 * among the files, runs first: it builds the suite's heavy layers two at a time, which pays only
 * before the files that reuse them.
 */
class HeavyBuildsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => f.moduleId.endsWith('/test/integration/heavy-builds.test.ts');
    return [...sorted.filter(first), ...sorted.filter((f) => !first(f))];
  }
}

// Two suites: `unit` needs nothing but Node (and, for the runtime tests, a php CLI);
// `integration` talks to a real Docker engine and builds real layers.
export default defineConfig({
  test: {
    // In CI, also keep a machine-readable report for .ci/run's closing line.
    reporters: process.env['CI'] || process.env['LRB_TEST_REPORT'] ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/test-results.json' },
    sequence: { sequencer: HeavyBuildsFirst },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 45 * 60_000,
          hookTimeout: 45 * 60_000,
          // Builds share one Docker engine and two cores: run files one after another (the one
          // exception, two builds at once, is inside heavy-builds.test.ts).
          fileParallelism: false,
        },
      },
    ],
  },
});
