import { describe, expect, it } from 'vitest';
import { LogWriter } from '../../../src/invoke/log-writer.js';

function writer() {
  const out: string[] = [];
  return { w: new LogWriter((t) => out.push(t)), text: () => out.join('') };
}

describe('LogWriter', () => {
  it('passes runtime output through as it comes and puts our lines on lines of their own', () => {
    const { w, text } = writer();
    w.line('START');
    w.output('partial ');
    w.output('line');
    w.line('END');
    w.output('whole\n');
    w.line('REPORT');
    expect(text()).toBe('START\npartial line\nEND\nwhole\nREPORT\n');
  });

  it('captures the runtime output between startCapture and takeCapture only', () => {
    const { w } = writer();
    w.output('before\n');
    w.startCapture();
    w.line('START');
    w.output('a\n');
    w.output('b');
    expect(w.takeCapture()).toBe('a\nb');
    w.output('after\n');
    expect(w.takeCapture()).toBe('');
  });
});
