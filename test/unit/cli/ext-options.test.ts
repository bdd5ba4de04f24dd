import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fails } from './offline-cli.js';

describe('--ext', () => {
  it('--dry-run --json plans the extensions, names the zip after them and lists them', async () => {
    const { stdout } = await cli(['php@8.2.32', '--platform', 'al2023-portable', '--ext', 'redis', '--ext', 'apcu', '--ext', 'igbinary', '--dry-run', '--json']);
    const plan = (JSON.parse(stdout) as { plans: { extensions: { name: string; version: string }[]; output: { zip: string }; stages: string[] }[] }).plans[0]!;
    expect(plan.extensions.map((e) => `${e.name} ${e.version}`)).toEqual(['apcu 5.1.24', 'igbinary 3.2.16', 'redis 6.2.0']);
    expect(path.basename(plan.output.zip)).toBe('php-8.2.32+apcu+igbinary+redis-al2023-portable-x86_64.zip');
    expect(plan.stages.slice(-3)).toEqual(['ext-apcu', 'ext-igbinary', 'ext-redis']);
  });

  it('--help names the option and the extensions there are', async () => {
    const { stdout } = await cli(['--help']);
    expect(stdout).toMatch(/--ext <name\[@version\]>/);
    expect(stdout.replace(/\s+/g, ' ')).toContain('php: apcu, igbinary, pgsql, redis');
  });

  it.each([
    [['php@8.2.32', '--ext', 'imagick'], "unknown extension 'imagick' for php: recipes exist for apcu, igbinary, pgsql, redis (add recipes/php-ext-imagick.json)"],
    [['php@7.3.33', '--ext', 'redis'], '--ext redis: redis 6.2.0 supports php >=7.4.0 <8.5.0; not php 7.3.33'],
    [['php@8.5.9', '--ext', 'apcu'], '--ext apcu: apcu 5.1.24 supports php >=7.0.0 <8.5.0; not php 8.5.9'],
    [['php@8.2.32', '--ext', 'apcu@9'], "--ext apcu@9: no apcu version matches '9': pinned versions are 5.1.24"],
    [['php@8.2.32', '--ext', 'apcu', '--ext', 'apcu'], '--ext apcu was given more than once: give it once'],
    [['php-ext-redis@6'], 'php-ext-redis is an extension of php: build it into a php layer with --ext redis'],
  ])('%j is refused in one line with exit 2', async (args, message) => {
    const err = await fails([...args, '--platform', 'al2023-portable', '--dry-run']);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(message);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
