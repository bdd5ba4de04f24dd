/**
 * A local emulator of the AWS Lambda Runtime API (2018-06-01), on node:http only.
 *
 * The owner (a test, the benchmark, the `invoke` CLI) starts the server, points a runtime at it
 * with AWS_LAMBDA_RUNTIME_API=`${host}:${port}`, and calls {@link RuntimeApiServer.invoke}.
 * The server holds each runtime's GET /next until an event is queued, enforces the payload
 * limits and the function timeout, and resolves each invocation with what the runtime posted.
 *
 * It does not manage processes: the owner tells it when a runtime process starts
 * ({@link RuntimeApiServer.markProcessStart}) and exits ({@link RuntimeApiServer.reportRuntimeExit}),
 * and restarts the runtime when an invocation times out (the `timeout` event).
 * It is meant for one runtime process at a time (as in one Lambda sandbox).
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { newRequestId, newTraceId } from './ids.js';

export const RUNTIME_API_VERSION = '2018-06-01';
export const RUNTIME_API_PREFIX = `/${RUNTIME_API_VERSION}/runtime`;
/** Synchronous request and response payload limit enforced by Lambda. */
export const MAX_SYNC_PAYLOAD_BYTES = 6_291_556;
export const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';
/** Exact body of the 413 answer to an oversized response. */
export const RESPONSE_TOO_LARGE_BODY =
  '{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}';
/** errorType of an invocation whose response was refused with 413 (what the invoker sees). */
export const RESPONSE_TOO_LARGE_TYPE = 'Function.ResponseSizeTooLarge';

export interface RuntimeApiServerOptions {
  /** Interface to listen on. Default `127.0.0.1` (reachable from a container with host networking). */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Default `function`. */
  functionName?: string;
  /** Default `arn:aws:lambda:<region>:000000000000:function:<functionName>`. */
  functionArn?: string;
  /** Used in the default ARN. Default `us-east-1`. */
  region?: string;
  /** Function timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Largest event accepted by {@link RuntimeApiServer.invoke}. Default 6,291,556 bytes. */
  maxRequestBytes?: number;
  /** Largest response (and error) body a runtime may post. Default 6,291,556 bytes. */
  maxResponseBytes?: number;
}

export interface InvokeOptions {
  /** `undefined`: generate one; `null` or `''`: send no Lambda-Runtime-Trace-Id header. */
  traceId?: string | null;
  /** Sent as Lambda-Runtime-Client-Context: objects are JSON-encoded, strings sent as is. */
  clientContext?: string | object;
  /** Sent as Lambda-Runtime-Cognito-Identity: objects are JSON-encoded, strings sent as is. */
  cognitoIdentity?: string | object;
  /** Default: a new UUID. */
  requestId?: string;
  /** Overrides the server's timeoutMs for this invocation. */
  timeoutMs?: number;
}

export type InvocationStatus = 'success' | 'error' | 'timeout';

export interface InvocationResult {
  requestId: string;
  status: InvocationStatus;
  /** The response body, or the error body (as posted, or generated for timeouts and crashes). */
  body: Buffer;
  /** Content-Type the runtime posted with the body, if any. */
  contentType: string | undefined;
  /** For errors: errorType of the body, else the Lambda-Runtime-Function-Error-Type header. */
  errorType?: string;
  errorMessage?: string;
  /** For errors: the Lambda-Runtime-Function-Error-Type header, when the runtime sent one. */
  functionErrorType?: string;
  /** From handing the event to the runtime (answer to /next) to its response, in ms. */
  durationMs: number;
  /** Lambda-Runtime-Trace-Id sent with the event, or null. */
  traceId: string | null;
}

