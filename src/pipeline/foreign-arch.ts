/**
 * Before a cross or emulated build starts: the foreign images it needs are in the engine, and the
 * engine can run that arch's programs (QEMU user mode through binfmt_misc). Each problem is one
 * line with its fix, said before any build, not after a 10-minute compile.
 */
import { withContainer } from '../docker/engine.js';
import type { DockerEngine } from '../docker/types.js';
import { UserError } from '../errors.js';
import type { Arch } from '../recipes/schema.js';
import type { PreparedBuild } from './prepare.js';

/** Keeps a container idle so that commands can be exec'd in it. */
const IDLE = ['/bin/sh', '-c', 'while :; do sleep 3600; done'];

/** How to make an x86_64 machine run arm64 programs, for messages. */
export const BINFMT_FIX =
  "register QEMU's aarch64 interpreter with binfmt_misc (flag F): bash .ci/setup-machine.sh does it (apt-get install qemu-user-static, then Debian's /usr/lib/binfmt.d/qemu-aarch64.conf into /proc/sys/fs/binfmt_misc/register)";

/**
 * Can `image`, which holds `arch` programs, run a shell on this engine? Throws a UserError naming
 * the fix when it cannot (binfmt_misc has no entry for the arch, or the image is missing).
 */
export async function checkRunsForeign(
  engine: DockerEngine,
  o: { image: string; arch: Arch; engineArch: string; makeImages?: string | undefined; what: string },
): Promise<void> {
  if (!(await engine.inspectImage(o.image))) {
    const fix = o.makeImages ? `create it with \`bash ${o.makeImages}\`` : `pull it (docker pull --platform linux/${o.arch === 'arm64' ? 'arm64' : 'amd64'} ${o.image})`;
    throw new UserError(`${o.what} needs the ${o.arch} image ${o.image}, which is not in the Docker engine: ${fix}`);
  }
  let failure: string | undefined;
  try {
    await withContainer(engine, { image: o.image, entrypoint: IDLE, cmd: [] }, async (c) => {
      await c.start();
      const r = await c.exec(['/bin/sh', '-c', 'echo lrb-foreign-ok']);
      if (r.exitCode !== 0 || !r.stdout.includes('lrb-foreign-ok')) failure = `exit ${r.exitCode}: ${(r.stdout + r.stderr).trim().slice(0, 200)}`;
    });
  } catch (err) {
    failure = (err as Error).message.split('\n')[0];
  }
  if (failure !== undefined) {
    throw new UserError(`${o.what}: the ${o.arch} image ${o.image} does not run on this ${o.engineArch} engine (${failure}): ${BINFMT_FIX}`);
  }
}

/** Checks every foreign image the pending builds need, each once. */
export async function checkForeignImages(engine: DockerEngine, pending: readonly PreparedBuild[]): Promise<void> {
  const checked = new Set<string>();
  for (const p of pending) {
    const { method, plan } = p;
    if (method.method === 'native') continue;
    if (method.buildPlatform) {
      throw new UserError(
        `${plan.target} for ${plan.arch} on platform ${plan.platform} would be built under emulation from the registry image ${method.buildImage} (${method.buildPlatform}): not supported yet ` +
          `(pulling it would replace this engine's own ${method.buildImage}); build on an ${plan.arch} machine`,
      );
    }
    const images = method.method === 'emulated' ? [method.buildImage, method.runtimeImage] : [method.runtimeImage];
    for (const image of images) {
      if (checked.has(image)) continue;
      checked.add(image);
      const makeImages = image === method.buildImage && method.makeBuildImage ? method.makeBuildImage : method.makeImages;
      await checkRunsForeign(engine, { image, arch: p.spec.arch, engineArch: method.engineArch, makeImages, what: `${plan.target} (${plan.arch}, ${method.method})` });
    }
  }
}
