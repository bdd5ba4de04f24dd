import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildZip } from '../../../src/layer/zip.js';

const execFileP = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const LAYER = 'dist/php-7.4.33-debian-bookworm-x86_64.zip';

// Without Docker: DOCKER_HOST points nowhere, so every path here must stop before the engine
// or report that no engine answers.
const cli = (args: string[]) =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/invoke.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DOCKER_HOST: 'tcp://127.0.0.1:1' },
  });
const fails = (args: string[]) =>
  cli(args).then(
    () => {
      throw new Error(`expected invoke ${args.join(' ')} to fail`);
    },
    (e: { code: number; stderr: string; stdout: string }) => e,
  );

describe('the invoke CLI', () => {
  it('--help documents every option', async () => {
    const { stdout } = await cli(['--help']);
    for (const option of ['--layer', '--function', '--handler', '--event', '--event-file', '--repeat', '--timeout', '--memory', '--function-name', '--env', '--json', '--platform', '--image', '--region']) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toMatch(/Exit status: 0/);
  });

  it.each([
    [['--function', 'examples/hello', '--handler', 'hello'], /--layer is required/],
    [['--layer', LAYER, '--function', 'examples/hello', '--handler', 'hello', '--event', '{'], /--event is not valid JSON/],
    [['--layer', LAYER, '--function', 'examples/hello', '--handler', 'hello', '--timeout', '0'], /--timeout must be/],
    [['--layer', LAYER, '--function', 'examples/hello', '--handler', 'hello', '--env', '_HANDLER=x'], /reserved/],
    [['--layer', 'no/such.zip', '--function', 'examples/hello', '--handler', 'hello'], /layer zip no\/such\.zip does not exist/],
    [['--layer', LAYER, '--function', 'examples/hello', '--handler', 'hello', '--event-file', 'no/such.json'], /cannot read --event-file no\/such\.json/],
    [['--nonsense'], /unknown option '--nonsense'/],
  ])('bad input %j exits 2', async (args, message) => {
    const err = await fails(args);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
    expect(err.stdout).toBe('');
  });

  it('says so (exit 2) when no Docker engine answers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'invoke-cli-test-'));
    try {
      const zip = path.join(dir, 'layer.zip');
      await writeFile(zip, await buildZip([{ type: 'file', path: 'bootstrap', mode: 0o755, data: Buffer.from('#!/bin/sh\n') }]));
      await writeFile(`${zip}.json`, JSON.stringify({ platform: { name: 'debian-bookworm' }, arch: 'x86_64' }));
      const err = await fails(['--layer', zip, '--function', 'examples/hello', '--handler', 'hello']);
      expect(err.code).toBe(2);
      expect(err.stderr).toMatch(/no Docker engine answers/);
      const notLayer = path.join(dir, 'not-a-runtime.zip');
      await writeFile(notLayer, await buildZip([{ type: 'file', path: 'README', mode: 0o644, data: Buffer.from('hi') }]));
      const err2 = await fails(['--layer', notLayer, '--platform', 'debian-bookworm', '--function', 'examples/hello', '--handler', 'hello']);
      expect(err2.code).toBe(2);
      expect(err2.stderr).toMatch(/has no bootstrap at its root/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
