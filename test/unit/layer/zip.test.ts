import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yazl from 'yazl';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type LayerEntry, UnsafeEntryError, sortEntries } from '../../../src/layer/entries.js';
import { readDirEntries } from '../../../src/pipeline/local-files.js';
import { UnsafeZipEntryError, buildZip, readZipEntries } from '../../../src/layer/zip.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const work = mkdtempSync(join(tmpdir(), 'lrb-zip-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const entries: LayerEntry[] = [
  { type: 'file', path: 'bootstrap', mode: 0o755, data: Buffer.from('#!/bin/sh\nexec /opt/bin/php "$@"\n') },
  { type: 'directory', path: 'bin', mode: 0o755 },
  { type: 'file', path: 'bin/php', mode: 0o755, data: Buffer.from('php binary '.repeat(1000)) },
  { type: 'directory', path: 'lib', mode: 0o755 },
  { type: 'file', path: 'lib/libssl.so.1.1', mode: 0o644, data: Buffer.from('ssl '.repeat(500)) },
  { type: 'symlink', path: 'lib/libssl.so', mode: 0o777, target: 'libssl.so.1.1' },
  { type: 'directory', path: 'etc', mode: 0o700 },
  { type: 'file', path: 'etc/php.ini', mode: 0o600, data: Buffer.from('memory_limit=128M\n') },
  { type: 'file', path: 'etc/empty', mode: 0o644, data: Buffer.alloc(0) },
];

interface CentralRecord {
  name: string;
  versionMadeBy: number;
  method: number;
  time: number;
  date: number;
  extraLength: number;
  externalAttributes: number;
}

/** Reads the central directory by hand (independent of yauzl). */
function centralDirectory(zip: Buffer): CentralRecord[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const count = zip.readUInt16LE(eocd + 10);
  let off = zip.readUInt32LE(eocd + 16);
  const out: CentralRecord[] = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(off)).toBe(0x02014b50);
    const nameLength = zip.readUInt16LE(off + 28);
    const extraLength = zip.readUInt16LE(off + 30);
    const commentLength = zip.readUInt16LE(off + 32);
    out.push({
      versionMadeBy: zip.readUInt16LE(off + 4),
      method: zip.readUInt16LE(off + 10),
      time: zip.readUInt16LE(off + 12),
      date: zip.readUInt16LE(off + 14),
      extraLength,
      externalAttributes: zip.readUInt32LE(off + 38),
      name: zip.toString('utf8', off + 46, off + 46 + nameLength),
    });
    off += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

const DOS_2000_01_01 = (20 << 9) | (1 << 5) | 1;

