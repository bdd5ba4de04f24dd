import { randomBytes, randomUUID } from 'node:crypto';

/** A request id like Lambda's (a UUID v4). */
export function newRequestId(): string {
  return randomUUID();
}

/**
 * An X-Ray trace header as Lambda sends it in Lambda-Runtime-Trace-Id:
 * `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`.
 */
export function newTraceId(now: number = Date.now()): string {
  const epoch = Math.floor(now / 1000).toString(16).padStart(8, '0');
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

/** Matches the ids produced by {@link newTraceId}. */
export const TRACE_ID_PATTERN = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$/;
