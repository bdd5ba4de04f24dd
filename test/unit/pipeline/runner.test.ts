import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executePlans, planRuntimes } from '../../../src/api.js';
import { InterruptedError, StepError, UserError } from '../../../src/errors.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import type { Manifest } from '../../../src/pipeline/manifest.js';
import { STEP_NAMES } from '../../../src/pipeline/plan.js';
import type { PreparedBuild } from '../../../src/pipeline/prepare.js';
import { BuildRunner, formatElapsed, isHeartbeat } from '../../../src/pipeline/runner.js';
import { IMAGE_HASH_LABEL, stepsOf } from '../../../src/pipeline/steps/index.js';
import { buildSyntheticElf } from '../elf/fixtures.js';
import { FakeEngine, type FakeEngineOptions } from './fake-engine.js';

// A toy interpreter recipe with a local source, so the runner's every step runs for real
// against a fake engine: no Docker, no network.
const SOURCE = Buffer.from('toy source tarball bytes\n');
const SOURCE_SHA = createHash('sha256').update(SOURCE).digest('hex');

function toyRecipe() {
  return {
    name: 'toy',
    kind: 'interpreter',
    description: 'a toy interpreter for the runner tests',
    license: 'MIT',
    build: { script: 'build-toy.sh', args: [], packages: [], prune: [] },
    smoke: {
      version: { command: ['/opt/bin/toy', '-v'], expect: 'Toy {version} ' },
      checks: [{ name: 'runs-code', reason: 'it must run code', command: ['/opt/bin/toy', '-e', '6*7'], expect: '^42$' }],
    },
    profiles: { minimal: { description: 'all of it', args: [], packages: [], mustLoad: [], mustNotLoad: [] } },
    versions: [{ version: '1.0.0', sources: [{ name: 'toy-1.0.0.tar.gz', url: 'https://toy.invalid/toy-1.0.0.tar.gz', sha256: SOURCE_SHA }] }],
  };
}

const elf = (needed: string[]) => buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, needed, verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.17'] }] }).data;

const OPT: LayerEntry[] = [
  { type: 'directory', path: 'bin', mode: 0o755 },
  { type: 'file', path: 'bin/toy', mode: 0o755, data: elf(['libc.so.6', 'libextra.so.1']) },
];
const RUNTIME_LIBS: LayerEntry[] = [{ type: 'file', path: 'libc.so.6', mode: 0o755, data: Buffer.from('libc') }];
const BUNDLED: LayerEntry[] = [{ type: 'file', path: 'libextra.so.1', mode: 0o644, data: elf(['libc.so.6']) }];

const LDD = '\tlibc.so.6 => /usr/lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\tlibextra.so.1 => /usr/lib/x86_64-linux-gnu/libextra.so.1 (0x2)\n';

function answers(overrides: Record<string, string> = {}): FakeEngineOptions['exec'] {
  return (cmd) => {
    const line = cmd.join(' ');
    for (const [prefix, stdout] of Object.entries(overrides)) if (line.startsWith(prefix)) return { stdout, stderr: '', exitCode: 0 };
    if (cmd[0] === 'ldd') return { stdout: LDD, stderr: '', exitCode: 0 };
    if (line.startsWith('sh -c mkdir -p /tmp/lrb-bundle')) return { stdout: '', stderr: '', exitCode: 0 };
    if (cmd[0] === 'sh' && cmd.includes('/usr/lib/x86_64-linux-gnu/libextra.so.1')) {
      return { stdout: '/usr/lib/x86_64-linux-gnu/libextra.so.1\tlibextra1\t1.2-3\n', stderr: '', exitCode: 0 };
    }
    if (line === '/opt/bin/toy -v') return { stdout: 'Toy 1.0.0 (fake)\n', stderr: '', exitCode: 0 };
    if (line === '/opt/bin/toy -e 6*7') return { stdout: '42\n', stderr: '', exitCode: 0 };
    return undefined;
  };
}

let dir: string;
let out: string;
let recipes: string;
let mirror: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-runner-'));
  out = path.join(dir, 'dist');
  recipes = path.join(dir, 'recipes');
  mirror = path.join(dir, 'mirror');
  await mkdir(recipes, { recursive: true });
  await mkdir(mirror, { recursive: true });
  await writeFile(path.join(recipes, 'toy.json'), JSON.stringify(toyRecipe()));
  await writeFile(path.join(recipes, 'build-toy.sh'), '#!/bin/sh\nmake install\n');
  await writeFile(path.join(mirror, 'toy-1.0.0.tar.gz'), SOURCE);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function prepare(): Promise<PreparedBuild> {
  const [p] = await planRuntimes({ targets: ['toy@1'], platform: 'debian-bookworm', outDir: out, cacheDir: path.join(dir, 'cache'), mirrors: [mirror], recipeDirs: [recipes] });
  return p!;
}

