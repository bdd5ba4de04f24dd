import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BuildOutputParser, LogTail, parseBuildMessage, type BuildEvent } from '../../../src/docker/build-output.js';

const FAILING = readFileSync(new URL('../../fixtures/build-output/failing.jsonl', import.meta.url));
const FAILED_COMMAND =
  "The command '/bin/sh -c LRB_SOURCE=/usr/src/lrb/sources/php-7.4.33.tar.xz LRB_PREFIX=/opt LRB_VERSION=7.4.33     sh /usr/src/lrb/scripts/build-autotools.sh     --disable-all --disable-cgi --disable-phpdbg --enable-cli --without-pear --with-config-file-path=/opt/etc/php --with-config-file-scan-dir=/opt/etc/php/conf.d:/var/task/php/conf.d --enable-json --with-openssl --with-curl --with-zlib' returned a non-zero code: 2";

/** Feed `data` in pieces of `size` bytes and collect every event, including end(). */
function feed(data: Buffer, size: number): BuildEvent[] {
  const parser = new BuildOutputParser();
  const events: BuildEvent[] = [];
  for (let i = 0; i < data.length; i += size) events.push(...parser.push(data.subarray(i, i + size)));
  events.push(...parser.end());
  return events;
}

describe('parseBuildMessage', () => {
  it('{"stream": ...} → log text, kept verbatim (newlines included)', () => {
    expect(parseBuildMessage('{"stream":"Step 1/17 : FROM debian:bookworm AS toolchain"}')).toEqual([
      { kind: 'log', text: 'Step 1/17 : FROM debian:bookworm AS toolchain' },
    ]);
    expect(parseBuildMessage('{"stream":" ---\\u003e Using cache\\n"}')).toEqual([{ kind: 'log', text: ' ---> Using cache\n' }]);
  });

  it('{"aux":{"ID":...}} → image id', () => {
    expect(parseBuildMessage('{"aux":{"ID":"sha256:4f5c0e1d2b3a49586f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a"}}')).toEqual([
      { kind: 'image', id: 'sha256:4f5c0e1d2b3a49586f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a' },
    ]);
    // BuildKit-style aux payloads without an ID are ignored.
    expect(parseBuildMessage('{"id":"moby.buildkit.trace","aux":"CiQKGHNoYTI1Ng=="}')).toEqual([]);
  });

  it('{"status":...} → id, status and progress joined', () => {
    expect(parseBuildMessage('{"status":"Pulling from library/debian","id":"bookworm"}')).toEqual([
      { kind: 'status', text: 'bookworm Pulling from library/debian' },
    ]);
    expect(
      parseBuildMessage(
        '{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=\\u003e   ]  1B/2B","id":"c1c1b5f3a1e2"}',
      ),
    ).toEqual([{ kind: 'status', text: 'c1c1b5f3a1e2 Downloading [=>   ]  1B/2B' }]);
    expect(parseBuildMessage('{"status":"Status: Downloaded newer image for debian:bookworm"}')).toEqual([
      { kind: 'status', text: 'Status: Downloaded newer image for debian:bookworm' },
    ]);
  });

  it('errorDetail wins over error; the code is kept only when numeric', () => {
    expect(
      parseBuildMessage('{"errorDetail":{"code":2,"message":"detail message"},"error":"short message"}'),
    ).toStrictEqual([{ kind: 'error', message: 'detail message', code: 2 }]);
    expect(parseBuildMessage('{"error":"only error"}')).toStrictEqual([{ kind: 'error', message: 'only error' }]);
    expect(parseBuildMessage('{"errorDetail":{"message":"no code"}}')).toStrictEqual([{ kind: 'error', message: 'no code' }]);
    expect(parseBuildMessage('{"errorDetail":{"code":"2","message":"string code"}}')).toStrictEqual([
      { kind: 'error', message: 'string code' },
    ]);
    expect(parseBuildMessage('{"errorDetail":{}}')).toStrictEqual([{ kind: 'error', message: 'unknown build error' }]);
  });

  it('a message with several fields gives several events, error first', () => {
    expect(parseBuildMessage('{"stream":"text\\n","error":"boom","aux":{"ID":"sha256:x"}}')).toEqual([
      { kind: 'error', message: 'boom' },
      { kind: 'log', text: 'text\n' },
      { kind: 'image', id: 'sha256:x' },
    ]);
  });

  it('blank lines give nothing; non-JSON lines are kept as log text', () => {
    expect(parseBuildMessage('')).toEqual([]);
    expect(parseBuildMessage('   \r')).toEqual([]);
    expect(parseBuildMessage('502 Bad Gateway')).toEqual([{ kind: 'log', text: '502 Bad Gateway' }]);
    expect(parseBuildMessage('{"stream":"cut')).toEqual([{ kind: 'log', text: '{"stream":"cut' }]);
  });

  it('unknown JSON objects give nothing', () => {
    expect(parseBuildMessage('{"progressDetail":{}}')).toEqual([]);
    expect(parseBuildMessage('{"stream":42}')).toEqual([]);
  });
});

