import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executePlans, planRuntimes } from '../../../src/api.js';
import { StepError } from '../../../src/errors.js';
import type { LayerEntry } from '../../../src/layer/entries.js';
import { readZipEntries } from '../../../src/layer/zip.js';
import type { Manifest } from '../../../src/pipeline/manifest.js';
import type { PreparedBuild } from '../../../src/pipeline/prepare.js';
import { BuildRunner } from '../../../src/pipeline/runner.js';
import { stepsOf } from '../../../src/pipeline/steps/index.js';
import { buildSyntheticElf } from '../elf/fixtures.js';
import { FakeEngine } from './fake-engine.js';

// An extension layer built end to end against a fake engine (no Docker, no network): a toy
// interpreter with a toy extension, `toy-ext-probe@1 --for toy@1`. The build's /opt has both; the
// layer must hold only what the extension adds, be smoke-tested over the rest, and say in its
// manifest which runtime layer it is for.
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TOY_SRC = Buffer.from('toy source\n');
const PROBE_SRC = Buffer.from('probe extension source\n');

const toy = {
  name: 'toy',
  kind: 'interpreter',
  description: 'a toy interpreter that takes extensions',
  license: 'MIT',
  build: { script: 'build-toy.sh', args: [], packages: [], prune: [] },
  smoke: {
    version: { command: ['/opt/bin/toy', '-v'], expect: 'Toy {version} ' },
    modules: { command: ['/opt/bin/toy', '-m'] },
    checks: [{ name: 'runs-code', reason: 'it must run code', command: ['/opt/bin/toy', '-e', '6*7'], expect: '^42$' }],
  },
  profiles: { minimal: { description: 'all of it', args: [], packages: [], mustLoad: [], mustNotLoad: [] } },
  extensionIniDir: 'etc/toy/conf.d',
  versions: [{ version: '1.0.0', sources: [{ name: 'toy-1.0.0.tar.gz', url: 'https://toy.invalid/toy-1.0.0.tar.gz', sha256: sha(TOY_SRC) }] }],
};
const probe = {
  name: 'toy-ext-probe',
  kind: 'extension',
  description: 'a toy extension',
  license: 'BSD-2-Clause',
  extension: { for: 'toy', module: 'probe', ini: [['probe.enabled', '1']] },
  build: { script: 'build-toy-ext.sh', args: ['--enable-probe'], packages: [] },
  smoke: { checks: [{ name: 'probe-works', reason: 'the extension must do its work', command: ['/opt/bin/toy', '-e', 'probe()'], expect: '^probed$' }] },
  versions: [{ version: '1.0.0', supports: '>=1.0.0 <2.0.0', sources: [{ name: 'probe-1.0.0.tgz', url: 'https://toy.invalid/probe-1.0.0.tgz', sha256: sha(PROBE_SRC) }] }],
};

const elf = (needed: string[]) => buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, needed, verneed: [{ file: 'libc.so.6', versions: ['GLIBC_2.17'] }] }).data;
const dirEntry = (p: string): LayerEntry => ({ type: 'directory', path: p, mode: 0o755 });
// The build image's /opt: the interpreter, and the extension built against it (object and ini).
const OPT: LayerEntry[] = [
  dirEntry('bin'),
  { type: 'file', path: 'bin/toy', mode: 0o755, data: elf(['libc.so.6', 'libextra.so.1']) },
  dirEntry('etc'),
  dirEntry('etc/toy'),
  dirEntry('etc/toy/conf.d'),
  { type: 'file', path: 'etc/toy/conf.d/20-probe.ini', mode: 0o644, data: Buffer.from('extension=probe\nprobe.enabled=1\n') },
  dirEntry('lib'),
  dirEntry('lib/toy'),
  dirEntry('lib/toy/ext'),
  { type: 'file', path: 'lib/toy/ext/probe.so', mode: 0o755, data: elf(['libc.so.6', 'libprobedep.so.1', 'libextra.so.1']) },
];
const SYS = '/usr/lib/x86_64-linux-gnu';
// libextra is needed by the interpreter too (it is in the runtime layer); libprobedep only by the extension.
const LDD =
  `/opt/bin/toy:\n\tlibc.so.6 => ${SYS}/libc.so.6 (0x1)\n\tlibextra.so.1 => ${SYS}/libextra.so.1 (0x2)\n` +
  `/opt/lib/toy/ext/probe.so:\n\tlibc.so.6 => ${SYS}/libc.so.6 (0x1)\n\tlibprobedep.so.1 => ${SYS}/libprobedep.so.1 (0x3)\n\tlibextra.so.1 => ${SYS}/libextra.so.1 (0x2)\n`;
