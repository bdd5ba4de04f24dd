import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LogTail, stripAnsi } from '../docker/build-output.js';
import { withContainer } from '../docker/engine.js';
import type { Container, DockerEngine } from '../docker/types.js';
import { checkArch as checkElfArch, checkGlibcCeiling, formatArchViolation, formatGlibcViolations } from '../elf/checks.js';
import { StepError } from '../errors.js';
import { LAMBDA_ENV } from '../lambda.js';
import { mergeLayers, type LayerEntry } from '../layer/entries.js';
import { checkBudget, measure, type SizeReport } from '../layer/size.js';
import { listTarNames, packTar, readTarEntries } from '../layer/tar.js';
import { buildZip, writeZipAtomic } from '../layer/zip.js';
import { libraryDirs } from '../platforms/registry.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import { packContext } from '../render/context.js';
import { PREFIX } from '../render/dockerfile.js';
import { cachedSourcePath, ensureSources, type FetchedSource } from '../sources/index.js';
import { sha256Hex } from './hash.js';
import { parseLdd, planBundle, type BundlePlan } from './libraries.js';
import type { StepName } from './plan.js';
import type { PreparedBuild } from './prepare.js';

export const IMAGE_HASH_LABEL = 'io.lambda-runtime-builder.image-hash';

export interface ExecuteOptions {
  engine: DockerEngine;
  cacheDir: string;
  mirrors: readonly string[];
  debianBase?: string;
  offline?: boolean;
  force?: boolean;
  /** Build without Docker's layer cache (implies rebuilding the image). */
  noCache?: boolean;
  signal?: AbortSignal;
  /** Every line of build output (for --verbose and the task's status line). */
  onLog?: (line: string) => void;
}

export interface SmokeResult {
  command: string[];
  output: string;
  modules?: string[];
  /** Behaviour checks that passed, with what each printed. */
  checks?: { name: string; output: string }[];
}

export interface BuildResult {
  target: string;
  status: 'built' | 'up-to-date';
  zip: string;
  manifest: string;
  log: string;
  zipSha256: string;
  unzippedBytes: number;
  zippedBytes: number;
  durationMs: number;
  warnings: string[];
  smoke?: SmokeResult;
  size?: SizeReport;
}

export interface Manifest {
  tool: { name: string; version: string };
  recipe: {
    name: string;
    version: string;
    profile: string;
    sources: { name: string; url: string; sha256: string }[];
    /** Names of the recipe's rules that applied to this build (flags, packages, post-build steps). */
    rules: string[];
  };
  dependencies: { name: string; version: string; rule: string; overridden: boolean; sources: { name: string; url: string; sha256: string }[] }[];
  libraries: {
    /** Built from pinned, checksum-verified sources (see dependencies and recipe). */
    builtFromSource: { name: string; version: string }[];
    /** Copied from the build image's platform packages into lib/. */
    bundled: { soname: string; from: string; package?: string; packageVersion?: string; neededBy: string[] }[];
    /** Left to the runtime image (the platform's own). */
    fromRuntimeImage: string[];
  };
  platform: { name: string; deployable: boolean; lambdaRuntime: string | null; glibc: string; buildImage: string; runtimeImage: string };
  arch: string;
  zip: { file: string; sha256: string; bytes: number };
  unzippedBytes: number;
  smoke: SmokeResult;
  buildDurationMs: number;
  builtAt: string;
  inputsHash: string;
}

/** State a build accumulates step by step. */
interface BuildState {
  fetched?: FetchedSource[];
  imageReused?: boolean;
  optEntries?: LayerEntry[];
  bundle?: BundlePlan;
  packages?: Map<string, { package: string; version: string }>;
  bundledEntries?: LayerEntry[];
  layer?: LayerEntry[];
  smoke?: SmokeResult;
  zip?: Buffer;
  size?: SizeReport;
  warnings: string[];
}

export type StepRunner = (name: StepName, fn: () => Promise<void>) => Promise<void>;