describe('BuildOutputParser', () => {
  it('a line split across chunks is parsed once it is complete', () => {
    const p = new BuildOutputParser();
    expect(p.push('{"stream":"hel')).toEqual([]);
    expect(p.push('lo\\n"}')).toEqual([]);
    expect(p.push('\n')).toEqual([{ kind: 'log', text: 'hello\n' }]);
    expect(p.end()).toEqual([]);
  });

  it('a multi-byte UTF-8 character split across Buffer chunks survives', () => {
    const line = Buffer.from('{"stream":"error: \u2018X509_V_FLAG_PARTIAL_CHAIN\u2019 undeclared\\n"}\n', 'utf8');
    const quote = line.indexOf(Buffer.from('\u2018', 'utf8'));
    const p = new BuildOutputParser();
    const events = [...p.push(line.subarray(0, quote + 1)), ...p.push(line.subarray(quote + 1, quote + 2)), ...p.push(line.subarray(quote + 2))];
    expect(events).toEqual([{ kind: 'log', text: 'error: \u2018X509_V_FLAG_PARTIAL_CHAIN\u2019 undeclared\n' }]);
    expect(JSON.stringify(events)).not.toContain('\ufffd');
  });

  it('\\r\\n line ends, several objects per chunk, and a CR split from its LF', () => {
    const p = new BuildOutputParser();
    expect(p.push('{"stream":"a\\n"}\r\n{"status":"Pulling fs layer","id":"abc"}\r\n{"aux":{"ID":"sha256:1"}}\r')).toEqual([
      { kind: 'log', text: 'a\n' },
      { kind: 'status', text: 'abc Pulling fs layer' },
    ]);
    expect(p.push('\n{"stream":"b"}')).toEqual([{ kind: 'image', id: 'sha256:1' }]);
    expect(p.end()).toEqual([{ kind: 'log', text: 'b' }]);
  });

  it('end() flushes a last line without a newline, and a dangling partial UTF-8 sequence does not throw', () => {
    const p = new BuildOutputParser();
    expect(p.push(Buffer.from('{"aux":{"ID":"sha256:abc"}}'))).toEqual([]);
    expect(p.end()).toEqual([{ kind: 'image', id: 'sha256:abc' }]);
    const q = new BuildOutputParser();
    q.push(Buffer.from([0xe2, 0x80]));
    expect(q.end()).toEqual([{ kind: 'log', text: '\ufffd' }]);
  });

  it('a successful build stream yields its log and the image id', () => {
    const ok = [
      '{"stream":"Step 17/17 : RUN LRB_PREFIX=/opt sh /usr/src/lrb/scripts/finalize.sh include"}',
      '{"stream":"\\n"}',
      '{"stream":" ---\\u003e Running in 0a1b2c3d4e5f\\n"}',
      '{"stream":"[lrb] /opt after finalize: 31M\\n"}',
      '{"stream":" ---\\u003e Removed intermediate container 0a1b2c3d4e5f\\n"}',
      '{"stream":" ---\\u003e 6b0c7d8e9f1a\\n"}',
      '{"aux":{"ID":"sha256:6b0c7d8e9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4"}}',
      '{"stream":"Successfully built 6b0c7d8e9f1a\\n"}',
      '{"stream":"Successfully tagged lambda-runtime-builder/php:7.4.33-minimal-debian-bookworm-x86_64\\n"}',
    ].join('\n');
    const events = feed(Buffer.from(ok), 13);
    expect(events.filter((e) => e.kind === 'error')).toEqual([]);
    expect(events.filter((e) => e.kind === 'image')).toEqual([
      { kind: 'image', id: 'sha256:6b0c7d8e9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4' },
    ]);
    expect(events.at(-1)).toEqual({
      kind: 'log',
      text: 'Successfully tagged lambda-runtime-builder/php:7.4.33-minimal-debian-bookworm-x86_64\n',
    });
  });
});

