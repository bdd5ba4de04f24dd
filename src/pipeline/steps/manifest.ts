import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TOOL_NAME, TOOL_VERSION } from '../../paths.js';
import { sha256Hex } from '../hash.js';
import type { BuildResult, Manifest } from '../manifest.js';
import { describeFsError, tempNameFor } from '../output-files.js';
import type { PreparedBuild } from '../prepare.js';
import { builtLibraries, extensionSources, type ResolvedDependency, type ResolvedExtension } from '../../recipes/resolve.js';
import type { Step, StepContext } from '../step-types.js';

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

/** What a run reports for a target, from its manifest (built now, or up to date from before). */
export function resultFromManifest(
  prepared: PreparedBuild,
  manifest: Manifest,
  run: Pick<BuildResult, 'status' | 'durationMs' | 'warnings'> & Pick<Partial<BuildResult>, 'size'>,
): BuildResult {
  const { plan } = prepared;
  return {
    target: plan.target,
    zip: plan.output.zip,
    manifest: plan.output.manifest,
    log: plan.output.log,
    zipSha256: manifest.zip.sha256,
    unzippedBytes: manifest.unzippedBytes,
    zippedBytes: manifest.zip.bytes,
    smoke: manifest.smoke,
    extensions: (manifest.extensions ?? []).map((e) => `${e.name} ${e.version}`),
    ...(manifest.for ? { for: manifest.for } : {}),
    fromPackages: fromPackages(manifest),
    ...run,
  };
}

/** The bundled libraries that came from a platform package, as the summary lists them. */
export function fromPackages(manifest: Pick<Manifest, 'libraries'>): BuildResult['fromPackages'] {
  return manifest.libraries.bundled.flatMap((b) => (b.package && b.packageVersion ? [{ soname: b.soname, package: b.package, version: b.packageVersion }] : []));
}

/** What an up-to-date artifact reports (nothing was run). */
export function upToDateResult(prepared: PreparedBuild, manifest: Manifest): BuildResult {
  return resultFromManifest(prepared, manifest, { status: 'up-to-date', durationMs: 0, warnings: prepared.plan.warnings });
}

type Source = { name: string; url: string; sha256: string };
const src = (s: Source): Source => ({ name: s.name, url: s.url, sha256: s.sha256 });

/** An extension as a manifest lists it. */
/** An extension as a manifest records it; a bundled one's sources are the interpreter's (which it is built from). */
function extensionRecord(e: ResolvedExtension, spec: PreparedBuild['spec']): NonNullable<Manifest['extensions']>[number] {
  return {
    name: e.short,
    recipe: e.name,
    version: e.version,
    module: e.module,
    ...(e.recipe.license ? { license: e.recipe.license } : {}),
    ini: e.ini,
    rules: e.rules.map((r) => r.name),
    sources: extensionSources(e, spec).map(src),
  };
}

function dependencyRecord(d: ResolvedDependency): Manifest['dependencies'][number] {
  return {
    name: d.name,
    version: d.version,
    rule: d.pairing.name,
    overridden: d.pairing.overridden,
    sources: d.sources.map(src),
    ...(d.patches ? { patches: { from: d.patches.from, applied: [...d.patches.apply] } } : {}),
  };
}

/**
 * What the layer was built from: the interpreter with its dependencies and extensions, or, for an
 * extension layer, the extension alone (the runtime layer it is for is named by `for`).
 */