/** An error posted by the runtime to /invocation/{id}/error or /init/error. */
export interface RuntimeErrorReport {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
  functionErrorType: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export interface RuntimeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type InitOutcome =
  | { status: 'ready'; initDurationMs: number | undefined }
  | { status: 'error'; error: RuntimeErrorReport; initDurationMs: number | undefined }
  | { status: 'exited'; exit: RuntimeExit };

export type InitState = 'pending' | 'done' | 'failed';

export interface TimeoutEvent {
  requestId: string;
  timeoutMs: number;
  result: InvocationResult;
}

export interface RuntimeApiServerEvents {
  /** The first GET /next after {@link RuntimeApiServer.markProcessStart} (or server start). */
  'init-done': [{ initDurationMs: number | undefined }];
  'init-error': [RuntimeErrorReport];
  /** An event was handed to the runtime. */
  'invocation-start': [{ requestId: string; deadlineMs: number }];
  /** Every invocation ends with exactly one of these (success, error, timeout, crash). */
  'invocation-end': [InvocationResult];
  /** An invocation passed its deadline: the owner should kill and restart the runtime. */
  timeout: [TimeoutEvent];
}

/** Thrown (as a rejection) by {@link RuntimeApiServer.invoke} for events over maxRequestBytes. */
export class InvokePayloadTooLargeError extends Error {
  readonly errorType = 'RequestEntityTooLargeException';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`Request must be smaller than ${limit} bytes for the InvokeFunction operation (got ${size} bytes)`);
    this.name = 'InvokePayloadTooLargeError';
  }
}

interface Invocation {
  requestId: string;
  payload: Buffer;
  traceId: string | null;
  clientContext: string | undefined;
  cognitoIdentity: string | undefined;
  timeoutMs: number;
  resolve: (result: InvocationResult) => void;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface Waiter {
  res: ServerResponse;
  /** Removes the listeners that drop the waiter when its connection goes away. */
  release: () => void;
}

interface ReadBody {
  body: Buffer;
  size: number;
  tooLarge: boolean;
}

/** How many finished request ids are remembered to answer 403 (instead of 400) to late posts. */
const FINISHED_IDS_KEPT = 100_000;

export class RuntimeApiServer extends EventEmitter<RuntimeApiServerEvents> {
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;

  private readonly host: string;
  private readonly port: number;
  private readonly server: Server;
  private readonly queue: Invocation[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly inFlight = new Map<string, Invocation>();
  private readonly finished = new Set<string>();
  private readonly initWaiters: Array<(outcome: InitOutcome) => void> = [];
  private state: InitState = 'pending';
  private processStartedAt: number | undefined;
  /** A runtime exit reported while init was pending, for a later waitForInit(). */
  private exitDuringInit: RuntimeExit | undefined;
  private initDuration: number | undefined;
  private initError: RuntimeErrorReport | undefined;
  private listening: { host: string; port: number } | undefined;
  private closed = false;
  private connections = 0;

  constructor(options: RuntimeApiServerOptions = {}) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.functionName = options.functionName ?? 'function';
    this.functionArn =
      options.functionArn ?? `arn:aws:lambda:${options.region ?? 'us-east-1'}:000000000000:function:${this.functionName}`;
    this.timeoutMs = positive(options.timeoutMs ?? 3000, 'timeoutMs');
    this.maxRequestBytes = positive(options.maxRequestBytes ?? MAX_SYNC_PAYLOAD_BYTES, 'maxRequestBytes');
    this.maxResponseBytes = positive(options.maxResponseBytes ?? MAX_SYNC_PAYLOAD_BYTES, 'maxResponseBytes');
    this.server = createServer(
      // Lambda never closes the runtime's connections: no idle or request timeouts.
      { keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 60_000 },
      (req, res) => this.route(req, res),
    );
    this.server.keepAliveTimeout = 0;
    this.server.on('connection', () => {
      this.connections += 1;
    });
  }

  /** Starts listening. AWS_LAMBDA_RUNTIME_API is the returned `address`. */
  async listen(): Promise<{ host: string; port: number; address: string }> {
    if (this.closed) throw new Error('RuntimeApiServer is closed');
    if (this.listening === undefined) {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.port, this.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      const info = this.server.address() as AddressInfo;
      this.listening = { host: info.address, port: info.port };
    }
    return { ...this.listening, address: this.address };
  }

