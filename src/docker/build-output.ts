/**
 * Docker's build endpoint answers with a stream of JSON objects, one per line:
 * `{"stream": "..."}` (build log text), `{"status": ...}` (pulls), `{"aux": {"ID": ...}}`
 * (the image id) and, on failure, `{"error": "...", "errorDetail": {...}}` with HTTP 200.
 * This parser turns raw chunks (split anywhere) into typed events.
 */
export type BuildEvent =
  | { kind: 'log'; text: string }
  | { kind: 'status'; text: string }
  | { kind: 'image'; id: string }
  | { kind: 'error'; message: string; code?: number };

interface RawMessage {
  stream?: unknown;
  status?: unknown;
  progress?: unknown;
  id?: unknown;
  aux?: { ID?: unknown };
  error?: unknown;
  errorDetail?: { message?: unknown; code?: unknown };
}

export function parseBuildMessage(line: string): BuildEvent[] {
  const trimmed = line.trim();
  if (!trimmed) return [];
  let msg: RawMessage;
  try {
    msg = JSON.parse(trimmed) as RawMessage;
  } catch {
    // Not JSON: an engine or proxy said something unexpected. Keep it as log text.
    return [{ kind: 'log', text: trimmed }];
  }
  if (msg === null || typeof msg !== 'object') return [{ kind: 'log', text: trimmed }];
  const events: BuildEvent[] = [];
  if (msg.error !== undefined || msg.errorDetail !== undefined) {
    const message = String(msg.errorDetail?.message ?? msg.error ?? 'unknown build error');
    const code = typeof msg.errorDetail?.code === 'number' ? msg.errorDetail.code : undefined;
    events.push(code === undefined ? { kind: 'error', message } : { kind: 'error', message, code });
  }
  if (typeof msg.stream === 'string') events.push({ kind: 'log', text: msg.stream });
  if (typeof msg.status === 'string') {
    const parts = [msg.id, msg.status, msg.progress].filter((p) => typeof p === 'string' && p);
    events.push({ kind: 'status', text: parts.join(' ') });
  }
  if (msg.aux && typeof msg.aux.ID === 'string') events.push({ kind: 'image', id: msg.aux.ID });
  return events;
}

/** Incremental parser: feed chunks, get events for every complete line. */
export class BuildOutputParser {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  push(chunk: Buffer | string): BuildEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = this.buffer.split(/\r?\n/);
    this.buffer = lines.pop() ?? '';
    return lines.flatMap(parseBuildMessage);
  }

  end(): BuildEvent[] {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    return parseBuildMessage(rest);
  }
}

/** Remove terminal colour codes (the classic builder wraps stderr in them). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** Keeps the last N lines of log text, for error messages. */
export class LogTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly size = 40) {}

  write(text: string): void {
    const parts = (this.partial + stripAnsi(text)).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.lines.push(p);
    if (this.lines.length > this.size) this.lines = this.lines.slice(-this.size);
  }

  get(): string[] {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-this.size);
  }
}
