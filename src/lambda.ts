/** Facts about Lambda's execution environment that the tool reproduces (see shared/reference/lambda.md). */
export const LAMBDA_ENV = {
  PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
  LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
  LAMBDA_TASK_ROOT: '/var/task',
  LAMBDA_RUNTIME_DIR: '/var/runtime',
} as const;

/** Unzipped size of a function plus all its layers. */
export const LAMBDA_MAX_UNZIPPED_BYTES = 262_144_000;