  /** `host:port` for AWS_LAMBDA_RUNTIME_API (IPv6 hosts in brackets). */
  get address(): string {
    if (this.listening === undefined) throw new Error('RuntimeApiServer is not listening');
    const { host, port } = this.listening;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  get initState(): InitState {
    return this.state;
  }

  /** Process start (see {@link markProcessStart}) to the first GET /next, in ms. */
  get initDurationMs(): number | undefined {
    return this.initDuration;
  }

  get lastInitError(): RuntimeErrorReport | undefined {
    return this.initError;
  }

  /** TCP connections accepted so far (a keep-alive client opens few). */
  get connectionCount(): number {
    return this.connections;
  }

  /** Invocations waiting for a runtime to ask for them. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /** Invocations handed to a runtime and not answered yet. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Call right before starting a runtime process: starts a new init phase (init errors are
   * accepted again) and the Init Duration clock.
   */
  markProcessStart(at: number = performance.now()): void {
    this.state = 'pending';
    this.processStartedAt = at;
    this.initDuration = undefined;
    this.initError = undefined;
    this.exitDuringInit = undefined;
  }

  /**
   * Resolves at the end of the current init phase: first GET /next (`ready`), an init error
   * (`error`), or {@link reportRuntimeExit} before either (`exited`).
   */
  waitForInit(): Promise<InitOutcome> {
    if (this.state === 'done') return Promise.resolve({ status: 'ready', initDurationMs: this.initDuration });
    if (this.state === 'failed' && this.initError !== undefined) {
      return Promise.resolve({ status: 'error', error: this.initError, initDurationMs: this.initDuration });
    }
    if (this.state === 'pending' && this.exitDuringInit) return Promise.resolve({ status: 'exited', exit: this.exitDuringInit });
    if (this.closed) return Promise.resolve({ status: 'exited', exit: { code: null, signal: null } });
    return new Promise((resolve) => this.initWaiters.push(resolve));
  }

  /**
   * Queues an event and resolves when the runtime answered it, failed it, timed out, or crashed.
   * Rejects with {@link InvokePayloadTooLargeError} (without running anything) for oversized events.
   */
  invoke(event: Buffer | Uint8Array | string, options: InvokeOptions = {}): Promise<InvocationResult> {
    if (this.closed) return Promise.reject(new Error('RuntimeApiServer is closed'));
    const payload = typeof event === 'string' ? Buffer.from(event, 'utf8') : Buffer.from(event.buffer, event.byteOffset, event.byteLength);
    if (payload.length > this.maxRequestBytes) {
      return Promise.reject(new InvokePayloadTooLargeError(payload.length, this.maxRequestBytes));
    }
    let clientContext: string | undefined;
    let cognitoIdentity: string | undefined;
    try {
      clientContext = headerJson(options.clientContext, 'clientContext');
      cognitoIdentity = headerJson(options.cognitoIdentity, 'cognitoIdentity');
    } catch (error) {
      return Promise.reject(error);
    }
    const traceId = options.traceId === undefined ? newTraceId() : options.traceId === '' ? null : options.traceId;
    return new Promise<InvocationResult>((resolve) => {
      this.queue.push({
        requestId: options.requestId ?? newRequestId(),
        payload,
        traceId,
        clientContext,
        cognitoIdentity,
        timeoutMs: positive(options.timeoutMs ?? this.timeoutMs, 'timeoutMs'),
        resolve,
        startedAt: 0,
        timer: undefined,
      });
      this.dispatch();
    });
  }

  /**
   * Tell the server the runtime process exited. Invocations it was serving end as
   * `Runtime.ExitError`; a pending init phase ends as `exited`. Queued events stay queued for
   * the next runtime process (see {@link failQueued}).
   */
  reportRuntimeExit(exit: RuntimeExit): void {
    const reason = exit.signal !== null ? `signal: ${exit.signal}` : `exit status ${exit.code ?? 'unknown'}`;
    for (const invocation of [...this.inFlight.values()]) {
      const message = `RequestId: ${invocation.requestId} Error: Runtime exited with error: ${reason}`;
      this.finish(invocation, {
        ...this.errorResult(invocation, 'Runtime.ExitError', message),
        functionErrorType: 'Runtime.ExitError',
      });
    }
    if (this.state === 'pending') {
      this.exitDuringInit = exit;
      this.resolveInit({ status: 'exited', exit });
    }
  }

  /**
   * Ends every queued (not yet dispatched) invocation as an error: by default with the last
   * init error (what Lambda answers when init fails). Returns how many were failed.
   */
  failQueued(error?: { errorType: string; errorMessage: string }): number {
    const errorType = error?.errorType ?? this.initError?.errorType ?? 'Runtime.Unavailable';
    const errorMessage = error?.errorMessage ?? this.initError?.errorMessage ?? 'No runtime is serving this function';
    const queued = this.queue.splice(0);
    for (const invocation of queued) {
      const result = this.errorResult(invocation, errorType, errorMessage);
      this.markFinished(invocation.requestId);
      invocation.resolve(result);
      this.emit('invocation-end', result);
    }
    return queued.length;
  }

  /** Stops the server. Unfinished invocations end as errors of type `Emulator.Closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const invocation of [...this.inFlight.values(), ...this.queue.splice(0)]) {
      clearTimeout(invocation.timer);
      this.inFlight.delete(invocation.requestId);
      invocation.resolve(this.errorResult(invocation, 'Emulator.Closed', 'The Runtime API emulator was closed'));
    }
    for (const waiter of this.waiters.splice(0)) waiter.res.destroy();
    // Nobody waits for an init that can no longer happen.
    this.resolveInit({ status: 'exited', exit: { code: null, signal: null } });
    if (this.listening === undefined) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------------------------------

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rest = path.startsWith(`${RUNTIME_API_PREFIX}/`) ? path.slice(RUNTIME_API_PREFIX.length) : undefined;
    if (rest === '/invocation/next') {
      if (req.method !== 'GET') return this.reject(req, res, 405, 'MethodNotAllowed', 'Use GET');
      return this.handleNext(req, res);
    }
    if (rest === '/init/error') {
      if (req.method !== 'POST') return this.reject(req, res, 405, 'MethodNotAllowed', 'Use POST');
      return void this.handleInitError(req, res).catch((error) => this.internalError(res, error));
    }
    const match = rest === undefined ? null : /^\/invocation\/([^/]+)\/(response|error)$/.exec(rest);
    if (match !== null) {
      if (req.method !== 'POST') return this.reject(req, res, 405, 'MethodNotAllowed', 'Use POST');
      let requestId: string;
      try {
        requestId = decodeURIComponent(match[1]!);
      } catch {
        return this.reject(req, res, 400, 'InvalidRequestID', 'Invalid request ID');
      }
      const handle = match[2] === 'response' ? this.handleResponse(req, res, requestId) : this.handleError(req, res, requestId);
      return void handle.catch((error) => this.internalError(res, error));
    }
    this.reject(req, res, 404, 'NotFound', `No Runtime API endpoint at ${path}`);
  }

  private handleNext(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    // Let whatever else is already queued on this connection be processed first: a runtime
    // killed right after sending GET /next leaves a request followed by the end of the
    // connection, and that request must neither end the next process's init nor get an event.
    // libuv reads the end of the connection one poll after the request (the request was a
    // partial read), hence two turns of the event loop.
    setImmediate(() => setImmediate(() => this.acceptNext(res)));
  }

  private acceptNext(res: ServerResponse): void {
    if (this.closed || !isConnected(res)) {
      res.destroy();
      return;
    }
    if (this.state === 'pending') {
      this.state = 'done';
      this.initDuration = this.processStartedAt === undefined ? undefined : performance.now() - this.processStartedAt;
      this.emit('init-done', { initDurationMs: this.initDuration });
      this.resolveInit({ status: 'ready', initDurationMs: this.initDuration });
    }
    const socket = res.socket!;
    const waiter: Waiter = {
      res,
      release: () => {
        socket.off('end', drop);
        res.off('close', drop);
      },
    };
    const drop = (): void => {
      waiter.release();
      const index = this.waiters.indexOf(waiter);
      if (index >= 0) this.waiters.splice(index, 1);
    };
    socket.once('end', drop);
    res.once('close', drop);
    this.waiters.push(waiter);
    this.dispatch();
  }

  private async handleResponse(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const { body, size, tooLarge } = await readBody(req, this.maxResponseBytes);
    const invocation = this.inFlight.get(requestId);
    if (invocation === undefined) return this.answerUnknown(res, requestId);
    if (tooLarge) {
      // As Lambda and its Runtime Interface Emulator do: the 413 ends the invocation, and an
      // error posted for it afterwards is answered 403 (the id is finished).
      this.finish(
        invocation,
        this.errorResult(
          invocation,
          RESPONSE_TOO_LARGE_TYPE,
          `Response payload size (${size} bytes) exceeded maximum allowed payload size (${this.maxResponseBytes} bytes).`,
        ),
      );
      return send(res, 413, RESPONSE_TOO_LARGE_BODY);
    }
    const result: InvocationResult = {
      requestId,
      status: 'success',
      body,
      contentType: req.headers['content-type'],
      durationMs: performance.now() - invocation.startedAt,
      traceId: invocation.traceId,
    };
    this.finish(invocation, result);
    send(res, 202, '{"status":"OK"}');
  }

  private async handleError(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const { body, tooLarge } = await readBody(req, this.maxResponseBytes);
    const invocation = this.inFlight.get(requestId);
    if (invocation === undefined) return this.answerUnknown(res, requestId);
    if (tooLarge) return send(res, 413, RESPONSE_TOO_LARGE_BODY);
    const report = parseErrorReport(req, body);
    const result: InvocationResult = {
      requestId,
      status: 'error',
      body,
      contentType: report.contentType,
      errorType: report.errorType,
      errorMessage: report.errorMessage,
      durationMs: performance.now() - invocation.startedAt,
      traceId: invocation.traceId,
    };
    if (report.functionErrorType !== undefined) result.functionErrorType = report.functionErrorType;
    this.finish(invocation, result);
    send(res, 202, '{"status":"OK"}');
  }

  private async handleInitError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { body, tooLarge } = await readBody(req, this.maxResponseBytes);
    if (this.state !== 'pending') {
      return send(res, 403, jsonError('InvalidStateTransition', 'Init error reported after init ended'));
    }
    if (tooLarge) return send(res, 413, RESPONSE_TOO_LARGE_BODY);
    const report = parseErrorReport(req, body);
    this.state = 'failed';
    this.initError = report;
    if (this.processStartedAt !== undefined) this.initDuration = performance.now() - this.processStartedAt;
    this.emit('init-error', report);
    this.resolveInit({ status: 'error', error: report, initDurationMs: this.initDuration });
    send(res, 202, '{"status":"OK"}');
  }

  /** Hands queued events to waiting GET /next requests. */
  private dispatch(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const waiter = this.waiters.shift()!;
      waiter.release();
      if (!isConnected(waiter.res)) {
        waiter.res.destroy();
        continue;
      }
      this.start(this.queue.shift()!, waiter.res);
    }
  }

