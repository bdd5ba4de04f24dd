import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
// Without Docker: DOCKER_HOST points nowhere.
const cli = (args: string[]) =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, DOCKER_HOST: 'tcp://127.0.0.1:1' } });
const fails = (args: string[]) =>
  cli(args).then(
    () => {
      throw new Error(`expected build-runtime ${args.join(' ')} to fail`);
    },
    (e: { code: number; stderr: string }) => e,
  );

type DryRun = { plans: { arch: string; buildMethod: { method: string }; output: { zip: string } }[] };

describe('build-runtime --arch and --emulate', () => {
  it('--arch x86_64 --arch arm64 plans both; arm64 is cross-compiled on this x86_64 machine', async () => {
    const { stdout } = await cli(['lua@5.4.7', '--platform', 'debian-bookworm', '--arch', 'x86_64', '--arch', 'arm64', '--dry-run', '--json']);
    const { plans } = JSON.parse(stdout) as DryRun;
    expect(plans.map((p) => [p.arch, p.buildMethod.method, path.basename(p.output.zip)])).toEqual([
      ['x86_64', 'native', 'lua-5.4.7-debian-bookworm-x86_64.zip'],
      ['arm64', 'cross', 'lua-5.4.7-debian-bookworm-arm64.zip'],
    ]);
  });

  it('--arch all --emulate: arm64 emulated, and the plan warns that it is slow', async () => {
    const { stdout } = await cli(['lua@5.4.7', '--platform', 'debian-bookworm', '--arch', 'all', '--emulate', '--dry-run']);
    expect(stdout).toContain('  build      emulated: arm64 on an x86_64 engine, --emulate: every build step runs under QEMU user mode');
    expect(stdout).toContain('  warning    arm64 is built under emulation (QEMU) on this x86_64 engine: expect it to take several times as long as a native build');
  });

  it.each([
    [['--arch', 'sparc'], /Allowed choices are x86_64, arm64, all/],
    [['--arch', 'arm64', '--arch', 'arm64'], /--arch arm64 was given more than once: give it once/],
    [['--arch', 'arm64', '--platform', 'al2'], /^lambda-runtime-builder: platform al2 has no arm64 images for an x86_64 engine/m],
  ])('%j exits 2 in one line', async (args, message) => {
    const err = await fails(['lua@5.4.7', ...args, '--dry-run']);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });
});
