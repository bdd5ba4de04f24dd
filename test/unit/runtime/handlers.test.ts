import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, FIXTURES, exitStatus, json, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();
const forms = path.join(FIXTURES, 'forms');

describe('handler forms', () => {
  it('serves the hello example: hello($event) from src/hello.php', async () => {
    const { api } = await harness.start({ handler: 'hello', taskRoot: path.join(EXAMPLES, 'hello') });
    const result = await api.invoke('{"name":"World"}');
    expect(result.status).toBe('success');
    expect(result.body.toString()).toBe('"Hello, World!"');
    expect(result.contentType).toBe('application/json');
  });

  it('"hello" falls back to hello.php in the task root', async () => {
    const { api } = await harness.start({ handler: 'hello', taskRoot: path.join(FIXTURES, 'root-hello') });
    const result = await api.invoke('{"name":"x"}');
    expect(result.body.toString()).toBe('"root hello, x"');
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
    expect(result.body.toString()).toBe('"SHOUT"');
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

    const third = await harness.start({ handler: 'handler.page', taskRoot: path.join(EXAMPLES, 'raw-response') });
    const page = await third.api.invoke('{"name":"World"}');
    expect(page.body.toString()).toBe('<p>Hello, World!</p>');
    expect(page.contentType).toBe('text/html; charset=utf-8');
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
    expect(exit.code).toBe(exitStatus().INIT_ERROR);
    expect(runtime.stderr).toContain(`-\tERROR\tInit error: ${outcome.error.body.toString()}\n`);
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
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
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
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
  });

  it('exit() while loading is a Runtime.ExitError whose message names the handler, not the type again', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-exit-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'exits.php'), '<?php\nexit(2);\n');
    const { api, runtime } = await harness.start({ handler: 'exits.handle', taskRoot: dir, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status === 'error') {
      expect(outcome.error.errorType).toBe('Runtime.ExitError');
      expect(outcome.error.errorMessage).toBe('Handler "exits.handle": its code called exit() while it was being loaded');
    }
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
  });
});

describe('handler files outside the task root are refused', () => {
  /** A task root with a sibling directory that must never be loaded (loading it leaves a mark). */
  async function layout(): Promise<{ taskRoot: string; marker: string }> {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-escape-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    const taskRoot = path.join(dir, 'task');
    const marker = path.join(dir, 'loaded');
    await mkdir(path.join(taskRoot, 'src'), { recursive: true });
    await mkdir(path.join(dir, 'outside'));
    const evil = `<?php\nfile_put_contents(${JSON.stringify(marker)}, 'loaded');\nfunction evil($e) { return 'evil'; }\nfunction handle($e) { return 'evil'; }\nreturn 'evil';\n`;
    await writeFile(path.join(dir, 'outside', 'evil.php'), evil);
    await symlink(path.join(dir, 'outside', 'evil.php'), path.join(taskRoot, 'linked.php'));
    await symlink('../../outside/evil.php', path.join(taskRoot, 'src', 'evil.php'));
    await writeFile(path.join(taskRoot, 'inside.php'), "<?php\nfunction handle($e) { return 'inside'; }\n");
    return { taskRoot, marker };
  }

  // (A "function" handler cannot contain "..": its dots make it the file.function form.)
  it.each([
    ['file.php', '../outside/evil.php'],
    ['file.function', '../outside/evil.handle'],
    ['function (hello form) through a symbolic link in src/', 'evil'],
    ['file.php through a symbolic link', 'linked.php'],
    ['file.function through a symbolic link', 'linked.handle'],
  ])('%s: %s', async (_form, handler) => {
    const { taskRoot, marker } = await layout();
    const { api, runtime } = await harness.start({ handler, taskRoot, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status === 'error') {
      expect(outcome.error.errorType).toBe('Runtime.NoSuchHandler');
      expect(outcome.error.errorMessage).toContain(`Handler "${handler}": `);
      expect(outcome.error.errorMessage).toMatch(/outside\/evil\.php, which is outside the task root .*\/task \(LAMBDA_TASK_ROOT\)/);
    }
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
    expect(existsSync(marker)).toBe(false);
  });

  it("the issue's case: the runtime's own Context.php, reached with ../", async () => {
    const { taskRoot } = await layout();
    const context = path.join(harness.layerDir(), 'runtime/src/Context.php');
    const handler = path.relative(taskRoot, context);
    expect(handler.startsWith('../')).toBe(true);
    const { api } = await harness.start({ handler, taskRoot, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status === 'error' && outcome.error.errorMessage).toContain('which is outside the task root');
  });

  it('a path with .. that stays inside the task root is fine', async () => {
    const { taskRoot } = await layout();
    const { api } = await harness.start({ handler: 'src/../inside.handle', taskRoot });
    expect((await api.invoke('{}')).body.toString()).toBe('"inside"');
  });
});