function engineFor(p: PreparedBuild, extra: Partial<FakeEngineOptions> = {}): FakeEngine {
  const engine = new FakeEngine({
    archives: {
      [p.plan.images.runtime]: { '/usr/lib/x86_64-linux-gnu': RUNTIME_LIBS },
      [p.plan.images.tag]: { '/opt': OPT, '/tmp/lrb-bundle': BUNDLED },
    },
    exec: answers(),
    ...extra,
  });
  engine.images.set(p.plan.images.runtime, { id: 'sha256:runtime', labels: {} });
  return engine;
}

function runner(p: PreparedBuild, engine: FakeEngine, more: Partial<ConstructorParameters<typeof BuildRunner>[2]> = {}) {
  return new BuildRunner(p, stepsOf(p.plan), { engine, cacheDir: path.join(dir, 'cache'), mirrors: [mirror], offline: true, ...more });
}

/** Files in the output dir other than logs (nothing else may be left by a failed or stopped build). */
async function outputs(): Promise<string[]> {
  if (!existsSync(out)) return [];
  return (await readdir(out)).filter((f) => f !== 'logs').sort();
}

describe('BuildRunner: a complete build against a fake engine', () => {
  it('runs every planned step in order, writes zip and manifest, removes every container', async () => {
    const p = await prepare();
    const engine = engineFor(p);
    const progress: string[] = [];
    const result = await runner(p, engine, { onProgress: (l) => progress.push(l) }).runAll();
    expect(result.status).toBe('built');
    expect(await outputs()).toEqual(['toy-1.0.0-debian-bookworm-x86_64.zip', 'toy-1.0.0-debian-bookworm-x86_64.zip.json']);
    expect(engine.leftovers()).toEqual([]);
    // Progress a CI log shows: every step's start, and each Dockerfile step.
    expect(progress.filter((l) => !l.startsWith('Step ')).map((l) => l.split(':')[0])).toEqual([...STEP_NAMES]);
    expect(progress).toContain('Step 2/2 : RUN make');
    // The log file says how long each step took, and when each Dockerfile step began within it.
    const log = await readFile(p.plan.output.log, 'utf8');
    for (const name of STEP_NAMES) expect(log).toMatch(new RegExp(`^== ${name} done in \\d+ s$`, 'm'));
    expect(log).toMatch(/^\[\d+ s\] Step 2\/2 : RUN make$/m);

    const manifest = JSON.parse(await readFile(p.plan.output.manifest, 'utf8')) as Manifest;
    const zip = await readFile(p.plan.output.zip);
    expect(manifest.zip.sha256).toBe(createHash('sha256').update(zip).digest('hex'));
    expect(manifest.zip.bytes).toBe(zip.length);
    expect(manifest.recipe).toMatchObject({ name: 'toy', version: '1.0.0', profile: 'minimal', license: 'MIT', sources: [{ sha256: SOURCE_SHA }] });
    expect(manifest.libraries.bundled).toEqual([
      { soname: 'libextra.so.1', from: '/usr/lib/x86_64-linux-gnu/libextra.so.1', package: 'libextra1', packageVersion: '1.2-3', neededBy: ['/opt/bin/toy'] },
    ]);
    expect(manifest.libraries.fromRuntimeImage).toEqual(['libc.so.6']);
    expect(manifest.smoke.checks).toEqual([{ name: 'runs-code', output: '42' }]);
    expect(manifest.inputsHash).toBe(p.plan.inputsHash);
    expect(manifest.platform).toMatchObject({ name: 'debian-bookworm', deployable: false });
  });

  it('a long step sends a heartbeat, which isHeartbeat tells from the other progress lines', async () => {
    const p = await prepare();
    const engine = engineFor(p, { onCall: async (what) => void (what.startsWith('building ') && (await new Promise((r) => setTimeout(r, 120)))) });
    const progress: string[] = [];
    await runner(p, engine, { onProgress: (l) => progress.push(l), heartbeatMs: 25 }).runAll();
    const beats = progress.filter(isHeartbeat);
    // The slow step beats; on a loaded machine a quick step may outlast 25 ms and beat too.
    expect(beats.filter((b) => b.startsWith('build-image: ')).length).toBeGreaterThan(0);
    for (const b of beats) expect(b).toMatch(/^[a-z-]+: still running after \d+ s; last: /);
    expect(progress.filter((l) => !isHeartbeat(l) && !l.startsWith('Step ')).map((l) => l.split(':')[0])).toEqual([...STEP_NAMES]);
  });

  it('the up-to-date path touches no engine at all', async () => {
    const p = await prepare();
    await runner(p, engineFor(p)).runAll();
    const engine = engineFor(p);
    const report = await executePlans([p], { targets: ['toy@1'], outDir: out, cacheDir: path.join(dir, 'cache'), engine, renderer: 'silent' });
    expect(report.results[0]!.status).toBe('up-to-date');
    expect(engine.calls).toEqual([]);
  });

  it('a reused image skips fetching and building', async () => {
    const p = await prepare();
    const engine = engineFor(p);
    engine.images.set(p.plan.images.tag, { id: 'sha256:1', labels: { [IMAGE_HASH_LABEL]: p.plan.imageHash } });
    await runner(p, engine).runAll();
    expect(engine.calls.some((c) => c.startsWith('buildImage'))).toBe(false);
  });
});