  private start(invocation: Invocation, res: ServerResponse): void {
    const deadlineMs = Date.now() + invocation.timeoutMs;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json',
      'Content-Length': invocation.payload.length,
      'Lambda-Runtime-Aws-Request-Id': invocation.requestId,
      'Lambda-Runtime-Deadline-Ms': deadlineMs,
      'Lambda-Runtime-Invoked-Function-Arn': this.functionArn,
    };
    if (invocation.traceId !== null) headers['Lambda-Runtime-Trace-Id'] = invocation.traceId;
    if (invocation.clientContext !== undefined) headers['Lambda-Runtime-Client-Context'] = invocation.clientContext;
    if (invocation.cognitoIdentity !== undefined) headers['Lambda-Runtime-Cognito-Identity'] = invocation.cognitoIdentity;

    invocation.startedAt = performance.now();
    this.inFlight.set(invocation.requestId, invocation);
    invocation.timer = setTimeout(() => this.timeOut(invocation), invocation.timeoutMs);
    res.once('close', () => {
      // The runtime went away before the event was written out: give it to the next runtime.
      if (!res.writableFinished && this.inFlight.get(invocation.requestId) === invocation) {
        clearTimeout(invocation.timer);
        this.inFlight.delete(invocation.requestId);
        this.queue.unshift(invocation);
        this.dispatch();
      }
    });
    res.writeHead(200, headers);
    res.end(invocation.payload);
    this.emit('invocation-start', { requestId: invocation.requestId, deadlineMs });
  }

