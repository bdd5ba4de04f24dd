/**
 * Composer's autoloader at init: the task root's vendor/autoload.php, else the layer's
 * (<layer root>/vendor/autoload.php, /opt/vendor on Lambda), at most one, before the handler file.
 * The layer's vendor/ is written into the harness's temp copy of the layer (never into the
 * repository) and removed after each test.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitStatus, json, useRuntimeHarness } from './harness.js';

const harness = useRuntimeHarness();

/**
 * A vendor/ directory whose autoload.php records `name` in $GLOBALS['autoloaders'] and
 * registers an autoloader for the class `<namespace>\Dep` (found only through it, in vendor/lib/).
 */
async function vendor(parent: string, name: string, namespace: string): Promise<string> {
  const dir = path.join(parent, 'vendor');
  await mkdir(path.join(dir, 'lib'), { recursive: true });
  await writeFile(path.join(dir, 'autoload.php'), `<?php
$GLOBALS['autoloaders'][] = ${JSON.stringify(name)};
spl_autoload_register(function ($class) {
    if ($class === ${JSON.stringify(`${namespace}\\Dep`)}) {
        require __DIR__ . '/lib/Dep.php';
    }
});
`);
  await writeFile(path.join(dir, 'lib', 'Dep.php'), `<?php
namespace ${namespace};
final class Dep
{
    public static function from() { return ${JSON.stringify(name)}; }
}
`);
  return dir;
}

/** A vendor/ in the harness's copy of the layer, removed after the test. */
async function layerVendor(namespace = 'LayerDeps'): Promise<string> {
  const dir = await vendor(harness.layerDir(), 'layer', namespace);
  harness.track(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A task root whose handler.php uses `<namespace>\Dep` both while it is loaded (so the
 * autoloader must already be there) and when called; the handler answers which autoloader the
 * class came from and every autoload.php that ran.
 */
async function taskRoot(namespace: string, withVendor: boolean): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'php-autoload-'));
  harness.track(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'handler.php'), `<?php
$GLOBALS['atLoad'] = \\${namespace}\\Dep::from();
function handle($event) {
    return array(
        'atLoad' => $GLOBALS['atLoad'],
        'from' => \\${namespace}\\Dep::from(),
        'autoloaders' => isset($GLOBALS['autoloaders']) ? $GLOBALS['autoloaders'] : array(),
    );
}
`);
  if (withVendor) await vendor(dir, 'task', namespace);
  return dir;
}

describe('Composer autoloader at init', () => {
  it("requires the task root's vendor/autoload.php before the handler file", async () => {
    const { api } = await harness.start({ handler: 'handler.handle', taskRoot: await taskRoot('TaskDeps', true) });
    const result = await api.invoke('{}');
    expect(result.status, result.body.toString()).toBe('success');
    expect(json(result.body)).toEqual({ atLoad: 'task', from: 'task', autoloaders: ['task'] });
  });

  it("requires the layer's vendor/autoload.php when the task root has none", async () => {
    await layerVendor();
    const { api } = await harness.start({ handler: 'handler.handle', taskRoot: await taskRoot('LayerDeps', false) });
    const result = await api.invoke('{}');
    expect(result.status, result.body.toString()).toBe('success');
    expect(json(result.body)).toEqual({ atLoad: 'layer', from: 'layer', autoloaders: ['layer'] });
  });

  it("the task root's wins when both exist, and only it is required", async () => {
    await layerVendor('SharedDeps');
    const { api } = await harness.start({ handler: 'handler.handle', taskRoot: await taskRoot('SharedDeps', true) });
    const result = await api.invoke('{}');
    expect(result.status, result.body.toString()).toBe('success');
    expect(json(result.body)).toEqual({ atLoad: 'task', from: 'task', autoloaders: ['task'] });
  });

  it('neither present: the handler runs and nothing is logged about it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-autoload-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'plain.php'), `<?php
function handle($event) { return isset($GLOBALS['autoloaders']) ? $GLOBALS['autoloaders'] : 'none'; }
`);
    const { api, runtime } = await harness.start({ handler: 'plain.handle', taskRoot: dir });
    const result = await api.invoke('{}');
    expect(result.status, result.body.toString()).toBe('success');
    expect(json(result.body)).toBe('none');
    expect(runtime.stdout + runtime.stderr).not.toMatch(/autoload|WARN|ERROR/);
  });

  it('an autoload.php that throws is an init error naming the file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'php-autoload-'));
    harness.track(() => rm(dir, { recursive: true, force: true }));
    const marker = path.join(dir, 'handler-loaded');
    await mkdir(path.join(dir, 'vendor'));
    await writeFile(path.join(dir, 'vendor', 'autoload.php'), "<?php\nthrow new RuntimeException('the autoloader broke');\n");
    await writeFile(path.join(dir, 'handler.php'), `<?php\nfile_put_contents(${JSON.stringify(marker)}, 'x');\nfunction handle($e) { return 1; }\n`);
    const { api, runtime } = await harness.start({ handler: 'handler.handle', taskRoot: dir, waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status !== 'error') return;
    expect(outcome.error.errorType).toBe('RuntimeException');
    expect(outcome.error.functionErrorType).toBe('Runtime.InitError');
    expect(outcome.error.errorMessage).toContain(path.join(dir, 'vendor', 'autoload.php'));
    expect(outcome.error.errorMessage).toContain('the autoloader broke');
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
    expect(runtime.stderr).toContain(`-\tERROR\tInit error: ${outcome.error.body.toString()}\n`);
    expect(existsSync(marker)).toBe(false);
  });

  it("a syntax error in the layer's autoload.php is a Runtime.UserCodeSyntaxError naming the file", async () => {
    const dir = await layerVendor();
    await writeFile(path.join(dir, 'autoload.php'), '<?php\nfunction ( {\n');
    const { api, runtime } = await harness.start({ handler: 'handler.handle', taskRoot: await taskRoot('LayerDeps', false), waitForInit: false });
    const outcome = await api.waitForInit();
    expect(outcome.status).toBe('error');
    if (outcome.status !== 'error') return;
    expect(outcome.error.errorType).toBe('Runtime.UserCodeSyntaxError');
    expect(outcome.error.errorMessage).toContain(path.join(dir, 'autoload.php'));
    expect((await runtime.exited).code).toBe(exitStatus().INIT_ERROR);
  });
});
