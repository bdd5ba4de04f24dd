import path from 'node:path';
import { withContainer } from '../../docker/engine.js';
import type { Container, ExecResult } from '../../docker/types.js';
import type { LayerEntry } from '../../layer/entries.js';
import { LAMBDA_ENV, PREFIX } from '../../lambda.js';
import { packTar } from '../../layer/tar.js';
import { SCRIPT_PLACEHOLDER, type SmokeCheck } from '../../recipes/schema.js';
import type { SmokeResult } from '../manifest.js';
import type { BuildSpec } from '../../recipes/resolve.js';
import { satisfies } from '../../recipes/versions.js';
import type { Step, StepContext } from '../step-types.js';
import { KEEP_ALIVE } from './libraries.js';
import { DECOY_DIR, decoyHint, decoyLibraries } from '../../elf/load-order.js';

type Env = Record<string, string>;

/**
 * Where the files that checks run (`smoke.checks[].script`) are put in the smoke container:
 * under /tmp, which every runtime image has (as Lambda does), never in the layer's /opt.
 */
export const CHECK_SCRIPTS_DIR = '/tmp/lrb-smoke';

/** The command a check runs, with `{script}` replaced by where its script is in the container. */
export function checkCommand(check: SmokeCheck): string[] {
  const script = check.script;
  if (!script) return check.command;
  return check.command.map((a) => a.replaceAll(SCRIPT_PLACEHOLDER, `${CHECK_SCRIPTS_DIR}/${script}`));
}

async function exec(c: Container, command: string[], env: Env): Promise<ExecResult & { printed: string }> {
  const r = await c.exec(command, { env });
  return { ...r, printed: (r.stdout + r.stderr).trim() };
}

async function checkVersion(ctx: StepContext, c: Container, env: Env): Promise<SmokeResult> {
  const { spec } = ctx.prepared;
  const version = spec.interpreter.recipe.smoke!.version!;
  const v = await exec(c, version.command, env);
  ctx.log(`$ ${version.command.join(' ')}\n${v.printed}`);
  const expect = version.expect.replaceAll('{version}', spec.interpreter.version);
  if (v.exitCode !== 0) throw new Error(`${version.command.join(' ')} exited ${v.exitCode}: ${v.printed.split('\n').slice(0, 5).join(' | ')}${decoyHint(v.printed)}`);
  if (!`${v.printed}\n`.includes(expect)) {
    throw new Error(`${version.command.join(' ')} printed "${v.printed.split('\n')[0]}", expected it to contain "${expect.trim()}"`);
  }
  return { command: version.command, output: v.printed };
}

/**
 * The interpreter's module list (`php -m`), lower-cased, each once (PHP lists a Zend extension such
 * as OPcache under both [PHP Modules] and [Zend Modules]); undefined when its recipe has no such command.
 */
async function listModules(ctx: StepContext, c: Container, env: Env): Promise<string[] | undefined> {
  const command = ctx.prepared.spec.interpreter.recipe.smoke!.modules?.command;
  if (!command) return undefined;
  const m = await exec(c, command, env);
  if (m.exitCode !== 0) throw new Error(`${command.join(' ')} exited ${m.exitCode}: ${m.printed}${decoyHint(m.printed)}`);
  const lines = m.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('['))
    .map((l) => l.toLowerCase());
  return [...new Set(lines)];
}

async function checkModules(ctx: StepContext, c: Container, env: Env): Promise<string[] | undefined> {
  const { spec } = ctx.prepared;
  const modules = await listModules(ctx, c, env);
  if (!modules) return undefined;
  const profile = spec.interpreter.profileSpec;
  const absent = profile.mustLoad.filter((x) => !modules.includes(x.toLowerCase()));
  // An extension built in (--ext) must load, whatever the profile says.
  const built = spec.extensions.map((e) => e.module);
  const unwanted = profile.mustNotLoad.filter((x) => modules.includes(x.toLowerCase()) && !built.includes(x.toLowerCase()));
  if (absent.length) throw new Error(`profile ${spec.interpreter.profile} needs modules that do not load: ${absent.join(', ')} (loaded: ${modules.join(', ')})`);
  const missing = spec.extensions.filter((e) => !modules.includes(e.module));
  if (missing.length) {
    throw new Error(
      `extensions built into the layer do not load: ${missing.map((e) => `${e.short} (module ${e.module}, ${e.ini.path})`).join(', ')} (loaded: ${modules.join(', ')})`,
    );
  }
  if (unwanted.length) throw new Error(`profile ${spec.interpreter.profile} says these must not load by default, but they do: ${unwanted.join(', ')}`);
  return modules;
}

