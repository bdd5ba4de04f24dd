import { defineConfig } from 'vitest/config';

// Two suites: `unit` needs nothing but Node (and, for the runtime tests, a php CLI);
// `integration` talks to a real Docker engine and builds real layers.
export default defineConfig({
  test: {
    // In CI, also keep a machine-readable report for .ci/run's closing line.
    reporters: process.env['CI'] || process.env['LRB_TEST_REPORT'] ? ['default', 'json'] : ['default'],
    outputFile: { json: '.ci/test-results.json' },
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
          // Builds share one Docker engine and two cores: run files one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
