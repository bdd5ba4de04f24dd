import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { type LayerEntry, UnsafeEntryError, sortEntries } from '../../../src/layer/entries.js';
import {
  DEFAULT_TAR_MTIME,
  UnsafeTarEntryError,
  listTarEntries,
  listTarNames,
  packTar,
  readTarEntries,
} from '../../../src/layer/tar.js';

interface RawEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  mode?: number;
  linkname?: string;
  body?: string | Buffer;
}

/** Builds a tar with tar-stream directly (no validation), as an attacker could. */
async function rawTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? 0o644, linkname: e.linkname, mtime: new Date(0) };
    await new Promise<void>((resolve, reject) => {
      if (e.body !== undefined) pack.entry(header, typeof e.body === 'string' ? Buffer.from(e.body) : e.body, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A stream that delivers the buffer in small chunks, to exercise partial reads. */
const streamOf = (buf: Buffer, chunk = 100): Readable =>
  Readable.from((function* () {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  })());

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function readRawHeaders(buf: Buffer): Promise<Array<tar.Header & { body: Buffer }>> {
  const out: Array<tar.Header & { body: Buffer }> = [];
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(Buffer.from(c as Uint8Array));
      out.push({ ...entry.header, body: Buffer.concat(chunks) });
    }
  })();
  extract.end(buf);
  await done;
  return out;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const dockerLike: RawEntry[] = [
  { name: 'opt/', type: 'directory', mode: 0o755 },
  { name: 'opt/bin/', type: 'directory', mode: 0o755 },
  { name: 'opt/bin/php', mode: 0o755, body: 'PHPBINARY' },
  { name: 'opt/bootstrap', mode: 0o755, body: '#!/bin/sh\n' },
  { name: 'opt/lib/', type: 'directory', mode: 0o755 },
  { name: 'opt/lib/libssl.so.1.1', mode: 0o644, body: 'SSL' },
  { name: 'opt/lib/libssl.so', type: 'symlink', linkname: 'libssl.so.1.1' },
  { name: 'opt/lib/libabs.so', type: 'symlink', linkname: '/opt/lib/libssl.so.1.1' },
  { name: 'opt/bin/php-link', type: 'link', linkname: 'opt/bin/php' },
];

describe('readTarEntries', () => {
  it('reads a Docker-style archive of /opt, stripping the prefix', async () => {
    const entries = await readTarEntries(streamOf(await rawTar(dockerLike)), { stripPrefix: 'opt' });
    expect(entries.map((e) => [e.path, e.type, e.mode])).toEqual([
      ['bin', 'directory', 0o755],
      ['bin/php', 'file', 0o755],
      ['bin/php-link', 'file', 0o755],
      ['bootstrap', 'file', 0o755],
      ['lib', 'directory', 0o755],
      ['lib/libabs.so', 'symlink', 0o777],
      ['lib/libssl.so', 'symlink', 0o777],
      ['lib/libssl.so.1.1', 'file', 0o644],
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const php = byPath.get('bin/php');
    expect(php?.type === 'file' && php.data.toString()).toBe('PHPBINARY');
    const hardlink = byPath.get('bin/php-link');
    expect(hardlink?.type === 'file' && hardlink.data.toString()).toBe('PHPBINARY');
    expect(byPath.get('lib/libssl.so')).toMatchObject({ target: 'libssl.so.1.1' });
    // absolute target inside the prefix, rewritten relative to the link's directory
    expect(byPath.get('lib/libabs.so')).toMatchObject({ target: 'libssl.so.1.1' });
  });

  it.each(['opt', 'opt/', '/opt', './opt'])('accepts stripPrefix %j', async (prefix) => {
    const names = (await readTarEntries(streamOf(await rawTar(dockerLike)), { stripPrefix: prefix })).map((e) => e.path);
    expect(names).toContain('bin/php');
  });

  it('without stripPrefix keeps names and normalizes ./ prefixes', async () => {
    const buf = await rawTar([
      { name: './', type: 'directory' },
      { name: './bin/', type: 'directory' },
      { name: './bin/x', body: 'x' },
    ]);
    expect((await readTarEntries(streamOf(buf))).map((e) => e.path)).toEqual(['bin', 'bin/x']);
  });

  it('rewrites absolute targets using symlinkRoot when the archive was taken below /opt', async () => {
    const buf = await rawTar([
      { name: 'php/', type: 'directory' },
      { name: 'php/lib/', type: 'directory' },
      { name: 'php/lib/a.so.1', body: 'a' },
      { name: 'php/lib/a.so', type: 'symlink', linkname: '/opt/php/lib/a.so.1' },
    ]);
    const entries = await readTarEntries(streamOf(buf), { stripPrefix: 'php', symlinkRoot: '/opt/php' });
    expect(entries.find((e) => e.path === 'lib/a.so')).toMatchObject({ type: 'symlink', target: 'a.so.1' });
    // With the default root (/php) the same target is outside and rejected.
    await expect(readTarEntries(streamOf(buf), { stripPrefix: 'php' })).rejects.toThrow(UnsafeTarEntryError);
  });

  it.each<[string, RawEntry[], RegExp]>([
    ['a ../ name', [{ name: '../x', body: 'evil' }], /"\.\.\/x".*"\.\."/],
    ['a nested .. name', [{ name: 'opt/lib/../../etc/x', body: 'evil' }], /"opt\/lib\/\.\.\/\.\.\/etc\/x"/],
    ['an absolute name', [{ name: '/etc/x', body: 'evil' }], /"\/etc\/x".*absolute/],
    ['a name outside the prefix', [{ name: 'etc/x', body: 'evil' }], /"etc\/x".*outside the expected prefix "opt\/"/],
    ['a symlink to /etc/passwd', [{ name: 'opt/passwd', type: 'symlink', linkname: '/etc/passwd' }], /"opt\/passwd".*\/etc\/passwd/],
    ['a relative symlink leaving the root', [{ name: 'opt/lib/x', type: 'symlink', linkname: '../../etc/passwd' }], /"opt\/lib\/x".*leaves the layer root/],
    ['a symlink to the parent of the root', [{ name: 'opt/up', type: 'symlink', linkname: '..' }], /"opt\/up"/],
    [
      'a symlink escaping through another symlink',
      [
        { name: 'opt/lib/', type: 'directory' },
        { name: 'opt/lib/u', type: 'symlink', linkname: '..' },
        { name: 'opt/x', type: 'symlink', linkname: 'lib/u/..' },
      ],
      /"opt\/x"/,
    ],
    [
      'an entry written through a symlink',
      [
        { name: 'opt/lib', type: 'symlink', linkname: '.' },
        { name: 'opt/lib/x', body: 'x' },
      ],
      /"opt\/lib\/x".*symlink/,
    ],
    ['a hardlink to /etc/passwd', [{ name: 'opt/passwd', type: 'link', linkname: '/etc/passwd' }], /"\/etc\/passwd".*absolute hardlink target/],
    ['a hardlink to ../ ', [{ name: 'opt/passwd', type: 'link', linkname: '../etc/passwd' }], /"\.\.\/etc\/passwd"/],
    ['a hardlink whose target comes later', [{ name: 'opt/a', type: 'link', linkname: 'opt/b' }, { name: 'opt/b', body: 'b' }], /"opt\/a".*appearing earlier/],
    ['a hardlink to a directory', [{ name: 'opt/d/', type: 'directory' }, { name: 'opt/a', type: 'link', linkname: 'opt/d' }], /"opt\/a"/],
    ['a character device', [{ name: 'opt/null', type: 'character-device' }], /"opt\/null".*character-device/],
    ['a block device', [{ name: 'opt/sda', type: 'block-device' }], /"opt\/sda".*block-device/],
    ['a fifo', [{ name: 'opt/fifo', type: 'fifo' }], /"opt\/fifo".*fifo/],
    ['a file replacing the root', [{ name: 'opt', body: 'x' }], /"opt".*layer root/],
  ])('rejects %s with UnsafeTarEntryError naming the entry', async (_name, raw, message) => {
    const error = await rejection(readTarEntries(streamOf(await rawTar(raw)), { stripPrefix: 'opt' }));
    expect(error).toBeInstanceOf(UnsafeTarEntryError);
    expect(error).toBeInstanceOf(UnsafeEntryError);
    expect(error.message).toMatch(message);
  });

  it('copies a hardlinked symlink as a symlink, re-resolving an absolute target from its new place', async () => {
    const buf = await rawTar([
      { name: 'opt/lib/', type: 'directory' },
      { name: 'opt/lib/a.so.1', body: 'a' },
      { name: 'opt/lib/a.so', type: 'symlink', linkname: '/opt/lib/a.so.1' },
      { name: 'opt/b.so', type: 'link', linkname: 'opt/lib/a.so' },
    ]);
    const entries = await readTarEntries(streamOf(buf), { stripPrefix: 'opt' });
    expect(entries.find((e) => e.path === 'b.so')).toMatchObject({ type: 'symlink', target: 'lib/a.so.1' });
  });

  it('lets a later duplicate win, like tar extraction', async () => {
    const buf = await rawTar([
      { name: 'opt/a', body: 'first' },
      { name: 'opt/a', body: 'second', mode: 0o600 },
    ]);
    const [a] = await readTarEntries(streamOf(buf), { stripPrefix: 'opt' });
    expect(a?.type === 'file' && [a.data.toString(), a.mode]).toEqual(['second', 0o600]);
  });

  it('handles pax long names and long link targets', async () => {
    const long = `opt/${'d'.repeat(120)}/${'f'.repeat(120)}.so`;
    const longTarget = `${'t'.repeat(150)}.so`;
    const buf = await rawTar([
      { name: long, body: 'long' },
      { name: 'opt/l', type: 'symlink', linkname: longTarget },
      { name: 'opt/ünï.txt', body: 'utf8' },
    ]);
    const entries = await readTarEntries(streamOf(buf), { stripPrefix: 'opt' });
    expect(entries.map((e) => e.path)).toEqual([long.slice(4), 'l', 'ünï.txt']);
    expect(entries[1]).toMatchObject({ type: 'symlink', target: longTarget });
  });

  it('propagates a source stream error', async () => {
    const good = await rawTar(dockerLike);
    const failing = new Readable({
      read() {
        this.push(good.subarray(0, 1024));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(readTarEntries(failing, { stripPrefix: 'opt' })).rejects.toThrow(/connection reset/);
  });

  it('rejects a truncated archive', async () => {
    const good = await rawTar(dockerLike);
    await expect(readTarEntries(streamOf(good.subarray(0, 1100)), { stripPrefix: 'opt' })).rejects.toThrow();
  });

  it('reads a tar produced by the system tar (GNU tar) with real hardlinks and symlinks', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lrb-tar-'));
    try {
      mkdirSync(join(root, 'opt/bin'), { recursive: true });
      mkdirSync(join(root, 'opt/lib'), { recursive: true });
      writeFileSync(join(root, 'opt/bin/php'), 'php!');
      chmodSync(join(root, 'opt/bin/php'), 0o755);
      linkSync(join(root, 'opt/bin/php'), join(root, 'opt/bin/php-cgi'));
      writeFileSync(join(root, 'opt/lib/libx.so.1'), 'x');
      chmodSync(join(root, 'opt/lib/libx.so.1'), 0o644);
      symlinkSync('libx.so.1', join(root, 'opt/lib/libx.so'));
      symlinkSync('/opt/bin/php', join(root, 'opt/php'));
      const buf = execFileSync('tar', ['-C', root, '--sort=name', '-cf', '-', 'opt']);
      const entries = await readTarEntries(Readable.from([buf]), { stripPrefix: 'opt' });
      const byPath = new Map(entries.map((e) => [e.path, e]));
      expect(byPath.get('bin/php')).toMatchObject({ type: 'file', mode: 0o755 });
      const cgi = byPath.get('bin/php-cgi');
      expect(cgi?.type === 'file' && [cgi.data.toString(), cgi.mode]).toEqual(['php!', 0o755]);
      expect(byPath.get('lib/libx.so')).toMatchObject({ type: 'symlink', target: 'libx.so.1' });
      expect(byPath.get('php')).toMatchObject({ type: 'symlink', target: 'bin/php' });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('listTarEntries / listTarNames', () => {
  it('lists names and metadata without judging link targets or types', async () => {
    const buf = await rawTar([
      { name: 'opt/', type: 'directory' },
      { name: 'opt/lib64/', type: 'directory' },
      { name: 'opt/lib64/libc.so.6', body: 'c'.repeat(1000) },
      { name: 'opt/lib64/libz.so', type: 'symlink', linkname: '/usr/lib64/libz.so.1' },
      { name: 'opt/lib64/hl', type: 'link', linkname: 'opt/lib64/libc.so.6' },
      { name: 'opt/null', type: 'character-device' },
    ]);
    const listing = await listTarEntries(streamOf(buf), { stripPrefix: 'opt' });
    expect(listing).toEqual([
      { path: '', type: 'directory', tarType: 'directory', mode: 0o644, size: 0 },
      { path: 'lib64', type: 'directory', tarType: 'directory', mode: 0o644, size: 0 },
      { path: 'lib64/libc.so.6', type: 'file', tarType: 'file', mode: 0o644, size: 1000 },
      { path: 'lib64/libz.so', type: 'symlink', tarType: 'symlink', mode: 0o644, size: 0, linkTarget: '/usr/lib64/libz.so.1' },
      { path: 'lib64/hl', type: 'hardlink', tarType: 'link', mode: 0o644, size: 0, linkTarget: 'opt/lib64/libc.so.6' },
      { path: 'null', type: 'other', tarType: 'character-device', mode: 0o644, size: 0 },
    ]);
    expect(await listTarNames(streamOf(buf), { stripPrefix: 'opt' })).toEqual([
      'lib64',
      'lib64/libc.so.6',
      'lib64/libz.so',
      'lib64/hl',
      'null',
    ]);
  });

  it('still rejects names that escape', async () => {
    const buf = await rawTar([{ name: '../x', body: 'x' }]);
    await expect(listTarNames(streamOf(buf))).rejects.toThrow(UnsafeTarEntryError);
  });

  it('handles an archive larger than the stream buffers without keeping bodies', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    const buf = await rawTar([
      { name: 'a', body: big },
      { name: 'b', body: big },
    ]);
    expect(await listTarNames(streamOf(buf, 64 * 1024))).toEqual(['a', 'b']);
  });
});

describe('packTar', () => {
  const entries: LayerEntry[] = [
    { type: 'file', path: 'lib/libz.so.1', mode: 0o644, data: Buffer.from('zlib') },
    { type: 'symlink', path: 'lib/libz.so', mode: 0o777, target: 'libz.so.1' },
    { type: 'file', path: 'bootstrap', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    { type: 'directory', path: 'lib', mode: 0o755 },
    { type: 'directory', path: 'bin', mode: 0o700 },
    { type: 'file', path: 'bin/php', mode: 0o755, data: Buffer.from('php') },
  ];

  it('writes sorted entries, directories before children, fixed mtime, uid/gid 0', async () => {
    const headers = await readRawHeaders(await collect(packTar(entries)));
    expect(headers.map((h) => [h.name, h.type, h.mode])).toEqual([
      ['bin/', 'directory', 0o700],
      ['bin/php', 'file', 0o755],
      ['bootstrap', 'file', 0o755],
      ['lib/', 'directory', 0o755],
      ['lib/libz.so', 'symlink', 0o777],
      ['lib/libz.so.1', 'file', 0o644],
    ]);
    for (const h of headers) {
      expect(h.mtime.getTime()).toBe(DEFAULT_TAR_MTIME.getTime());
      expect([h.uid, h.gid]).toEqual([0, 0]);
    }
    expect(headers.find((h) => h.name === 'lib/libz.so')?.linkname).toBe('libz.so.1');
    expect(headers.find((h) => h.name === 'bin/php')?.body.toString()).toBe('php');
  });

  it('applies a prefix and a custom mtime, and is byte-identical when repeated', async () => {
    const mtime = new Date('2020-02-02T00:00:00Z');
    const a = await collect(packTar(entries, { prefix: 'opt', mtime }));
    const b = await collect(packTar([...entries].reverse(), { prefix: '/opt/', mtime }));
    expect(a.equals(b)).toBe(true);
    const headers = await readRawHeaders(a);
    expect(headers[0]?.name).toBe('opt/bin/');
    expect(headers.every((h) => h.mtime.getTime() === mtime.getTime())).toBe(true);
  });

  it('round-trips through readTarEntries, including long and non-ASCII names', async () => {
    const more: LayerEntry[] = [
      ...entries,
      { type: 'directory', path: 'share', mode: 0o755 },
      { type: 'directory', path: `share/${'x'.repeat(130)}`, mode: 0o750 },
      { type: 'file', path: `share/${'x'.repeat(130)}/${'y'.repeat(130)}`, mode: 0o600, data: Buffer.alloc(70_000, 1) },
      { type: 'file', path: 'share/ünïcödé', mode: 0o644, data: Buffer.from('u') },
    ];
    const back = await readTarEntries(packTar(more, { prefix: 'opt' }), { stripPrefix: 'opt' });
    expect(back).toEqual(sortEntries(more));
  });

  it('is understood by the system tar', async () => {
    const listing = execFileSync('tar', ['-tvf', '-'], {
      input: await collect(packTar(entries, { prefix: 'opt' })),
      env: { ...process.env, TZ: 'UTC' },
    }).toString();
    expect(listing).toMatch(/^drwx------ 0\/0 .* opt\/bin\/$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 .* opt\/bootstrap$/m);
    expect(listing).toMatch(/^lrwxrwxrwx 0\/0 .* opt\/lib\/libz.so -> libz.so.1$/m);
    expect(listing).toMatch(/ 2000-01-01 /);
  });

  it('rejects invalid entry lists before writing anything', () => {
    expect(() => packTar([{ type: 'file', path: '../x', mode: 0o644, data: Buffer.from('') }])).toThrow(/"\.\.\/x"/);
    expect(() =>
      packTar([
        { type: 'file', path: 'a', mode: 0o644, data: Buffer.from('') },
        { type: 'file', path: 'a', mode: 0o644, data: Buffer.from('') },
      ]),
    ).toThrow(/duplicate/);
  });

  it('refuses symlinks that are absolute or leave the layer root, naming entry and target', () => {
    const passwd: LayerEntry = { type: 'symlink', path: 'runtime/passwd', mode: 0o777, target: '../../../../etc/passwd' };
    expect(() => packTar([passwd], { prefix: 'opt' })).toThrow(UnsafeEntryError);
    expect(() => packTar([passwd], { prefix: 'opt' })).toThrow(
      'unsafe layer entry "runtime/passwd": symlink target "../../../../etc/passwd" leaves the layer root',
    );
    expect(() => packTar([{ type: 'symlink', path: 'x', mode: 0o777, target: '/etc/shadow' }])).toThrow(/"x": symlink target "\/etc\/shadow" is absolute/);
    // The prefix does not widen the root: opt/lib/x -> ../../etc is still out of the layer.
    expect(() => packTar([{ type: 'symlink', path: 'lib/x', mode: 0o777, target: '../../etc' }], { prefix: 'opt' })).toThrow(/leaves the layer root/);
  });
});
