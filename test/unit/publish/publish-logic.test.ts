import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import {
  LAYER_VERSION_ARN_PATTERN,
  base64ToHexSha256,
  checkDeployable,
  checkLayerName,
  defaultLayerName,
  hexToBase64Sha256,
  layerDescription,
  type PublishManifest,
} from '../../../src/publish/layer-facts.js';
import { checkPermission, decide, formatPlannedCalls, planRegion, statementIdFor, uploadMode, type PublishTarget } from '../../../src/publish/plan.js';
import { exitCodeOf, formatSummary, mergeRecord, type RegionResult } from '../../../src/publish/results.js';
import { layerPaths, publishManifestOf, refuseShadowedLibraries } from '../../../src/publish/input.js';
import { buildSyntheticElf, type SyntheticElfOptions } from '../elf/fixtures.js';
import { vendorManifestFixture } from '../../fixtures/vendor-manifest.js';
import { mapLimit } from '../../../src/publish/run.js';
import { parseEndpoints } from '../../../src/cli/publish-commands.js';

const SHA = '94da77e24bb4eb624232cd6fba8d728ef49dd2f94068b783e9d8c2c76049709b';
const SHA_B64 = Buffer.from(SHA, 'hex').toString('base64');

const manifest = (over: Partial<PublishManifest> = {}): PublishManifest => ({
  tool: { name: 'lambda-runtime-builder', version: '0.2.0' },
  recipe: { name: 'php', version: '8.2.32', profile: 'minimal', license: 'PHP-3.01' },
  platform: { name: 'al2023', deployable: true, lambdaRuntime: 'provided.al2023' },
  arch: 'arm64',
  zip: { file: 'php-8.2.32-al2023-arm64.zip', sha256: SHA, bytes: 1234 },
  ...over,
});

const target = (over: Partial<PublishTarget> = {}): PublishTarget => ({
  layerName: 'php-82',
  zipFile: 'dist/php.zip',
  zipBytes: 1234,
  zipSha256: SHA,
  description: 'd',
  licenseInfo: 'PHP-3.01',
  runtime: 'provided.al2023',
  architecture: 'arm64',
  permissions: [],
  ...over,
});

describe('layer facts', () => {
  it('the description names tool, recipe version and the whole zip SHA-256, within 256 characters', () => {
    expect(layerDescription(manifest())).toBe(`php 8.2.32 (minimal) al2023 arm64; built by lambda-runtime-builder 0.2.0; zip sha256:${SHA}`);
    const long = layerDescription(manifest({ recipe: { name: 'x'.repeat(300), version: '1.0.0', profile: 'minimal' } }));
    expect(long.length).toBe(256);
    expect(long.endsWith(`zip sha256:${SHA}`)).toBe(true);
    expect(long).toContain('…; built by lambda-runtime-builder 0.2.0');
  });

  it('CodeSha256 is base64 of the hex SHA-256, both ways', () => {
    expect(hexToBase64Sha256(SHA)).toBe(SHA_B64);
    expect(base64ToHexSha256(SHA_B64)).toBe(SHA);
    expect(() => hexToBase64Sha256('abc')).toThrow(UserError);
  });

  it('refuses a non-deployable platform with a line that says what to do', () => {
    expect(checkDeployable(manifest(), 'm.json')).toEqual({ runtime: 'provided.al2023', architecture: 'arm64' });
    expect(() => checkDeployable(manifest({ platform: { name: 'debian-bookworm', deployable: false, lambdaRuntime: null } }), 'm.json')).toThrow(
      /m\.json: platform debian-bookworm is for local verification only .* --platform al2023/,
    );
    expect(() => checkDeployable(manifest({ arch: 'mips' }), 'm.json')).toThrow(/arch 'mips' is not a Lambda architecture/);
  });

  it('layer names: a default Lambda accepts, and refusal of bad ones', () => {
    expect(defaultLayerName(manifest())).toBe('php-8-2-32-al2023-arm64');
    expect(defaultLayerName(manifest({ recipe: { name: 'php', version: '8.2.32', profile: 'standard' } }))).toBe('php-8-2-32-standard-al2023-arm64');
    expect(checkLayerName('php_82-x')).toBe('php_82-x');
    expect(() => checkLayerName('php 8.2')).toThrow(/--layer-name 'php 8.2' is not a Lambda layer name/);
  });

  it('an extension layer is named and described with the php it is for', () => {
    const ext = manifest({
      kind: 'extension-layer',
      recipe: { name: 'php-ext-redis', version: '6.2.0', profile: 'standard' },
      for: { name: 'php', version: '8.2.32', zip: 'php-8.2.32-standard-al2023-arm64.zip' },
    });
    expect(defaultLayerName(ext)).toBe('php-ext-redis-6-2-0-for-php-8-2-32-standard-al2023-arm64');
    expect(layerDescription(ext)).toBe(`php-ext-redis 6.2.0 for php 8.2.32 (standard) al2023 arm64; built by lambda-runtime-builder 0.2.0; zip sha256:${SHA}`);
  });

  it('the ARN pattern takes what Lambda answers and nothing else', () => {
    const m = LAYER_VERSION_ARN_PATTERN.exec('arn:aws:lambda:eu-west-1:123456789012:layer:php-82:7');
    expect(m?.slice(1)).toEqual(['aws', 'eu-west-1', '123456789012', 'php-82', '7']);
    expect(LAYER_VERSION_ARN_PATTERN.test('arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:x:1')).toBe(true);
    expect(LAYER_VERSION_ARN_PATTERN.test('arn:aws:lambda:eu-west-1:123456789012:layer:php-82')).toBe(false);
    expect(LAYER_VERSION_ARN_PATTERN.test('arn:aws:lambda:eu-west-1:12345:layer:php-82:1')).toBe(false);
  });
});