  private timeOut(invocation: Invocation): void {
    if (this.inFlight.get(invocation.requestId) !== invocation) return;
    const seconds = (invocation.timeoutMs / 1000).toFixed(2);
    const result = this.errorResult(
      invocation,
      'Sandbox.Timedout',
      `RequestId: ${invocation.requestId} Error: Task timed out after ${seconds} seconds`,
    );
    result.status = 'timeout';
    this.finish(invocation, result);
    this.emit('timeout', { requestId: invocation.requestId, timeoutMs: invocation.timeoutMs, result });
  }

  private finish(invocation: Invocation, result: InvocationResult): void {
    clearTimeout(invocation.timer);
    this.inFlight.delete(invocation.requestId);
    this.markFinished(invocation.requestId);
    invocation.resolve(result);
    this.emit('invocation-end', result);
  }

  private errorResult(invocation: Invocation, errorType: string, errorMessage: string): InvocationResult {
    return {
      requestId: invocation.requestId,
      status: 'error',
      body: Buffer.from(JSON.stringify({ errorType, errorMessage })),
      contentType: 'application/json',
      errorType,
      errorMessage,
      durationMs: invocation.startedAt === 0 ? 0 : performance.now() - invocation.startedAt,
      traceId: invocation.traceId,
    };
  }

