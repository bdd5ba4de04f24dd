import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAYER_INI, LAYER_SOURCE, PHP_BINARY, assertPhpAvailable, exitStatus } from './harness.js';

beforeAll(() => assertPhpAvailable());

describe('the exit-status table (runtime/src/ExitStatus.php)', () => {
  it('has the documented values', () => {
    expect(exitStatus()).toEqual({ RESTART: 75, INIT_ERROR: 78, API_ERROR: 69, SIGNALLED: 143 });
  });
});

describe('the layer php.ini (runtime/php/layer/etc/php/php.ini)', () => {
  const ini = path.join(LAYER_SOURCE, LAYER_INI);
  const php = (args: string[]) => execFileSync(PHP_BINARY, ['-c', ini, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  it('loads without a warning and sets what the runtime relies on', () => {
    const out = php(['-r', 'echo json_encode(array(php_ini_loaded_file(), ini_get("display_errors"), ini_get("log_errors"), ini_get("memory_limit"), ini_get("error_log")));']);
    expect(JSON.parse(out)).toEqual([ini, '', '1', '-1', '']);
  });

  it('prints an error once, on stderr, outside the runtime too', () => {
    let stdout = '';
    let stderr = '';
    try {
      execFileSync(PHP_BINARY, ['-c', ini, '-r', 'undefined_function_here();'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      ({ stdout, stderr } = error as { stdout: string; stderr: string });
    }
    expect(stdout).toBe('');
    expect(stderr.split('undefined_function_here').length - 1).toBe(1);
    expect(stderr.match(/PHP Fatal error/g)).toHaveLength(1);
  });

  it('turns OPcache on for the long-lived CLI process, with the JIT off', () => {
    const settings = Object.fromEntries(
      [...readFileSync(ini, 'utf8').matchAll(/^\s*(opcache\.[a-z_]+)\s*=\s*(\S+)/gm)].map((m) => [m[1], m[2]]),
    );
    expect(settings).toMatchObject({ 'opcache.enable_cli': '1', 'opcache.validate_timestamps': '0', 'opcache.jit': 'disable', 'opcache.jit_buffer_size': '0' });
  });

  it("keeps the runtime's own files out of OPcache: the blacklist it names is the layer's, and lists them", () => {
    const named = /^\s*opcache\.blacklist_filename\s*=\s*(\S+)/m.exec(readFileSync(ini, 'utf8'))?.[1];
    expect(named).toBe('/opt/etc/php/opcache-blacklist.txt');
    const entries = readFileSync(path.join(LAYER_SOURCE, path.relative('/opt', named!)), 'utf8').split('\n').filter((l) => l !== '');
    expect(entries).toEqual(['/opt/bootstrap', '/opt/runtime/']);
    // Every file the bootstrap requires is under /opt/runtime/ once the layer is at /opt.
    const required = [...readFileSync(path.join(LAYER_SOURCE, 'bootstrap'), 'utf8').matchAll(/^require __DIR__ \. '([^']+)';$/gm)].map((m) => `/opt${m[1]}`);
    expect(required.length).toBeGreaterThan(10);
    for (const file of required) expect(file.startsWith('/opt/runtime/')).toBe(true);
  });
});

describe('MemoryLimit (runtime/src/MemoryLimit.php)', () => {
  const fit = (limit: string, memoryMb: number): [unknown, string] => {
    const file = path.join(LAYER_SOURCE, 'runtime/src/MemoryLimit.php');
    const script = `require ${JSON.stringify(file)}; $r = LambdaRuntime\\MemoryLimit::fitToSandbox(${memoryMb}); echo json_encode(array($r, ini_get('memory_limit')));`;
    return JSON.parse(execFileSync(PHP_BINARY, ['-n', '-d', `memory_limit=${limit}`, '-r', script], { encoding: 'utf8' }));
  };

  it.each([
    ['-1', 128, [100663296, '100663296']], // 128 MB - 32 MB reserve
    ['-1', 1024, [(1024 - 102) * 1048576, String((1024 - 102) * 1048576)]], // 10 % reserve
    ['2G', 512, [(512 - 51) * 1048576, String((512 - 51) * 1048576)]], // above the sandbox: lowered
    ['64M', 128, [null, '64M']], // a lower limit is kept
    ['-1', 0, [null, '-1']], // unknown memory size: left alone
  ])('memory_limit=%s with %d MB', (limit, memoryMb, expected) => {
    expect(fit(limit, memoryMb)).toEqual(expected);
  });
});
