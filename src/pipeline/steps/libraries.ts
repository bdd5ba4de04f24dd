import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { withContainer } from '../../docker/engine.js';
import type { Container } from '../../docker/types.js';
import type { LayerEntry } from '../../layer/entries.js';
import { listTarNames, readTarEntries } from '../../layer/tar.js';
import { PREFIX } from '../../lambda.js';
import { paths } from '../../paths.js';
import { libraryDirs } from '../../platforms/registry.js';
import { parseElf } from '../../elf/elf.js';
import { GLIBC_LOADERS } from '../../elf/policy.js';
import { formatClosure, libraryClosure, type ElfObject } from '../elf-closure.js';
import { parseLdd, planBundle, type LddDependency } from '../libraries.js';
import type { Step, StepContext } from '../step-types.js';
import { ensureImage } from './image.js';

/** Keeps a container idle so that files can be read and commands exec'd in it. */
export const KEEP_ALIVE = ['/bin/sh', '-c', 'while :; do sleep 3600; done'];

export function parseWhichPackage(stdout: string): Map<string, { package: string; version: string }> {
  const out = new Map<string, { package: string; version: string }>();
  for (const line of stdout.split('\n')) {
    const [file, pkg, version] = line.split('\t');
    if (file && pkg && version && pkg !== '-') out.set(file, { package: pkg, version });
  }
  return out;
}

export function isElf(e: LayerEntry): e is Extract<LayerEntry, { type: 'file' }> {
  return e.type === 'file' && e.data.length >= 4 && e.data.readUInt32BE(0) === 0x7f454c46;
}

/** File names of the libraries the clean runtime image has. */
async function runtimeLibraries(ctx: StepContext): Promise<Set<string>> {
  const { plan, spec } = ctx.prepared;
  const dirs = libraryDirs(spec.platform, spec.arch);
  const names = new Set<string>();
  await withContainer(ctx.engine, { image: plan.images.runtime, entrypoint: KEEP_ALIVE, cmd: [] }, async (c) => {
    for (const dir of dirs) {
      let listed: string[];
      try {
        listed = await listTarNames(await c.getArchive(dir));
      } catch (err) {
        if (/404|no such file/i.test(String((err as Error).message))) continue;
        throw err;
      }
      for (const n of listed) names.add(n.slice(n.lastIndexOf('/') + 1));
    }
  });
  if (names.size === 0) throw new Error(`found no libraries in ${plan.images.runtime} under ${dirs.join(', ')}`);
  return names;
}

async function copyLibraries(c: Container, files: string[]): Promise<LayerEntry[]> {
  const dir = '/tmp/lrb-bundle';
  const cp = await c.exec(['sh', '-c', `mkdir -p ${dir} && cp -L "$@" ${dir}/`, 'sh', ...files]);
  if (cp.exitCode !== 0) throw new Error(`copying libraries failed: ${cp.stderr.trim()}`);
  // Docker archives a directory under its base name: lrb-bundle/<files>.
  const copied = await readTarEntries(await c.getArchive(dir), { stripPrefix: 'lrb-bundle' });
  return copied.filter((e) => e.type === 'file').map((e) => ({ ...e, path: `lib/${e.path}`, mode: 0o755 }));
}

/** Prints where a soname is in the first of the given directories of the build container that has it, and the file it resolves to. */
const LOCATE = 'n=$1; shift; for d; do if [ -e "$d/$n" ]; then printf "%s\\t%s\\n" "$d/$n" "$(readlink -f "$d/$n")"; exit 0; fi; done; exit 1';

/**
 * What `ldd` would say, for a cross build's foreign binaries (which the build container cannot run):
 * the closure of their DT_NEEDED entries over `/opt/lib` and the target's library directories in the
 * build image (the cross toolchain's `libraryDirs`), read from the files themselves.
 */
