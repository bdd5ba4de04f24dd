/** Facts about Lambda's execution environment that the tool reproduces (see shared/reference/lambda.md). */
export const LAMBDA_ENV = {
  PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
  LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
  LAMBDA_TASK_ROOT: '/var/task',
  LAMBDA_RUNTIME_DIR: '/var/runtime',
} as const;

/** Where Lambda extracts layers, and so the install prefix of everything a layer ships. */
export const PREFIX = '/opt';

/** Lambda's limit for a function plus all its layers, unzipped: 250 MB = 262,144,000 bytes. */
export const LAMBDA_MAX_UNZIPPED_BYTES = 262_144_000;
/** Layers one function can have; Lambda extracts them into /opt in order, a later one over an earlier. */
export const LAMBDA_MAX_LAYERS = 5;
/** Lambda's limit for a zip uploaded directly (`--zip-file`): 50 MB = 52,428,800 bytes. */
export const LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES = 52_428_800;
