import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

/** `build-runtime ARGS` without Docker: DOCKER_HOST points nowhere, so nothing can reach an engine. */
export const cli = (args: string[]) =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DOCKER_HOST: 'tcp://127.0.0.1:1' },
  });

/** The same, expected to fail: its exit code and output. */
export const fails = (args: string[]) =>
  cli(args).then(
    () => {
      throw new Error(`expected build-runtime ${args.join(' ')} to fail`);
    },
    (e: { code: number; stderr: string; stdout: string }) => e,
  );