describe('buildZip', () => {
  it('stores sorted entries with Unix modes, DOS timestamps only, and stored symlinks', async () => {
    const zip = await buildZip(entries);
    const records = centralDirectory(zip);
    expect(records.map((r) => r.name)).toEqual([
      'bin/',
      'bin/php',
      'bootstrap',
      'etc/',
      'etc/empty',
      'etc/php.ini',
      'lib/',
      'lib/libssl.so',
      'lib/libssl.so.1.1',
    ]);
    const attrs = Object.fromEntries(records.map((r) => [r.name, (r.externalAttributes >>> 16).toString(8)]));
    expect(attrs).toEqual({
      'bin/': '40755',
      'bin/php': '100755',
      bootstrap: '100755',
      'etc/': '40700',
      'etc/empty': '100644',
      'etc/php.ini': '100600',
      'lib/': '40755',
      'lib/libssl.so': '120777',
      'lib/libssl.so.1.1': '100644',
    });
    for (const r of records) {
      expect(r.versionMadeBy >> 8).toBe(3); // Unix
      expect(r.extraLength).toBe(0); // no extended timestamp (or any other) extra field
      expect([r.date, r.time]).toEqual([DOS_2000_01_01, 0]);
    }
    expect(records.find((r) => r.name === 'lib/libssl.so')?.method).toBe(0); // stored
    expect(records.find((r) => r.name === 'bin/php')?.method).toBe(8); // deflated
  });

  it('is byte-identical for the same entries in any order, every time', async () => {
    const a = await buildZip(entries);
    const b = await buildZip([...entries].reverse());
    const c = await buildZip(entries.map((e) => (e.type === 'file' ? { ...e, data: Buffer.from(e.data) } : { ...e })));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(true);
  });

  it('changes when content or mode changes (the comparison above can fail)', async () => {
    const a = await buildZip(entries);
    const modeChanged = entries.map((e) => (e.path === 'bootstrap' ? { ...e, mode: 0o644 } : e));
    expect(a.equals(await buildZip(modeChanged))).toBe(false);
  });

  describe('time zones', () => {
    const originalTz = process.env.TZ;
    afterEach(() => {
      if (originalTz === undefined) delete process.env.TZ;
      else process.env.TZ = originalTz;
    });

    it('is byte-identical when the process time zone changes', async () => {
      process.env.TZ = 'UTC';
      const utc = await buildZip(entries);
      process.env.TZ = 'Asia/Kolkata';
      expect(new Date(0).getTimezoneOffset()).toBe(-330); // the change took effect
      const ist = await buildZip(entries);
      process.env.TZ = 'America/Los_Angeles';
      const pst = await buildZip(entries);
      expect(ist.equals(utc)).toBe(true);
      expect(pst.equals(utc)).toBe(true);
      expect(centralDirectory(ist).every((r) => r.date === DOS_2000_01_01 && r.time === 0)).toBe(true);
    });

    it('is byte-identical across child processes started with TZ=UTC and TZ=Asia/Kolkata', async () => {
      const script = join(work, 'zip-hash.mts');
      const zipModule = join(repoRoot, 'src/layer/zip.ts');
      writeFileSync(
        script,
        [
          `import { createHash } from 'node:crypto';`,
          `import { buildZip } from ${JSON.stringify(zipModule)};`,
          `const entries = JSON.parse(process.argv[2]).map((e) => e.data === undefined ? e : { ...e, data: Buffer.from(e.data, 'base64') });`,
          `const zip = await buildZip(entries);`,
          `process.stdout.write(new Date(0).getTimezoneOffset() + ' ' + createHash('sha256').update(zip).digest('hex'));`,
        ].join('\n'),
      );
      const arg = JSON.stringify(entries.map((e) => (e.type === 'file' ? { ...e, data: e.data.toString('base64') } : e)));
      const run = (tz: string): string[] =>
        execFileSync(process.execPath, ['--import', 'tsx', script, arg], {
          cwd: repoRoot,
          env: { ...process.env, TZ: tz },
          encoding: 'utf8',
        }).split(' ');
      const [utcOffset, utcHash] = run('UTC');
      const [istOffset, istHash] = run('Asia/Kolkata');
      expect([utcOffset, istOffset]).toEqual(['0', '-330']);
      expect(istHash).toBe(utcHash);
      expect(utcHash).toBe(createHash('sha256').update(await buildZip(entries)).digest('hex'));
    });
  });

  it('rejects invalid entry lists', async () => {
    await expect(buildZip([{ type: 'file', path: '../x', mode: 0o644, data: Buffer.alloc(0) }])).rejects.toThrow(/"\.\.\/x"/);
    await expect(
      buildZip([
        { type: 'symlink', path: 'a', mode: 0o777, target: 'b' },
        { type: 'file', path: 'a/c', mode: 0o644, data: Buffer.alloc(0) },
      ]),
    ).rejects.toThrow(/symlink/);
    await expect(buildZip(entries, { compressionLevel: 11 })).rejects.toThrow(/compressionLevel/);
  });

  it('refuses a runtime file that is a symlink out of the layer (absolute or climbing), naming entry and target', async () => {
    // The reported case: a recipe's runtime directory holding a link to ../../../../etc/passwd.
    const runtime = mkdtempSync(join(work, 'runtime-'));
    mkdirSync(join(runtime, 'runtime'));
    writeFileSync(join(runtime, 'bootstrap'), '#!/bin/sh\n');
    symlinkSync('../../../../etc/passwd', join(runtime, 'runtime', 'passwd'));
    const fromDisk = await readDirEntries(runtime);
    await expect(buildZip(fromDisk)).rejects.toThrow(
      'unsafe layer entry "runtime/passwd": symlink target "../../../../etc/passwd" leaves the layer root',
    );
    await expect(buildZip([{ type: 'symlink', path: 'etc/passwd', mode: 0o777, target: '/etc/passwd' }])).rejects.toThrow(
      /"etc\/passwd": symlink target "\/etc\/passwd" is absolute/,
    );
    await expect(buildZip([{ type: 'symlink', path: 'bin/php', mode: 0o777, target: '../../usr/bin/php' }])).rejects.toThrow(UnsafeEntryError);
    // Inside the root is fine, dangling or not.
    await expect(buildZip([{ type: 'symlink', path: 'bin/php', mode: 0o777, target: '../lib/php/missing' }])).resolves.toBeInstanceOf(Buffer);
  });

  it('honours compressionLevel 0 (everything stored)', async () => {
    const records = centralDirectory(await buildZip(entries, { compressionLevel: 0 }));
    expect(records.every((r) => r.method === 0)).toBe(true);
  });
});