const KEEP_ALIVE = ['sleep', 'infinity'];

/**
 * Prints `path<TAB>package<TAB>version` for each argument, asking dpkg or rpm which
 * platform package owns the file (merged-/usr aware). Unknown owners print `-`.
 */
const WHICH_PACKAGE = `
for f in "$@"; do
  real=$(readlink -f "$f")
  owner=""
  if command -v dpkg-query >/dev/null 2>&1; then
    for p in "$f" "$real" "/usr$f" "/usr$real" "\${f#/usr}" "\${real#/usr}"; do
      owner=$(dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] && ver=$(dpkg-query -W -f='\${Version}' "$owner" 2>/dev/null | head -n 1)
  elif command -v rpm >/dev/null 2>&1; then
    line=$(rpm -qf --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n' "$real" 2>/dev/null | head -n 1)
    case "$line" in *"not owned"*|"") ;; *) owner=\${line%%	*}; ver=\${line#*	} ;; esac
  fi
  printf '%s\t%s\t%s\n' "$f" "\${owner:--}" "\${ver:--}"
done`;

export function parseWhichPackage(stdout: string): Map<string, { package: string; version: string }> {
  const out = new Map<string, { package: string; version: string }>();
  for (const line of stdout.split('\n')) {
    const [file, pkg, version] = line.split('\t');
    if (file && pkg && version && pkg !== '-') out.set(file, { package: pkg, version });
  }
  return out;
}

function isElf(e: LayerEntry): e is Extract<LayerEntry, { type: 'file' }> {
  return e.type === 'file' && e.data.length >= 4 && e.data.readUInt32BE(0) === 0x7f454c46;
}

const REGISTRY_TROUBLE = /registry|pull access denied|no such host|manifest unknown|not found: manifest|repository does not exist|i\/o timeout|TLS handshake/i;

/** What to do when an image cannot be had from a registry. */
export function registryHint(ref: string, platform: string): string {
  return (
    `image ${ref} is not on this machine and could not be pulled. ` +
    `Where no container registry is reachable, build with --platform debian-bookworm (create the base image with .ci/setup-machine.sh), ` +
    `or load ${ref} with \`docker load\` first (platform ${platform} needs it)`
  );
}

/** Make sure an image is present, pulling it when it is not (the build pulls its own base images). */
export async function ensureImage(engine: DockerEngine, ref: string, platform: string, log: (line: string) => void): Promise<void> {
  if (await engine.inspectImage(ref)) return;
  log(`pulling ${ref}`);
  try {
    await engine.pullImage(ref, (e) => {
      if (e.kind === 'status') log(e.text);
    });
  } catch (err) {
    throw new Error(`${registryHint(ref, platform)}: ${(err as Error).message}`, { cause: err });
  }
}

/** Is the artifact on disk exactly what these inputs would produce? */
export async function upToDate(prepared: PreparedBuild): Promise<Manifest | null> {
  try {
    const manifest = JSON.parse(await readFile(prepared.plan.output.manifest, 'utf8')) as Manifest;
    if (manifest.inputsHash !== prepared.plan.inputsHash) return null;
    const zip = await readFile(prepared.plan.output.zip);
    return sha256Hex(zip) === manifest.zip.sha256 ? manifest : null;
  } catch {
    return null;
  }
}

async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Build a platform's toolchain stage on its own, so that targets built concurrently
 * find it in Docker's cache instead of each installing the same compilers at once.
 */
export async function buildToolchain(
  engine: DockerEngine,
  prepared: PreparedBuild,
  opts: { signal?: AbortSignal; onLog?: (line: string) => void },
): Promise<string> {
  const { spec, rendered } = prepared;
  const tag = `lambda-runtime-builder/toolchain:${spec.platform.name}-${spec.arch}`;
  const context = packContext({ dockerfile: rendered.toolchainDockerfile, toolchainDockerfile: rendered.toolchainDockerfile, files: [], stages: ['toolchain'] }, {
    scriptPath: () => {
      throw new Error('the toolchain stage copies no files');
    },
    sourcePath: () => {
      throw new Error('the toolchain stage copies no files');
    },
  });
  await engine.buildImage({
    context,
    tag,
    labels: {},
    ...(opts.signal ? { signal: opts.signal } : {}),
    onEvent: (e) => {
      if (e.kind === 'log' || e.kind === 'status') opts.onLog?.(e.text);
    },
  });
  return tag;
}