/**
 * The interpreter's checks, then each extension's, with the version of the recipe a check's `when`
 * refers to. An extension layer runs its extension's only: the runtime layer passed its own when built.
 */
export function checksToRun(spec: BuildSpec): { check: SmokeCheck; version: string }[] {
  const components = spec.extensionLayer ? [spec.extensionLayer.extension] : [spec.interpreter, ...spec.extensions];
  return components.flatMap((c) => (c.recipe.smoke?.checks ?? []).map((check) => ({ check, version: c.version })));
}

/**
 * An extension layer must be what makes its extension load: with only the runtime layer beneath it
 * extracted, the interpreter must not list the module.
 */
async function checkAbsentBeneath(ctx: StepContext, c: Container, env: Env): Promise<void> {
  const ext = ctx.prepared.spec.extensionLayer!.extension;
  const modules = await listModules(ctx, c, env);
  ctx.log(`without the extension layer: ${modules?.includes(ext.module) ? `${ext.module} loads` : `no ${ext.module}`}`);
  if (modules?.includes(ext.module)) {
    throw new Error(`${ext.module} loads from the runtime layer alone, without the extension layer: the layer's split of the build's /opt is wrong`);
  }
}

async function behaviourChecks(ctx: StepContext, c: Container, env: Env): Promise<{ name: string; output: string }[]> {
  const { spec } = ctx.prepared;
  const passed: { name: string; output: string }[] = [];
  for (const { check, version } of checksToRun(spec)) {
    if (check.profiles && !check.profiles.includes(spec.interpreter.profile)) continue;
    if (check.when && !satisfies(version, check.when)) continue;
    if (ctx.signal.aborted) break;
    const command = checkCommand(check);
    const r = await exec(c, command, env);
    ctx.log(`check ${check.name}: ${r.printed}`);
    if (r.exitCode !== 0 || !new RegExp(check.expect, 'm').test(r.printed)) {
      throw new Error(
        `check '${check.name}' failed (${check.reason}): ${command.join(' ')} exited ${r.exitCode} and printed "${r.printed.slice(0, 300)}", expected /${check.expect}/${decoyHint(r.printed)}`,
      );
    }
    passed.push({ name: check.name, output: r.printed });
  }
  return passed;
}

export const smokeTest: Step<'smoke-test'> = {
  name: 'smoke-test',
  title: 'Smoke-test in a clean runtime container',
  async run(ctx) {
    const { plan } = ctx.prepared;
    const env = { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH };
    const { layer, beneath } = ctx.output('assemble');
    const { checkScripts } = ctx.prepared;
    const opt = (entries: LayerEntry[]) => packTar(entries, { prefix: PREFIX.slice(1) });
    const value = await withContainer(ctx.engine, { image: plan.images.runtime, entrypoint: KEEP_ALIVE, cmd: [], env }, async (c) => {
      // An extension layer goes over its runtime layer, extracted first, as Lambda does.
      await c.putArchive(opt(beneath ?? layer), '/');
      // provided.al2023's /usr/lib64 has its own libz, libssl, libcurl...: every check runs with a
      // decoy there for each library the layers bundle, which fails any process that loads it.
      const decoys = decoyLibraries(layer, beneath ?? []);
      if (decoys.length) await c.putArchive(packTar(decoys, { prefix: DECOY_DIR.slice(1) }), '/');
      ctx.log(`decoys in ${DECOY_DIR}: ${decoys.map((d) => d.path).join(', ') || 'none (the layers ship no shared library)'}`);
      if (checkScripts.length) {
        const { dir, base } = path.posix.parse(CHECK_SCRIPTS_DIR);
        await c.putArchive(packTar(checkScripts, { prefix: base }), dir);
      }
      await c.start();
      if (beneath) {
        await checkAbsentBeneath(ctx, c, env);
        await c.putArchive(opt(layer), '/');
      }
      const result = await checkVersion(ctx, c, env);
      if (decoys.length) result.decoys = decoys.map((d) => d.path);
      const modules = await checkModules(ctx, c, env);
      if (modules) result.modules = modules;
      result.checks = await behaviourChecks(ctx, c, env);
      return result;
    });
    return { value, summary: value.output.split('\n')[0]! };
  },
};
