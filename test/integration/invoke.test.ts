import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import { OWNER_LABEL, type DockerodeEngine } from '../../src/docker/engine.js';
import { INVOKE_LABEL, invokeLayer, type InvokeLayerOptions, type InvokeLayerResult } from '../../src/invoke/index.js';
import { buildZip } from '../../src/layer/zip.js';
import { REPO_ROOT, execFileP, requireEngine, tempDir, X86_PHP, HEAVY_BUILDS } from './helpers.js';

// The pipeline-built x86_64 minimal layer (X86_PHP) for al2023-portable, run the way Lambda runs it, in the image that
// holds nothing but glibc. Always built into a temp dir (Docker's image cache makes it quick once
// the image exists; build-php.test.ts and portable.test.ts build the same target).
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let layer: string;
const runs: InvokeLayerResult[] = [];

const EXAMPLES = path.join(REPO_ROOT, 'examples');
const FUNCTIONS = path.join(REPO_ROOT, 'test/fixtures/functions');

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-invoke-');
  const report = await buildRuntimes({ ...HEAVY_BUILDS.x86Minimal, outDir: out.dir, renderer: 'silent', engine });
  layer = report.results[0]!.zip;
  expect(path.basename(layer)).toBe(X86_PHP.zip);
});

afterAll(async () => {
  await out?.cleanup();
});

async function invoke(options: Partial<InvokeLayerOptions> & Pick<InvokeLayerOptions, 'functionPath' | 'handler'>) {
  const log: string[] = [];
  const result = await invokeLayer({ layer, engine, events: ['{"name":"World"}'], onLog: (text) => log.push(text), ...options });
  runs.push(result);
  return { result, stderr: log.join('') };
}

const REQUEST_ID = '[0-9a-f-]{36}';