describe('the call plan', () => {
  it('direct upload: list, get, publish with the compatibility facts, then permissions', () => {
    const calls = planRegion(target({ permissions: [{ principal: '*' }, { principal: '111122223333' }] }), 'eu-west-1');
    expect(calls.map((c) => c.operation)).toEqual(['ListLayerVersions', 'GetLayerVersion', 'PublishLayerVersion', 'AddLayerVersionPermission', 'AddLayerVersionPermission']);
    expect(calls[2]!.input).toEqual({
      LayerName: 'php-82',
      Description: 'd',
      Content: { ZipFile: '<1234 bytes of dist/php.zip>' },
      CompatibleRuntimes: ['provided.al2023'],
      CompatibleArchitectures: ['arm64'],
      LicenseInfo: 'PHP-3.01',
    });
    expect(calls[2]!.when).toContain(SHA_B64);
    expect(calls[3]!.input).toMatchObject({ Action: 'lambda:GetLayerVersion', Principal: '*', StatementId: 'lambda-runtime-builder-public' });
    expect(calls[4]!.input).toMatchObject({ Principal: '111122223333', StatementId: 'lambda-runtime-builder-account-111122223333' });
    expect(formatPlannedCalls('eu-west-1', calls.slice(0, 1))).toBe('eu-west-1: lambda ListLayerVersions {"LayerName":"php-82","MaxItems":1}');
  });

  it('over 50 MB needs a bucket; with one, the zip goes through S3 of each region', () => {
    expect(() => uploadMode(target({ zipBytes: 52_428_801 }))).toThrow(/over Lambda's direct-upload limit of 52428800 bytes: pass --s3-bucket/);
    expect(uploadMode(target({ zipBytes: 52_428_800 }))).toBe('direct');
    const calls = planRegion(target({ zipBytes: 60_000_000, s3Bucket: 'layers-{region}', s3Prefix: 'lrb' }), 'us-east-1');
    expect(calls.map((c) => c.operation)).toEqual(['ListLayerVersions', 'GetLayerVersion', 'PutObject', 'PublishLayerVersion']);
    expect(calls[2]!.input).toMatchObject({ Bucket: 'layers-us-east-1', Key: `lrb/php-82/${SHA}.zip`, ChecksumSHA256: SHA_B64 });
    expect(calls[3]!.input['Content']).toEqual({ S3Bucket: 'layers-us-east-1', S3Key: `lrb/php-82/${SHA}.zip` });
  });

  it('permissions: account ids or *, organisation ids checked', () => {
    expect(checkPermission({ principal: '123456789012' })).toEqual({ principal: '123456789012' });
    expect(() => checkPermission({ principal: 'alice' })).toThrow(/--principal 'alice' is not an AWS account id/);
    expect(() => checkPermission({ principal: '*', organizationId: 'acme' })).toThrow(/--organization-id 'acme'/);
    expect(statementIdFor({ principal: '*', organizationId: 'o-abcdefghij' })).toBe('lambda-runtime-builder-public-o-abcdefghij');
  });
});

describe('idempotency', () => {
  const existing = { version: 3, layerVersionArn: 'arn:aws:lambda:eu-west-1:123456789012:layer:php-82:3', codeSha256: SHA_B64 };
  it('the newest version with the same bytes is reused', () => {
    expect(decide(existing, SHA)).toEqual({ action: 'reuse', existing });
  });
  it('other bytes, or no version, publish', () => {
    expect(decide({ ...existing, codeSha256: 'AAAA' }, SHA)).toMatchObject({ action: 'publish', reason: expect.stringContaining('(3) has CodeSha256 AAAA') });
    expect(decide(undefined, SHA)).toMatchObject({ action: 'publish' });
  });
});

describe('results and the record', () => {
  const ok = (region: string, version: number): RegionResult => ({
    region,
    status: 'published',
    layerName: 'php-82',
    layerArn: `arn:aws:lambda:${region}:123456789012:layer:php-82`,
    layerVersionArn: `arn:aws:lambda:${region}:123456789012:layer:php-82:${version}`,
    version,
    codeSha256: SHA_B64,
    createdDate: '2026-01-01T00:00:00.000+0000',
    permissions: [],
  });
  const failed: RegionResult = { region: 'ap-south-1', status: 'failed', layerName: 'php-82', error: 'connect ECONNREFUSED' };

  it('exit status: 0 only when every region succeeded', () => {
    expect(exitCodeOf([ok('eu-west-1', 1)])).toBe(0);
    expect(exitCodeOf([ok('eu-west-1', 1), failed])).toBe(1);
    expect(exitCodeOf([])).toBe(1);
  });

  it('the summary shows each region', () => {
    const s = formatSummary({ zip: 'z.zip', zipSha256: SHA, layerName: 'php-82', results: [ok('eu-west-1', 1), failed] });
    expect(s.split('\n')).toEqual([
      'eu-west-1   published  arn:aws:lambda:eu-west-1:123456789012:layer:php-82:1',
      'ap-south-1  FAILED     connect ECONNREFUSED',
      '1 of 2 region(s) failed',
    ]);
  });

  it('merging keeps other regions, replaces the same region, drops records of another zip', () => {
    const now = new Date('2026-02-02T00:00:00Z');
    const first = mergeRecord(undefined, { file: 'z.zip', sha256: SHA }, [ok('eu-west-1', 1), ok('us-east-1', 1), failed], now);
    expect(first.layers.map((l) => `${l.region}:${l.version}`)).toEqual(['eu-west-1:1', 'us-east-1:1']);
    expect(first.layers[0]).toMatchObject({ publishedAt: '2026-01-01T00:00:00.000+0000', checkedAt: now.toISOString() });
    const second = mergeRecord(first, { file: 'z.zip', sha256: SHA }, [ok('us-east-1', 2)], now);
    expect(second.layers.map((l) => `${l.region}:${l.version}`)).toEqual(['eu-west-1:1', 'us-east-1:2']);
    const rebuilt = mergeRecord(second, { file: 'z.zip', sha256: 'a'.repeat(64) }, [ok('us-east-1', 3)], now);
    expect(rebuilt.layers.map((l) => `${l.region}:${l.version}`)).toEqual(['us-east-1:3']);
  });
});

describe('inputs', () => {
  it("refuses a zip whose programs would load Lambda's libraries of their bundled libraries' names, in one line; passes one with DT_RPATH", () => {
    const elf = (o: Partial<SyntheticElfOptions>) => buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, type: 3, ...o }).data;
    const file = (path: string, data: Buffer) => ({ type: 'file' as const, path, mode: 0o755, data });
    const exe = (runpath: string | undefined, rpath?: string) =>
      elf({ interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libssl.so.3'], ...(runpath ? { runpath } : {}), ...(rpath ? { rpath } : {}) });
    const lib = file('lib/libssl.so.3', elf({ soname: 'libssl.so.3' }));
    expect(() => refuseShadowedLibraries([file('bin/php', exe(undefined, '/opt/lib')), lib], 'a.zip')).not.toThrow();
    const err = (() => {
      try {
        refuseShadowedLibraries([file('bin/php', exe('/opt/lib')), file('bin/other', exe('/opt/lib')), lib], 'old.zip');
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toMatch(/^old\.zip: bin\/other finds libssl\.so\.3 through DT_RUNPATH "\/opt\/lib", .* \(and 1 more program\); rebuild the layer with this version of build-runtime \(same command\) and use the new zip$/);
    expect(err!.message.split('\n')).toHaveLength(1);
  });


  const vendorManifest = vendorManifestFixture('x86_64', { file: 'vendor-ab12cd34ef56-for-php-8.2.32-standard-al2023-portable-x86_64.zip', sha256: SHA, bytes: 1234 });

  it('a vendor layer is published as vendor <lock id> for the PHP layer it was installed with, with no license of its own', () => {
    const m = publishManifestOf(JSON.parse(JSON.stringify(vendorManifest)), 'v.zip.json');
    expect(m).toEqual({
      tool: vendorManifest.tool,
      kind: 'vendor-layer',
      recipe: { name: 'vendor', version: 'ab12cd34ef56', profile: 'standard' },
      for: { name: 'php', version: '8.2.32', zip: 'php-8.2.32-standard-al2023-portable-x86_64.zip' },
      platform: { name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023', runtimeImage: 'lambda-runtime-builder/glibc-only:bullseye-x86_64' },
      arch: 'x86_64',
      zip: vendorManifest.zip,
      inputsHash: 'd'.repeat(64),
    });
    expect(defaultLayerName(m)).toBe('vendor-ab12cd34ef56-for-php-8-2-32-standard-al2023-portable-x86_64');
    expect(layerDescription(m)).toBe(`vendor ab12cd34ef56 for php 8.2.32 (standard) al2023-portable x86_64; built by lambda-runtime-builder 0.2.0; zip sha256:${SHA}`);
    expect(checkDeployable(m, 'v.zip.json')).toEqual({ runtime: 'provided.al2023', architecture: 'x86_64' });
  });

  it('a manifest of neither shape is refused in one line naming the field', () => {
    expect(() => publishManifestOf({ ...vendorManifest, lock: {} }, 'v.zip.json')).toThrow(new UserError('v.zip.json is not a vendor layer manifest: lock.sha256: Invalid input: expected string, received undefined'));
    expect(() => publishManifestOf({ tool: vendorManifest.tool }, 'x.zip.json')).toThrow(/^x\.zip\.json is not a layer manifest: recipe: /);
    expect(() => publishManifestOf(null, 'n.zip.json')).toThrow(/^n\.zip\.json is not a layer manifest: \(root\): /);
  });

  it('a zip or its manifest names both', () => {
    expect(layerPaths('dist/x.zip')).toEqual({ manifestFile: 'dist/x.zip.json', zipFile: 'dist/x.zip' });
    expect(layerPaths('dist/x.zip.json')).toEqual({ manifestFile: 'dist/x.zip.json', zipFile: 'dist/x.zip' });
  });

  it('--endpoint-url: one for all, or REGION=URL', () => {
    expect(parseEndpoints(['http://127.0.0.1:5000', 'ap-south-1=http://127.0.0.1:1'])).toEqual({
      endpointUrl: 'http://127.0.0.1:5000',
      regionEndpoints: { 'ap-south-1': 'http://127.0.0.1:1' },
    });
    expect(() => parseEndpoints(['nowhere'])).toThrow(/'nowhere' is not an http\(s\) URL or REGION=URL/);
  });

  it('mapLimit keeps order and the limit', async () => {
    let running = 0;
    let most = 0;
    const r = await mapLimit([5, 1, 3, 2], 2, async (n) => {
      most = Math.max(most, ++running);
      await new Promise((res) => setTimeout(res, n));
      running--;
      return n * 10;
    });
    expect(r).toEqual([50, 10, 30, 20]);
    expect(most).toBe(2);
  });
});
