// dockerfiles/scripts/apply-patches.sh, run by the host's sh, tar and patch on small archives made
// here: the step a component stage runs for a recipe version's `patches`, before its build.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';

const SCRIPT = path.join(paths.dockerfiles, 'scripts', 'apply-patches.sh');
const root = mkdtempSync(path.join(tmpdir(), 'lrb-patches-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tar.gz of `files` under `top/`, with every mtime at `epoch`. */
function archive(name: string, top: string, files: Record<string, string>, epoch = 1_600_000_000): string {
  const dir = path.join(root, `${name}.d`);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, top, file)), { recursive: true });
    writeFileSync(path.join(dir, top, file), text);
  }
  execFileSync('find', [dir, '-exec', 'touch', '-d', `@${epoch}`, '{}', '+']);
  const out = path.join(root, name);
  execFileSync('tar', ['-czf', out, '-C', dir, top]);
  return out;
}

const diff = (file: string, from: string, to: string) =>
  `--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-${from}\n+${to}\n`;

const source = archive('lib-1.0.tar.gz', 'lib-1.0', { 'src/a.c': 'int a = 1;\n', 'b.c': 'int b = 1;\n' });
const debian = archive('lib_1.0-1.debian.tar.gz', 'debian', {
  'patches/CVE-1.patch': diff('src/a.c', 'int a = 1;', 'int a = 2;'),
  'patches/sub/CVE-2.patch': diff('src/a.c', 'int a = 2;', 'int a = 3;'),
  'patches/other.patch': diff('b.c', 'int b = 1;', 'int b = 5;'),
  'patches/stale.patch': diff('b.c', 'int b = 9;', 'int b = 10;'),
});

/** Runs apply-patches.sh with these patches, then unpacks its patched tar; returns status, output and the tree. */
function unpack(patches: string): { status: number | null; out: string; err: string; tree: string } {
  const build = mkdtempSync(path.join(root, 'build-'));
  const patched = path.join(build, 'lib-1.0-patched.tar');
  const r = spawnSync('sh', [SCRIPT], {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'],
      LRB_SOURCE: source,
      LRB_PREFIX: '/opt',
      LRB_VERSION: '1.0',
      LRB_PATCHES_FROM: debian,
      LRB_PATCHES_DIR: 'debian/patches',
      LRB_PATCHES: patches,
      LRB_PATCHED: patched,
      // Where it unpacks and patches (in the build image, /usr/src/lrb/patching).
      LRB_PATCH_ROOT: path.join(build, 'work'),
    },
  });
  const tree = path.join(build, 'out');
  if (r.status === 0) {
    mkdirSync(tree);
    execFileSync('tar', ['-xf', patched, '-C', tree]);
  }
  return { status: r.status, out: r.stdout, err: r.stderr, tree: path.join(tree, 'lib-1.0') };
}

describe('apply-patches.sh (dockerfiles/scripts)', () => {
  it('applies the listed patches in order, only those, says how many, and writes the patched tree as a tar', () => {
    const r = unpack('CVE-1.patch sub/CVE-2.patch');
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toContain('[lrb] applied 2 patches from lib_1.0-1.debian.tar.gz to lib-1.0.tar.gz: lib-1.0-patched.tar\n');
    // a.c patched twice, in order; b.c untouched (other.patch is not listed).
    expect(readFileSync(path.join(r.tree, 'src/a.c'), 'utf8')).toBe('int a = 3;\n');
    expect(readFileSync(path.join(r.tree, 'b.c'), 'utf8')).toBe('int b = 1;\n');
    // The patched file and the top directory keep the source's date: the build's SOURCE_DATE_EPOCH
    // is the same as from the unpatched source, and make sees nothing newer than what it generates.
    expect(statSync(path.join(r.tree, 'src/a.c')).mtimeMs / 1000).toBe(1_600_000_000);
    expect(statSync(r.tree).mtimeMs / 1000).toBe(1_600_000_000);
  });

  it('refuses to run without patches to apply', () => {
    const r = unpack('');
    expect(r.status).not.toBe(0);
    expect(r.err).toContain('LRB_PATCHES is not set');
  });

  it('fails naming a patch that does not apply exactly', () => {
    const r = unpack('CVE-1.patch stale.patch');
    expect(r.status).toBe(1);
    expect(r.err).toContain('[lrb] patch stale.patch (from lib_1.0-1.debian.tar.gz) does not apply to lib-1.0.tar.gz');
  });

  it('fails naming a patch that is not in the archive', () => {
    const r = unpack('CVE-404.patch');
    expect(r.status).toBe(1);
    expect(r.err).toBe('[lrb] patch CVE-404.patch is not in debian/patches of lib_1.0-1.debian.tar.gz\n');
  });

  it('fails when a patch was applied already (reversed patches are not guessed)', () => {
    const r = unpack('CVE-1.patch CVE-1.patch');
    expect(r.status).toBe(1);
    expect(r.err).toContain('[lrb] patch CVE-1.patch (from lib_1.0-1.debian.tar.gz) does not apply');
    // No patched tar is written when a patch fails.
    expect(() => statSync(path.join(path.dirname(path.dirname(r.tree)), 'lib-1.0-patched.tar'))).toThrow();
  });
});