async function crossClosure(ctx: StepContext, c: Container, opt: LayerEntry[]): Promise<Map<string, LddDependency[]>> {
  const { spec, method } = ctx.prepared;
  const cross = method.cross!;
  const roots: ElfObject[] = opt.filter(isElf).map((e) => {
    const info = parseElf(e.data);
    if (!info) throw new Error(`${PREFIX}/${e.path} is not an ELF file`);
    return { path: `${PREFIX}/${e.path}`, info };
  });
  const loader = GLIBC_LOADERS[spec.arch].soname;
  return libraryClosure(roots, {
    libraryPath: [`${PREFIX}/lib`],
    systemDirs: cross.libraryDirs,
    skip: (soname) => soname === loader,
    locate: async (soname, dirs) => {
      const r = await c.exec(['sh', '-c', LOCATE, 'sh', soname, ...dirs]);
      if (r.exitCode !== 0) return null;
      const [found, real] = r.stdout.trim().split('\t') as [string, string];
      const [file] = (await readTarEntries(await c.getArchive(real))).filter((e) => e.type === 'file');
      const info = file?.type === 'file' ? parseElf(file.data) : null;
      if (!info) throw new Error(`${found} (for ${soname}) is not an ELF file`);
      if (info.machine !== spec.arch) throw new Error(`${found} (for ${soname}) is built for ${info.machine}, not ${spec.arch}`);
      return { path: found, info };
    },
  });
}

export const bundleLibraries: Step<'bundle-libraries'> = {
  name: 'bundle-libraries',
  title: 'Bundle shared libraries the runtime image lacks',
  async run(ctx) {
    const { plan, spec } = ctx.prepared;
    await ensureImage(ctx.engine, plan.images.runtime, plan.platform, (l) => ctx.log(l));
    const provided = await runtimeLibraries(ctx);
    const whichPackage = await readFile(path.join(paths.scripts, 'which-package.sh'), 'utf8');

    const value = await withContainer(ctx.engine, { image: plan.images.tag, entrypoint: KEEP_ALIVE, cmd: [] }, async (c) => {
      const opt = await readTarEntries(await c.getArchive(PREFIX), { stripPrefix: PREFIX.slice(1) });
      const elfFiles = opt.filter(isElf).map((e) => `${PREFIX}/${e.path}`);
      if (elfFiles.length === 0) throw new Error(`no ELF files under ${PREFIX} in ${plan.images.tag}`);
      await c.start();
      let deps: Map<string, LddDependency[]>;
      if (ctx.prepared.method.cross) {
        deps = await crossClosure(ctx, c, opt);
        ctx.log(`library closure from DT_NEEDED (${spec.arch} files, not run here):\n${formatClosure(deps)}`);
      } else {
        const ldd = await c.exec(['ldd', ...elfFiles], { env: { LD_LIBRARY_PATH: `${PREFIX}/lib` } });
        ctx.log(ldd.stdout);
        if (ldd.stderr.trim()) ctx.log(ldd.stderr);
        deps = parseLdd(ldd.stdout, elfFiles);
      }
      const bundle = planBundle(deps, {
        prefix: PREFIX,
        runtimeLibraries: provided,
        alwaysBundle: spec.platform.deployable ? ctx.prepared.notOnLambda : [],
      });
      if (bundle.missing.length) {
        throw new Error(`shared libraries not found: ${bundle.missing.map((m) => `${m.file} needs ${m.soname}`).join('; ')}`);
      }
      if (bundle.bundle.length === 0) return { opt, bundle, packages: new Map(), entries: [] };
      const files = bundle.bundle.map((b) => b.path);
      const entries = await copyLibraries(c, files);
      const owners = await c.exec(['sh', '-c', whichPackage, 'sh', ...files]);
      return { opt, bundle, packages: parseWhichPackage(owners.stdout), entries };
    });
    for (const x of value.bundle.bundle) ctx.log(`bundle ${x.soname} from ${x.path} (needed by ${x.neededBy.join(', ')})`);
    const summary = value.bundle.bundle.length ? `bundled ${value.bundle.bundle.map((x) => x.soname).join(', ')}` : 'nothing to bundle';
    return { value, summary };
  },
};
