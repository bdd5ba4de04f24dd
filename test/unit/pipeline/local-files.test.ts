import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/pipeline/hash.js';
import { digestEntries, readDirEntries } from '../../../src/pipeline/local-files.js';

const root = mkdtempSync(path.join(tmpdir(), 'lrb-local-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(() => {
  writeFileSync(path.join(root, 'bootstrap'), '#!/bin/sh\nexec php runtime.php\n');
  chmodSync(path.join(root, 'bootstrap'), 0o700);
  mkdirSync(path.join(root, 'runtime'));
  chmodSync(path.join(root, 'runtime'), 0o700);
  writeFileSync(path.join(root, 'runtime', 'loop.php'), '<?php // loop\n');
  chmodSync(path.join(root, 'runtime', 'loop.php'), 0o600);
  writeFileSync(path.join(root, 'runtime', 'group-exec.sh'), 'echo\n');
  chmodSync(path.join(root, 'runtime', 'group-exec.sh'), 0o654);
  mkdirSync(path.join(root, 'runtime', 'empty'));
  symlinkSync('bootstrap', path.join(root, 'bootstrap-link'));
  symlinkSync('../does-not-exist', path.join(root, 'runtime', 'dangling'));
});

describe('readDirEntries', () => {
  it('walks sorted, directories before their contents, modes normalised, symlinks kept as links', async () => {
    const entries = await readDirEntries(root);
    expect(entries.map((e) => [e.type, e.path, e.mode.toString(8)])).toEqual([
      ['file', 'bootstrap', '755'],
      ['symlink', 'bootstrap-link', '777'],
      ['directory', 'runtime', '755'],
      ['symlink', 'runtime/dangling', '777'],
      ['directory', 'runtime/empty', '755'],
      ['file', 'runtime/group-exec.sh', '755'],
      ['file', 'runtime/loop.php', '644'],
    ]);
    const link = entries.find((e) => e.path === 'bootstrap-link');
    expect(link).toEqual({ type: 'symlink', path: 'bootstrap-link', mode: 0o777, target: 'bootstrap' });
    expect(entries.find((e) => e.path === 'runtime/dangling')).toMatchObject({ target: '../does-not-exist' });
    const boot = entries.find((e) => e.path === 'bootstrap');
    expect(boot?.type === 'file' && boot.data.toString()).toBe('#!/bin/sh\nexec php runtime.php\n');
  });

  it('fails on a missing directory', async () => {
    await expect(readDirEntries(path.join(root, 'nope'))).rejects.toThrow(/ENOENT/);
  });
});

describe('digestEntries', () => {
  it('files and symlinks, not directories; content hash for files, target hash for links', async () => {
    const digests = digestEntries(await readDirEntries(root));
    expect(digests).toEqual([
      { path: 'bootstrap', mode: 0o755, sha256: sha256Hex('#!/bin/sh\nexec php runtime.php\n') },
      { path: 'bootstrap-link', mode: 0o777, sha256: sha256Hex('symlink:bootstrap') },
      { path: 'runtime/dangling', mode: 0o777, sha256: sha256Hex('symlink:../does-not-exist') },
      { path: 'runtime/group-exec.sh', mode: 0o755, sha256: sha256Hex('echo\n') },
      { path: 'runtime/loop.php', mode: 0o644, sha256: sha256Hex('<?php // loop\n') },
    ]);
  });

  it('a symlink and a file with the same bytes as its target text digest differently', () => {
    const [file, link] = digestEntries([
      { type: 'file', path: 'a', mode: 0o644, data: Buffer.from('b') },
      { type: 'symlink', path: 'a', mode: 0o777, target: 'b' },
    ]);
    expect(file!.sha256).not.toBe(link!.sha256);
  });

  it('changes when an exec bit changes', async () => {
    const before = digestEntries(await readDirEntries(root));
    chmodSync(path.join(root, 'runtime', 'loop.php'), 0o755);
    try {
      const after = digestEntries(await readDirEntries(root));
      expect(after.find((d) => d.path === 'runtime/loop.php')!.mode).toBe(0o755);
      expect(after).not.toEqual(before);
    } finally {
      chmodSync(path.join(root, 'runtime', 'loop.php'), 0o600);
    }
  });
});