export class TargetBuild {
  private readonly state: BuildState = { warnings: [] };
  private log!: WriteStream;
  private readonly tail = new LogTail(40);
  private readonly started = Date.now();

  constructor(
    readonly prepared: PreparedBuild,
    private readonly opts: ExecuteOptions,
  ) {}

  /** Where the running step's latest log line goes (the task's status line on a terminal). */
  onOutput: ((line: string) => void) | undefined;

  private write(raw: string): void {
    const line = stripAnsi(raw);
    this.log?.write(line.endsWith('\n') ? line : `${line}\n`);
    this.tail.write(line.endsWith('\n') ? line : `${line}\n`);
    for (const l of line.split('\n')) {
      if (!l.trim()) continue;
      this.opts.onLog?.(l);
      this.onOutput?.(l);
    }
  }

  /** Wrap a step so its failure names the step, the last log lines and the log file. */
  readonly runStep: StepRunner = async (name, fn) => {
    this.write(`== ${name}`);
    try {
      await fn();
    } catch (err) {
      if (err instanceof StepError) throw err;
      const message = (err as Error).message ?? String(err);
      this.write(`!! ${name} failed: ${message}`);
      throw new StepError(name, message, { logTail: this.tail.get(), logPath: this.prepared.plan.output.log }, { cause: err });
    }
  };

  async open(): Promise<void> {
    await mkdir(path.dirname(this.prepared.plan.output.log), { recursive: true });
    this.log = createWriteStream(this.prepared.plan.output.log, { flags: 'w' });
    this.write(`${TOOL_NAME} ${TOOL_VERSION}: ${this.prepared.plan.target} (${this.prepared.plan.inputsHash})`);
  }

