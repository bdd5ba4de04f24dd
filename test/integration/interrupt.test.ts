import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { OWNER_LABEL } from '../../src/docker/engine.js';
import { execFileP, ourContainers, probeFixture, REPO_ROOT, requireEngine, tempDir } from './helpers.js';

// The README's promise, through the CLI and a real engine: Ctrl-C (twice, as a terminal sends it to
// the whole process group under npm/tsx) or SIGTERM while a step has a container running removes
// the container, writes no layer and exits 130. The build is the probe recipe (seconds on the cached
// toolchain stage) with a smoke check that keeps its container busy until the signal comes.

/** Names this run's smoke container: `docker top` shows it in the check's command line. */
const TOKEN = `lrb-interrupt-${process.pid}-${Date.now()}`;
let engine: DockerodeEngine;
let work: { dir: string; cleanup: () => Promise<void> };
let recipes: string;

beforeAll(async () => {
  engine = await requireEngine();
  work = await tempDir('lrb-it-interrupt-');
  const fixture = await probeFixture(work.dir);
  recipes = fixture.recipes;
  await writeFile(
    path.join(recipes, 'probe.json'),
    JSON.stringify({
      name: 'probe',
      kind: 'interpreter',
      description: 'A C program whose smoke test waits, for the interrupt tests.',
      build: { script: 'build-probe.sh', args: [], packages: [] },
      smoke: {
        version: { command: ['/opt/bin/probe'], expect: 'probe {version}' },
        checks: [
          {
            name: 'waits-to-be-interrupted',
            reason: 'keeps the smoke container running until the test sends its signal',
            command: ['/bin/sh', '-c', `sleep 900; echo ${TOKEN}`],
            expect: '^never$',
          },
        ],
      },
      profiles: { minimal: { description: 'just the probe', args: [], packages: [], mustLoad: [], mustNotLoad: [] } },
      versions: [{ version: '1.0.0', sources: [fixture.source] }],
    }),
  );
});

const started: Build[] = [];
afterAll(async () => {
  // A failed test must not leave its build running.
  for (const b of started) if (b.child.exitCode === null && b.child.signalCode === null) process.kill(-b.child.pid!, 'SIGKILL');
  await work?.cleanup();
});

interface Build {
  child: ChildProcess;
  outDir: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `build-runtime probe@1.0.0` as a child in its own process group (as a terminal runs it). */
function startBuild(name: string): Build {
  const outDir = path.join(work.dir, name);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/build-runtime.ts', 'probe@1.0.0', '--platform', 'debian-bookworm', '--recipes', recipes, '--out', outDir, '--cache-dir', path.join(work.dir, 'cache')],
    { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const b = { child, outDir, output: () => text, exited };
  started.push(b);
  return b;
}

/** Waits for the smoke-test progress line, then for the container running this run's check. */
async function runningSmokeContainer(b: Build): Promise<string> {
  let done = false;
  void b.exited.then(() => (done = true));
  const deadline = Date.now() + 30 * 60_000; // the first run may build the toolchain stage
  while (!/\] smoke-test: /.test(b.output())) {
    if (done) throw new Error(`the build ended before its smoke test:\n${b.output()}`);
    if (Date.now() > deadline) throw new Error(`no smoke-test step after 30 min:\n${b.output()}`);
    await sleep(200);
  }
  const until = Date.now() + 60_000;
  for (;;) {
    if (done) throw new Error(`the build ended during its smoke test:\n${b.output()}`);
    const { stdout } = await execFileP('docker', ['ps', '-q', '--no-trunc', '--filter', `label=${OWNER_LABEL}=true`]);
    for (const id of stdout.split('\n').filter(Boolean)) {
      const top = await execFileP('docker', ['top', id, '-o', 'pid,args']).catch(() => ({ stdout: '' }));
      if (top.stdout.includes(TOKEN)) return id;
    }
    if (Date.now() > until) throw new Error(`no container runs the smoke check a minute into smoke-test:\n${b.output()}`);
    await sleep(200);
  }
}

function signalGroup(b: Build, signal: NodeJS.Signals): void {
  process.kill(-b.child.pid!, signal);
}

/** The labelled containers that appeared since `before` and belong to a probe build (the engine may be shared). */
async function probeLeftovers(before: string[]): Promise<string[]> {
  const fresh = (await ourContainers(engine)).filter((id) => !before.includes(id));
  if (fresh.length === 0) return [];
  const { stdout } = await execFileP('docker', ['inspect', '--format', '{{.Id}} {{.Config.Image}}', ...fresh]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .filter((l) => / (debian:bookworm|\S*probe\S*)$/.test(l))
    .map((l) => l.split(' ')[0]!);
}

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

async function expectInterrupted(b: Build, container: string, before: string[]): Promise<void> {
  const { code, signal } = await b.exited;
  expect({ code, signal }, b.output()).toEqual({ code: 130, signal: null });
  expect(b.output()).toContain('interrupted; containers removed, no layer written');
  // Cleanup came before the exit: the smoke container is gone the moment the process is.
  expect(await ourContainers(engine)).not.toContain(container);
  expect(await probeLeftovers(before)).toEqual([]);
  // Nothing but the build log (and its lock) in --out: no zip, no manifest, no temporary file.
  expect((await filesUnder(b.outDir)).filter((f) => !f.startsWith(`logs${path.sep}`))).toEqual([]);
}

describe('interrupting build-runtime while a step has a container running', () => {
  it('two removals of one container at once (the runner\'s and a second Ctrl-C\'s) both end when it is gone', async () => {
    const c = await engine.createContainer({ image: 'debian:bookworm', entrypoint: ['sleep', 'infinity'], cmd: [] });
    await c.start();
    // Docker answers a second DELETE during the first with 409 at once; that must not count as done.
    await Promise.all([c.remove(), c.remove()]);
    expect(await ourContainers(engine)).not.toContain(c.id);
  });

  it('Ctrl-C twice to the process group: containers removed first, then exit 130, nothing written', async () => {
    const before = await ourContainers(engine);
    const b = startBuild('out-sigint');
    const container = await runningSmokeContainer(b);
    const t0 = Date.now();
    signalGroup(b, 'SIGINT');
    await sleep(30);
    signalGroup(b, 'SIGINT');
    await expectInterrupted(b, container, before);
    expect(b.output()).toContain('interrupted: stopping the build');
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('SIGTERM once: the same, through the runner', async () => {
    const before = await ourContainers(engine);
    const b = startBuild('out-sigterm');
    const container = await runningSmokeContainer(b);
    const t0 = Date.now();
    signalGroup(b, 'SIGTERM');
    await expectInterrupted(b, container, before);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