describe('BuildRunner: a check that runs a script shipped beside the recipe', () => {
  const SCRIPT = '#!/bin/sh\necho 42\n';
  async function withScriptCheck(write: boolean): Promise<Promise<PreparedBuild[]>> {
    const recipe = toyRecipe();
    (recipe.smoke.checks as object[]).push({ name: 'runs-a-file', reason: 'it must run a file', script: 'checks/answer.toy', command: ['/opt/bin/toy', '{script}'], expect: '^42$' });
    await writeFile(path.join(recipes, 'toy.json'), JSON.stringify(recipe));
    if (write) {
      await mkdir(path.join(recipes, 'checks'));
      await writeFile(path.join(recipes, 'checks', 'answer.toy'), SCRIPT);
    }
    return planRuntimes({ targets: ['toy@1'], platform: 'debian-bookworm', outDir: out, cacheDir: path.join(dir, 'cache'), mirrors: [mirror], recipeDirs: [recipes] });
  }

  it('puts the script under /tmp/lrb-smoke in the smoke container (not in the layer) and runs it by that path', async () => {
    const [p] = await withScriptCheck(true);
    const ran: string[] = [];
    const base = answers();
    const engine = engineFor(p!, {
      exec: (cmd) => {
        if (cmd[0] === '/opt/bin/toy' && cmd[1]?.startsWith('/tmp/')) {
          ran.push(cmd.join(' '));
          return { stdout: '42\n', stderr: '', exitCode: 0 };
        }
        return base(cmd);
      },
    });
    const result = await runner(p!, engine).runAll();
    expect(result.status).toBe('built');
    expect(ran).toEqual(['/opt/bin/toy /tmp/lrb-smoke/checks/answer.toy']);
    const smoke = engine.containers.find((c) => c.putArchives.some((a) => a.path === '/tmp'))!;
    const put = smoke.putArchives.find((a) => a.path === '/tmp')!;
    expect(put.entries.map((e) => `${e.type} ${e.path}`)).toEqual(['directory lrb-smoke/checks', 'file lrb-smoke/checks/answer.toy']);
    const file = put.entries.find((e) => e.type === 'file');
    expect(file?.type === 'file' && file.data.toString()).toBe(SCRIPT);
    // The layer itself does not carry the check's file.
    const layer = smoke.putArchives.find((a) => a.path === '/')!;
    expect(layer.entries.some((e) => e.path.includes('answer.toy'))).toBe(false);
    const manifest = JSON.parse(await readFile(p!.plan.output.manifest, 'utf8')) as Manifest;
    expect(manifest.smoke.checks?.map((c) => c.name)).toEqual(['runs-code', 'runs-a-file']);
  });

  it('a missing script is one line naming the recipe, the field and the path, before any step runs', async () => {
    const err = await withScriptCheck(false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `${path.join(recipes, 'toy.json')}: smoke.checks[1].script: cannot read ${path.join(recipes, 'checks', 'answer.toy')}: no such file`,
    );
  });
});

