import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvokePayloadTooLargeError,
  MAX_SYNC_PAYLOAD_BYTES,
  RESPONSE_TOO_LARGE_BODY,
  RuntimeApiServer,
  TRACE_ID_PATTERN,
  type RuntimeApiServerOptions,
} from '../../../src/emulator/index.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const servers: RuntimeApiServer[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const agent of agents.splice(0)) agent.destroy();
});

async function startServer(options: RuntimeApiServerOptions = {}): Promise<{ api: RuntimeApiServer; call: typeof call }> {
  const api = new RuntimeApiServer({ functionName: 'fn', ...options });
  servers.push(api);
  const { host, port } = await api.listen();
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  const call = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request({ host, port, method, path: `/2018-06-01/runtime${path}`, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { api, call };
}

function requestIdOf(answer: Answer): string {
  return String(answer.headers['lambda-runtime-aws-request-id']);
}

describe('GET /invocation/next', () => {
  it('blocks until an event is queued, then answers with the event and the Lambda headers', async () => {
    const { api, call } = await startServer({ timeoutMs: 4000 });
    let answered = false;
    const next = call('GET', '/invocation/next').then((answer) => {
      answered = true;
      return answer;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(false);

    const before = Date.now();
    const invocation = api.invoke('{"hello":"world"}', {
      clientContext: { custom: { k: 'vé' } },
      cognitoIdentity: '{"cognitoIdentityId":"id"}',
    });
    const answer = await next;
    expect(answer.status).toBe(200);
    expect(answer.body.toString()).toBe('{"hello":"world"}');
    const id = requestIdOf(answer);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const deadline = Number(answer.headers['lambda-runtime-deadline-ms']);
    expect(deadline).toBeGreaterThanOrEqual(before + 4000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 4000);
    expect(answer.headers['lambda-runtime-invoked-function-arn']).toBe('arn:aws:lambda:us-east-1:000000000000:function:fn');
    expect(answer.headers['lambda-runtime-trace-id']).toMatch(TRACE_ID_PATTERN);
    expect(JSON.parse(String(answer.headers['lambda-runtime-client-context']))).toEqual({ custom: { k: 'vé' } });
    expect(answer.headers['lambda-runtime-cognito-identity']).toBe('{"cognitoIdentityId":"id"}');

    const posted = await call('POST', `/invocation/${id}/response`, 'OK!');
    expect(posted.status).toBe(202);
    expect(posted.body.toString()).toBe('{"status":"OK"}');
    const result = await invocation;
    expect(result).toMatchObject({ requestId: id, status: 'success', traceId: answer.headers['lambda-runtime-trace-id'] });
    expect(result.body.toString()).toBe('OK!');
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('sends no trace header when the invocation says none, and takes a given trace id', async () => {
    const { api, call } = await startServer();
    const first = api.invoke('{}', { traceId: null });
    const a = await call('GET', '/invocation/next');
    expect(a.headers['lambda-runtime-trace-id']).toBeUndefined();
    expect(a.headers['lambda-runtime-client-context']).toBeUndefined();
    expect(a.headers['lambda-runtime-cognito-identity']).toBeUndefined();
    await call('POST', `/invocation/${requestIdOf(a)}/response`, '1');
    expect((await first).traceId).toBeNull();

    const second = api.invoke('{}', { traceId: 'Root=1-00000000-000000000000000000000000;Sampled=1' });
    const b = await call('GET', '/invocation/next');
    expect(b.headers['lambda-runtime-trace-id']).toBe('Root=1-00000000-000000000000000000000000;Sampled=1');
    await call('POST', `/invocation/${requestIdOf(b)}/response`, '2');
    await second;
  });

  it('serves queued events in order', async () => {
    const { api, call } = await startServer();
    const results = [api.invoke('"a"'), api.invoke('"b"'), api.invoke('"c"')];
    for (const expected of ['"a"', '"b"', '"c"']) {
      const next = await call('GET', '/invocation/next');
      expect(next.body.toString()).toBe(expected);
      await call('POST', `/invocation/${requestIdOf(next)}/response`, next.body);
    }
    expect((await Promise.all(results)).map((r) => r.body.toString())).toEqual(['"a"', '"b"', '"c"']);
  });

  it('does not lose an event when the runtime waiting on /next goes away', async () => {
    const { api, call } = await startServer();
    const { host, port } = await api.listen();
    const doomed = request({ host, port, path: '/2018-06-01/runtime/invocation/next' });
    doomed.on('error', () => {});
    doomed.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    doomed.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const invocation = api.invoke('"kept"');
    const next = await call('GET', '/invocation/next');
    expect(next.body.toString()).toBe('"kept"');
    await call('POST', `/invocation/${requestIdOf(next)}/response`, 'done');
    expect((await invocation).body.toString()).toBe('done');
  });

  it('ignores a /next from a runtime that closed its connection right after sending it (killed)', async () => {
    const { api, call } = await startServer();
    const { host, port } = await api.listen();
    api.markProcessStart();
    await new Promise<void>((resolve) => {
      const socket = connect(port, host, () => {
        socket.end('GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n');
        // Like a killed process: request and end of connection are both queued before the
        // server reads any of it (block this event loop while the kernel delivers them).
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve());
      socket.resume();
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(api.initState).toBe('pending');
    const invocation = api.invoke('"for the live runtime"');
    const next = await call('GET', '/invocation/next');
    expect(api.initState).toBe('done');
    expect(next.body.toString()).toBe('"for the live runtime"');
    await call('POST', `/invocation/${requestIdOf(next)}/response`, 'ok');
    expect((await invocation).status).toBe('success');
  });
});

describe('POST /invocation/{id}/response', () => {
  it('answers 400 for an unknown id and 403 for a second response', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const next = await call('GET', '/invocation/next');
    const id = requestIdOf(next);
    expect((await call('POST', '/invocation/not-a-request/response', 'x')).status).toBe(400);
    expect((await call('POST', `/invocation/${id}/response`, 'first')).status).toBe(202);
    const second = await call('POST', `/invocation/${id}/response`, 'second');
    expect(second.status).toBe(403);
    expect(JSON.parse(second.body.toString()).errorType).toBe('InvalidStateTransition');
    expect((await call('POST', `/invocation/${id}/error`, '{}')).status).toBe(403);
    expect((await invocation).body.toString()).toBe('first');
  });

  it('answers 413 with the exact Lambda body over 6,291,556 bytes and ends the invocation as Function.ResponseSizeTooLarge', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    const tooBig = await call('POST', `/invocation/${id}/response`, Buffer.alloc(MAX_SYNC_PAYLOAD_BYTES + 1, 0x61));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.toString()).toBe(
      '{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}',
    );
    expect(tooBig.body.toString()).toBe(RESPONSE_TOO_LARGE_BODY);
    const result = await invocation;
    expect(result).toMatchObject({
      status: 'error',
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: 'Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).',
    });
    expect(JSON.parse(result.body.toString())).toEqual({
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: 'Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).',
    });
    expect(api.inFlightCount).toBe(0);
    // Like the Runtime Interface Emulator: the invocation is over, so an error report is refused.
    const late = await call('POST', `/invocation/${id}/error`, '{"errorMessage":"x","errorType":"Y"}', {
      'Content-Type': 'application/vnd.aws.lambda.error+json',
    });
    expect(late.status).toBe(403);
    expect(JSON.parse(late.body.toString()).errorType).toBe('InvalidStateTransition');
  });

  it('accepts a response of exactly 6,291,556 bytes', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    const atLimit = await call('POST', `/invocation/${id}/response`, Buffer.alloc(MAX_SYNC_PAYLOAD_BYTES, 0x62));
    expect(atLimit.status).toBe(202);
    expect((await invocation).body.length).toBe(MAX_SYNC_PAYLOAD_BYTES);
  });
});

describe('POST /invocation/{id}/error', () => {
  it('resolves the invocation as an error with the posted body, type and header', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    const body = '{"errorMessage":"boom","errorType":"RuntimeException","stackTrace":["#0 a.php(1)"]}';
    const posted = await call('POST', `/invocation/${id}/error`, body, {
      'Content-Type': 'application/vnd.aws.lambda.error+json',
      'lambda-runtime-function-error-type': 'Runtime.HandlerError',
    });
    expect(posted.status).toBe(202);
    const result = await invocation;
    expect(result).toMatchObject({
      status: 'error',
      errorType: 'RuntimeException',
      errorMessage: 'boom',
      functionErrorType: 'Runtime.HandlerError',
      contentType: 'application/vnd.aws.lambda.error+json',
    });
    expect(result.body.toString()).toBe(body);
  });

  it('falls back to the header when the body is not JSON', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    await call('POST', `/invocation/${id}/error`, 'not json', { 'Lambda-Runtime-Function-Error-Type': 'Runtime.Crash' });
    expect(await invocation).toMatchObject({ status: 'error', errorType: 'Runtime.Crash', errorMessage: 'not json' });
  });
});

describe('init', () => {
  it('an exit reported before anyone waits still ends a later waitForInit()', async () => {
    const { api } = await startServer();
    api.markProcessStart();
    api.reportRuntimeExit({ code: 127, signal: null });
    await expect(api.waitForInit()).resolves.toEqual({ status: 'exited', exit: { code: 127, signal: null } });
    // A new process starts a new init phase: the old exit no longer answers.
    api.markProcessStart();
    const pending = api.waitForInit();
    const raced = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still pending'), 50))]);
    expect(raced).toBe('still pending');
    await api.close();
    await expect(pending).resolves.toMatchObject({ status: 'exited' });
  });

  it('accepts an init error before the first /next and answers 403 after init ended', async () => {
    const { api, call } = await startServer();
    api.markProcessStart();
    const events: string[] = [];
    api.on('init-error', (report) => events.push(report.errorType));
    const waited = api.waitForInit();
    const posted = await call('POST', '/init/error', '{"errorMessage":"no handler","errorType":"Runtime.NoSuchHandler","stackTrace":[]}', {
      'Lambda-Runtime-Function-Error-Type': 'Runtime.NoSuchHandler',
    });
    expect(posted.status).toBe(202);
    const outcome = await waited;
    expect(outcome.status).toBe('error');
    expect(outcome.status === 'error' && outcome.error.errorMessage).toBe('no handler');
    expect(events).toEqual(['Runtime.NoSuchHandler']);
    expect(api.initState).toBe('failed');
    // A second report in the same init phase is an invalid transition.
    expect((await call('POST', '/init/error', '{}')).status).toBe(403);

    // Queued invocations can be failed with the init error.
    const queued = api.invoke('{}');
    expect(api.failQueued()).toBe(1);
    expect(await queued).toMatchObject({ status: 'error', errorType: 'Runtime.NoSuchHandler' });

    // A new process: init again; after its first /next, init errors are refused.
    api.markProcessStart();
    const ready = api.waitForInit();
    const invocation = api.invoke('{}');
    const next = await call('GET', '/invocation/next');
    expect(await ready).toMatchObject({ status: 'ready' });
    expect(api.initDurationMs).toBeGreaterThan(0);
    const late = await call('POST', '/init/error', '{"errorMessage":"late","errorType":"X"}');
    expect(late.status).toBe(403);
    await call('POST', `/invocation/${requestIdOf(next)}/response`, 'ok');
    await invocation;
  });

  it('measures Init Duration from markProcessStart to the first /next', async () => {
    const { api, call } = await startServer();
    api.markProcessStart(performance.now() - 50);
    const done: Array<number | undefined> = [];
    api.on('init-done', ({ initDurationMs }) => done.push(initDurationMs));
    const invocation = api.invoke('{}');
    const next = await call('GET', '/invocation/next');
    expect(api.initDurationMs).toBeGreaterThanOrEqual(50);
    expect(done).toEqual([api.initDurationMs]);
    await call('POST', `/invocation/${requestIdOf(next)}/response`, 'ok');
    await invocation;
  });

  it('ends a pending init as exited when the runtime process exits', async () => {
    const { api } = await startServer();
    api.markProcessStart();
    const waited = api.waitForInit();
    api.reportRuntimeExit({ code: 2, signal: null });
    expect(await waited).toEqual({ status: 'exited', exit: { code: 2, signal: null } });
  });
});

describe('limits and timeouts', () => {
  it('rejects events over the request limit without dispatching them', async () => {
    const { api } = await startServer({ maxRequestBytes: 1000 });
    await expect(api.invoke('x'.repeat(1001))).rejects.toBeInstanceOf(InvokePayloadTooLargeError);
    expect(api.queuedCount).toBe(0);
    const server = new RuntimeApiServer();
    servers.push(server);
    expect(server.maxRequestBytes).toBe(6_291_556);
    await expect(server.invoke(Buffer.alloc(6_291_557))).rejects.toMatchObject({ errorType: 'RequestEntityTooLargeException' });
  });

  it('times an invocation out at its deadline, emits timeout, and refuses the late response', async () => {
    const { api, call } = await startServer({ timeoutMs: 150 });
    const timeouts: string[] = [];
    api.on('timeout', (event) => timeouts.push(event.requestId));
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    const result = await invocation;
    expect(result.status).toBe('timeout');
    expect(result.errorType).toBe('Sandbox.Timedout');
    expect(result.errorMessage).toBe(`RequestId: ${id} Error: Task timed out after 0.15 seconds`);
    expect(JSON.parse(result.body.toString())).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: result.errorMessage });
    expect(result.durationMs).toBeGreaterThanOrEqual(140);
    expect(timeouts).toEqual([id]);
    expect((await call('POST', `/invocation/${id}/response`, 'late')).status).toBe(403);
  });

  it('per-invocation timeouts override the server timeout and print two decimals', async () => {
    const { api, call } = await startServer({ timeoutMs: 60_000 });
    const invocation = api.invoke('{}', { timeoutMs: 100 });
    await call('GET', '/invocation/next');
    expect((await invocation).errorMessage).toMatch(/Task timed out after 0\.10 seconds$/);
  });

  it('ends the in-flight invocation as Runtime.ExitError when the runtime exits', async () => {
    const { api, call } = await startServer();
    const invocation = api.invoke('{}');
    const id = requestIdOf(await call('GET', '/invocation/next'));
    const queued = api.invoke('"later"');
    api.reportRuntimeExit({ code: null, signal: 'SIGKILL' });
    const result = await invocation;
    expect(result).toMatchObject({ status: 'error', errorType: 'Runtime.ExitError' });
    expect(result.errorMessage).toBe(`RequestId: ${id} Error: Runtime exited with error: signal: SIGKILL`);
    // Queued events wait for the next runtime process.
    expect(api.queuedCount).toBe(1);
    const next = await call('GET', '/invocation/next');
    await call('POST', `/invocation/${requestIdOf(next)}/response`, 'served');
    expect((await queued).body.toString()).toBe('served');
  });

  it('ends everything unfinished as Emulator.Closed on close()', async () => {
    const { api, call } = await startServer();
    const inFlight = api.invoke('{}');
    await call('GET', '/invocation/next');
    const queued = api.invoke('{}');
    await api.close();
    expect(await inFlight).toMatchObject({ status: 'error', errorType: 'Emulator.Closed' });
    expect(await queued).toMatchObject({ status: 'error', errorType: 'Emulator.Closed' });
    await expect(api.invoke('{}')).rejects.toThrow(/closed/);
  });
});

describe('routing', () => {
  it('answers 404 for unknown paths and 405 for wrong methods', async () => {
    const { call } = await startServer();
    expect((await call('GET', '/nothing')).status).toBe(404);
    expect((await call('POST', '/invocation/next', 'x')).status).toBe(405);
    expect((await call('GET', '/invocation/abc/response')).status).toBe(405);
    expect((await call('GET', '/init/error')).status).toBe(405);
  });

  it('gives the address to put in AWS_LAMBDA_RUNTIME_API', async () => {
    const { api } = await startServer();
    const { host, port, address } = await api.listen();
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(address).toBe(`127.0.0.1:${port}`);
    expect(api.address).toBe(address);
  });
});
