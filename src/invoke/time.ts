/**
 * RFC 3339 timestamps with more than millisecond precision (the engine's `StartedAt`,
 * `2026-01-02T03:04:05.123456789Z`) → epoch milliseconds with the fraction kept
 * (`Date.parse` drops everything below the millisecond). Pure.
 */
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

export function epochMsOfTimestamp(text: string): number | undefined {
  const match = TIMESTAMP.exec(text.trim());
  if (match === null) return undefined;
  const [, seconds, fraction = '', zone] = match;
  const whole = Date.parse(`${seconds}${zone}`);
  if (Number.isNaN(whole)) return undefined;
  return whole + (fraction === '' ? 0 : Number(`0.${fraction}`) * 1000);
}
