import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN, type RuntimeApiServer } from '../../../src/emulator/index.js';
import { FIXTURES, json, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();
const behaviours = path.join(FIXTURES, 'behaviours');

function startBehaviours(options: { timeoutMs?: number; memorySizeMb?: number; addressSpaceKib?: number } = {}) {
  return harness.start({
    handler: 'behaviours.behave',
    taskRoot: behaviours,
    memorySizeMb: options.memorySizeMb,
    addressSpaceKib: options.addressSpaceKib,
    api: { timeoutMs: options.timeoutMs ?? 10_000, functionName: 'test-function' },
  });
}

/** The lines of `text` that belong to a request and have a level. */
function logLines(text: string, requestId: string, level: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${requestId}\t${level}\t`));
}

/** How often `needle` occurs in `text`. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function pidOf(api: RuntimeApiServer): Promise<number> {
  return (await processOf(api)).pid;
}

/** The serving process (pid) and the PHP program in it (its start time). */
async function processOf(api: RuntimeApiServer): Promise<{ pid: number; started: number }> {
  const result = await api.invoke('{"do":"pid"}');
  expect(result.status, result.body.toString()).toBe('success');
  const { pid, started } = json(result.body) as { pid: number; started: number };
  return { pid, started };
}

/** The sockets a process holds besides its stdio (Node's pipes are socket pairs): `socket:[inode]`. */
function socketsOf(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`)
    .filter((fd) => Number(fd) > 2)
    .map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`))
    .filter((target) => target.startsWith('socket:'));
}

/** A restart in place (pcntl_exec): the same process runs a fresh PHP. */
function expectRestartedInPlace(before: { pid: number; started: number }, after: { pid: number; started: number }): void {
  expect(after.pid).toBe(before.pid);
  expect(after.started).toBeGreaterThan(before.started);
}

describe('context', () => {
  it('gives the handler every context field, as an object and as an array', async () => {
    const { api } = await startBehaviours({ timeoutMs: 5000, memorySizeMb: 256 });
    const clientContext = { client: { app_title: 'app' }, custom: { k: 'v' }, env: { locale: 'fr' } };
    const cognitoIdentity = { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' };
    const before = Date.now();
    const result = await api.invoke('{"do":"context"}', { clientContext, cognitoIdentity, traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1' });
    expect(result.status, result.body.toString()).toBe('success');
    const body = json(result.body);
    const ctx = body.asArray;
    expect(ctx.awsRequestId).toBe(result.requestId);
    expect(ctx.invokedFunctionArn).toBe(api.functionArn);
    expect(ctx.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:test-function');
    expect(ctx.deadlineMs).toBeGreaterThanOrEqual(before + 5000 - 50);
    expect(ctx.deadlineMs).toBeLessThanOrEqual(Date.now() + 5000);
    expect(body.remaining).toBeGreaterThan(3000);
    expect(body.remaining).toBeLessThanOrEqual(5000);
    expect(ctx.traceId).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1');
    expect(ctx.clientContext).toEqual(clientContext);
    expect(ctx.identity).toEqual(cognitoIdentity);
    expect(ctx.functionName).toBe('test-function');
    expect(ctx.functionVersion).toBe('$LATEST');
    expect(ctx.memoryLimitInMB).toBe(256);
    expect(ctx.logGroupName).toBe('/aws/lambda/test-function');
    expect(ctx.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\]/);
    expect(body.arrayAccess.awsRequestId).toBe(result.requestId);
    expect(body.arrayAccess.invokedFunctionArn).toBe(api.functionArn);
    expect(body.arrayAccess.remainingTimeInMillis).toBeGreaterThan(0);
    expect(body.json.awsRequestId).toBe(result.requestId);
  });

  it('has null client context and identity when the headers are absent', async () => {
    const { api } = await startBehaviours();
    const ctx = json((await api.invoke('{"do":"context"}')).body).asArray;
    expect(ctx.clientContext).toBeNull();
    expect(ctx.identity).toBeNull();
  });
});

describe('_X_AMZN_TRACE_ID', () => {
  it('is set from Lambda-Runtime-Trace-Id and cleared when the header is absent', async () => {
    const { api } = await startBehaviours();
    const traceId = 'Root=1-65a0b1c2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1';
    const first = json((await api.invoke('{"do":"trace"}', { traceId })).body);
    expect(first).toEqual({ getenv: traceId, server: traceId, env: traceId, context: traceId });

    const second = json((await api.invoke('{"do":"trace"}', { traceId: null })).body);
    expect(second).toEqual({ getenv: false, server: null, env: null, context: null });

    const third = json((await api.invoke('{"do":"trace"}')).body);
    expect(third.getenv).toMatch(TRACE_ID_PATTERN);
    expect(third.server).toBe(third.getenv);
  });
});

describe('handler errors', () => {
  it('reports a thrown exception as an invocation error and keeps serving in the same process', async () => {
    const { api, runtime } = await startBehaviours();
    const pid = await pidOf(api);
    const result = await api.invoke('{"do":"throw"}');
    expect(result.status).toBe('error');
    expect(result.contentType).toBe('application/vnd.aws.lambda.error+json');
    expect(result.functionErrorType).toBe('Runtime.HandlerError');
    expect(result.errorType).toBe('RuntimeException');
    const body = json(result.body);
    expect(Object.keys(body).sort()).toEqual(['errorMessage', 'errorType', 'stackTrace']);
    expect(body.errorMessage).toBe('boom');
    expect(body.errorType).toBe('RuntimeException');
    expect(body.stackTrace[0]).toMatch(/behaviours\.php\(\d+\)$/);
    expect(body.stackTrace[1]).toBe('#0 [lambda runtime]: behave()');
    expect(body.stackTrace).toContain('Caused by LogicException: root cause');
    expect(body.stackTrace.join('\n')).not.toContain('/runtime/src/');
    // The log line carries exactly what was posted: message and trace apart, on one line.
    const [line, ...others] = logLines(runtime.stderr, result.requestId, 'ERROR');
    expect(others).toEqual([]);
    expect(line).toBe(`${result.requestId}\tERROR\tInvocation error: ${result.body.toString()}`);

    const next = await api.invoke('{"do":"echo-event","n":1}');
    expect(json(next.body)).toEqual({ do: 'echo-event', n: 1 });
    expect(await pidOf(api)).toBe(pid);
  });

  it('logs a multi-line message and its stack trace unambiguously, on one line', async () => {
    const { api, runtime } = await startBehaviours();
    const result = await api.invoke('{"do":"throw-multiline"}');
    expect(result.errorMessage).toBe('first line\nsecond line\tand a tab');
    const lines = logLines(runtime.stderr, result.requestId, 'ERROR');
    expect(lines).toHaveLength(1);
    const message = lines[0]!.slice(`${result.requestId}\tERROR\t`.length);
    expect(message).not.toMatch(/[\r\t]/);
    expect(message.startsWith('Invocation error: ')).toBe(true);
    const logged = JSON.parse(message.slice('Invocation error: '.length));
    expect(logged).toEqual({
      errorMessage: 'first line\nsecond line\tand a tab',
      errorType: 'RuntimeException',
      stackTrace: json(result.body).stackTrace,
    });
    expect(logged.stackTrace[0]).toMatch(/behaviours\.php\(\d+\)$/);
  });

  it('reports a call to an undefined function (an Error) without restarting PHP', async () => {
    const { api } = await startBehaviours();
    const pid = await pidOf(api);
    const result = await api.invoke('{"do":"undefined-function"}');
    expect(result.errorType).toBe('Error');
    expect(result.errorMessage).toContain('this_function_does_not_exist');
    expect(await pidOf(api)).toBe(pid);
  });

  it.each([
    ['unencodable-utf8', /Malformed UTF-8/],
    ['unencodable-nan', /Inf and NaN/],
  ])('reports a result that cannot be JSON-encoded (%s) as an error, never as false', async (behaviour, message) => {
    const { api } = await startBehaviours();
    const result = await api.invoke(JSON.stringify({ do: behaviour }));
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('JsonException');
    expect(result.errorMessage).toMatch(message);
    expect((await api.invoke('{"do":"pid"}')).status).toBe('success');
  });

  it('JSON-encodes every result, strings too, as application/json', async () => {
    const { api } = await startBehaviours();
    const cases: Array<[unknown, string]> = [
      ['Hello, World!', '"Hello, World!"'],
      ['', '""'],
      ['{"already":"json"}', '"{\\"already\\":\\"json\\"}"'],
      [{ a: [1, 2.5] }, '{"a":[1,2.5]}'],
      [42, '42'],
      [1.0, '1'], // JSON has no 1.0 for PHP to preserve: json_decode gives int 1
      [null, 'null'],
      [true, 'true'],
      ['ünïcode/slash', '"ünïcode/slash"'],
      [['ü/'], '["ü/"]'],
    ];
    for (const [value, expected] of cases) {
      const result = await api.invoke(JSON.stringify({ do: 'types', value }));
      expect(result.status).toBe('success');
      expect(result.contentType).toBe('application/json');
      expect(result.body.toString('utf8')).toBe(expected);
    }
  });

  it('sends a RawResponse as it is, with its content type', async () => {
    const { api } = await startBehaviours();
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x22, 0x41]);
    const typed = await api.invoke(JSON.stringify({ do: 'raw', base64: bytes.toString('base64'), type: 'image/png' }));
    expect(typed.status, typed.body.toString()).toBe('success');
    expect(typed.contentType).toBe('image/png');
    expect(typed.body.equals(bytes)).toBe(true);

    const untyped = await api.invoke(JSON.stringify({ do: 'raw', base64: Buffer.from('Hello, World!').toString('base64') }));
    expect(untyped.contentType).toBe('application/octet-stream');
    expect(untyped.body.toString()).toBe('Hello, World!');

    const invalid = await api.invoke('{"do":"raw-invalid"}');
    expect(invalid.status).toBe('error');
    expect(invalid.errorType).toBe('InvalidArgumentException');
    expect(invalid.errorMessage).toBe('RawResponse body must be a string, got array');
  });

  it('points to RawResponse when a returned string is not UTF-8', async () => {
    const { api } = await startBehaviours();
    const result = await api.invoke('{"do":"binary-string"}');
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('JsonException');
    expect(result.errorMessage).toMatch(/Malformed UTF-8.*return new \\LambdaRuntime\\RawResponse\(\$bytes, \$contentType\)/);
  });
});

describe('fatal errors', () => {
  it('reports memory exhaustion for its request, then PHP restarts and serves the next event', async () => {
    const { api, runtime } = await startBehaviours();
    const before = await processOf(api);
    const result = await api.invoke('{"do":"fatal-memory"}');
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('E_ERROR');
    expect(result.functionErrorType).toBe('Runtime.ExitError');
    expect(result.errorMessage).toMatch(/Allowed memory size of \d+ bytes exhausted/);
    expect(json(result.body).stackTrace[0]).toMatch(/behaviours\.php\(\d+\)$/);

    expectRestartedInPlace(before, await processOf(api));
    expect(runtime.running).toBe(true);
    expect(runtime.stderr).toContain(`${result.requestId}\tWARN\tRestarting PHP: the process cannot be reused after a fatal error`);
    // Printed once (the runtime's line), not a second time by PHP itself.
    expect(occurrences(runtime.stdout + runtime.stderr, 'Allowed memory size of')).toBe(1);
    expect(logLines(runtime.stderr, result.requestId, 'ERROR')).toHaveLength(1);
  });

  it('reports runaway recursion as the PHP fatal error, before the sandbox runs out of memory', async () => {
    // 128 MB of function memory in an address space a little larger (PHP's code and libraries
    // take about 80 MB of it): without a memory_limit below the sandbox's size, the allocation
    // fails first and PHP dies ("Out of memory", exit 1) without anything reported. OPcache's
    // shared memory (opcache.memory_consumption, 64 MB in the layer's php.ini) is reserved address
    // space on top, not memory the sandbox uses until pages are touched.
    const { api, runtime } = await startBehaviours({ memorySizeMb: 128, addressSpaceKib: (224 + 64) * 1024 });
    const result = await api.invoke('{"do":"recurse"}');
    expect(result.status, result.body.toString()).toBe('error');
    expect(result.errorType).toBe('E_ERROR');
    expect(result.functionErrorType).toBe('Runtime.ExitError');
    // memory_limit: 128 MB minus the 32 MB reserve.
    expect(result.errorMessage).toMatch(/^Allowed memory size of 100663296 bytes exhausted/);
    expect(occurrences(runtime.stdout + runtime.stderr, 'Allowed memory size of')).toBe(1);
    expect((await api.invoke('{"do":"pid"}')).status).toBe('success');
  });

  it('reports a compile error in a file the handler includes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-fatal-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'compile-error.php');
    await writeFile(file, '<?php\nfunction broken() { break; }\n');
    const { api } = await startBehaviours();
    const before = await processOf(api);
    const result = await api.invoke(JSON.stringify({ do: 'fatal-compile', file }));
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('E_COMPILE_ERROR');
    expect(result.errorMessage).toContain("'break' not in the 'loop' or 'switch' context");
    expectRestartedInPlace(before, await processOf(api));
  });

  it('reports exit() in the handler as Runtime.ExitError and restarts', async () => {
    const { api, runtime } = await startBehaviours();
    const before = await processOf(api);
    const socketsBefore = socketsOf(runtime.pid!);
    const result = await api.invoke('{"do":"exit"}');
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('Runtime.ExitError');
    expect(result.errorMessage).toBe('The handler called exit() during the invocation');
    expectRestartedInPlace(before, await processOf(api));
    // The old program's connections were closed, not left open in the new one: after one more
    // invocation it holds as many as the first program held after its first (connections and
    // curl's own socket pairs), none of them the old ones.
    const socketsAfter = socketsOf(runtime.pid!);
    expect(socketsAfter).toHaveLength(socketsBefore.length);
    expect(socketsAfter.filter((s) => socketsBefore.includes(s))).toEqual([]);
  });
});

describe('payload sizes', () => {
  it('handles a 5 MB event and a 5 MB response', async () => {
    const { api } = await startBehaviours();
    const size = 5 * 1024 * 1024;
    const event = JSON.stringify({ do: 'event-size', data: 'x'.repeat(size) });
    const seen = await api.invoke(event);
    expect(seen.status).toBe('success');
    expect(json(seen.body)).toEqual({ length: size, head: 'xxx' });

    const big = await api.invoke(JSON.stringify({ do: 'size', size }));
    expect(big.status).toBe('success');
    expect(big.body.length).toBe(size + 2); // a JSON string: quoted
    expect(json(big.body)).toBe('y'.repeat(size));
  });

  it('after a 413 on the response logs one error line and posts no /error (the API ended the invocation)', async () => {
    const { api, runtime } = await startBehaviours();
    const result = await api.invoke(JSON.stringify({ do: 'size', size: 7 * 1024 * 1024 }));
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(result.errorMessage).toBe('Response payload size (7340034 bytes) exceeded maximum allowed payload size (6291556 bytes).');
    expect((await api.invoke('{"do":"pid"}')).status).toBe('success');
    expect(logLines(runtime.stderr, result.requestId, 'ERROR')).toEqual([
      `${result.requestId}\tERROR\tResponse refused (HTTP 413): 7340034 bytes is over the maximum payload size: `
        + 'Exceeded maximum allowed payload size (6291556 bytes). The invocation ends as Function.ResponseSizeTooLarge.',
    ]);
    // A POST /error would have been answered 403 and logged as a warning.
    expect(logLines(runtime.stderr, result.requestId, 'WARN')).toEqual([]);
  });
});

describe('output', () => {
  it('sends what the handler prints to the log, never into the response', async () => {
    const { api, runtime } = await startBehaviours();
    const result = await api.invoke('{"do":"echo"}');
    expect(result.status).toBe('success');
    expect(result.body.toString()).toBe('"the-result"');
    expect(runtime.stdout).toContain('printed-by-handler\nalso-printed\nleft-in-an-open-buffer\n');
    // The buffer the handler left open was closed: the next response is clean as well.
    const next = await api.invoke('{"do":"types","value":"clean"}');
    expect(next.body.toString()).toBe('"clean"');
  });

  it('logs a PHP warning once, as a runtime WARN line of its request; @ silences it', async () => {
    const { api, runtime } = await startBehaviours();
    const result = await api.invoke('{"do":"warn"}');
    expect(result.status, result.body.toString()).toBe('success');
    // error_get_last() still sees what @ silenced.
    expect(json(result.body)).toEqual({ lastError: 'silenced warning' });
    const all = runtime.stdout + runtime.stderr;
    expect(occurrences(all, 'custom warning')).toBe(1);
    expect(occurrences(all, 'silenced warning')).toBe(0);
    expect(logLines(runtime.stderr, result.requestId, 'WARN')).toEqual([
      expect.stringMatching(new RegExp(`^${result.requestId}\tWARN\tPHP Warning:  custom warning in .*/behaviours\\.php on line \\d+$`)),
    ]);
  });
});

describe('the layer php.ini', () => {
  it('is the one PHP loads in these tests, and the runtime sizes memory_limit from the function memory', async () => {
    const { api, layerDir } = await startBehaviours({ memorySizeMb: 512 });
    const ini = json((await api.invoke('{"do":"ini"}')).body);
    expect(ini).toEqual({
      loaded: path.join(layerDir, 'etc/php/php.ini'),
      memory_limit: String((512 - 51) * 1024 * 1024), // 10 % reserve above 320 MB
      display_errors: '0',
      log_errors: '0',
    });
  });
});

describe('timeouts', () => {
  it('ends a slow invocation as a timeout; the owner restarts the runtime and it serves again', async () => {
    const { api, runtime } = await startBehaviours({ timeoutMs: 300 });
    api.on('timeout', () => void runtime.restart());
    const pid = await pidOf(api);
    const result = await api.invoke('{"do":"sleep","ms":5000}');
    expect(result.status).toBe('timeout');
    expect(result.errorMessage).toBe(`RequestId: ${result.requestId} Error: Task timed out after 0.30 seconds`);
    expect(await pidOf(api)).not.toBe(pid);
  });
});