function contents(spec: PreparedBuild['spec'], plan: PreparedBuild['plan']): Pick<Manifest, 'kind' | 'for' | 'recipe' | 'dependencies' | 'extensions'> {
  const layer = spec.extensionLayer;
  if (layer) {
    const e = layer.extension;
    const record = extensionRecord(e, spec);
    return {
      kind: 'extension-layer',
      ...(plan.for ? { for: plan.for } : {}),
      recipe: { name: e.name, version: e.version, profile: plan.profile, ...(e.recipe.license ? { license: e.recipe.license } : {}), sources: record.sources, rules: e.rules.map((r) => r.name) },
      // The libraries it carries that were built from pinned sources (libpq for pgsql).
      dependencies: e.dependencies.map(dependencyRecord),
      extensions: [record],
    };
  }
  return {
    kind: 'runtime-layer',
    recipe: {
      name: plan.name,
      version: plan.version,
      profile: plan.profile,
      ...(spec.interpreter.recipe.license ? { license: spec.interpreter.recipe.license } : {}),
      sources: spec.interpreter.sources.map(src),
      rules: spec.interpreter.rules.map((r) => r.name),
    },
    dependencies: builtLibraries(spec).map(dependencyRecord),
    ...(spec.extensions.length ? { extensions: spec.extensions.map((e) => extensionRecord(e, spec)) } : {}),
  };
}

/** The manifest of a completed build, from the plan and the steps' outputs. */
export function makeManifest(ctx: Pick<StepContext, 'prepared' | 'output'>, durationMs: number, builtAt: string): Manifest {
  const { plan, spec } = ctx.prepared;
  const libs = ctx.output('bundle-libraries');
  const { bundled } = ctx.output('assemble');
  const zip = ctx.output('package');
  return {
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    ...contents(spec, plan),
    libraries: {
      // An extension layer carries only its extension's own (the runtime layer it goes over has the rest).
      builtFromSource: (spec.extensionLayer ? spec.extensionLayer.extension.dependencies : builtLibraries(spec)).map((d) => ({ name: d.name, version: d.version })),
      bundled: libs.bundle.bundle
        .filter((b) => bundled.includes(b.soname))
        .map((b) => {
          const owner = libs.packages.get(b.path);
          return { soname: b.soname, from: b.path, ...(owner ? { package: owner.package, packageVersion: owner.version } : {}), neededBy: b.neededBy };
        }),
      fromRuntimeImage: libs.bundle.provided,
    },
    platform: {
      name: spec.platform.name,
      deployable: spec.platform.deployable,
      lambdaRuntime: spec.platform.lambdaRuntime,
      glibc: spec.platform.glibc,
      // The images this build used (an arm64 layer is smoke-tested in the platform's arm64 image).
      buildImage: plan.images.build,
      runtimeImage: plan.images.runtime,
    },
    arch: spec.arch,
    buildMethod: plan.buildMethod.method,
    zip: { file: path.basename(plan.output.zip), sha256: zip.sha256, bytes: zip.zip.length },
    unzippedBytes: ctx.output('check-size').size.unzippedBytes,
    smoke: ctx.output('smoke-test'),
    buildDurationMs: durationMs,
    builtAt,
    inputsHash: plan.inputsHash,
  };
}

/** Move the zip into place, then write the manifest beside it (both atomically). */
export const writeManifest: Step<'write-manifest'> = {
  name: 'write-manifest',
  title: 'Write the manifest',
  async run(ctx) {
    const { plan } = ctx.prepared;
    const durationMs = Date.now() - ctx.startedAt;
    const manifest = makeManifest(ctx, durationMs, new Date().toISOString());
    // Both files are written under temporary names first; only then do they take their names.
    const manifestTemp = ctx.tempFile(tempNameFor(plan.output.manifest));
    try {
      await writeFile(manifestTemp, JSON.stringify(manifest, null, 2) + '\n');
    } catch (err) {
      throw describeFsError(err, plan.output.manifest, 'the manifest');
    }
    for (const [temp, file] of [
      [ctx.output('package').tempPath, plan.output.zip],
      [manifestTemp, plan.output.manifest],
    ] as const) {
      try {
        await rename(temp, file);
      } catch (err) {
        throw describeFsError(err, file, file === plan.output.zip ? 'the layer zip' : 'the manifest');
      }
      ctx.keepFile(temp);
    }
    const size = ctx.output('check-size');
    const result = resultFromManifest(ctx.prepared, manifest, {
      status: 'built',
      durationMs,
      warnings: [...ctx.output('resolve').warnings, ...size.warnings],
      size: size.size,
    });
    return { value: result, summary: path.basename(plan.output.manifest) };
  },
};
