import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import {
  INVOKE_DEFAULTS,
  checkEventJson,
  checkFunctionName,
  defaultFunctionName,
  envFromAssignments,
  parseEnvAssignment,
  parseMemoryMb,
  parsePositiveInt,
  parseTimeoutSeconds,
  settingsFromArgs,
} from '../../../src/invoke/options.js';

const base = { layer: 'dist/l.zip', function: 'examples/hello', handler: 'hello' };

describe('settingsFromArgs', () => {
  it('applies Lambda-like defaults', () => {
    expect(settingsFromArgs(base)).toEqual({
      layers: ['dist/l.zip'],
      functionPath: 'examples/hello',
      handler: 'hello',
      event: { text: '{}' },
      repeat: 1,
      timeoutSeconds: 3,
      memoryMb: 128,
      functionName: 'hello',
      env: {},
      region: 'us-east-1',
      platform: undefined,
      image: undefined,
      json: false,
    });
    expect(INVOKE_DEFAULTS).toMatchObject({ timeoutSeconds: 3, memoryMb: 128 });
  });

  it('reads every option', () => {
    const s = settingsFromArgs({
      ...base,
      event: '{"name":"World"}',
      repeat: '3',
      timeout: '1',
      memory: '512',
      functionName: 'my-fn',
      env: ['A=1', 'B=x=y', 'A=2'],
      region: 'eu-west-3',
      platform: 'debian-bookworm',
      image: 'debian:bookworm',
      json: true,
    });
    expect(s).toMatchObject({
      event: { text: '{"name":"World"}' },
      repeat: 3,
      timeoutSeconds: 1,
      memoryMb: 512,
      functionName: 'my-fn',
      env: { A: '2', B: 'x=y' },
      region: 'eu-west-3',
      platform: 'debian-bookworm',
      image: 'debian:bookworm',
      json: true,
    });
  });

  it('takes --layer repeated, in order', () => {
    expect(settingsFromArgs({ ...base, layer: ['php.zip', 'ext.zip'] }).layers).toEqual(['php.zip', 'ext.zip']);
    expect(() => settingsFromArgs({ ...base, layer: [] })).toThrow(/--layer is required/);
    expect(() => settingsFromArgs({ ...base, layer: ['php.zip', ' '] })).toThrow(/--layer is required/);
  });

  it('keeps --event-file to be read later', () => {
    expect(settingsFromArgs({ ...base, eventFile: 'e.json' }).event).toEqual({ file: 'e.json' });
    expect(() => settingsFromArgs({ ...base, eventFile: 'e.json', event: '{}' })).toThrow(/either --event or --event-file/);
  });

  it.each([
    [{ layer: undefined }, /--layer is required/],
    [{ function: '' }, /--function is required/],
    [{ handler: undefined }, /--handler is required/],
    [{ event: '{oops' }, /--event is not valid JSON/],
    [{ repeat: '0' }, /--repeat must be a whole number >= 1, got '0'/],
    [{ timeout: '0' }, /--timeout must be a number of seconds above 0 and at most 900/],
    [{ memory: '100' }, /--memory must be a whole number of MB from 128 to 10240, got '100'/],
    [{ functionName: 'a b' }, /--function-name must be 1 to 64/],
    [{ env: ['AWS_LAMBDA_FUNCTION_NAME=x'] }, /reserved/],
    [{ region: 'mars' }, /--region must look like us-east-1/],
  ])('refuses %j', (override, message) => {
    expect(() => settingsFromArgs({ ...base, ...override })).toThrow(message);
    expect(() => settingsFromArgs({ ...base, ...override })).toThrow(UserError);
  });
});

describe('number options', () => {
  it('parsePositiveInt', () => {
    expect(parsePositiveInt('7', '--repeat')).toBe(7);
    for (const bad of ['', ' ', '1.5', '-1', 'x', '0']) expect(() => parsePositiveInt(bad, '--repeat')).toThrow(/--repeat/);
  });

  it('parseTimeoutSeconds takes fractions up to 900', () => {
    expect(parseTimeoutSeconds('0.5')).toBe(0.5);
    expect(parseTimeoutSeconds('900')).toBe(900);
    for (const bad of ['901', '0', '-3', 'soon', '', 'Infinity']) expect(() => parseTimeoutSeconds(bad)).toThrow(/--timeout/);
  });

  it("parseMemoryMb enforces Lambda's 128..10240", () => {
    expect(parseMemoryMb('128')).toBe(128);
    expect(parseMemoryMb('10240')).toBe(10240);
    for (const bad of ['127', '10241', '256.5', 'lots']) expect(() => parseMemoryMb(bad)).toThrow(/--memory/);
  });
});

describe('environment variables', () => {
  it('parses NAME=VALUE, values may be empty or hold =', () => {
    expect(parseEnvAssignment('A=')).toEqual(['A', '']);
    expect(parseEnvAssignment('DSN=mysql://u:p@h/db?x=1')).toEqual(['DSN', 'mysql://u:p@h/db?x=1']);
  });

  it('refuses bad names and reserved ones, allows credentials and PATH', () => {
    expect(() => parseEnvAssignment('NOVALUE')).toThrow(/NAME=VALUE/);
    expect(() => parseEnvAssignment('=x')).toThrow(/NAME=VALUE/);
    expect(() => parseEnvAssignment('1A=x')).toThrow(/must start with a letter/);
    expect(() => parseEnvAssignment('A-B=x')).toThrow(/must start with a letter/);
    for (const name of ['_HANDLER', 'AWS_REGION', 'LAMBDA_TASK_ROOT', 'AWS_LAMBDA_RUNTIME_API']) {
      expect(() => parseEnvAssignment(`${name}=x`)).toThrow(/reserved/);
    }
    expect(envFromAssignments(['AWS_ACCESS_KEY_ID=k', 'PATH=/x', 'TZ=Europe/Paris'])).toEqual({ AWS_ACCESS_KEY_ID: 'k', PATH: '/x', TZ: 'Europe/Paris' });
  });

  it("keeps within Lambda's 4 KB for all variables", () => {
    expect(Object.keys(envFromAssignments([`A=${'x'.repeat(4095)}`]))).toEqual(['A']);
    expect(() => envFromAssignments([`A=${'x'.repeat(4095)}`, 'B=1'])).toThrow(/4098 bytes, over Lambda's limit of 4096/);
  });
});

describe('names and events', () => {
  it('defaults the function name to the directory or zip name', () => {
    expect(defaultFunctionName('examples/hello')).toBe('hello');
    expect(defaultFunctionName('examples/hello/')).toBe('hello');
    expect(defaultFunctionName('/tmp/my fn.zip')).toBe('my-fn');
    expect(checkFunctionName(defaultFunctionName('/'))).toBe('function');
  });

  it('accepts any JSON event, refuses the rest', () => {
    for (const ok of ['{}', '"text"', '[1,2]', 'null', '3']) expect(checkEventJson(ok, '--event')).toBe(ok);
    expect(() => checkEventJson('', '--event-file e.json')).toThrow(/--event-file e\.json is not valid JSON/);
  });
});
