import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fails } from './offline-cli.js';

describe('build-runtime php-ext-NAME --for php@VERSION', () => {
  it('--dry-run --json plans an extension layer named after the php layer it is for', async () => {
    const { stdout } = await cli(['php-ext-redis@6', '--for', 'php@8.2.32', '--profile', 'standard', '--platform', 'al2023-portable', '--dry-run', '--json']);
    const plan = (JSON.parse(stdout) as { plans: { kind: string; name: string; version: string; for: { zip: string; inputsHash: string }; output: { zip: string }; stages: string[] }[] }).plans[0]!;
    expect(plan).toMatchObject({ kind: 'extension-layer', name: 'php-ext-redis', version: '6.2.0' });
    expect(plan.for.zip).toBe('php-8.2.32-standard-al2023-portable-x86_64.zip');
    expect(plan.for.inputsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(path.basename(plan.output.zip)).toBe('php-ext-redis-6.2.0-for-php-8.2.32-standard-al2023-portable-x86_64.zip');
    expect(plan.stages.slice(-2)).toEqual(['interpreter', 'ext-redis']);
  });

  it('--dry-run prints the plan as a person reads it', async () => {
    const { stdout } = await cli(['php-ext-apcu', '--for', 'php@8.2.32', '--platform', 'al2023-portable', '--dry-run']);
    expect(stdout.split('\n')[0]).toBe('php-ext-apcu → php-ext-apcu 5.1.24, an extension layer for php 8.2.32 (profile minimal)');
    expect(stdout).toMatch(/^ {2}for {8}php-8\.2\.32-al2023-portable-x86_64\.zip \(inputs [0-9a-f]{64}\): extracted first, this layer over it$/m);
  });

  it.each([
    [['php@8.2.32', '--for', 'php@8.2.32'], '--for php@8.2.32 is for extension targets, and php@8.2.32 is an interpreter: drop --for'],
    [['php-ext-redis@6'], 'or as a layer of its own for a php layer with --for, e.g. php-ext-redis@6 --for php@VERSION'],
    [['php-ext-redis@6', '--for', 'php@7.3.33'], 'php-ext-redis@6: redis 6.2.0 supports php >=7.4.0 <8.5.0; not php 7.3.33 (give --for another php version'],
    [['php-ext-redis', '--for', 'php@8.2.32', '--ext', 'redis'], '--ext redis with php-ext-redis: --ext names the extensions built into the php layer'],
    [['php-ext-redis', '--for', 'php@8.2.32', '--for', 'php@8.2.33'], '--for was given more than once: give it once'],
  ])('%j is refused in one line with exit 2', async (args, message) => {
    const err = await fails([...args, '--platform', 'al2023-portable', '--dry-run']);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain(message);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});