describe('readZipEntries', () => {
  it('round-trips entries, modes and symlinks (from a Buffer and from a file)', async () => {
    const zip = await buildZip(entries);
    expect(await readZipEntries(zip)).toEqual(sortEntries(entries));
    const path = join(work, 'roundtrip.zip');
    writeFileSync(path, zip);
    expect(await readZipEntries(path)).toEqual(sortEntries(entries));
  });

  /** Builds a zip with yazl directly, bypassing buildZip's validation. */
  async function rawZip(add: (z: yazl.ZipFile) => void): Promise<Buffer> {
    const z = new yazl.ZipFile();
    const chunks: Buffer[] = [];
    const done = new Promise<Buffer>((res, rej) => {
      z.outputStream.on('data', (c: Buffer) => chunks.push(c));
      z.outputStream.on('end', () => res(Buffer.concat(chunks)));
      z.outputStream.on('error', rej);
    });
    add(z);
    z.end();
    return done;
  }

  /** Renames an entry in the raw bytes (same length), as a malicious zip could. */
  function renameInZip(zip: Buffer, from: string, to: string): Buffer {
    expect(to.length).toBe(from.length);
    const out = Buffer.from(zip);
    let i = out.indexOf(from);
    expect(i).toBeGreaterThanOrEqual(0);
    while (i !== -1) {
      out.write(to, i);
      i = out.indexOf(from, i + 1);
    }
    return out;
  }

  it.each([
    ['../x', 'zz/x'],
    ['/etc/x', 'zzzz/x'],
    ['a/../../b', 'a/zz/zz/b'],
  ])('rejects the name %j with UnsafeZipEntryError', async (bad, placeholder) => {
    const zip = renameInZip(await rawZip((z) => z.addBuffer(Buffer.from('x'), placeholder)), placeholder, bad);
    const error = await readZipEntries(zip).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnsafeZipEntryError);
    expect(error).toBeInstanceOf(UnsafeEntryError);
    expect((error as Error).message).toContain(JSON.stringify(bad));
  });

  it('rejects backslashes in names', async () => {
    const zip = renameInZip(await rawZip((z) => z.addBuffer(Buffer.from('x'), 'a_b')), 'a_b', 'a\\b');
    await expect(readZipEntries(zip)).rejects.toThrow(/backslash/);
  });

  it('rejects symlinks that escape the root', async () => {
    const zip = await rawZip((z) => {
      z.addBuffer(Buffer.from('/etc/passwd'), 'passwd', { mode: 0o120777, compress: false });
    });
    await expect(readZipEntries(zip)).rejects.toThrow(UnsafeZipEntryError);
    const zip2 = await rawZip((z) => {
      z.addBuffer(Buffer.from('../../x'), 'lib/x', { mode: 0o120777, compress: false });
    });
    await expect(readZipEntries(zip2)).rejects.toThrow(/"lib\/x".*leaves the layer root/);
  });

  it('rejects entries below a symlink and duplicate names', async () => {
    const below = await rawZip((z) => {
      z.addBuffer(Buffer.from('.'), 'lib', { mode: 0o120777, compress: false });
      z.addBuffer(Buffer.from('x'), 'lib/x');
    });
    await expect(readZipEntries(below)).rejects.toThrow(/"lib\/x".*symlink/);
    const dup = await rawZip((z) => {
      z.addBuffer(Buffer.from('1'), 'a');
      z.addBuffer(Buffer.from('2'), 'a');
    });
    await expect(readZipEntries(dup)).rejects.toThrow(/duplicate/);
  });

  it('uses default modes for zips made on non-Unix hosts', async () => {
    const zip = Buffer.from(await rawZip((z) => {
      z.addEmptyDirectory('d/');
      z.addBuffer(Buffer.from('x'), 'd/f');
    }));
    // Patch "version made by" in the central directory to 0 (MS-DOS).
    for (let i = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); i !== -1; i = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), i + 4)) {
      zip.writeUInt16LE(20, i + 4);
    }
    expect(await readZipEntries(zip)).toEqual([
      { type: 'directory', path: 'd', mode: 0o755 },
      { type: 'file', path: 'd/f', mode: 0o644, data: Buffer.from('x') },
    ]);
  });
});

describe('compatibility with Info-ZIP unzip', () => {
  const haveUnzip = (() => {
    try {
      execFileSync('unzip', ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.runIf(haveUnzip)('zipinfo shows Unix modes and the symlink', async () => {
    const path = join(work, 'info.zip');
    writeFileSync(path, await buildZip(entries));
    const listing = execFileSync('unzip', ['-Z', path], { encoding: 'utf8' });
    expect(listing).toMatch(/^-rwxr-xr-x .* unx .* bootstrap$/m);
    expect(listing).toMatch(/^-rw------- .* unx .* etc\/php\.ini$/m);
    expect(listing).toMatch(/^lrwxrwxrwx .* unx .* stor .* lib\/libssl\.so$/m);
    expect(listing).toMatch(/^drwx------ .* unx .* etc\/$/m);
    expect(listing).toMatch(/00-Jan-01 00:00/);
  });

  it.runIf(haveUnzip)('unzip extracts modes and a real symlink', async () => {
    const path = join(work, 'extract.zip');
    const out = join(work, 'extracted');
    mkdirSync(out);
    writeFileSync(path, await buildZip(entries));
    execFileSync('unzip', ['-q', path, '-d', out]);
    expect(lstatSync(join(out, 'bootstrap')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(out, 'etc/php.ini')).mode & 0o7777).toBe(0o600);
    expect(lstatSync(join(out, 'lib/libssl.so')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'lib/libssl.so'))).toBe('libssl.so.1.1');
    expect(readFileSync(join(out, 'lib/libssl.so')).toString()).toBe('ssl '.repeat(500));
    expect(execFileSync('unzip', ['-tq', path], { encoding: 'utf8' })).toMatch(/No errors/);
  });
});
