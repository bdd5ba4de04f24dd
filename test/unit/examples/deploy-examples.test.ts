import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseHcl } from '@cdktf/hcl2json';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, type Tags } from 'yaml';
import { LAYER_VERSION_ARN_PATTERN } from '../../../src/publish/index.js';
import { LAMBDA_ARCHITECTURES } from '../../../src/publish/layer-facts.js';
import { imageTag } from '../../../src/image/context.js';

// The deploy snippets parse, and name what the tool writes: the deployable platforms' Lambda
// runtime ids, Lambda's architectures, and layer ARNs of the shape `publish` reports.
const ROOT = path.resolve(import.meta.dirname, '../../..');
const DEPLOY = path.join(ROOT, 'examples/deploy');
const read = (f: string) => readFileSync(path.join(DEPLOY, f), 'utf8');
const platforms = (JSON.parse(readFileSync(path.join(ROOT, 'dockerfiles/platforms.json'), 'utf8')) as {
  platforms: { name: string; deployable: boolean; lambdaRuntime: string | null; arches: string[]; lifecycle?: { createBlocked?: string } }[];
}).platforms;
/** Runtime ids a new function can still be created with. */
const CURRENT_RUNTIMES = [...new Set(platforms.filter((p) => p.deployable && p.lambdaRuntime && !p.lifecycle?.createBlocked).map((p) => p.lambdaRuntime!))];

