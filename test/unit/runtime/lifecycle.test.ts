import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalRuntime, RuntimeApiServer, lambdaEnvironment, localBootstrapCommand } from '../../../src/emulator/index.js';
import { FIXTURES, exitStatus, json, layerIni, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();
const behaviours = path.join(FIXTURES, 'behaviours');

/** A fake Runtime API answering every request with `status`. */
async function failingApi(status: number): Promise<{ server: Server; address: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end('{"errorMessage":"unrecoverable","errorType":"ServiceException"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  harness.track(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

function startAgainst(address: string): LocalRuntime {
  // The API server is only used for bookkeeping (process start/exit) here.
  const api = new RuntimeApiServer();
  harness.track(() => api.close());
  const runtime = new LocalRuntime({
    api,
    ...localBootstrapCommand(harness.layerDir()),
    env: lambdaEnvironment({ runtimeApi: address, handler: 'behaviours.behave', taskRoot: behaviours, extra: layerIni(harness.layerDir()) }),
  });
  harness.track(() => runtime.stop());
  runtime.start();
  return runtime;
}

describe('Runtime API failures', () => {
  it('exits non-zero (69) when /next answers 500', async () => {
    const fake = await failingApi(500);
    const runtime = startAgainst(fake.address);
    const exit = await runtime.exited;
    expect(exit.code).toBe(exitStatus().API_ERROR);
    expect(fake.paths).toEqual(['GET /2018-06-01/runtime/invocation/next']);
    expect(runtime.stderr).toMatch(/^-\tERROR\tRuntime API failure, exiting: GET \/runtime\/invocation\/next answered HTTP 500: unrecoverable$/m);
  });

  it('exits non-zero (69) when /next cannot connect', async () => {
    const fake = await failingApi(500);
    await new Promise((resolve) => fake.server.close(resolve));
    const runtime = startAgainst(fake.address);
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(runtime.stderr).toContain('GET /runtime/invocation/next failed');
  });

  it('exits non-zero when AWS_LAMBDA_RUNTIME_API is missing', async () => {
    const runtime = startAgainst('');
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(runtime.stderr).toContain('AWS_LAMBDA_RUNTIME_API is not set');
  });
});

describe('long-running process', () => {
  it('serves 1,000 sequential invocations in one PHP process without memory growth', async () => {
    const { api } = await harness.start({ handler: 'behaviours.behave', taskRoot: behaviours });
    const samples: Array<[number, number]> = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 10 === 5) {
        // The error path must not leak either.
        const failed = await api.invoke('{"do":"throw"}', { clientContext: { i } });
        expect(failed.status).toBe('error');
        continue;
      }
      const result = await api.invoke(JSON.stringify({ do: 'memory', i, pad: 'p'.repeat(i % 50) }), { cognitoIdentity: { i } });
      expect(result.status).toBe('success');
      const [pid, memory] = (json(result.body) as string).split(' ').map(Number) as [number, number];
      samples.push([pid, memory]);
    }
    expect(samples).toHaveLength(900);
    expect(new Set(samples.map(([pid]) => pid)).size).toBe(1);
    const afterWarmUp = samples[99]![1];
    const last = samples[899]![1];
    // memory_get_usage() after warm-up must stay flat: allow a few KB of noise.
    expect(last - afterWarmUp).toBeLessThan(4096);
    expect(Math.max(...samples.slice(99).map(([, memory]) => memory)) - afterWarmUp).toBeLessThan(4096);
  });

  it('is PHP itself, which SIGTERM ends at once, as on Lambda (no shell in between)', async () => {
    const { api, runtime } = await harness.start({ handler: 'behaviours.behave', taskRoot: behaviours });
    expect(json((await api.invoke('{"do":"pid"}')).body).pid).toBe(runtime.pid);
    process.kill(runtime.pid!, 'SIGTERM');
    expect(await runtime.exited).toEqual({ code: null, signal: 'SIGTERM' });
  });
});

describe('connections', () => {
  it('keeps one keep-alive connection per endpoint kind (next, response, error)', async () => {
    const { api } = await harness.start({ handler: 'behaviours.behave', taskRoot: behaviours });
    for (let i = 0; i < 20; i++) {
      expect((await api.invoke('{"do":"pid"}')).status).toBe('success');
      expect((await api.invoke('{"do":"throw"}')).status).toBe('error');
    }
    expect(api.connectionCount).toBe(3);
  });
});

describe('against a scripted Runtime API', () => {
  /** A fake Runtime API: `script` answers each request in turn (then 500s). */
  async function scriptedApi(
    script: Array<(req: IncomingMessage, body: string, res: ServerResponse) => void>,
  ): Promise<{ address: string; seen: Array<{ line: string; body: string; headers: IncomingMessage['headers'] }> }> {
    const seen: Array<{ line: string; body: string; headers: IncomingMessage['headers'] }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ line: `${req.method} ${req.url}`, body, headers: req.headers });
        const step = script.shift();
        if (step !== undefined) return step(req, body, res);
        res.writeHead(500).end('{"errorMessage":"done","errorType":"ServiceException"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    harness.track(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('matches the /next header names case-insensitively', async () => {
    const api = await scriptedApi([
      (_req, _body, res) => {
        // Raw header names in unusual cases (Node keeps them as given in writeHead arrays).
        res.writeHead(200, [
          'LAMBDA-RUNTIME-AWS-REQUEST-ID', 'req-1',
          'lambda-runtime-deadline-ms', String(Date.now() + 5000),
          'Lambda-Runtime-Invoked-Function-Arn', 'arn:aws:lambda:eu-west-1:123456789012:function:f',
          'lambda-RUNTIME-trace-ID', 'Root=1-abc',
        ]);
        res.end('{"do":"trace"}');
      },
      (_req, _body, res) => res.writeHead(202).end('{"status":"OK"}'),
    ]);
    const runtime = startAgainst(api.address);
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(api.seen.map((s) => s.line)).toEqual([
      'GET /2018-06-01/runtime/invocation/next',
      'POST /2018-06-01/runtime/invocation/req-1/response',
      'GET /2018-06-01/runtime/invocation/next',
    ]);
    expect(JSON.parse(api.seen[1]!.body)).toEqual({ getenv: 'Root=1-abc', server: 'Root=1-abc', env: 'Root=1-abc', context: 'Root=1-abc' });
  });

  it('exits 69 when posting a response answers 500', async () => {
    const api = await scriptedApi([
      (_req, _body, res) => {
        res.writeHead(200, { 'Lambda-Runtime-Aws-Request-Id': 'req-2', 'Lambda-Runtime-Deadline-Ms': String(Date.now() + 5000) });
        res.end('{"do":"pid"}');
      },
    ]);
    const runtime = startAgainst(api.address);
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(api.seen.map((s) => s.line)).toEqual(['GET /2018-06-01/runtime/invocation/next', 'POST /2018-06-01/runtime/invocation/req-2/response']);
    expect(runtime.stderr).toContain('req-2\tERROR\tRuntime API failure, exiting: POST /runtime/invocation/req-2/response answered HTTP 500: done');
  });

  it('exits 69 when /next answers without a request id', async () => {
    const api = await scriptedApi([(_req, _body, res) => res.writeHead(200).end('{}')]);
    const runtime = startAgainst(api.address);
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(runtime.stderr).toContain('without Lambda-Runtime-Aws-Request-Id');
  });

  it('logs and goes on when a response is refused with 403 (e.g. after a timeout)', async () => {
    const api = await scriptedApi([
      (_req, _body, res) => {
        res.writeHead(200, { 'Lambda-Runtime-Aws-Request-Id': 'req-3' });
        res.end('{"do":"pid"}');
      },
      (_req, _body, res) => res.writeHead(403).end('{"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}'),
    ]);
    const runtime = startAgainst(api.address);
    expect((await runtime.exited).code).toBe(exitStatus().API_ERROR);
    expect(api.seen).toHaveLength(3); // next, response (403), next (500)
    expect(runtime.stderr).toContain('req-3\tWARN\tPOST /runtime/invocation/req-3/response answered HTTP 403: Invalid state transition');
  });
});