describe('failing build fixture (classic builder, make error)', () => {
  const whole = feed(FAILING, FAILING.length);

  it('parses into pull status, build log and one final error with the exit code', () => {
    expect(whole.filter((e) => e.kind === 'status')).toHaveLength(7);
    expect(whole.filter((e) => e.kind === 'image')).toEqual([]);
    expect(whole.filter((e) => e.kind === 'error')).toEqual([{ kind: 'error', message: FAILED_COMMAND, code: 2 }]);
    expect(whole.at(-1)).toEqual({ kind: 'error', message: FAILED_COMMAND, code: 2 });
    expect(whole[0]).toEqual({ kind: 'status', text: 'bookworm Pulling from library/debian' });
    const log = whole.flatMap((e) => (e.kind === 'log' ? [e.text] : [])).join('');
    expect(log).toContain('Step 16/17 : RUN LRB_SOURCE=/usr/src/lrb/sources/php-7.4.33.tar.xz');
    expect(log).toContain("error: \u2018X509_V_FLAG_PARTIAL_CHAIN\u2019 undeclared");
    expect(log).not.toContain('\ufffd');
  });

  it.each([1, 2, 3, 7, 64, 1000])('gives the same events fed in %i-byte chunks (splitting lines and UTF-8 characters)', (size) => {
    expect(feed(FAILING, size)).toEqual(whole);
  });

  it('gives the same events with CRLF line ends', () => {
    const crlf = Buffer.from(FAILING.toString('utf8').replaceAll('\n', '\r\n'), 'utf8');
    expect(feed(crlf, 5)).toEqual(whole);
  });

  it('LogTail keeps the last 40 lines of the build log', () => {
    const tail = new LogTail();
    for (const e of whole) if (e.kind === 'log') tail.write(e.text);
    const lines = tail.get();
    expect(lines).toHaveLength(40);
    expect(lines[0]).toBe('checking for openssl >= 1.0.1... yes');
    expect(lines).toContain("/tmp/lrb-build.Xk3d9Q/php-7.4.33/ext/openssl/openssl.c:2012:9: error: \u2018X509_V_FLAG_PARTIAL_CHAIN\u2019 undeclared (first use in this function)");
    expect(lines.at(-1)).toBe('make: *** [Makefile:657: ext/openssl/openssl.lo] Error 1');
    // The classic builder wraps stderr in SGR red (ESC[91m … ESC[0m); LogTail strips colour codes.
    expect(lines.some((l) => l.includes('\u001b'))).toBe(false);
    expect(lines.some((l) => l.startsWith('Step 1/17'))).toBe(false);
  });
});

describe('LogTail', () => {
  it('joins partial writes into lines and keeps the unterminated rest visible', () => {
    const t = new LogTail(5);
    t.write('Step 1/17 : FROM debian');
    t.write('\n');
    t.write('a\r\nb\npart');
    expect(t.get()).toEqual(['Step 1/17 : FROM debian', 'a', 'b', 'part']);
    t.write('ial\n');
    expect(t.get()).toEqual(['Step 1/17 : FROM debian', 'a', 'b', 'partial']);
  });

  it('keeps only the last N, counting the partial line', () => {
    const t = new LogTail(3);
    for (let i = 1; i <= 10; i++) t.write(`line ${i}\n`);
    expect(t.get()).toEqual(['line 8', 'line 9', 'line 10']);
    t.write('tail');
    expect(t.get()).toEqual(['line 9', 'line 10', 'tail']);
  });

  it('defaults to 40 lines; one write with many lines is trimmed too', () => {
    const t = new LogTail();
    t.write(Array.from({ length: 100 }, (_, i) => `l${i}`).join('\n') + '\n');
    const got = t.get();
    expect(got).toHaveLength(40);
    expect(got[0]).toBe('l60');
    expect(got.at(-1)).toBe('l99');
  });

  it('keeps empty lines (they are part of the log)', () => {
    const t = new LogTail();
    t.write('a\n\nb\n');
    expect(t.get()).toEqual(['a', '', 'b']);
  });
});