  async close(): Promise<void> {
    if (!this.log) return;
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  async resolve(): Promise<void> {
    const { plan } = this.prepared;
    this.write(`${plan.name} ${plan.version} (${plan.profile}) on ${plan.platform}/${plan.arch}`);
    for (const d of plan.dependencies) this.write(`with ${d.name} ${d.version}: ${d.rule}`);
    for (const w of plan.warnings) this.state.warnings.push(w);
  }

  /** Sources are needed only when the image must be built. */
  private async imageIsCurrent(): Promise<boolean> {
    if (this.opts.force || this.opts.noCache) return false;
    const info = await this.opts.engine.inspectImage(this.prepared.plan.images.tag);
    return info?.labels[IMAGE_HASH_LABEL] === this.prepared.plan.imageHash;
  }

  async fetchSources(): Promise<string> {
    if (await this.imageIsCurrent()) {
      this.state.imageReused = true;
      return 'image up to date; sources not needed';
    }
    const specs = [...this.prepared.spec.dependencies, this.prepared.spec.interpreter].flatMap((c) => c.sources);
    this.state.fetched = await ensureSources(specs, {
      cacheDir: this.opts.cacheDir,
      mirrors: this.opts.mirrors,
      ...(this.opts.debianBase ? { debianBase: this.opts.debianBase } : {}),
      ...(this.opts.offline ? { offline: true } : {}),
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      log: (m) => this.write(m),
    });
    for (const f of this.state.fetched) this.write(`source ${f.spec.name} sha256 ${f.sha256} (${f.from})`);
    return this.state.fetched.map((f) => `${f.spec.name} (${f.from === 'cache' ? 'cached' : 'downloaded'})`).join(', ');
  }

  async buildImage(): Promise<string> {
    const { plan, rendered, scriptPaths } = this.prepared;
    if (this.state.imageReused) return `reused ${plan.images.tag}`;
    const context = packContext(rendered, {
      scriptPath: (s) => scriptPaths[s]!,
      sourcePath: (sha) => cachedSourcePath(this.opts.cacheDir, sha),
    });
    const buildWith = this.opts.engine.buildImage({
      context,
      tag: plan.images.tag,
      labels: { [IMAGE_HASH_LABEL]: plan.imageHash },
      ...(this.opts.noCache ? { noCache: true } : {}),
      ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      onEvent: (e) => {
        if (e.kind === 'log' || e.kind === 'status') this.write(e.text);
        else if (e.kind === 'error') this.write(`ERROR: ${e.message}`);
      },
    });
    let info: Awaited<typeof buildWith>;
    try {
      info = await buildWith;
    } catch (err) {
      const message = (err as Error).message;
      if (REGISTRY_TROUBLE.test(message) && !(await this.opts.engine.inspectImage(plan.images.build))) {
        throw new Error(`${registryHint(plan.images.build, plan.platform)}: ${message}`, { cause: err });
      }
      throw err;
    }
    return `${plan.images.tag} ${info.id.slice(0, 19)}`;
  }

  /** Read /opt out of the image and work out which libraries the runtime image lacks. */
  async bundleLibraries(): Promise<string> {
    const { plan, spec } = this.prepared;
    const { engine } = this.opts;
    await ensureImage(engine, plan.images.runtime, plan.platform, (l) => this.write(l));
    const runtimeLibraries = new Set<string>();
    await withContainer(engine, { image: plan.images.runtime, entrypoint: KEEP_ALIVE, cmd: [] }, async (c) => {
      for (const dir of libraryDirs(spec.platform, spec.arch)) {
        let names: string[];
        try {
          names = await listTarNames(await c.getArchive(dir));
        } catch (err) {
          if (/404|no such file/i.test(String((err as Error).message))) continue;
          throw err;
        }
        for (const n of names) runtimeLibraries.add(n.slice(n.lastIndexOf('/') + 1));
      }
    });
    if (runtimeLibraries.size === 0) throw new Error(`found no libraries in ${plan.images.runtime} under ${libraryDirs(spec.platform, spec.arch).join(', ')}`);

    await withContainer(engine, { image: plan.images.tag, entrypoint: KEEP_ALIVE, cmd: [] }, async (c) => {
      this.state.optEntries = await readTarEntries(await c.getArchive(PREFIX), { stripPrefix: PREFIX.slice(1) });
      const elfFiles = this.state.optEntries.filter(isElf).map((e) => `${PREFIX}/${e.path}`);
      if (elfFiles.length === 0) throw new Error(`no ELF files under ${PREFIX} in ${plan.images.tag}`);
      await c.start();
      const ldd = await c.exec(['ldd', ...elfFiles], { env: { LD_LIBRARY_PATH: `${PREFIX}/lib` } });
      this.write(ldd.stdout);
      if (ldd.stderr.trim()) this.write(ldd.stderr);
      const deps = parseLdd(ldd.stdout, elfFiles);
      const bundle = planBundle(deps, {
        prefix: PREFIX,
        runtimeLibraries,
        alwaysBundle: spec.platform.deployable ? this.prepared.notOnLambda : [],
      });
      this.state.bundle = bundle;
      if (bundle.missing.length) {
        throw new Error(
          `shared libraries not found: ${bundle.missing.map((m) => `${m.file} needs ${m.soname}`).join('; ')}`,
        );
      }
      if (bundle.bundle.length) {
        const dir = '/tmp/lrb-bundle';
        const cp = await c.exec(['sh', '-c', `mkdir -p ${dir} && cp -L "$@" ${dir}/`, 'sh', ...bundle.bundle.map((b) => b.path)]);
        if (cp.exitCode !== 0) throw new Error(`copying libraries failed: ${cp.stderr.trim()}`);
        const owners = await c.exec(['sh', '-c', WHICH_PACKAGE, 'sh', ...bundle.bundle.map((b) => b.path)]);
        this.state.packages = parseWhichPackage(owners.stdout);
        // Docker archives a directory under its base name: lrb-bundle/<files>.
        const copied = await readTarEntries(await c.getArchive(dir), { stripPrefix: 'lrb-bundle' });
        this.state.bundledEntries = copied
          .filter((e) => e.type === 'file')
          .map((e) => ({ ...e, path: `lib/${e.path}`, mode: 0o755 }));
      } else {
        this.state.bundledEntries = [];
      }
    });
    const b = this.state.bundle!;
    for (const x of b.bundle) this.write(`bundle ${x.soname} from ${x.path} (needed by ${x.neededBy.join(', ')})`);
    return b.bundle.length ? `bundled ${b.bundle.map((x) => x.soname).join(', ')}` : 'nothing to bundle';
  }

  async assemble(): Promise<string> {
    const { spec } = this.prepared;
    const layer = mergeLayers(this.state.optEntries!, this.state.bundledEntries ?? [], this.prepared.runtimeEntries);
    const glibc = checkGlibcCeiling(layer, spec.platform.glibc);
    const arch = checkElfArch(layer, spec.arch);
    if (glibc.length || arch.length) {
      const lines = [
        ...formatGlibcViolations(glibc, { platform: spec.platform.name, glibc: spec.platform.glibc }),
        ...arch.map(formatArchViolation),
      ];
      throw new Error(`ELF checks failed:\n  ${lines.join('\n  ')}`);
    }
    this.state.layer = layer;
    return `${layer.length} entries, ELF checks passed (glibc <= ${spec.platform.glibc}, ${spec.arch})`;
  }

  async smokeTest(): Promise<string> {
    const { plan, spec } = this.prepared;
    const smoke = spec.interpreter.recipe.smoke!;
    const env = { PATH: LAMBDA_ENV.PATH, LD_LIBRARY_PATH: LAMBDA_ENV.LD_LIBRARY_PATH };
    await withContainer(this.opts.engine, { image: plan.images.runtime, entrypoint: KEEP_ALIVE, cmd: [], env }, async (c: Container) => {
      await c.putArchive(packTar(this.state.layer!, { prefix: PREFIX.slice(1) }), '/');
      await c.start();
      const v = await c.exec(smoke.version.command, { env });
      const output = (v.stdout + v.stderr).trim();
      this.write(`$ ${smoke.version.command.join(' ')}\n${output}`);
      const expect = smoke.version.expect.replaceAll('{version}', spec.interpreter.version);
      if (v.exitCode !== 0) throw new Error(`${smoke.version.command.join(' ')} exited ${v.exitCode}: ${output.split('\n').slice(0, 5).join(' | ')}`);
      if (!`${output}\n`.includes(expect)) throw new Error(`${smoke.version.command.join(' ')} printed "${output.split('\n')[0]}", expected it to contain "${expect.trim()}"`);
      const result: SmokeResult = { command: smoke.version.command, output };
      if (smoke.modules) {
        const m = await c.exec(smoke.modules.command, { env });
        if (m.exitCode !== 0) throw new Error(`${smoke.modules.command.join(' ')} exited ${m.exitCode}: ${(m.stdout + m.stderr).trim()}`);
        const modules = m.stdout
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('['))
          .map((l) => l.toLowerCase());
        const profile = spec.interpreter.profileSpec;
        const absent = profile.mustLoad.filter((x) => !modules.includes(x.toLowerCase()));
        const unwanted = profile.mustNotLoad.filter((x) => modules.includes(x.toLowerCase()));
        if (absent.length) throw new Error(`profile ${spec.interpreter.profile} needs modules that do not load: ${absent.join(', ')} (loaded: ${modules.join(', ')})`);
        if (unwanted.length) throw new Error(`profile ${spec.interpreter.profile} says these must not load by default, but they do: ${unwanted.join(', ')}`);
        result.modules = modules;
      }
      result.checks = [];
      for (const check of smoke.checks ?? []) {
        if (check.profiles && !check.profiles.includes(spec.interpreter.profile)) continue;
        const r = await c.exec(check.command, { env });
        const printed = (r.stdout + r.stderr).trim();
        this.write(`check ${check.name}: ${printed}`);
        if (r.exitCode !== 0 || !new RegExp(check.expect, 'm').test(printed)) {
          throw new Error(
            `check '${check.name}' failed (${check.reason}): ${check.command.join(' ')} exited ${r.exitCode} and printed "${printed.slice(0, 300)}", expected /${check.expect}/`,
          );
        }
        result.checks.push({ name: check.name, output: printed });
      }
      this.state.smoke = result;
    });
    return this.state.smoke!.output.split('\n')[0]!;
  }

