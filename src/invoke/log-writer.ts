/**
 * Interleaves the runtime's raw output with our own platform lines on one stream (pure: the
 * sink is a function). Runtime output is passed through as it comes, chunk by chunk; a platform
 * line always starts on a line of its own, even when the runtime left a line unfinished.
 * What the runtime writes while a capture is open is also kept (per-invocation logs).
 */
export class LogWriter {
  private atLineStart = true;
  private captured: string[] | undefined;

  constructor(private readonly sink: (text: string) => void) {}

  /** Runtime output, as it arrives. */
  output(chunk: string): void {
    if (chunk === '') return;
    this.sink(chunk);
    this.captured?.push(chunk);
    this.atLineStart = chunk.endsWith('\n');
  }

  /** One of our lines (START, END, REPORT, ...). */
  line(text: string): void {
    this.sink(`${this.atLineStart ? '' : '\n'}${text}\n`);
    this.atLineStart = true;
  }

  /** Starts keeping runtime output (drops what an earlier capture kept). */
  startCapture(): void {
    this.captured = [];
  }

  /** Ends the capture and returns what was kept. */
  takeCapture(): string {
    const text = (this.captured ?? []).join('');
    this.captured = undefined;
    return text;
  }
}