// CloudFormation's short-form intrinsics (!Ref, !GetAtt, ...), kept as { Fn: value }.
const cfnTags: Tags = ['Ref', 'GetAtt', 'Sub', 'Join', 'If', 'Equals', 'Select', 'FindInMap', 'ImportValue', 'Split', 'Base64'].flatMap((name) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${name}`,
    ...(collection === 'scalar' ? {} : { collection }),
    resolve: (value: unknown) => ({ [`Fn::${name}`]: typeof value === 'object' && value !== null && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value }),
  })),
) as Tags;

function expectLayerArn(arn: string): void {
  expect(arn).toMatch(LAYER_VERSION_ARN_PATTERN);
}

describe('deploy examples', () => {
  it('the tool still writes al2023 as a current runtime id', () => {
    expect(CURRENT_RUNTIMES).toEqual(['provided.al2023']);
    expect(platforms.find((p) => p.name === 'al2023')!.arches).toEqual([...LAMBDA_ARCHITECTURES]);
  });

  it('SAM template.yaml: runtime, architectures, the layer ARN parameter', () => {
    const t = parseYaml(read('template.yaml'), { customTags: cfnTags }) as {
      Transform: string;
      Parameters: { PhpLayerArn: { Default: string; AllowedPattern: string } };
      Resources: Record<string, { Type: string; Properties: { Runtime?: string; Architectures: string[]; Layers?: unknown[]; PackageType?: string; ImageConfig?: { Command: string[] } }; Metadata?: { DockerTag: string } }>;
    };
    expect(t.Transform).toBe('AWS::Serverless-2016-10-31');
    expectLayerArn(t.Parameters.PhpLayerArn.Default);
    expect(new RegExp(t.Parameters.PhpLayerArn.AllowedPattern).test(t.Parameters.PhpLayerArn.Default)).toBe(true);
    expect(new RegExp(t.Parameters.PhpLayerArn.AllowedPattern).test('arn:aws:lambda:eu-west-1:123456789012:layer:php-82')).toBe(false);
    const zipFn = t.Resources['HelloFunction']!.Properties;
    expect(CURRENT_RUNTIMES).toContain(zipFn.Runtime);
    expect(zipFn.Layers).toEqual([{ 'Fn::Ref': 'PhpLayerArn' }]);
    const imageFn = t.Resources['HelloImageFunction']!;
    expect(imageFn.Properties.PackageType).toBe('Image');
    expect(imageFn.Properties.ImageConfig!.Command).toEqual(['hello']);
    for (const r of Object.values(t.Resources)) for (const a of r.Properties.Architectures) expect(LAMBDA_ARCHITECTURES).toContain(a);
    // The tag the SAM metadata and the Dockerfile name is the one `image` makes.
    const tag = imageTag({
      tool: { name: 'lambda-runtime-builder', version: '0' },
      recipe: { name: 'php', version: '8.2.32', profile: 'minimal' },
      platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023', runtimeImage: 'public.ecr.aws/lambda/provided:al2023' },
      arch: 'x86_64',
      zip: { file: 'z', sha256: 'a'.repeat(64), bytes: 1 },
      inputsHash: '',
    });
    expect(imageFn.Metadata!.DockerTag).toBe(tag);
    expect(read('Dockerfile')).toMatch(new RegExp(`^FROM lambda-runtime-builder/php:${tag}$`, 'm'));
  });

  it('serverless.yml: runtime, architecture, layer', () => {
    const s = parseYaml(read('serverless.yml')) as { provider: { runtime: string; architecture: string }; functions: { hello: { handler: string; layers: string[] } } };
    expect(CURRENT_RUNTIMES).toContain(s.provider.runtime);
    expect(LAMBDA_ARCHITECTURES).toContain(s.provider.architecture);
    const layerRef = s.functions.hello.layers[0]!;
    const fallback = /^\$\{env:PHP_LAYER_ARN, '([^']+)'\}$/.exec(layerRef);
    expect(fallback, layerRef).not.toBeNull();
    expectLayerArn(fallback![1]!);
  });

  it('main.tf: parses as HCL; runtime, architectures, the layer variable and its validation', async () => {
    const tf = (await parseHcl('main.tf', read('main.tf'))) as {
      variable: Record<string, { default: string; validation: { condition: string }[] }[]>;
      resource: { aws_lambda_function: { hello: { runtime: string; architectures: string[]; layers: string[] }[] } };
    };
    const fn = tf.resource.aws_lambda_function.hello[0]!;
    expect(CURRENT_RUNTIMES).toContain(fn.runtime);
    for (const a of fn.architectures) expect(LAMBDA_ARCHITECTURES).toContain(a);
    expect(fn.layers).toEqual(['${var.php_layer_arn}']);
    const v = tf.variable['php_layer_arn']![0]!;
    expectLayerArn(v.default);
    // The validation's regex, as Terraform evaluates it (RE2 syntax, a subset of JS's here).
    const regex = /regex\("(.+)", var\.php_layer_arn\)/.exec(v.validation[0]!.condition)![1]!.replaceAll('\\\\', '\\');
    expect(new RegExp(regex).test(v.default)).toBe(true);
    expect(new RegExp(regex).test('arn:aws:lambda:eu-west-1:123456789012:function:php')).toBe(false);
  });

  it('the GitHub Actions workflow: x86_64 and arm64 in a matrix, OIDC, publish per arch', () => {
    const w = parseYaml(read('github-actions-build-publish.yml')) as {
      permissions: Record<string, string>;
      jobs: { layer: { strategy: { matrix: { include: { arch: string }[] } }; env: { PLATFORM: string; RUNTIME: string }; steps: { run?: string; uses?: string; with?: Record<string, string> }[] } };
    };
    expect(w.permissions['id-token']).toBe('write');
    const job = w.jobs.layer;
    expect(job.strategy.matrix.include.map((m) => m.arch).sort()).toEqual([...LAMBDA_ARCHITECTURES].sort());
    const platform = platforms.find((p) => p.name === job.env.PLATFORM)!;
    expect(platform.lambdaRuntime).toBe(job.env.RUNTIME);
    expect(CURRENT_RUNTIMES).toContain(job.env.RUNTIME);
    expect(job.steps.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials') && s.with?.['role-to-assume'])).toBe(true);
    const runs = job.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/build-runtime -- php@8\.2 --platform "\$PLATFORM" --arch \$\{\{ matrix\.arch \}\} --json/);
    expect(runs).toMatch(/build-runtime -- publish "\$zip" \\\n\s+--region eu-west-1 --region us-east-1/);
    expect(runs).not.toMatch(/AWS_SECRET_ACCESS_KEY|aws-secret-access-key/);
  });
});