const BUNDLED: LayerEntry[] = [
  { type: 'file', path: 'libextra.so.1', mode: 0o644, data: elf(['libc.so.6']) },
  { type: 'file', path: 'libprobedep.so.1', mode: 0o644, data: elf(['libc.so.6']) },
];

let dir: string;
let out: string;
let recipes: string;
let mirror: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-extlayer-'));
  out = path.join(dir, 'dist');
  recipes = path.join(dir, 'recipes');
  mirror = path.join(dir, 'mirror');
  await mkdir(recipes, { recursive: true });
  await mkdir(mirror, { recursive: true });
  await writeFile(path.join(recipes, 'toy.json'), JSON.stringify(toy));
  await writeFile(path.join(recipes, 'toy-ext-probe.json'), JSON.stringify(probe));
  await writeFile(path.join(recipes, 'build-toy.sh'), '#!/bin/sh\nmake install\n');
  await writeFile(path.join(recipes, 'build-toy-ext.sh'), '#!/bin/sh\nmake install\n');
  await writeFile(path.join(mirror, 'toy-1.0.0.tar.gz'), TOY_SRC);
  await writeFile(path.join(mirror, 'probe-1.0.0.tgz'), PROBE_SRC);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (targets: string[], more: object = {}) => ({
  targets,
  platform: 'debian-bookworm',
  outDir: out,
  cacheDir: path.join(dir, 'cache'),
  mirrors: [mirror],
  recipeDirs: [recipes],
  ...more,
});

/**
 * The fake engine: `toy -m` lists `probe` once the extension layer is in the smoke container
 * (or always, with `alwaysProbe`, as a wrong split would make it).
 */
function engineFor(p: PreparedBuild, o: { alwaysProbe?: boolean } = {}) {
  const ran: string[] = [];
  // Layers put at / in the smoke container: the runtime layer first, then the extension layer.
  let layers = 0;
  const engine = new FakeEngine({
    archives: {
      [p.plan.images.runtime]: { [SYS]: [{ type: 'file', path: 'libc.so.6', mode: 0o755, data: Buffer.from('libc') }] },
      [p.plan.images.tag]: { '/opt': OPT, '/tmp/lrb-bundle': BUNDLED },
    },
    onCall: (what) => {
      if (what === 'putArchive /') layers += 1;
    },
    exec: (cmd) => {
      const line = cmd.join(' ');
      ran.push(line);
      const ok = (stdout: string) => ({ stdout, stderr: '', exitCode: 0 });
      if (cmd[0] === 'ldd') return ok(LDD);
      if (line.startsWith('sh -c mkdir -p /tmp/lrb-bundle')) return ok('');
      if (cmd[0] === 'sh' && cmd.includes(`${SYS}/libprobedep.so.1`)) {
        return ok(`${SYS}/libextra.so.1\tlibextra1\t1.2-3\n${SYS}/libprobedep.so.1\tlibprobedep1\t0.9-1\n`);
      }
      if (line === '/opt/bin/toy -v') return ok('Toy 1.0.0 (fake)\n');
      if (line === '/opt/bin/toy -m') return ok(`[Toy Modules]\ncore\n${o.alwaysProbe || layers >= 2 ? 'probe\n' : ''}`);
      if (line === '/opt/bin/toy -e probe()') return ok('probed\n');
      if (line === '/opt/bin/toy -e 6*7') return ok('42\n');
      return undefined;
    },
  });
  engine.images.set(p.plan.images.runtime, { id: 'sha256:runtime', labels: {} });
  return { engine, ran };
}

/** The FakeContainer records putArchive calls; count those to `/` to know when the extension layer is in. */
function countPuts(engine: FakeEngine): void {
  const create = engine.createContainer.bind(engine);
  engine.createContainer = async (o) => {
    const c = await create(o);
    const put = c.putArchive.bind(c);
    c.putArchive = async (tar, where) => {
      await put(tar, where);
      await engine.opts.onCall?.(`putArchive ${where}`);
    };
    return c;
  };
}