  private markFinished(requestId: string): void {
    this.finished.add(requestId);
    if (this.finished.size > FINISHED_IDS_KEPT) {
      const oldest = this.finished.values().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }

  private resolveInit(outcome: InitOutcome): void {
    for (const resolve of this.initWaiters.splice(0)) resolve(outcome);
  }

  private answerUnknown(res: ServerResponse, requestId: string): void {
    if (this.finished.has(requestId)) {
      send(res, 403, jsonError('InvalidStateTransition', `Invocation ${requestId} has already ended`));
    } else {
      send(res, 400, jsonError('InvalidRequestID', `Invalid request ID: ${requestId}`));
    }
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, errorType: string, message: string): void {
    req.resume();
    send(res, status, jsonError(errorType, message));
  }

  private internalError(res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) return;
    send(res, 500, jsonError('ServiceException', error instanceof Error ? error.message : String(error)));
  }
}

/** Whether the client of a pending response is still there (has not closed its side). */
function isConnected(res: ServerResponse): boolean {
  const socket = res.socket;
  return !res.destroyed && !res.writableEnded && socket !== null && !socket.destroyed && socket.writable && !socket.readableEnded;
}

function send(res: ServerResponse, status: number, body: string): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function jsonError(errorType: string, errorMessage: string): string {
  return JSON.stringify({ errorMessage, errorType });
}

/** Reads a request body, keeping at most `limit` bytes but always draining it all. */
function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (chunks.length > 0) chunks = [];
    });
    req.once('end', () => {
      const tooLarge = size > limit;
      resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks, size), size, tooLarge });
    });
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('Request aborted'));
    });
  });
}

function parseErrorReport(req: IncomingMessage, body: Buffer): RuntimeErrorReport {
  const header = req.headers['lambda-runtime-function-error-type'];
  const functionErrorType = Array.isArray(header) ? header[0] : header;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const errorType =
    typeof fields['errorType'] === 'string' && fields['errorType'] !== '' ? fields['errorType'] : (functionErrorType ?? 'Runtime.Unknown');
  const errorMessage = typeof fields['errorMessage'] === 'string' ? fields['errorMessage'] : body.toString('utf8');
  const stackTrace = Array.isArray(fields['stackTrace']) ? fields['stackTrace'].map((line) => String(line)) : [];
  return { errorType, errorMessage, stackTrace, functionErrorType, contentType: req.headers['content-type'], body };
}

/** JSON for a header value: non-ASCII escaped so that it is a valid HTTP header. */
function headerJson(value: string | object | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  const text =
    typeof value === 'string'
      ? value
      : JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (!/^[\t\x20-\x7e]*$/.test(text)) throw new TypeError(`${name} must be printable ASCII to be sent as a header`);
  return text;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
