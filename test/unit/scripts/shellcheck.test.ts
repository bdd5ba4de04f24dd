import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every shell script of the repository passes shellcheck (with the repository's .shellcheckrc).
// The list comes from git, so a new script is checked without editing this file.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** `#!/bin/sh`, `#!/bin/bash`, `#!/usr/bin/env bash`, `#!/bin/dash`, ... */
const SHELL_SHEBANG = /^#!\s*(?:\/usr)?\/bin\/(?:env\s+)?(?:ba|da|k)?sh(?:\s|$)/;

function firstLine(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(128);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('latin1').split('\n')[0] ?? '';
  } finally {
    closeSync(fd);
  }
}

/** Tracked and new (not ignored) files that are shell scripts: `*.sh`, or a shell shebang. */
function shellScripts(): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  return listed
    .split('\0')
    .filter((f) => {
      if (f === '') return false;
      const abs = path.join(ROOT, f);
      try {
        if (!lstatSync(abs).isFile()) return false;
      } catch {
        return false; // deleted in the work tree, not yet in the index
      }
      return f.endsWith('.sh') || SHELL_SHEBANG.test(firstLine(abs));
    })
    .sort();
}

/** shellcheck's findings for one file, one `file:line:col: level: message [SCxxxx]` line each. */
function shellcheck(file: string): string[] {
  const r = spawnSync('shellcheck', ['--format=gcc', file], { cwd: ROOT, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('shellcheck is not installed: run `bash .ci/setup-machine.sh` (it installs the Debian package shellcheck)');
  }
  if (r.error) throw r.error;
  // 0: no findings, 1: findings; anything else is shellcheck failing to run.
  if (r.status !== 0 && r.status !== 1) throw new Error(`shellcheck ${file} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

const scripts = shellScripts();

describe('shell scripts', () => {
  it('are found from git: build scripts, CI scripts (not the PHP bootstrap, which is PHP)', () => {
    expect(scripts).toEqual(
      expect.arrayContaining([
        '.ci/run',
        '.ci/setup-machine.sh',
        'dockerfiles/scripts/common.sh',
        'dockerfiles/scripts/build-autotools.sh',
        'dockerfiles/scripts/which-package.sh',
      ]),
    );
    expect(scripts.filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it('shellcheck reports a finding with file, line and code', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lrb-shellcheck-'));
    try {
      const bad = path.join(dir, 'bad.sh');
      writeFileSync(bad, '#!/bin/sh\nrm -rf $1/build\n');
      expect(shellcheck(bad)).toEqual([expect.stringMatching(/bad\.sh:2:\d+: .*\[SC2086\]$/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(scripts)('%s has no shellcheck findings', (file) => {
    expect(shellcheck(file), `fix ${file}, or disable one check on its line with a reason (# shellcheck disable=SCxxxx # why)`).toEqual([]);
  });
});
