import { ListrLogger, ProcessOutput, type ListrTask } from 'listr2';
import type { BuildResult, TargetBuild } from './execute.js';

export interface TaskContext {
  results: BuildResult[];
  /** The first step failure, kept whole; listr2 is given a one-line summary to print. */
  failure?: unknown;
}

async function summarised(ctx: TaskContext, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.failure ??= err;
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new Error(first);
  }
}

/**
 * The listr2 task list for a set of builds: one parent task per target, one
 * subtask per planned step, in plan order. Built without running anything.
 */
export function buildTaskList(
  builds: readonly TargetBuild[],
  opts: { verbose: boolean; /** show each step's latest log line under it (terminal renderer) */ liveOutput: boolean },
): ListrTask<TaskContext>[] {
  return builds.map((b) => ({
    title: `${b.prepared.plan.target} → ${b.prepared.plan.output.zip}`,
    task: async (_ctx, parent) => {
      const titles = Object.fromEntries(b.prepared.plan.steps.map((s) => [s.name, s.title]));
      const step = (name: keyof typeof titles & string, fn: () => Promise<string | void>): ListrTask<TaskContext> => ({
        title: `${name}: ${titles[name]}`,
        task: async (c, task) => {
          let outcome: string | undefined;
          if (opts.liveOutput) b.onOutput = (line) => (task.output = line.slice(0, 200));
          try {
            await summarised(c, () =>
              b.runStep(name as never, async () => {
                outcome = (await fn()) ?? undefined;
              }),
            );
          } finally {
            b.onOutput = undefined;
          }
          if (outcome !== undefined) task.title = `${name}: ${outcome}`;
        },
        rendererOptions: { persistentOutput: opts.verbose },
      });
      await b.open();
      return parent.newListr<TaskContext>(
          [
            step('resolve', () => b.resolve()),
            step('fetch-sources', () => b.fetchSources()),
            step('build-image', () => b.buildImage()),
            step('bundle-libraries', () => b.bundleLibraries()),
            step('assemble', () => b.assemble()),
            step('smoke-test', () => b.smokeTest()),
            step('package', () => b.package()),
            step('check-size', () => b.checkSize()),
            {
              title: `write-manifest: ${titles['write-manifest']}`,
              task: async (ctx) => {
                await summarised(ctx, () =>
                  b.runStep('write-manifest', async () => {
                    ctx.results.push(await b.writeManifest());
                  }),
                );
              },
            },
          ],
          { concurrent: false, exitOnError: true },
        );
    },
  }));
}

/** The renderer: animated on a terminal, line by line in CI or when piped, always on stderr. */
export function rendererOptions(opts: { verbose: boolean; env?: NodeJS.ProcessEnv; isTTY?: boolean }) {
  const env = opts.env ?? process.env;
  const tty = opts.isTTY ?? Boolean(process.stderr.isTTY);
  const logger = new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) });
  const plain = !tty || Boolean(env['CI']) || opts.verbose;
  return {
    renderer: plain ? ('simple' as const) : ('default' as const),
    rendererOptions: { logger },
    fallbackRenderer: 'simple' as const,
    fallbackRendererOptions: { logger },
  };
}

