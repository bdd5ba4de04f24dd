#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import { executePlans, planRuntimes, pruneImages, type BuildRuntimeOptions } from '../api.js';
import { DockerodeEngine } from '../docker/engine.js';
import { loadCatalog } from '../pipeline/prepare.js';
import { DEFAULT_PROFILE } from '../recipes/schema.js';
import { extensionsOf } from '../recipes/resolve.js';
import { exitStatusOf, failureJson, formatFailure } from './errors.js';
import { registerDeployCommands } from './publish-commands.js';
import { registerVendorCommand } from './vendor-command.js';
import { catalogListing, formatCatalog } from '../catalog.js';
import { UserError } from '../errors.js';
import { LAMBDA_MAX_UNZIPPED_BYTES } from '../lambda.js';
import { formatSizeReport, parseByteSize } from '../layer/size.js';
import { describeImage } from '../pipeline/images.js';
import { formatPlan } from '../pipeline/plan.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import { ARCHES, DEFAULT_ARCH, DEFAULT_PLATFORM } from '../platforms/registry.js';
import { defaultCacheDir, pruneCache } from '../sources/index.js';

// Under Node 20 the AWS SDK prints, on the first client of every `publish` or `push`, a
// several-line warning that its releases after January 2027 will need Node 22. The SDK is pinned
// by package-lock.json, so nothing in it is for a user of this CLI to act on (moving the tool to
// Node 22 is the maintainers' call). `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false` shows it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