describe('BuildRunner: failures', () => {
  it('a failing step is a StepError naming the step, with the log tail and path; nothing is written', async () => {
    const p = await prepare();
    const engine = engineFor(p, { exec: answers({ '/opt/bin/toy -e': '41' }) });
    const err = await runner(p, engine).runAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const e = err as StepError;
    expect(e.step).toBe('smoke-test');
    expect(e.message).toMatch(/^step 'smoke-test' failed: check 'runs-code' failed \(it must run code\).*printed "41", expected \/\^42\$\//);
    expect(e.details.logPath).toBe(p.plan.output.log);
    expect(e.details.logTail?.join('\n')).toMatch(/check runs-code: 41/);
    expect(await outputs()).toEqual([]);
    expect(engine.leftovers()).toEqual([]);
    expect(await readFile(p.plan.output.log, 'utf8')).toMatch(/!! smoke-test failed/);
  });

  it('a layer over budget fails check-size and leaves no zip, not even a temporary one', async () => {
    const [p] = await planRuntimes({ targets: ['toy@1'], platform: 'debian-bookworm', outDir: out, maxUnzippedBytes: 100, cacheDir: path.join(dir, 'cache'), mirrors: [mirror], recipeDirs: [recipes] });
    const err = await runner(p!, engineFor(p!)).runAll().catch((e: unknown) => e);
    expect((err as StepError).step).toBe('check-size');
    expect(await readdir(out)).toEqual(['logs']);
  });

  it('a second build of the same target into the same --out is refused while the first runs', async () => {
    const p = await prepare();
    // Another live process holds the target's lock, as a concurrent `build-runtime` would.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await mkdir(path.dirname(p.plan.output.log), { recursive: true });
      await writeFile(`${p.plan.output.log}.lock`, `${other.pid}\n`);
      await expect(runner(p, engineFor(p)).runAll()).rejects.toThrow(
        new RegExp(`another build of toy@1 is writing .* \\(pid ${other.pid}\\): wait for it to finish, or build into another --out`),
      );
      expect(await outputs()).toEqual([]);
    } finally {
      other.kill();
      await new Promise((r) => other.once('exit', r));
    }
    // Its process is gone: the lock is stale and taken over.
    await expect(runner(p, engineFor(p)).runAll()).resolves.toMatchObject({ status: 'built' });
    expect(existsSync(`${p.plan.output.log}.lock`)).toBe(false);
  });

  it('a log that cannot be written (disk full) fails with one line naming the log, not a crash', async () => {
    const p = await prepare();
    await mkdir(path.dirname(p.plan.output.log), { recursive: true });
    await symlink('/dev/full', p.plan.output.log);
    const err = await runner(p, engineFor(p)).runAll().catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(new RegExp(`cannot write the build log ${p.plan.output.log.replaceAll('/', '\\/')}: the disk is full.*\\(ENOSPC\\)`));
    expect(await outputs()).toEqual([]);
  });
});

describe('BuildRunner: an abort in any step stops the build, removes its containers and writes nothing', () => {
  // The moment to abort: on the first engine call each step makes.
  const moments: [string, string][] = [
    ['resolve', 'before-start'],
    ['fetch-sources', 'inspectImage'],
    ['build-image', 'building'],
    ['bundle-libraries', 'exec ldd'],
    ['smoke-test', 'exec /opt/bin/toy'],
  ];
  it.each(moments)('%s', async (step, moment) => {
    const p = await prepare();
    const controller = new AbortController();
    const engine = engineFor(p, {
      onCall: (what) => {
        if (what.startsWith(moment)) controller.abort(new Error('interrupted'));
      },
    });
    if (moment === 'before-start') controller.abort(new Error('interrupted'));
    const err = await runner(p, engine, { signal: controller.signal }).runAll().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(engine.leftovers()).toEqual([]);
    expect(await outputs()).toEqual([]);
    // Nothing after the interrupted step ran.
    const later = STEP_NAMES.slice(STEP_NAMES.indexOf(step as (typeof STEP_NAMES)[number]) + 1);
    const log = existsSync(p.plan.output.log) ? await readFile(p.plan.output.log, 'utf8') : '';
    for (const s of later) expect(log).not.toContain(`== ${s}\n`);
  });

  it.each(['assemble', 'package', 'check-size', 'write-manifest'])('between steps, before %s', async (step) => {
    const p = await prepare();
    const controller = new AbortController();
    const r = runner(p, engineFor(p), { signal: controller.signal });
    const err = await (async () => {
      try {
        for (const s of r.steps) {
          if (s.name === step) controller.abort(new Error('interrupted'));
          await r.execute(s);
        }
      } catch (e) {
        return e;
      } finally {
        await r.finish();
      }
    })();
    expect(err).toBeInstanceOf(InterruptedError);
    expect(await outputs()).toEqual([]);
  });
});

describe('formatElapsed', () => {
  it('seconds under a minute, then minutes and two-digit seconds', () => {
    expect(formatElapsed(400)).toBe('0 s');
    expect(formatElapsed(42_400)).toBe('42 s');
    expect(formatElapsed(60_000)).toBe('1 min 00 s');
    expect(formatElapsed(1_085_000)).toBe('18 min 05 s');
  });
});
