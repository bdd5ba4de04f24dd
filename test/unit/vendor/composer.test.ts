import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { packTar } from '../../../src/layer/tar.js';
import { arMembers, composerTree, debFiles, loadComposerTool, type ComposerTool } from '../../../src/vendor/composer.js';

async function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** An `ar` archive as dpkg writes one: 8-byte magic, then 60-byte headers, members padded to even sizes. */
function ar(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const [name, data] of members) {
    const header = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

const file = (path: string, text: string, mode = 0o644) => ({ type: 'file' as const, path, mode, data: Buffer.from(text) });
const dir = (path: string) => ({ type: 'directory' as const, path, mode: 0o755 });

async function deb(entries: Parameters<typeof packTar>[0]): Promise<Buffer> {
  const tar = await streamToBuffer(packTar(entries));
  return ar([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', gzipSync(Buffer.from('x'))],
    ['data.tar.gz', gzipSync(tar)],
  ]);
}

describe('Debian packages, read without dpkg', () => {
  it('lists the ar members with their bytes, odd sizes padded', () => {
    const m = arMembers(ar([['debian-binary', Buffer.from('2.0\n')], ['odd', Buffer.from('abc')], ['data.tar.xz', Buffer.from('zz')]]), 'x.deb');
    expect([...m.keys()]).toEqual(['debian-binary', 'odd', 'data.tar.xz']);
    expect(m.get('odd')!.toString()).toBe('abc');
    expect(m.get('data.tar.xz')!.toString()).toBe('zz');
  });

  it('refuses what is not an ar archive, or a member running past the end', () => {
    expect(() => arMembers(Buffer.from('PK\x03\x04 not a deb'), 'a.deb')).toThrow('a.deb is not a Debian package (no ar header)');
    const cut = ar([['data.tar.gz', Buffer.alloc(100)]]).subarray(0, 90);
    expect(() => arMembers(cut, 'b.deb')).toThrow('b.deb: ar member data.tar.gz runs past the end');
  });

  it('keeps only the files under the kept prefixes, with their parents and modes', async () => {
    const d = await deb([dir('usr'), dir('usr/bin'), file('usr/bin/composer', '#!/usr/bin/php', 0o755), dir('usr/share'), dir('usr/share/php'), file('usr/share/php/A.php', '<?php'), dir('usr/share/doc'), file('usr/share/doc/x', 'doc')]);
    const got = await debFiles(d, ['usr/bin/composer', 'usr/share/php/'], 'c.deb');
    expect(got.map((e) => `${e.type} ${e.path} ${e.mode.toString(8)}`)).toEqual([
      'directory usr 755',
      'directory usr/bin 755',
      'file usr/bin/composer 755',
      'directory usr/share 755',
      'directory usr/share/php 755',
      'file usr/share/php/A.php 644',
    ]);
  });

  it('one tree from several packages, and the entry script must be in it', async () => {
    const tool = { bin: 'usr/bin/composer', keep: ['usr/bin/composer', 'usr/share/php/'], sources: [{ sha256: 'a'.repeat(64), name: 'a.deb' }, { sha256: 'b'.repeat(64), name: 'b.deb' }] } as unknown as ComposerTool;
    const a = await deb([dir('usr'), dir('usr/bin'), file('usr/bin/composer', 'c')]);
    const b = await deb([dir('usr'), dir('usr/share'), dir('usr/share/php'), file('usr/share/php/B.php', 'b')]);
    const tree = await composerTree(tool, new Map([['a'.repeat(64), a], ['b'.repeat(64), b]]));
    expect(tree.filter((e) => e.type === 'file').map((e) => e.path).sort()).toEqual(['usr/bin/composer', 'usr/share/php/B.php']);
    await expect(composerTree(tool, new Map([['b'.repeat(64), b], ['a'.repeat(64), b]]))).rejects.toThrow('the Composer packages hold no usr/bin/composer');
    await expect(composerTree(tool, new Map([['a'.repeat(64), a]]))).rejects.toThrow('Composer source b.deb was not fetched');
  });
});

describe('recipes/tools/composer.json', () => {
  it('pins Composer 2.8.8 and its libraries as Debian 13 packages, each by SHA-256 and pool path, once', async () => {
    const tool = await loadComposerTool();
    expect(tool).toMatchObject({ name: 'composer', version: '2.8.8', from: 'debian trixie packages', bin: 'usr/bin/composer' });
    expect(tool.sources[0]).toMatchObject({ package: 'composer', version: '2.8.8-1+deb13u3', debianPath: 'pool/main/c/composer/composer_2.8.8-1+deb13u3_all.deb' });
    for (const s of tool.sources) {
      expect(s.name, s.package).toMatch(/_all\.deb$/);
      expect(s.url).toBe(`http://deb.debian.org/debian/${s.debianPath}`);
      expect(s.name.startsWith(`${s.package}_`)).toBe(true);
    }
    expect(new Set(tool.sources.map((s) => s.package)).size).toBe(tool.sources.length);
    // What Composer's own autoloader requires (composer's usr/share/php/Composer/autoload.php) is among them.
    expect(tool.sources.map((s) => s.package)).toEqual(
      expect.arrayContaining(['php-symfony-console', 'php-symfony-process', 'php-json-schema', 'jsonlint', 'php-composer-semver', 'php-react-promise', 'php-seld-signal-handler']),
    );
  });
});
