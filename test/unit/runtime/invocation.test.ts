import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TRACE_ID_PATTERN, type RuntimeApiServer } from '../../../src/emulator/index.js';
import { FIXTURES, json, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();
const behaviours = path.join(FIXTURES, 'behaviours');

function startBehaviours(options: { timeoutMs?: number; memorySizeMb?: number } = {}) {
  return harness.start({
    handler: 'behaviours.behave',
    taskRoot: behaviours,
    memorySizeMb: options.memorySizeMb,
    api: { timeoutMs: options.timeoutMs ?? 10_000, functionName: 'test-function' },
  });
}

async function pidOf(api: RuntimeApiServer): Promise<number> {
  const result = await api.invoke('{"do":"pid"}');
  expect(result.status, result.body.toString()).toBe('success');
  return json(result.body).pid as number;
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
    expect(runtime.stderr).toContain(`${result.requestId}\tERROR\tRuntimeException: boom`);

    const next = await api.invoke('{"do":"echo-event","n":1}');
    expect(json(next.body)).toEqual({ do: 'echo-event', n: 1 });
    expect(await pidOf(api)).toBe(pid);
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

  it('encodes non-string results as JSON and sends strings as they are', async () => {
    const { api } = await startBehaviours();
    const cases: Array<[unknown, string]> = [
      ['plain text', 'plain text'],
      [{ a: [1, 2.5] }, '{"a":[1,2.5]}'],
      [42, '42'],
      [1.0, '1'], // JSON has no 1.0 for PHP to preserve: json_decode gives int 1
      [null, 'null'],
      [true, 'true'],
      ['ünïcode/slash', 'ünïcode/slash'],
      [['ü/'], '["ü/"]'],
    ];
    for (const [value, expected] of cases) {
      const result = await api.invoke(JSON.stringify({ do: 'types', value }));
      expect(result.status).toBe('success');
      expect(result.body.toString('utf8')).toBe(expected);
    }
  });
});

describe('fatal errors', () => {
  it('reports memory exhaustion for its request, then PHP restarts and serves the next event', async () => {
    const { api, runtime } = await startBehaviours();
    const pid = await pidOf(api);
    const result = await api.invoke('{"do":"fatal-memory"}');
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('E_ERROR');
    expect(result.functionErrorType).toBe('Runtime.ExitError');
    expect(result.errorMessage).toMatch(/Allowed memory size of \d+ bytes exhausted/);
    expect(json(result.body).stackTrace[0]).toMatch(/behaviours\.php\(\d+\)$/);

    const newPid = await pidOf(api);
    expect(newPid).not.toBe(pid);
    expect(runtime.running).toBe(true);
    expect(runtime.stderr).toContain(`${result.requestId}\tWARN\tRestarting PHP: the process cannot be reused after a fatal error`);
  });

  it('reports a compile error in a file the handler includes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-fatal-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'compile-error.php');
    await writeFile(file, '<?php\nfunction broken() { break; }\n');
    const { api } = await startBehaviours();
    const pid = await pidOf(api);
    const result = await api.invoke(JSON.stringify({ do: 'fatal-compile', file }));
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('E_COMPILE_ERROR');
    expect(result.errorMessage).toContain("'break' not in the 'loop' or 'switch' context");
    expect(await pidOf(api)).not.toBe(pid);
  });

  it('reports exit() in the handler as Runtime.ExitError and restarts', async () => {
    const { api } = await startBehaviours();
    const pid = await pidOf(api);
    const result = await api.invoke('{"do":"exit"}');
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('Runtime.ExitError');
    expect(await pidOf(api)).not.toBe(pid);
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
    expect(big.body.length).toBe(size);
    expect(big.body.every((byte) => byte === 0x79)).toBe(true);
  });

  it('turns a 413 on the response into a Function.ResponseSizeTooLarge invocation error', async () => {
    const { api } = await startBehaviours();
    const result = await api.invoke(JSON.stringify({ do: 'size', size: 7 * 1024 * 1024 }));
    expect(result.status).toBe('error');
    expect(result.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(result.functionErrorType).toBe('Function.ResponseSizeTooLarge');
    expect(result.errorMessage).toContain('7340032 bytes');
    expect(result.errorMessage).toContain('Exceeded maximum allowed payload size (6291556 bytes).');
    expect((await api.invoke('{"do":"pid"}')).status).toBe('success');
  });
});

describe('output', () => {
  it('sends what the handler prints to the log, never into the response', async () => {
    const { api, runtime } = await startBehaviours();
    const result = await api.invoke('{"do":"echo"}');
    expect(result.status).toBe('success');
    expect(result.body.toString()).toBe('the-result');
    expect(runtime.stdout).toContain('printed-by-handler\nalso-printed\nleft-in-an-open-buffer\n');
    // The buffer the handler left open was closed: the next response is clean as well.
    const next = await api.invoke('{"do":"types","value":"clean"}');
    expect(next.body.toString()).toBe('clean');
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
