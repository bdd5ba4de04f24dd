import { describe, expect, it } from 'vitest';
import {
  bytesToMb,
  closingLines,
  describeInitFailure,
  exitCodeOf,
  formatInitErrorReport,
  formatOutcomeReport,
  formatTimeoutLine,
  resultJson,
  resultLine,
} from '../../../src/invoke/report.js';
import type { InvocationOutcome } from '../../../src/invoke/types.js';

const ID = '6f1c3b9e-0000-4000-8000-000000000001';

function outcome(overrides: Partial<InvocationOutcome> = {}): InvocationOutcome {
  return {
    requestId: ID,
    status: 'success',
    body: 'Hello, World!',
    contentType: 'application/json',
    durationMs: 1.234,
    billedDurationMs: 2,
    memorySizeMb: 128,
    maxMemoryUsedMb: 6,
    containerId: 'c1',
    logs: '',
    ...overrides,
  };
}

describe('REPORT lines', () => {
  it('a warm success: no Init Duration, no Status', () => {
    expect(formatOutcomeReport(outcome())).toBe(
      `REPORT RequestId: ${ID}\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 6 MB`,
    );
  });

  it('a cold start carries Init Duration', () => {
    expect(formatOutcomeReport(outcome({ initDurationMs: 12.345, billedDurationMs: 14 }))).toBe(
      `REPORT RequestId: ${ID}\tInit Duration: 12.35 ms\tDuration: 1.23 ms\tBilled Duration: 14 ms\tMemory Size: 128 MB\tMax Memory Used: 6 MB`,
    );
  });

  it('a handler error looks like a success; a timeout and a crash add Status (and Error Type)', () => {
    expect(formatOutcomeReport(outcome({ status: 'error', errorType: 'InvalidArgumentException' }))).not.toMatch(/Status/);
    expect(formatOutcomeReport(outcome({ status: 'timeout', errorType: 'Sandbox.Timedout' }))).toMatch(/\tStatus: timeout$/);
    expect(formatOutcomeReport(outcome({ status: 'crash', errorType: 'Runtime.ExitError' }))).toMatch(
      /\tStatus: error\tError Type: Runtime\.ExitError$/,
    );
  });
});

describe('closing lines', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');

  it('END then REPORT', () => {
    expect(closingLines(outcome(), 3000, now)).toEqual([`END RequestId: ${ID}`, formatOutcomeReport(outcome())]);
  });

  it("a timeout first says so, in Lambda's words", () => {
    const lines = closingLines(outcome({ status: 'timeout' }), 1000, now);
    expect(lines[0]).toBe(`2026-01-02T03:04:05.678Z ${ID} Task timed out after 1.00 seconds`);
    expect(lines.slice(1, 2)).toEqual([`END RequestId: ${ID}`]);
    expect(formatTimeoutLine(ID, 2500, now)).toMatch(/Task timed out after 2\.50 seconds$/);
  });

  it('a crash prints the exit and its error type', () => {
    const message = `RequestId: ${ID} Error: Runtime exited with error: exit status 143`;
    const lines = closingLines(outcome({ status: 'crash', errorType: 'Runtime.ExitError', errorMessage: message }), 3000, now);
    expect(lines.slice(0, 3)).toEqual([message, 'Runtime.ExitError', `END RequestId: ${ID}`]);
  });

  it('an init error is one INIT_REPORT line', () => {
    expect(closingLines(outcome({ status: 'init-error', errorType: 'Runtime.NoSuchHandler', initDurationMs: 11.111 }), 3000, now)).toEqual([
      'INIT_REPORT Init Duration: 11.11 ms\tPhase: init\tStatus: error\tError Type: Runtime.NoSuchHandler',
    ]);
    expect(formatInitErrorReport(undefined, 'Runtime.InvalidEntrypoint')).toBe(
      'INIT_REPORT\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint',
    );
  });
});

describe('results and exit status', () => {
  it('one stdout line per invocation', () => {
    expect(resultLine(outcome())).toBe('Hello, World!\n');
    expect(resultLine(outcome({ body: 'two\nlines\n' }))).toBe('two\nlines\n');
    expect(resultLine(outcome({ body: '' }))).toBe('\n');
  });

  it('exit 1 when any invocation did not succeed', () => {
    expect(exitCodeOf([outcome(), outcome()])).toBe(0);
    for (const status of ['error', 'timeout', 'crash', 'init-error'] as const) {
      expect(exitCodeOf([outcome(), outcome({ status })])).toBe(1);
    }
  });

  it('bytes to whole MiB, rounded up', () => {
    expect(bytesToMb(0)).toBe(0);
    expect(bytesToMb(1)).toBe(1);
    expect(bytesToMb(6 * 1024 * 1024)).toBe(6);
    expect(bytesToMb(6 * 1024 * 1024 + 1)).toBe(7);
  });

  it('--json: the body parsed when it is JSON, kept as text too', () => {
    const doc = resultJson({
      runId: 'r',
      layer: 'l.zip',
      layers: ['l.zip', 'ext.zip'],
      sizeBudget: { layers: [{ zip: 'l.zip', unzippedBytes: 10 }, { zip: 'ext.zip', unzippedBytes: 5 }], functionBytes: 1, totalBytes: 16, limitBytes: 262_144_000 },
      platform: undefined,
      image: 'debian:bookworm',
      functionName: 'hello',
      exitCode: 1,
      invocations: [outcome({ initDurationMs: 3.14159 }), outcome({ status: 'error', body: '{"errorType":"E","errorMessage":"m"}', errorType: 'E' })],
    });
    expect(doc).toMatchObject({ platform: null, exitCode: 1, layers: ['l.zip', 'ext.zip'], sizeBudget: { totalBytes: 16 } });
    const [first, second] = doc['invocations'] as Record<string, unknown>[];
    expect(first).toMatchObject({ result: 'Hello, World!', initDurationMs: 3.14, durationMs: 1.23 });
    expect(first).not.toHaveProperty('errorType');
    expect(second).toMatchObject({ status: 'error', result: { errorType: 'E', errorMessage: 'm' }, errorType: 'E' });
  });
});

describe('describeInitFailure', () => {
  it("keeps the runtime's own error JSON", () => {
    const body = Buffer.from('{"errorMessage":"no","errorType":"Runtime.NoSuchHandler","stackTrace":[]}');
    expect(describeInitFailure({ status: 'error', error: { errorType: 'Runtime.NoSuchHandler', errorMessage: 'no', body } })).toEqual({
      errorType: 'Runtime.NoSuchHandler',
      errorMessage: 'no',
      body: body.toString(),
    });
    expect(describeInitFailure({ status: 'error', error: { errorType: 'X', errorMessage: 'm', body: Buffer.from('not json') } }).body).toBeUndefined();
  });

  it('an init timeout and an exit during init', () => {
    expect(describeInitFailure({ status: 'timeout', initTimeoutMs: 10_000 })).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Init phase timed out after 10.00 seconds',
      body: undefined,
    });
    expect(describeInitFailure({ status: 'exited', exit: { code: 127, signal: null } }).errorMessage).toBe(
      'Runtime exited during init with error: exit status 127',
    );
    expect(describeInitFailure({ status: 'exited', exit: { code: null, signal: 'SIGKILL' } })).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: 'Runtime exited during init with error: signal: SIGKILL',
    });
  });
});
