/**
 * One bench subject: a sandbox of the layer's runtime image (layer at /opt, function at /var/task,
 * host network), served by a Runtime API emulator of its own, as `npm run invoke` runs a function.
 */
import type { DockerEngine } from '../src/docker/types.js';
import { RuntimeApiServer } from '../src/emulator/index.js';
import { INVOKE_LABEL, Sandbox, invokeEnvironment, type PackedArchive, type SandboxOptions } from '../src/invoke/index.js';

/** The function memory the benches run with. */
const BENCH_MEMORY_MB = 1024;

export interface BenchSubjectOptions {
  engine: DockerEngine;
  image: string;
  functionName: string;
  /** Tar archives put into the container: the layer's, then the function's. */
  archives: readonly PackedArchive[];
  entrypoint: string[];
  /** Value of the invoke label, shared by a bench run's containers. */
  runId: string;
  timeoutMs: number;
  onOutput?: SandboxOptions['onOutput'];
}

/** Starts the emulator and creates (does not start) the sandbox; the caller closes both. */
export async function createBenchSubject(o: BenchSubjectOptions): Promise<{ api: RuntimeApiServer; sandbox: Sandbox }> {
  const api = new RuntimeApiServer({ functionName: o.functionName, timeoutMs: o.timeoutMs });
  await api.listen();
  const sandbox = await Sandbox.create({
    engine: o.engine,
    api,
    image: o.image,
    env: invokeEnvironment({ runtimeApi: api.address, handler: 'handler.php', functionName: o.functionName, memoryMb: BENCH_MEMORY_MB, region: 'us-east-1' }),
    memoryMb: BENCH_MEMORY_MB,
    archives: o.archives,
    entrypoint: o.entrypoint,
    labels: { [INVOKE_LABEL]: o.runId },
    ...(o.onOutput ? { onOutput: o.onOutput } : {}),
  }).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  return { api, sandbox };
}
