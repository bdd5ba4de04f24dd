import type { DockerEngine } from '../../docker/types.js';
import { packContext } from '../../render/context.js';
import { cachedSourcePath, ensureSources } from '../../sources/index.js';
import { buildComponents } from '../../recipes/resolve.js';
import type { PreparedBuild } from '../prepare.js';
import type { Step } from '../step-types.js';

export const IMAGE_HASH_LABEL = 'io.lambda-runtime-builder.image-hash';

const REGISTRY_TROUBLE = /registry|pull access denied|no such host|manifest unknown|not found: manifest|repository does not exist|i\/o timeout|TLS handshake/i;

/** What to do when an image cannot be had from a registry. */
export function registryHint(ref: string, platform: string): string {
  return (
    `image ${ref} is not on this machine and could not be pulled. ` +
    `Where no container registry is reachable, build with --platform al2023-portable or debian-bookworm (create the base images with .ci/setup-machine.sh), ` +
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

/** Is the target's image already built from exactly these inputs? */
async function imageIsCurrent(engine: DockerEngine, prepared: PreparedBuild, rebuild: boolean): Promise<boolean> {
  if (rebuild) return false;
  const info = await engine.inspectImage(prepared.plan.images.tag);
  return info?.labels[IMAGE_HASH_LABEL] === prepared.plan.imageHash;
}

export const fetchSources: Step<'fetch-sources'> = {
  name: 'fetch-sources',
  title: 'Fetch and verify sources (SHA-256)',
  async run(ctx, signal) {
    const { prepared, env } = ctx;
    // Sources are needed only when the image must be built.
    if (await imageIsCurrent(ctx.engine, prepared, Boolean(env.force || env.noCache))) {
      return { value: { imageCurrent: true, fetched: [] }, summary: 'image up to date; sources not needed' };
    }
    const urls = new Map(prepared.plan.sources.map((s) => [s.sha256, s.urls]));
    const specs = buildComponents(prepared.spec).flatMap((c) => c.sources);
    const fetched = await ensureSources(specs, {
      cacheDir: env.cacheDir,
      mirrors: env.mirrors,
      // The plan decided where each source is tried, in which order: use exactly that.
      urlsFor: (s) => urls.get(s.sha256) ?? [],
      ...(env.offline ? { offline: true } : {}),
      signal,
      log: (m) => ctx.log(m),
    });
    for (const f of fetched) ctx.log(`source ${f.spec.name} sha256 ${f.sha256} (${f.from})`);
    return {
      value: { imageCurrent: false, fetched },
      summary: fetched.map((f) => `${f.spec.name} (${f.from === 'cache' ? 'cached' : 'downloaded'})`).join(', '),
    };
  },
};

export const buildImage: Step<'build-image'> = {
  name: 'build-image',
  title: 'Build toolchain, dependencies and interpreter in Docker',
  async run(ctx, signal) {
    const { plan, rendered, scriptPaths } = ctx.prepared;
    if (ctx.output('fetch-sources').imageCurrent) return { value: { reused: true }, summary: `reused ${plan.images.tag}` };
    const context = packContext(rendered, {
      scriptPath: (s) => {
        const file = scriptPaths[s];
        if (!file) throw new Error(`build script ${s} was not located when the build was planned`);
        return file;
      },
      sourcePath: (sha) => cachedSourcePath(ctx.env.cacheDir, sha),
    });
    try {
      const info = await ctx.engine.buildImage({
        context,
        tag: plan.images.tag,
        labels: { [IMAGE_HASH_LABEL]: plan.imageHash },
        ...(ctx.env.noCache ? { noCache: true } : {}),
        signal,
        onEvent: (e) => {
          if (e.kind === 'log' || e.kind === 'status') ctx.log(e.text);
          else if (e.kind === 'error') ctx.log(`ERROR: ${e.message}`);
        },
      });
      return { value: { reused: false, imageId: info.id }, summary: `${plan.images.tag} ${info.id.slice(0, 19)}` };
    } catch (err) {
      const message = (err as Error).message;
      if (REGISTRY_TROUBLE.test(message) && !(await ctx.engine.inspectImage(plan.images.build))) {
        throw new Error(`${registryHint(plan.images.build, plan.platform)}: ${message}`, { cause: err });
      }
      throw err;
    }
  },
};

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
  const method = prepared.method.method;
  const tag = `lambda-runtime-builder/toolchain:${spec.platform.name}-${spec.arch}${method === 'native' ? '' : `-${method}`}`;
  const none = () => {
    throw new Error('the toolchain stage copies no files');
  };
  const context = packContext(
    { dockerfile: rendered.toolchainDockerfile, toolchainDockerfile: rendered.toolchainDockerfile, files: [], stages: ['toolchain'] },
    { scriptPath: none, sourcePath: none },
  );
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
