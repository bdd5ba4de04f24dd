/**
 * The deploy subcommands of build-runtime: `publish` (a layer to Lambda in several regions),
 * `image` (a Lambda container image from a layer) and `push` (an image to a registry).
 * Usage errors exit 2 (commander, with exitOverride inherited); a UserError is one line, exit 2
 * (mapped by build-runtime.ts); `publish` exits 1 unless every region succeeded.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { buildLayerImage } from '../image/build.js';
import { pushLayerImage } from '../image/push.js';
import { exitCodeOf, formatPlannedCalls, formatSummary, planPublish, publishLayer, type LayerPermission } from '../publish/index.js';
import { DEFAULT_CONCURRENCY } from '../publish/run.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a whole number >= 1`);
  return n;
}

/** `--endpoint-url URL` (every region) or `--endpoint-url REGION=URL` (one region). */
export function parseEndpoints(values: readonly string[]): { endpointUrl?: string; regionEndpoints: Record<string, string> } {
  const out: { endpointUrl?: string; regionEndpoints: Record<string, string> } = { regionEndpoints: {} };
  for (const v of values) {
    const m = /^([a-z]{2}(?:-[a-z]+)+-\d+)=(.+)$/.exec(v);
    const url = m ? m[2]! : v;
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new InvalidArgumentError(`'${v}' is not an http(s) URL or REGION=URL`);
    if (m) out.regionEndpoints[m[1]!] = url;
    else out.endpointUrl = url;
  }
  return out;
}

function endpointOption(value: string, previous: string[]): string[] {
  parseEndpoints([value]);
  return [...previous, value];
}

interface PublishCliOptions {
  region: string[];
  layerName?: string;
  public?: boolean;
  principal: string[];
  organizationId?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  endpointUrl: string[];
  profile?: string;
  maxAttempts?: number;
  concurrency: number;
  dryRun?: boolean;
  json?: boolean;
}

