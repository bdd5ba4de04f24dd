import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, FIXTURES, json, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();
const forms = path.join(FIXTURES, 'forms');

describe('handler forms', () => {
  it('serves the hello example: hello($event) from src/hello.php', async () => {
    const { api } = await harness.start({ handler: 'hello', taskRoot: path.join(EXAMPLES, 'hello') });
    const result = await api.invoke('{"name":"World"}');
    expect(result.status).toBe('success');
    expect(result.body.toString()).toBe('Hello, World!');
  });

  it('"hello" falls back to hello.php in the task root', async () => {
    const { api } = await harness.start({ handler: 'hello', taskRoot: path.join(FIXTURES, 'root-hello') });
    const result = await api.invoke('{"name":"x"}');
    expect(result.body.toString()).toBe('root hello, x');
  });

  it.each([
    ['handlers.handle', 'file.function', 2],
    ['handlers.oneArg', 'one-arg', 2],
    ['nested/deep.deep', 'dir/file.function', 2],
    ['callable.php', 'file.php', 2],
    ['invokable.php', 'invokable object', 2],
    ['statics.StaticHandler::handle', 'file.Class::method', 2],
    ['namespaced.App\\Lambda\\handle', 'file.Namespace\\function', 2],
  ])('%s is called as %s with ($event, $context)', async (handler, form, argc) => {
    const { api } = await harness.start({ handler, taskRoot: forms });
    const result = await api.invoke('{"k":"v"}');
    expect(result.status, result.body.toString()).toBe('success');
    const body = json(result.body);
    expect(body.form).toBe(form);
    expect(body.argc).toBe(argc);
    if ('requestId' in body) expect(body.requestId).toBe(result.requestId);
    if ('event' in body) expect(body.event).toEqual({ k: 'v' });
  });

  it('passes an internal function only the arguments it declares', async () => {
    const { api } = await harness.start({ handler: 'internal.strtoupper', taskRoot: forms });
    const result = await api.invoke('"shout"');
    expect(result.status, result.body.toString()).toBe('success');
    expect(result.body.toString()).toBe('SHOUT');
  });

  it('loads the handler once, at init, before the first /next', async () => {
    const { api, runtime } = await harness.start({ handler: 'loads-once.counted', taskRoot: forms });
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push(json((await api.invoke('{}')).body));
    expect(bodies).toEqual([
      { loads: 1, calls: 1 },
      { loads: 1, calls: 2 },
      { loads: 1, calls: 3 },
    ]);
    expect(runtime.running).toBe(true);
  });

  it('the examples answer as their READMEs say', async () => {
    const first = await harness.start({ handler: 'lib/greeter.greet', taskRoot: path.join(EXAMPLES, 'file-function') });
    const greeting = await first.api.invoke('{"name":"World"}');
    expect(json(greeting.body)).toMatchObject({ greeting: 'Hello, World!', requestId: greeting.requestId });
    expect(first.runtime.stdout).toContain('Greeting someone');

    const second = await harness.start({ handler: 'handler.php', taskRoot: path.join(EXAMPLES, 'returns-callable') });
    const sum = await second.api.invoke('{"a":1,"b":2}');
    expect(json(sum.body)).toMatchObject({ sum: 3, function: 'test-function' });
    const bad = await second.api.invoke('{}');
    expect(bad.errorType).toBe('InvalidArgumentException');
    expect((await second.api.invoke('{"a":2,"b":2}')).status).toBe('success');
  });
});

describe('handler that cannot be loaded: init error and non-zero exit', () => {
  it.each([
    ['file absent', 'absent.handle', 'Runtime.NoSuchHandler', /absent\.php not found/],
    ['hello form, no file', 'nothere', 'Runtime.NoSuchHandler', /nothere\.php/],
    ['function undefined', 'handlers.notDefined', 'Runtime.NoSuchHandler', /notDefined\(\) is not defined/],
    ['file.php returns no callable', 'returns-string.php', 'Runtime.NoSuchHandler', /must return a callable/],
    ['bad handler string', 'handlers.', 'Runtime.MalformedHandlerName', /not of the form/],
    ['empty handler string', '', 'Runtime.MalformedHandlerName', /_HANDLER/],
    ['absolute path', '/etc/passwd.x', 'Runtime.MalformedHandlerName', /not of the form/],
  ])('%s', async (_name, handler, errorType, message) => {
    const { api, runtime } = await harness.start({ handler, taskRoot: forms, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status !== 'error') return;
    expect(outcome.error.errorType).toBe(errorType);
    expect(outcome.error.functionErrorType).toBe(errorType);
    expect(outcome.error.contentType).toBe('application/vnd.aws.lambda.error+json');
    expect(outcome.error.errorMessage).toMatch(message);
    const exit = await runtime.exited;
    expect(exit.code).toBe(78);
    expect(runtime.stderr).toMatch(/^-\tERROR\tInit failed: /m);
  });

  it('a syntax error in the handler file is a Runtime.UserCodeSyntaxError', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'php-syntax-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'broken.php'), '<?php\nfunction handle($e) { return ; ; }}\n');
    const { api, runtime } = await harness.start({ handler: 'broken.handle', taskRoot: dir, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status === 'error' && outcome.error.errorType).toBe('Runtime.UserCodeSyntaxError');
    expect((await runtime.exited).code).toBe(78);
  });

  it('a compile error (fatal, not an exception) while loading is an init error too', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(path.join(tmpdir(), 'php-compile-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'broken.php'), "<?php\nfunction handle($e) { break; }\n");
    const { api, runtime } = await harness.start({ handler: 'broken.handle', taskRoot: dir, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status === 'error') {
      expect(outcome.error.errorType).toBe('Runtime.UserCodeSyntaxError');
      expect(outcome.error.errorMessage).toContain("'break' not in the 'loop' or 'switch' context");
    }
    expect((await runtime.exited).code).toBe(78);
  });
});
