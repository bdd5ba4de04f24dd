/**
 * The environment of a function's runtime process, as Lambda sets it for a `provided*`
 * runtime (pure). Lambda's fixed values come from `src/lambda.ts`; the reserved variables
 * from the emulator's `lambdaEnvironment()`.
 */
import { lambdaEnvironment } from '../emulator/local-runtime.js';
import { LAMBDA_ENV } from '../lambda.js';

export interface InvokeEnvironmentOptions {
  /** `host:port` of the Runtime API emulator (AWS_LAMBDA_RUNTIME_API). */
  runtimeApi: string;
  handler: string;
  functionName: string;
  memoryMb: number;
  region: string;
  /** The user's variables (already checked against the reserved names), set last. */
  userEnv?: Record<string, string>;
}

/** Paths inside the sandbox. */
export const SANDBOX_PATHS = {
  taskRoot: LAMBDA_ENV.LAMBDA_TASK_ROOT,
  runtimeDir: LAMBDA_ENV.LAMBDA_RUNTIME_DIR,
  layerRoot: '/opt',
  layerBootstrap: '/opt/bootstrap',
  functionBootstrap: `${LAMBDA_ENV.LAMBDA_TASK_ROOT}/bootstrap`,
} as const;

export function invokeEnvironment(options: InvokeEnvironmentOptions): Record<string, string> {
  return {
    ...lambdaEnvironment({
      runtimeApi: options.runtimeApi,
      handler: options.handler,
      taskRoot: SANDBOX_PATHS.taskRoot,
      functionName: options.functionName,
      functionVersion: '$LATEST',
      memorySizeMb: options.memoryMb,
      region: options.region,
    }),
    // The single source of truth for Lambda's fixed paths (lambdaEnvironment repeats them).
    ...LAMBDA_ENV,
    ...options.userEnv,
  };
}