function bytes(value: string): number {
  try {
    return parseByteSize(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Options that take one value: giving one twice is a mistake commander would silently resolve
 * (the last wins), so it is refused.
 */
const seen = new Set<string>();
function once<T>(flag: string, parse: (value: string) => T = (v) => v as T): (value: string) => T {
  return (value) => {
    if (seen.has(flag)) throw new InvalidArgumentError(`${flag} was given more than once: give it once`);
    seen.add(flag);
    return parse(value);
  };
}

const ARCH_CHOICES = [...ARCHES, 'all'];
function collectArch(value: string, previous: string[]): string[] {
  if (!ARCH_CHOICES.includes(value)) throw new InvalidArgumentError(`Allowed choices are ${ARCH_CHOICES.join(', ')}.`);
  if (previous.includes(value)) throw new InvalidArgumentError(`--arch ${value} was given more than once: give it once`);
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a whole number >= 1`);
  return n;
}

// Help is built from the registries, so it names exactly the platforms and profiles that exist.
const catalog = await loadCatalog().catch(() => undefined);
const platformNames = catalog?.platforms.names().join(', ') ?? 'see --list';
const profileHelp =
  catalog?.recipes
    .list()
    .filter(({ recipe }) => recipe.kind === 'interpreter')
    .map(({ recipe }) => `${recipe.name}: ${Object.keys(recipe.profiles ?? {}).join(', ')}`)
    .join('; ') ?? 'see --list';

const extensionHelp =
  catalog?.recipes
    .list()
    .filter(({ recipe }) => recipe.kind === 'interpreter' && extensionsOf(catalog.recipes, recipe.name).length)
    .map(({ recipe }) => `${recipe.name}: ${extensionsOf(catalog.recipes, recipe.name).join(', ')}`)
    .join('; ') ?? 'see --list';

const program = new Command()
  .name('build-runtime')
  .description(
    'Build AWS Lambda custom-runtime layer zips from pinned, checksum-verified sources in Docker.\n' +
      'TARGET is NAME@VERSION: php@7.3 (newest pinned 7.3.x), php@7 (newest 7.x), php@7.4.33 (exact), any semver range;\n' +
      'a bare NAME (php) builds its newest pinned version, and the plan says which.',
  )
  .version(TOOL_VERSION)
  .argument('[targets...]', 'what to build, e.g. php@7.4 (several allowed)')
  .option('-p, --platform <name>', `target platform: ${platformNames}`, once('--platform'), DEFAULT_PLATFORM)
  .option('--arch <arch>', 'CPU architecture of the layer: x86_64, arm64, or all (the platform\'s); repeat it to build each target for several', collectArch, [])
  .option('--emulate', 'build a foreign arch under QEMU even where it can be cross-compiled (several times slower)')
  .option('--profile <name>', `extension profile of the recipe (${profileHelp})`, once('--profile'), DEFAULT_PROFILE)
  .option('--with <name@version>', 'pin a dependency, e.g. --with openssl@1.0.1k (repeatable)', collect, [])
  .option('--ext <name[@version]>', `build an extension into the layer, against the target's own interpreter, e.g. --ext redis (repeatable; ${extensionHelp}); with --for: those built into the layer it is for`, collect, [])
  .option('--for <name@version>', 'build extension targets (php-ext-redis@6) as layers of their own for this runtime layer, e.g. --for php@8.2.32 (with the same --profile, --with and --ext as that layer)', once('--for'))
  .option('-o, --out <dir>', 'output directory for zips, manifests and logs', once('--out'), 'dist')
  .option('--cache-dir <dir>', 'where verified sources are cached', once('--cache-dir'), defaultCacheDir())
  .option('--mirror <base-url>', 'extra place to fetch sources from, tried as <base-url>/<file> (repeatable; http(s)/file URL or directory)', collect, [])
  .option('--debian-base <url>', "base URL of Debian's archive, for tarballs Debian ships byte-identical", once('--debian-base'))
  .option('--max-unzipped <size>', `unzipped size budget: bytes, or with MB/MiB/GB (default ${LAMBDA_MAX_UNZIPPED_BYTES}, Lambda's 250 MB); lower it to keep room for function code`, once('--max-unzipped', bytes))
  .option('--recipes <dir>', 'extra recipe directory (repeatable; overrides built-in recipes of the same name)', collect, [])
  .option('-j, --jobs <n>', 'how many targets to build at once', once('--jobs', positiveInt), 1)
  .option('--offline', 'use only cached sources and local mirrors')
  .option('--force', 'rebuild even when an up-to-date artifact and image exist')
  .option('--no-cache', "build images without Docker's layer cache (implies --force)")
  .addOption(new Option('--dry-run', 'print the resolved plan and exit; touches neither Docker nor the network').conflicts(['force', 'cache']))
  .option('--json', 'print one JSON document on stdout, also on failure (progress goes to stderr)')
  .option('--size-report', 'print per-file and per-directory sizes of each layer')
  .option('-v, --verbose', 'print the full build log')
  .addOption(new Option('--list', 'list every recipe, version, dependency pairing and platform, and exit').conflicts(['dryRun', 'force', 'cache', 'sizeReport']))
  .addHelpText(
    'after',
    `
Examples:
  npm run build-runtime -- php@8.2.32 --platform al2023-portable  a deployable provided.al2023 layer, built here
  npm run build-runtime php@7.3                                  default platform ${DEFAULT_PLATFORM} (needs Amazon Linux images)
  npm run build-runtime -- php@7.4 --platform debian-bookworm   local proof only, from Debian's mirror
  npm run build-runtime -- php@7.4 --dry-run --json              show the plan as JSON
  npm run build-runtime -- php-ext-redis@6 --for php@8.2.32 --platform al2023-portable  redis as a layer for that php layer
  npm run build-runtime -- vendor --composer app/composer.json --for dist/php-8.2.32-standard-al2023-portable-x86_64.zip.json
  npm run build-runtime -- --list

Exit status: 0 built or up to date; 1 a build step failed; 2 bad input; 130 interrupted.`,
  );

// Before the subcommands exist, so that they inherit it: a usage error exits 2 everywhere.
program.enablePositionalOptions();
program.exitOverride();
registerDeployCommands(program);

program.command('cache-prune', { hidden: false })
  .description('remove cached sources (all, or those unused for --older-than days)')
  .option('--cache-dir <dir>', 'cache directory', defaultCacheDir())
  .option('--older-than <days>', 'only sources not used for this many days', positiveInt)
  .option('--dry-run', 'say what would be removed')
  .action(async (o: { cacheDir: string; olderThan?: number; dryRun?: boolean }) => {
    const r = await pruneCache(o.cacheDir, { ...(o.olderThan ? { olderThanDays: o.olderThan } : {}), ...(o.dryRun ? { dryRun: true } : {}) });
    process.stdout.write(`${o.dryRun ? 'would remove' : 'removed'} ${r.removed.length} files, ${r.freedBytes} bytes\n`);
  });

program.command('image-prune')
  .description("remove this tool's Docker images that newer builds have replaced (untagged); --all removes every one")
  .option('--all', 'also remove the current (tagged) images: the next build of each target starts cold')
  .option('--dry-run', 'say what would be removed')
  .action(async (o: { all?: boolean; dryRun?: boolean }) => {
    const r = await pruneImages({ ...(o.all ? { all: true } : {}), ...(o.dryRun ? { dryRun: true } : {}) });
    for (const i of r.removed) process.stdout.write(`${o.dryRun ? 'would remove' : 'removed'} ${describeImage(i)}\n`);
    for (const k of r.kept.filter((x) => x.why === 'in-use')) process.stdout.write(`kept ${describeImage(k.image)}: in use by a container or a newer image\n`);
    process.stdout.write(
      `${o.dryRun ? 'would remove' : 'removed'} ${r.removed.length} images (up to ${(r.bytes / 2 ** 20).toFixed(0)} MB; images share layers), kept ${r.kept.length}\n`,
    );
  });

interface CliOptions {
  platform: string;
  arch: string[];
  emulate?: boolean;
  profile: string;
  with: string[];
  ext: string[];
  for?: string;
  out: string;
  cacheDir: string;
  mirror: string[];
  debianBase?: string;
  maxUnzipped?: number;
  recipes: string[];
  jobs: number;
  offline?: boolean;
  force?: boolean;
  cache: boolean;
  dryRun?: boolean;
  json?: boolean;
  sizeReport?: boolean;
  verbose?: boolean;
  list?: boolean;
}

const controller = new AbortController();
registerVendorCommand(program, controller.signal);
let engine: DockerodeEngine | undefined;
let interrupts = 0;

/**
 * Ctrl-C or SIGTERM: the first stops the build (the runner removes its containers and writes
 * nothing). Another one, e.g. the second copy that a terminal's Ctrl-C delivers to the whole
 * process group under npm/tsx, or an impatient user, removes the containers at once and exits:
 * cleanup first, then exit, never the other way round.
 */
function onSignal(): void {
  interrupts += 1;
  if (interrupts === 1) {
    process.stderr.write('\ninterrupted: stopping the build and removing its containers (Ctrl-C again to quit sooner)...\n');
    controller.abort(new UserError('interrupted'));
    return;
  }
  if (interrupts === 2) {
    void (engine?.removeAll() ?? Promise.resolve()).finally(() => {
      process.stderr.write(`${TOOL_NAME}: interrupted; containers removed, no layer written\n`);
      process.exit(130);
    });
  }
}

program.action(async (targets: string[], o: CliOptions) => {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (o.list && targets.length) throw new UserError(`--list takes no targets (got ${targets.join(' ')}): drop them, or drop --list to build`);

  if (o.list) {
    const listing = await catalogListing({ recipeDirs: o.recipes, mirrors: o.mirror, ...(o.debianBase ? { debianBase: o.debianBase } : {}), probe: !o.offline });
    process.stdout.write(o.json ? JSON.stringify(listing, null, 2) + '\n' : formatCatalog(listing) + '\n');
    return;
  }
  const options: BuildRuntimeOptions = {
    targets,
    platform: o.platform,
    arch: o.arch.length ? o.arch : [DEFAULT_ARCH],
    ...(o.emulate ? { emulate: true } : {}),
    profile: o.profile,
    with: o.with,
    extensions: o.ext,
    ...(o.for !== undefined ? { for: o.for } : {}),
    outDir: o.out,
    cacheDir: o.cacheDir,
    mirrors: o.mirror,
    ...(o.debianBase ? { debianBase: o.debianBase } : {}),
    ...(o.maxUnzipped !== undefined ? { maxUnzippedBytes: o.maxUnzipped } : {}),
    recipeDirs: o.recipes,
    ...(catalog ? { catalog } : {}),
    jobs: o.jobs,
    offline: Boolean(o.offline),
    force: Boolean(o.force),
    noCache: o.cache === false,
    json: Boolean(o.json),
    verbose: Boolean(o.verbose),
    signal: controller.signal,
    ...(o.verbose ? { onLog: (t: string, line: string) => process.stderr.write(`[${t}] ${line}\n`) } : {}),
  };
  const prepared = await planRuntimes(options);
  const plans = prepared.map((p) => p.plan);
  if (o.dryRun) {
    if (o.json) process.stdout.write(JSON.stringify({ dryRun: true, plans }, null, 2) + '\n');
    else process.stdout.write(plans.map(formatPlan).join('\n\n') + '\n');
    return;
  }
  // Say it before the build, not only after it: a deprecated runtime, a local-only platform.
  const planWarnings = new Set(plans.flatMap((p) => p.warnings));
  for (const w of planWarnings) process.stderr.write(`warning: ${w}\n`);
  engine = new DockerodeEngine();
  // Planned for this machine's arch: an engine of another arch (a remote one) gets plans of its own.
  const report = await executePlans(prepared, { ...options, engine }, (engineArch) => planRuntimes({ ...options, engineArch }));
  if (o.json) {
    const results = report.results.map(({ size, ...r }) => (o.sizeReport && size ? { ...r, size } : r));
    process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
    return;
  }
  const out = process.stderr;
  for (const r of report.results) {
    out.write(
      `\n${r.status === 'up-to-date' ? 'up to date' : 'built'}: ${r.zip}\n` +
        `  sha256 ${r.zipSha256}\n` +
        `  size   ${r.zippedBytes} bytes zipped, ${r.unzippedBytes} bytes unzipped (${((r.unzippedBytes / LAMBDA_MAX_UNZIPPED_BYTES) * 100).toFixed(1)}% of Lambda's 250 MB)\n` +
        (r.smoke ? `  smoke  ${r.smoke.output.split('\n')[0]}\n` : '') +
        (r.extensions.length ? `  ${r.for ? 'extension' : 'extensions'} ${r.extensions.join(', ')}\n` : '') +
        (r.for ? `  for    ${r.for.zip} (inputs ${r.for.inputsHash.slice(0, 12)}): extract that layer first, this one over it\n` : '') +
        (r.fromPackages.length ? `  from platform packages (not pinned sources): ${r.fromPackages.map((p) => `${p.package} ${p.version}`).filter((x, i, all) => all.indexOf(x) === i).join(', ')}\n` : '') +
        `  manifest ${r.manifest}\n` +
        (r.status === 'built' ? `  took   ${(r.durationMs / 1000).toFixed(1)} s; log ${r.log}\n` : '') +
        r.warnings.filter((w) => !planWarnings.has(w)).map((w) => `  warning: ${w}\n`).join(''),
    );
    if (o.sizeReport && r.size) out.write(formatSizeReport(r.size) + '\n');
  }
  process.stdout.write(report.results.map((r) => r.zip).join('\n') + '\n');
});

const json = process.argv.includes('--json');
try {
  await program.parseAsync(process.argv);
  await engine?.removeAll();
} catch (err) {
  await engine?.removeAll();
  const e = err as Error & { code?: string; exitCode?: number };
  if (e.code?.startsWith('commander.')) {
    // commander already printed help, version or the usage error
    const status = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    if (json && status !== 0) process.stdout.write(JSON.stringify({ error: { kind: 'usage', message: e.message } }, null, 2) + '\n');
    process.exit(status);
  }
  const status = exitStatusOf(err, controller.signal.aborted);
  process.stderr.write(formatFailure(err, status));
  if (json) process.stdout.write(JSON.stringify(failureJson(err, status, controller.signal.aborted), null, 2) + '\n');
  process.exit(status);
}
