import { ListrLogger, ProcessOutput, type ListrTask } from 'listr2';
import type { BuildResult } from './manifest.js';
import { formatElapsed, type BuildRunner } from './runner.js';

export interface TaskContext {
  results: BuildResult[];
  /** The first step failure, kept whole; listr2 is given a one-line summary to print. */
  failure?: unknown;
}

/**
 * The listr2 task list for a set of builds: one parent task per target, one subtask per
 * planned step, in plan order. listr2 only presents: each subtask asks the target's runner to
 * execute its step, and the runner owns abort, cleanup and error mapping.
 */
export function buildTaskList(
  runners: readonly BuildRunner[],
  opts: { verbose: boolean; /** show each step's latest log line under it (terminal renderer) */ liveOutput: boolean },
): ListrTask<TaskContext>[] {
  return runners.map((runner) => ({
    title: `${runner.prepared.plan.target} → ${runner.prepared.plan.output.zip}`,
    task: async (_ctx, parent) => {
      await runner.open();
      return parent.newListr<TaskContext>(
        runner.steps.map((step) => ({
          title: `${step.name}: ${step.title}`,
          task: async (ctx, task) => {
            if (opts.liveOutput) runner.onOutput = (line) => (task.output = line.slice(0, 200));
            try {
              const { summary, elapsedMs } = await runner.execute(step);
              // How long each step took, in the CI log too; a step under a second says nothing more.
              task.title = `${step.name}: ${summary}${elapsedMs >= 1000 ? ` [${formatElapsed(elapsedMs)}]` : ''}`;
            } catch (err) {
              ctx.failure ??= err;
              throw new Error(String((err as Error).message ?? err).split('\n')[0]);
            } finally {
              runner.onOutput = undefined;
            }
            if (step.name === 'write-manifest') ctx.results.push(runner.result());
          },
          rendererOptions: { persistentOutput: opts.verbose },
        })),
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
    plain,
    renderer: plain ? ('simple' as const) : ('default' as const),
    rendererOptions: { logger },
    fallbackRenderer: 'simple' as const,
    fallbackRendererOptions: { logger },
  };
}