  async package(): Promise<string> {
    const { plan } = this.prepared;
    await mkdir(path.dirname(plan.output.zip), { recursive: true });
    this.state.zip = await buildZip(this.state.layer!);
    return `${path.basename(plan.output.zip)} (${this.state.zip.length} bytes, not yet written)`;
  }

  async checkSize(): Promise<string> {
    const { plan } = this.prepared;
    const report = measure(this.state.layer!, this.state.zip!.length);
    this.state.size = report;
    this.state.warnings.push(...checkBudget(report, { maxUnzippedBytes: plan.maxUnzippedBytes }));
    // Only a layer within budget reaches the output directory.
    await writeZipAtomic(plan.output.zip, this.state.zip!);
    return `${report.unzippedBytes} bytes unzipped, ${report.zippedBytes} zipped`;
  }

  async writeManifest(): Promise<BuildResult> {
    const { plan, spec } = this.prepared;
    const zipSha256 = sha256Hex(this.state.zip!);
    const src = (s: { name: string; url: string; sha256: string }) => ({ name: s.name, url: s.url, sha256: s.sha256 });
    const durationMs = Date.now() - this.started;
    const manifest: Manifest = {
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      recipe: {
        name: plan.name,
        version: plan.version,
        profile: plan.profile,
        sources: spec.interpreter.sources.map(src),
        rules: spec.interpreter.rules.map((r) => r.name),
      },
      dependencies: spec.dependencies.map((d) => ({ name: d.name, version: d.version, rule: d.pairing.name, overridden: d.pairing.overridden, sources: d.sources.map(src) })),
      libraries: {
        builtFromSource: spec.dependencies.map((d) => ({ name: d.name, version: d.version })),
        bundled: (this.state.bundle?.bundle ?? []).map((b) => {
          const owner = this.state.packages?.get(b.path);
          return { soname: b.soname, from: b.path, ...(owner ? { package: owner.package, packageVersion: owner.version } : {}), neededBy: b.neededBy };
        }),
        fromRuntimeImage: this.state.bundle?.provided ?? [],
      },
      platform: {
        name: spec.platform.name,
        deployable: spec.platform.deployable,
        lambdaRuntime: spec.platform.lambdaRuntime,
        glibc: spec.platform.glibc,
        buildImage: spec.platform.buildImage,
        runtimeImage: spec.platform.runtimeImage,
      },
      arch: spec.arch,
      zip: { file: path.basename(plan.output.zip), sha256: zipSha256, bytes: this.state.zip!.length },
      unzippedBytes: this.state.size!.unzippedBytes,
      smoke: this.state.smoke!,
      buildDurationMs: durationMs,
      builtAt: new Date().toISOString(),
      inputsHash: plan.inputsHash,
    };
    await writeFileAtomic(plan.output.manifest, JSON.stringify(manifest, null, 2) + '\n');
    return {
      target: plan.target,
      status: 'built',
      zip: plan.output.zip,
      manifest: plan.output.manifest,
      log: plan.output.log,
      zipSha256,
      unzippedBytes: manifest.unzippedBytes,
      zippedBytes: manifest.zip.bytes,
      durationMs,
      warnings: this.state.warnings,
      smoke: manifest.smoke,
      size: this.state.size!,
    };
  }
}