async function build(alwaysProbe = false) {
  const [p] = await planRuntimes(options(['toy-ext-probe@1'], { for: 'toy@1' }));
  const { engine, ran } = engineFor(p!, { alwaysProbe });
  countPuts(engine);
  const runner = new BuildRunner(p!, stepsOf(p!.plan), { engine, cacheDir: path.join(dir, 'cache'), mirrors: [mirror], offline: true });
  return { p: p!, engine, ran, result: runner.runAll() };
}

describe('an extension layer built against a fake engine', () => {
  it('holds only the extension, its ini and the library only it needs; its manifest names the runtime layer it is for', async () => {
    const { p, engine, ran, result } = await build();
    const r = await result;
    expect(r.status).toBe('built');
    expect(path.basename(r.zip)).toBe('toy-ext-probe-1.0.0-for-toy-1.0.0-debian-bookworm-x86_64.zip');
    const [runtime] = await planRuntimes(options(['toy@1']));
    expect(r.for).toEqual({
      name: 'toy',
      version: '1.0.0',
      profile: 'minimal',
      extensions: [],
      platform: 'debian-bookworm',
      arch: 'x86_64',
      zip: 'toy-1.0.0-debian-bookworm-x86_64.zip',
      inputsHash: runtime!.plan.inputsHash,
    });
    expect(r.extensions).toEqual(['probe 1.0.0']);

    const files = (await readZipEntries(r.zip)).filter((e) => e.type === 'file').map((e) => e.path);
    expect(files.sort()).toEqual(['etc/toy/conf.d/20-probe.ini', 'lib/libprobedep.so.1', 'lib/toy/ext/probe.so']);

    const m = JSON.parse(await readFile(r.manifest, 'utf8')) as Manifest;
    expect(m.kind).toBe('extension-layer');
    expect(m.for).toEqual(r.for);
    expect(m.recipe).toEqual({ name: 'toy-ext-probe', version: '1.0.0', profile: 'minimal', license: 'BSD-2-Clause', sources: [{ name: 'probe-1.0.0.tgz', url: 'https://toy.invalid/probe-1.0.0.tgz', sha256: sha(PROBE_SRC) }], rules: [] });
    expect(m.dependencies).toEqual([]);
    expect(m.extensions!.map((e) => `${e.name} ${e.version} ${e.ini.path}: ${e.ini.lines.join('; ')}`)).toEqual(['probe 1.0.0 etc/toy/conf.d/20-probe.ini: extension=probe; probe.enabled=1']);
    expect(m.libraries.builtFromSource).toEqual([]);
    expect(m.libraries.bundled.map((b) => `${b.soname} ${b.package} ${b.neededBy.join(',')}`)).toEqual(['libprobedep.so.1 libprobedep1 /opt/lib/toy/ext/probe.so']);
    expect(m.inputsHash).toBe(p.plan.inputsHash);
    const zipped = await readZipEntries(r.zip);
    expect(m.unzippedBytes).toBe(zipped.reduce((n, e) => n + (e.type === 'file' ? e.data.length : 0), 0));

    // Smoked like Lambda: the runtime layer first (without the extension: no probe), then the extension layer over it.
    const smoke = engine.containers.find((c) => c.options.image === p.plan.images.runtime && c.putArchives.length > 0)!;
    const puts = smoke.putArchives.map((a) => a.entries.filter((e) => e.type === 'file').map((e) => e.path).sort());
    expect(puts).toEqual([
      ['opt/bin/toy', 'opt/lib/libextra.so.1'],
      ['opt/etc/toy/conf.d/20-probe.ini', 'opt/lib/libprobedep.so.1', 'opt/lib/toy/ext/probe.so'],
    ]);
    expect(ran.filter((l) => l === '/opt/bin/toy -m')).toHaveLength(2);
    // Only the extension's checks: the runtime layer passed its own when it was built.
    expect(m.smoke.checks).toEqual([{ name: 'probe-works', output: 'probed' }]);
    expect(ran).not.toContain('/opt/bin/toy -e 6*7');
    expect(engine.leftovers()).toEqual([]);

    // Same inputs again: up to date, still naming its runtime layer.
    const again = await executePlans([p], { ...options(['toy-ext-probe@1']), engine: engineFor(p).engine, renderer: 'silent' });
    expect(again.results[0]).toMatchObject({ status: 'up-to-date', for: r.for });
  });

  it('fails its smoke test when the runtime layer beneath loads the extension without it', async () => {
    const { result } = await build(true);
    const err = await result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).step).toBe('smoke-test');
    expect((err as Error).message).toMatch(/probe loads from the runtime layer alone, without the extension layer/);
  });
});
