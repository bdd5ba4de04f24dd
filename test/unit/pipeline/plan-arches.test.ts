import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executePlans, planRuntimes } from '../../../src/api.js';
import { formatPlan } from '../../../src/pipeline/plan.js';
import { FakeEngine } from './fake-engine.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lrb-arches-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = () => ({ targets: ['lua@5.4.7'], platform: 'debian-bookworm', outDir: path.join(dir, 'out'), cacheDir: path.join(dir, 'cache') });

describe('planning several arches and the engine arch', () => {
  it('--arch x86_64 --arch arm64 plans each target for each arch; all means every arch of the platform', async () => {
    const two = await planRuntimes({ ...base(), arch: ['x86_64', 'arm64'], engineArch: 'x86_64' });
    expect(two.map((p) => [p.plan.arch, p.plan.buildMethod.method, path.basename(p.plan.output.zip)])).toEqual([
      ['x86_64', 'native', 'lua-5.4.7-debian-bookworm-x86_64.zip'],
      ['arm64', 'cross', 'lua-5.4.7-debian-bookworm-arm64.zip'],
    ]);
    const all = await planRuntimes({ ...base(), arch: 'all', engineArch: 'x86_64' });
    expect(all.map((p) => p.plan.arch)).toEqual(['x86_64', 'arm64']);
    const portable = await planRuntimes({ ...base(), platform: 'al2023-portable', arch: 'all', engineArch: 'x86_64' });
    expect(portable.map((p) => [p.plan.arch, p.plan.buildMethod.method])).toEqual([
      ['x86_64', 'native'],
      ['arm64', 'cross'],
    ]);
    await expect(planRuntimes({ ...base(), platform: 'amzn-2017.03', arch: 'all', engineArch: 'x86_64' })).resolves.toHaveLength(1);
  });

  it('the plan, its dry-run text, tag and hashes carry arch and method', async () => {
    const [native] = await planRuntimes({ ...base(), arch: 'arm64', engineArch: 'aarch64' });
    const [cross] = await planRuntimes({ ...base(), arch: 'arm64', engineArch: 'x86_64' });
    const [emulated] = await planRuntimes({ ...base(), arch: 'arm64', engineArch: 'x86_64', emulate: true });
    expect([native, cross, emulated].map((p) => p!.plan.images.tag)).toEqual([
      'lambda-runtime-builder/lua:5.4.7-minimal-debian-bookworm-arm64',
      'lambda-runtime-builder/lua:5.4.7-minimal-debian-bookworm-arm64-cross',
      'lambda-runtime-builder/lua:5.4.7-minimal-debian-bookworm-arm64-emulated',
    ]);
    expect(new Set([native, cross, emulated].map((p) => p!.plan.inputsHash)).size).toBe(3);
    expect(new Set([native, cross, emulated].map((p) => p!.plan.imageHash)).size).toBe(3);
    // The same layer name whichever way it is built.
    expect(new Set([native, cross, emulated].map((p) => path.basename(p!.plan.output.zip)))).toEqual(new Set(['lua-5.4.7-debian-bookworm-arm64.zip']));
    expect(formatPlan(cross!.plan)).toContain(
      "\n  build      cross: arm64 on an x86_64 engine: cross-compiled at native speed with debian-bookworm's cross toolchain; the smoke test runs under QEMU\n",
    );
    expect(emulated!.plan.warnings).toContain('arm64 is built under emulation (QEMU) on this x86_64 engine: expect it to take several times as long as a native build');
  });

  it('plans made for another engine arch are refused, or planned again when the caller can', async () => {
    const prepared = await planRuntimes({ ...base(), arch: 'arm64', engineArch: 'x86_64' });
    const engine = new FakeEngine({ archives: {}, exec: () => undefined, arch: 'aarch64' });
    await expect(executePlans(prepared, { ...base(), engine, renderer: 'silent' })).rejects.toThrow(
      'lua@5.4.7 was planned for an x86_64 engine, but the Docker engine runs arm64: plan it again with engineArch arm64',
    );
    const replanned: string[] = [];
    await executePlans(prepared, { ...base(), engine, renderer: 'silent' }, async (engineArch) => {
      replanned.push(engineArch);
      return [];
    });
    expect(replanned).toEqual(['arm64']);
  });
});