export function registerDeployCommands(program: Command): void {
  program
    .command('publish')
    .description('publish a built layer to Lambda in each region (idempotent: an identical newest version is reused)')
    .argument('<layer>', 'the layer zip or its manifest (<zip>.json): a runtime, extension (--for) or vendor layer')
    .option('-r, --region <region>', 'AWS region to publish in (repeatable)', collect, [])
    .option('--layer-name <name>', 'layer name (default <recipe>-<version>-<platform>-<arch>)')
    .option('--public', 'allow every AWS account to use the layer (lambda:GetLayerVersion for *)')
    .option('--principal <account-id>', 'allow this AWS account to use the layer (repeatable)', collect, [])
    .option('--organization-id <o-id>', 'with --public: only accounts of this AWS organization')
    .option('--s3-bucket <bucket>', 'upload through this bucket (one per region: {region} is replaced); needed above 50 MB')
    .option('--s3-prefix <prefix>', 'key prefix in the bucket')
    .option('--endpoint-url <url>', 'AWS API endpoint, or REGION=URL for one region (repeatable); default: the SDK configuration (AWS_ENDPOINT_URL...)', endpointOption, [])
    .option('--profile <name>', 'shared config/credentials profile (default: AWS_PROFILE or the SDK chain)')
    .option('--max-attempts <n>', 'attempts per AWS call, retries with backoff included (default 5)', positiveInt)
    .option('-j, --concurrency <n>', 'regions published at once', positiveInt, DEFAULT_CONCURRENCY)
    .option('--dry-run', 'print the calls it would make, make none')
    .option('--json', 'print the result (every ARN) as JSON on stdout')
    .addHelpText(
      'after',
      `
Credentials come from the AWS SDK's default chain (environment, shared profile, SSO, web identity for CI's OIDC).
Writes <zip>.published.json (region, ARN, version, CodeSha256, time). Exit status: 0 every region ok; 1 a region failed; 2 bad input.`,
    )
    .action(async (layer: string, o: PublishCliOptions) => {
      const permissions: LayerPermission[] = [
        ...(o.public ? [{ principal: '*', ...(o.organizationId ? { organizationId: o.organizationId } : {}) }] : []),
        ...o.principal.map((principal) => ({ principal })),
      ];
      const options = {
        layer,
        regions: o.region,
        layerName: o.layerName,
        permissions,
        s3Bucket: o.s3Bucket,
        s3Prefix: o.s3Prefix,
        ...parseEndpoints(o.endpointUrl),
        profile: o.profile,
        maxAttempts: o.maxAttempts,
        concurrency: o.concurrency,
      };
      if (o.dryRun) {
        const { prepared, calls } = await planPublish(options);
        if (o.json) process.stdout.write(JSON.stringify({ dryRun: true, layerName: prepared.target.layerName, zip: prepared.input.zipFile, calls }, null, 2) + '\n');
        else process.stdout.write(Object.entries(calls).map(([region, c]) => formatPlannedCalls(region, c)).join('\n') + '\n');
        return;
      }
      const report = await publishLayer({
        ...options,
        onRegion: (r) => {
          if (!o.json) process.stderr.write(`${r.region}: ${r.status}${r.status === 'failed' ? ` (${r.error})` : ''}\n`);
        },
      });
      if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatSummary(report) + '\n');
      process.exitCode = exitCodeOf(report.results);
    });

  program
    .command('image')
    .description("build a Lambda container image from a built layer: the platform's runtime image with the layer at /opt")
    .argument('<layer>', 'the runtime layer zip or its manifest (<zip>.json)')
    .option('--repo <repo>', 'repository of the tag (default lambda-runtime-builder/<recipe>)')
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText('after', '\nTagged <repo>:<name>-<version>-<platform>-<arch>. FROM it, COPY your code to /var/task, CMD ["<handler>"].')
    .action(async (layer: string, o: { repo?: string; json?: boolean }) => {
      const r = await buildLayerImage({ layer, repo: o.repo });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : `${r.image}\n`);
    });

  program
    .command('push')
    .description('push an image to a registry (ECR credentials from the AWS SDK, or --registry-auth)')
    .argument('<image>', 'local image, e.g. lambda-runtime-builder/php:php-8.2.32-al2023-x86_64')
    .option('--to <repo>', 'target repository, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/php (default: the image\'s)')
    .option('--tag <tag>', "target tag (default: the image's)")
    .option('--registry-auth <auth>', 'user:password for the registry, as @FILE or env:VAR (or the value itself)')
    .option('--ecr-region <region>', "log in with an ECR token from this region: for ECR behind a host name that is not ECR's own (proxy, pull-through cache, VPC endpoint DNS)")
    .option('--profile <name>', 'AWS profile for ECR credentials')
    .addOption(new Option('--endpoint-url <url>', 'ECR API endpoint (default: the SDK configuration)'))
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      `
Credentials, one source per push:
  --to <account>.dkr.ecr.<region>.amazonaws.com/<repo>   an ECR token from that region (AWS SDK credential chain, --profile)
  --registry-auth @FILE | env:VAR | user:password       any registry (the value itself shows in the process list)
  --ecr-region <region>                                 an ECR token for any other host name, e.g.
      push lambda-runtime-builder/php:php-8.2.32-al2023-x86_64 --to ecr-proxy.example.com/php --ecr-region eu-west-1
None is printed. A refused push is one line; exit status 2.`,
    )
    .action(async (image: string, o: { to?: string; tag?: string; registryAuth?: string; ecrRegion?: string; profile?: string; endpointUrl?: string; json?: boolean }) => {
      const r = await pushLayerImage({ image, to: o.to, tag: o.tag, registryAuth: o.registryAuth, ecrRegion: o.ecrRegion, profile: o.profile, endpointUrl: o.endpointUrl });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : `${r.reference}\n`);
    });
}
