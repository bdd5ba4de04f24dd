// common.sh's lrb_unpack + lrb_apply_patches, run by the host's sh, tar and patch on small
// archives made here: what a component stage does with a recipe version's `patches`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../../src/paths.js';

const COMMON = path.join(paths.dockerfiles, 'scripts', 'common.sh');
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

/** Runs lrb_unpack with these patches, then prints the two files; returns status, stdout, stderr. */
function unpack(patches: string): { status: number | null; out: string; err: string; tree: string } {
  const build = mkdtempSync(path.join(root, 'build-'));
  const script = `. "${COMMON}"; LRB_BUILD_ROOT="${build}/src"; lrb_unpack; cat src/a.c b.c; stat -c %Y src/a.c`;
  const r = spawnSync('sh', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], LRB_SOURCE: source, LRB_PREFIX: '/opt', LRB_VERSION: '1.0', LRB_PATCHES_FROM: debian, LRB_PATCHES_DIR: 'debian/patches', LRB_PATCHES: patches },
  });
  return { status: r.status, out: r.stdout, err: r.stderr, tree: path.join(build, 'src', 'lib-1.0') };
}

describe('lrb_apply_patches (dockerfiles/scripts/common.sh)', () => {
  it('applies the listed patches in order, only those, and says how many', () => {
    const r = unpack('CVE-1.patch sub/CVE-2.patch');
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toContain('[lrb] applied 2 patches from lib_1.0-1.debian.tar.gz\n');
    // a.c patched twice, in order; b.c untouched (other.patch is not listed).
    expect(r.out).toContain('int a = 3;\nint b = 1;\n');
    // A patched file keeps the source's date: make sees nothing newer than what it generates.
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('1600000000');
    expect(statSync(path.join(r.tree, 'src/a.c')).mtimeMs / 1000).toBe(1_600_000_000);
  });

  it('does nothing without LRB_PATCHES', () => {
    const r = unpack('');
    expect(r.status).toBe(0);
    expect(r.out).toContain('int a = 1;\nint b = 1;\n');
    expect(r.out).not.toContain('applied');
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
    expect(readFileSync(path.join(r.tree, 'src/a.c'), 'utf8')).toBe('int a = 2;\n');
  });
});