describe('invoke: the built layer in a Lambda-like sandbox', () => {
  it('hello: a round trip with Lambda-style log lines', async () => {
    const { result, stderr } = await invoke({ functionPath: path.join(EXAMPLES, 'hello'), handler: 'hello' });
    expect(result).toMatchObject({ exitCode: 0, platform: 'al2023-portable', image: 'lambda-runtime-builder/glibc-only:bullseye-x86_64', functionName: 'hello' });
    const [only] = result.invocations;
    expect(only).toMatchObject({ status: 'success', body: '"Hello, World!"', memorySizeMb: 128 });
    expect(only!.initDurationMs).toBeGreaterThan(0);
    expect(only!.maxMemoryUsedMb).toBeGreaterThan(0);
    expect(only!.maxMemoryUsedMb).toBeLessThanOrEqual(128);
    expect(only!.billedDurationMs).toBe(Math.ceil(only!.durationMs + only!.initDurationMs!));
    const id = only!.requestId;
    expect(stderr).toMatch(new RegExp(`^START RequestId: ${id} Version: \\$LATEST\nEND RequestId: ${id}\n`, 'm'));
    expect(stderr).toMatch(
      new RegExp(`^REPORT RequestId: ${id}\tInit Duration: \\d+\\.\\d\\d ms\tDuration: \\d+\\.\\d\\d ms\tBilled Duration: \\d+ ms\tMemory Size: 128 MB\tMax Memory Used: \\d+ MB$`, 'm'),
    );
  });

  it('--repeat 3: one init serves every invocation', async () => {
    const { result, stderr } = await invoke({ functionPath: path.join(EXAMPLES, 'hello'), handler: 'hello', events: Array(3).fill('{"name":"World"}') });
    expect(result.invocations.map((o) => o.body)).toEqual(['"Hello, World!"', '"Hello, World!"', '"Hello, World!"']);
    expect(new Set(result.invocations.map((o) => o.containerId)).size).toBe(1);
    expect(result.invocations.map((o) => o.initDurationMs !== undefined)).toEqual([true, false, false]);
    const reports = stderr.split('\n').filter((line) => line.startsWith('REPORT'));
    expect(reports).toHaveLength(3);
    expect(reports.map((line) => line.includes('Init Duration'))).toEqual([true, false, false]);
  });

  it('file.function form: lib/greeter.greet, its echo goes to the log', async () => {
    const { result, stderr } = await invoke({ functionPath: path.join(EXAMPLES, 'file-function'), handler: 'lib/greeter.greet' });
    const [only] = result.invocations;
    expect(only!.status).toBe('success');
    expect(JSON.parse(only!.body)).toMatchObject({ greeting: 'Hello, World!', requestId: only!.requestId });
    expect(JSON.parse(only!.body).remainingMs).toBeGreaterThan(2000);
    expect(only!.logs).toContain('Greeting someone');
    expect(stderr).toMatch(new RegExp(`START RequestId: ${only!.requestId}[^\n]*\n(.*\n)*Greeting someone\n(.*\n)*END RequestId: ${only!.requestId}`));
  });

  it('file.php form: returns-callable; a thrown exception is an error and the next invocation is fine', async () => {
    const { result, stderr } = await invoke({
      functionPath: path.join(EXAMPLES, 'returns-callable'),
      handler: 'handler.php',
      functionName: 'adder',
      events: ['{}', '{"a":1,"b":2}'],
    });
    const [failed, ok] = result.invocations;
    expect(failed).toMatchObject({ status: 'error', errorType: 'InvalidArgumentException' });
    expect(JSON.parse(failed!.body)).toMatchObject({ errorType: 'InvalidArgumentException', errorMessage: 'The event needs numbers "a" and "b"' });
    expect(ok!.status).toBe('success');
    expect(JSON.parse(ok!.body)).toMatchObject({ sum: 3, function: 'adder' });
    expect(ok!.containerId).toBe(failed!.containerId);
    expect(result.exitCode).toBe(1);
    // A handler error does not reset the sandbox: no Status on its REPORT.
    expect(stderr).not.toMatch(/Status:/);
  });

  it("gives the function Lambda's environment, /var/task as working directory and the memory limit", async () => {
    const { result } = await invoke({
      functionPath: path.join(FUNCTIONS, 'env'),
      handler: 'env',
      memoryMb: 256,
      functionName: 'env-fn',
      region: 'eu-west-1',
      env: { GREETING: 'hi' },
    });
    const answer = JSON.parse(result.invocations[0]!.body);
    expect(answer.cwd).toBe('/var/task');
    expect(answer.opt).toBe(true);
    expect(Number(answer.memoryLimit)).toBe(256 * 1024 * 1024);
    expect(answer.env).toMatchObject({
      _HANDLER: 'env',
      LAMBDA_TASK_ROOT: '/var/task',
      LAMBDA_RUNTIME_DIR: '/var/runtime',
      AWS_REGION: 'eu-west-1',
      AWS_LAMBDA_FUNCTION_NAME: 'env-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/env-fn',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      TZ: ':UTC',
      PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
      GREETING: 'hi',
    });
    expect(answer.env.AWS_LAMBDA_RUNTIME_API).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('a timeout is reported like Lambda and the next invocation gets a fresh sandbox', async () => {
    const { result, stderr } = await invoke({
      functionPath: path.join(FUNCTIONS, 'sleepy'),
      handler: 'sleepy',
      timeoutSeconds: 1,
      events: ['{"seconds":5}', '{"seconds":0}'],
    });
    const [timedOut, next] = result.invocations;
    expect(timedOut).toMatchObject({ status: 'timeout', errorType: 'Sandbox.Timedout' });
    expect(JSON.parse(timedOut!.body).errorMessage).toBe(`RequestId: ${timedOut!.requestId} Error: Task timed out after 1.00 seconds`);
    expect(timedOut!.durationMs).toBeGreaterThanOrEqual(999);
    expect(stderr).toMatch(new RegExp(`^\\S+Z ${timedOut!.requestId} Task timed out after 1\\.00 seconds$`, 'm'));
    expect(stderr).toMatch(new RegExp(`^REPORT RequestId: ${timedOut!.requestId}\t.*\tStatus: timeout$`, 'm'));
    expect(next).toMatchObject({ status: 'success', body: '"awake after 0 s"' });
    expect(next!.containerId).not.toBe(timedOut!.containerId);
    expect(next!.initDurationMs).toBeGreaterThan(0);
    expect(result.exitCode).toBe(1);
  });

  it('a runtime crash is Runtime.ExitError and the next invocation gets a fresh sandbox', async () => {
    const { result, stderr } = await invoke({
      functionPath: path.join(FUNCTIONS, 'crashy'),
      handler: 'crashy',
      events: ['{"crash":true}', '{}'],
    });
    const [crashed, next] = result.invocations;
    expect(crashed).toMatchObject({ status: 'crash', errorType: 'Runtime.ExitError' });
    expect(crashed!.errorMessage).toBe(`RequestId: ${crashed!.requestId} Error: Runtime exited with error: exit status 143`);
    expect(stderr).toMatch(new RegExp(`^REPORT RequestId: ${crashed!.requestId}\t.*\tStatus: error\tError Type: Runtime.ExitError$`, 'm'));
    expect(next).toMatchObject({ status: 'success', body: '"still standing"' });
    expect(next!.containerId).not.toBe(crashed!.containerId);
    expect(next!.initDurationMs).toBeGreaterThan(0);
  });

  it('running out of memory is Runtime.OutOfMemory, with all of Memory Size used', async () => {
    const { result, stderr } = await invoke({
      functionPath: path.join(FUNCTIONS, 'hungry'),
      handler: 'hungry',
      events: ['{"mb":300}', '{"mb":1}'],
    });
    const [killed, next] = result.invocations;
    expect(killed).toMatchObject({ status: 'crash', errorType: 'Runtime.OutOfMemory', maxMemoryUsedMb: 128 });
    expect(JSON.parse(killed!.body).errorType).toBe('Runtime.OutOfMemory');
    expect(stderr).toMatch(new RegExp(`^REPORT RequestId: ${killed!.requestId}\t.*\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory$`, 'm'));
    expect(next).toMatchObject({ status: 'success', body: '"allocated 1048576 bytes"' });
    expect(next!.containerId).not.toBe(killed!.containerId);
  });

  it('a wrong handler is an init error: reported, nothing more invoked, non-zero', async () => {
    const { result, stderr } = await invoke({ functionPath: path.join(EXAMPLES, 'hello'), handler: 'nope', events: ['{}', '{}'] });
    expect(result.exitCode).toBe(1);
    expect(result.invocations).toHaveLength(1);
    const [failed] = result.invocations;
    expect(failed).toMatchObject({ status: 'init-error', errorType: 'Runtime.NoSuchHandler' });
    expect(JSON.parse(failed!.body)).toMatchObject({ errorType: 'Runtime.NoSuchHandler' });
    expect(JSON.parse(failed!.body).errorMessage).toMatch(/Handler "nope": neither \/var\/task\/src\/nope\.php nor \/var\/task\/nope\.php exists/);
    expect(stderr).toMatch(/^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime\.NoSuchHandler$/m);
    expect(stderr).not.toMatch(/^START/m);
  });

  it('an init phase past its limit is killed and reported as Sandbox.Timedout', async () => {
    const { result, stderr } = await invoke({ functionPath: path.join(FUNCTIONS, 'slow-init'), handler: 'slow', initTimeoutSeconds: 1 });
    expect(result.exitCode).toBe(1);
    expect(result.invocations[0]).toMatchObject({ status: 'init-error', errorType: 'Sandbox.Timedout', errorMessage: 'Init phase timed out after 1.00 seconds' });
    expect(result.invocations[0]!.logs).toContain('loading slowly');
    expect(stderr).toMatch(/^INIT_REPORT Init Duration: 10\d\d\.\d\d ms\tPhase: init\tStatus: error\tError Type: Sandbox\.Timedout$/m);
  });

  it('the CLI: results on stdout, Lambda lines on stderr, exit status', async () => {
    const cli = (args: string[]) =>
      execFileP(process.execPath, ['--import', 'tsx', 'src/cli/invoke.ts', '--layer', layer, ...args], { cwd: REPO_ROOT });
    const ok = await cli(['--function', 'examples/hello', '--handler', 'hello', '--event', '{"name":"World"}', '--repeat', '2']);
    expect(ok.stdout).toBe('"Hello, World!"\n"Hello, World!"\n');
    expect(ok.stderr.match(/^START RequestId: /gm)).toHaveLength(2);
    expect(ok.stderr.match(/^REPORT RequestId: .*Init Duration/gm)).toHaveLength(1);

    const failed = await cli(['--function', 'examples/returns-callable', '--handler', 'handler.php', '--event', '{}', '--json']).then(
      () => {
        throw new Error('expected exit 1');
      },
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    const doc = JSON.parse(failed.stdout);
    expect(doc).toMatchObject({ exitCode: 1, platform: 'al2023-portable', functionName: 'returns-callable' });
    expect(doc.invocations[0]).toMatchObject({ status: 'error', errorType: 'InvalidArgumentException', result: { errorType: 'InvalidArgumentException' } });
    expect(failed.stderr).toMatch(/^END RequestId: /m);
  });

  it('several layers: extracted in order over /opt, counted together against 250 MB, refused when they clash', async () => {
    // A second layer as Lambda would get it: an ini in the runtime's scan dir and a data file.
    const extra = path.join(out.dir, 'extra-layer.zip');
    const file = (p: string, text: string) => ({ type: 'file' as const, path: p, mode: 0o644, data: Buffer.from(text) });
    await writeFile(extra, await buildZip([file('etc/php/conf.d/90-extra.ini', 'date.timezone=Europe/Paris\n'), file('share/lrb-extra/greeting.txt', 'from the second layer\n')]));
    const { result } = await invoke({ layer: [layer, extra], functionPath: path.join(FUNCTIONS, 'layered'), handler: 'layered', events: ['{}'] });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.invocations[0]!.body)).toEqual({ timezone: 'Europe/Paris', greeting: 'from the second layer', php: X86_PHP.version });
    expect(result.layers).toEqual([layer, extra]);
    expect(result.sizeBudget.layers.map((l) => l.zip)).toEqual([layer, extra]);
    expect(result.sizeBudget.totalBytes).toBe(result.sizeBudget.layers.reduce((s, l) => s + l.unzippedBytes, result.sizeBudget.functionBytes));
    // Without the second layer the same function sees neither.
    const alone = await invoke({ functionPath: path.join(FUNCTIONS, 'layered'), handler: 'layered', events: ['{}'] });
    expect(JSON.parse(alone.result.invocations[0]!.body)).toMatchObject({ greeting: null });

    // The CLI says what the layers add up to; a layer that turns a directory into a file is refused.
    const clash = path.join(out.dir, 'clash-layer.zip');
    await writeFile(clash, await buildZip([file('etc/php', 'not a directory\n')]));
    const cli = (args: string[]) =>
      execFileP(process.execPath, ['--import', 'tsx', 'src/cli/invoke.ts', '--layer', layer, ...args, '--function', path.join(FUNCTIONS, 'layered'), '--handler', 'layered'], { cwd: REPO_ROOT }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const ok = await cli(['--layer', extra]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/^layers: php-8\.2\.32-al2023-portable-x86_64\.zip \d+\.\d\d MB \+ extra-layer\.zip 0\.00 MB \+ function 0\.00 MB = \d+\.\d\d MB of 250 MB unzipped$/m);
    const refused = await cli(['--layer', clash]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^lambda-runtime-builder invoke: the layers cannot be combined: .*clash-layer\.zip/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });

  it('leaves no container behind', async () => {
    expect(runs.length).toBeGreaterThanOrEqual(10);
    // Only this file's containers: other suites may be building in the same engine right now.
    for (const run of runs) expect(await engine.listContainers({ [OWNER_LABEL]: 'true', [INVOKE_LABEL]: run.runId })).toEqual([]);
    const ours = new Set(runs.flatMap((run) => run.invocations.map((o) => o.containerId)));
    const left = await engine.listContainers({ [OWNER_LABEL]: 'true' });
    expect(left.filter((id) => ours.has(id))).toEqual([]);
    // The CLI's runs too: any container carrying the invoke label, whatever its run id.
    const { stdout } = await execFileP('docker', ['ps', '--all', '--quiet', '--filter', `label=${INVOKE_LABEL}`]);
    expect(stdout.trim()).toBe('');
  });
});
