import { describe, expect, it } from 'vitest';
import { LAMBDA_ENV } from '../../../src/lambda.js';
import { SANDBOX_PATHS, invokeEnvironment } from '../../../src/invoke/environment.js';

describe('invokeEnvironment', () => {
  const env = invokeEnvironment({
    runtimeApi: '127.0.0.1:41234',
    handler: 'hello',
    functionName: 'hello',
    memoryMb: 256,
    region: 'eu-west-1',
    userEnv: { GREETING: 'hi', TZ: 'Europe/Paris' },
  });

  it("sets Lambda's variables for a provided runtime", () => {
    expect(env).toMatchObject({
      PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
      _HANDLER: 'hello',
      LAMBDA_TASK_ROOT: '/var/task',
      LAMBDA_RUNTIME_DIR: '/var/runtime',
      AWS_LAMBDA_RUNTIME_API: '127.0.0.1:41234',
      AWS_LAMBDA_FUNCTION_NAME: 'hello',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/hello',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      GREETING: 'hi',
    });
    expect(env['AWS_LAMBDA_LOG_STREAM_NAME']).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    for (const [k, v] of Object.entries(LAMBDA_ENV)) expect(env[k]).toBe(v);
  });

  it('lets the user override what Lambda lets them (TZ), sets no trace id or credentials', () => {
    expect(env['TZ']).toBe('Europe/Paris');
    expect(invokeEnvironment({ runtimeApi: 'h:1', handler: 'h', functionName: 'f', memoryMb: 128, region: 'us-east-1' })['TZ']).toBe(':UTC');
    expect(env).not.toHaveProperty('_X_AMZN_TRACE_ID');
    expect(env).not.toHaveProperty('AWS_ACCESS_KEY_ID');
  });

  it('names the sandbox paths', () => {
    expect(SANDBOX_PATHS).toMatchObject({ taskRoot: '/var/task', layerBootstrap: '/opt/bootstrap', functionBootstrap: '/var/task/bootstrap' });
  });
});
