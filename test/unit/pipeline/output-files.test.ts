import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputPathError } from '../../../src/errors.js';
import { ensureWritableDir, writeFileAtomic } from '../../../src/pipeline/output-files.js';

const work = mkdtempSync(join(os.tmpdir(), 'lrb-output-files-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes the file and leaves no temporary files', async () => {
    const dir = mkdtempSync(join(work, 'atomic-'));
    const zip = Buffer.from('PK\u0003\u0004 a zip');
    await writeFileAtomic(join(dir, 'layer.zip'), zip);
    expect(readFileSync(join(dir, 'layer.zip')).equals(zip)).toBe(true);
    expect(readdirSync(dir)).toEqual(['layer.zip']);
    // Replaces an existing file.
    await writeFileAtomic(join(dir, 'layer.zip'), Buffer.from('new'));
    expect(readFileSync(join(dir, 'layer.zip')).toString()).toBe('new');
    expect(readdirSync(dir)).toEqual(['layer.zip']);
  });

  it('on failure leaves the old file intact and no temporary file behind', async () => {
    const dir = mkdtempSync(join(work, 'atomic-fail-'));
    // The destination is a non-empty directory: rename fails after the temp file was written.
    mkdirSync(join(dir, 'layer.zip'));
    writeFileSync(join(dir, 'layer.zip', 'keep'), 'x');
    await expect(writeFileAtomic(join(dir, 'layer.zip'), Buffer.from('zip'))).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['layer.zip']);
    expect(existsSync(join(dir, 'layer.zip', 'keep'))).toBe(true);
  });

  it('fails cleanly when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(work, 'missing-dir', 'layer.zip'), Buffer.from('x'))).rejects.toThrow(/ENOENT/);
  });
});

describe('ensureWritableDir: a bad output location is one line naming the path and what to do', () => {
  it('a file where a directory should be (ENOTDIR)', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    for (const dir of [file, join(file, 'dist')]) {
      const err = await ensureWritableDir(dir, '--out').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputPathError);
      expect((err as Error).message).toBe(`cannot write --out ${dir}: a part of the path is a file, not a directory: choose a directory (ENOTDIR)`);
    }
  });

  it('a read-only mount is reported as read-only, not as ENOENT', async () => {
    // CI runs as root; a read-only tmpfs is the real thing, not a simulation.
    const mnt = mkdtempSync(join(work, 'ro-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt]);
    try {
      for (const dir of [mnt, join(mnt, 'deep', 'dist')]) {
        const err = await ensureWritableDir(dir, '--cache-dir').catch((e: unknown) => e);
        expect((err as Error).message).toBe(`cannot write --cache-dir ${dir}: the file system is read-only: choose a writable location (EROFS)`);
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a full disk (ENOSPC) names the file and leaves nothing behind', async () => {
    const mnt = mkdtempSync(join(work, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      const file = join(mnt, 'layer.zip.json');
      const err = await writeFileAtomic(file, Buffer.alloc(1024 * 1024), 'the manifest').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputPathError);
      expect((err as Error).message).toBe(`cannot write the manifest ${file}: the disk is full: free some space or choose another location (ENOSPC)`);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
