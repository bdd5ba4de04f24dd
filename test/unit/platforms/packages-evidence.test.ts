import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, paths } from '../../../src/paths.js';

/**
 * dockerfiles/PACKAGES.md records, per Amazon Linux platform, where each package name of
 * dockerfiles/platforms.json was confirmed. These tests keep the two files in step: a name added to
 * a platform without its row of evidence, or a row left behind for a name no longer used, fails.
 */

const STATUSES = ['confirmed', 'one source', 'package list', 'not confirmed', 'no longer used'];

interface PlatformData {
  name: string;
  packageManager: string;
  packages: Record<string, string[]>;
}

/** Package name → status, from the status table of the `## <platform>` section. */
function statusTable(markdown: string, platform: string): Map<string, string> {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${platform}`);
  if (start < 0) throw new Error(`PACKAGES.md has no section "## ${platform}"`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const section = lines.slice(start + 1, end < 0 ? undefined : end);
  const header = section.findIndex((l) => l.startsWith('| package (platforms.json) | status |'));
  if (header < 0) throw new Error(`section "## ${platform}" has no status table`);
  const table = new Map<string, string>();
  for (const row of section.slice(header + 2)) {
    if (!row.startsWith('|')) break;
    const [names, status] = row.split('|').slice(1, 3).map((c) => c.trim());
    for (const name of names!.split(',')) table.set(name.replaceAll('~~', '').replaceAll('`', '').trim(), status!);
  }
  return table;
}

const markdown = readFileSync(path.join(PACKAGE_ROOT, 'dockerfiles', 'PACKAGES.md'), 'utf8');
const platforms = (JSON.parse(readFileSync(paths.platforms, 'utf8')) as { platforms: PlatformData[] }).platforms;
const amazonLinux = platforms.filter((p) => p.packageManager === 'yum' || p.packageManager === 'dnf');

describe('dockerfiles/PACKAGES.md against dockerfiles/platforms.json', () => {
  it('covers the Amazon Linux platforms (yum and dnf), and only those', () => {
    expect(amazonLinux.map((p) => p.name)).toEqual(['amzn-2017.03', 'al2', 'al2023']);
  });

  for (const platform of amazonLinux) {
    it(`${platform.name}: every package name it installs has a row with a status; no row is left for a name it no longer installs`, () => {
      const table = statusTable(markdown, platform.name);
      const used = [...new Set(Object.values(platform.packages).flat())].sort();
      for (const name of used) {
        expect(table.get(name), `${platform.name}: ${name}`).toBeDefined();
        expect(table.get(name), `${platform.name}: ${name}`).not.toBe('no longer used');
      }
      for (const [name, status] of table) {
        expect(STATUSES, `${platform.name}: ${name}'s status`).toContain(status);
        if (status !== 'no longer used') expect(used, `${platform.name}: the row for ${name}`).toContain(name);
      }
    });
  }

  it('a name missing from a table is found', () => {
    const cut = markdown.replace(/^\| patch \| confirmed \| ND23;.*\n/m, '');
    expect(statusTable(markdown, 'al2023').get('patch')).toBe('confirmed');
    expect(statusTable(cut, 'al2023').get('patch')).toBeUndefined();
    // Rows naming several packages count for each; struck-through names are read without the marks.
    expect(statusTable(markdown, 'al2023').get('perl-File-Copy')).toBe('confirmed');
    expect(statusTable(markdown, 'al2').get('oniguruma-devel')).toBe('no longer used');
  });
});
