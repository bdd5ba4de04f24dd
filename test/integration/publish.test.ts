import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetLayerVersionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES } from '../../src/lambda.js';
import { LAYER_VERSION_ARN_PATTERN, publishLayer, type PublishedRecord, type PublishLayerOptions } from '../../src/publish/index.js';
import { vendorManifestFixture } from '../fixtures/vendor-manifest.js';
import { buildSyntheticElf, type SyntheticElfOptions } from '../unit/elf/fixtures.js';
import { REPO_ROOT, craftLayer as craftLayerIn, execFileP, freePort, requireEngine, startMoto, tempDir, type CraftOverrides, type MotoServer } from './helpers.js';

// Publishing against moto's server (Debian trixie's python3-moto, in the image that
// .ci/setup-services.sh makes), on a loopback port, with the SDK's endpoint pointed at it.
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SESSION_TOKEN: 'testing' };

let engine: DockerodeEngine;
let moto: MotoServer;
let endpoint: string;
let out: { dir: string; cleanup: () => Promise<void> };
const savedEnv: Record<string, string | undefined> = {};

/** A small zip plus a manifest consistent with it (publish tests publishing, not building). */
const craftLayer = (name: string, files: Record<string, Uint8Array>, overrides: CraftOverrides = {}) => craftLayerIn(out.dir, name, files, overrides);

const text = (s: string) => new TextEncoder().encode(s);
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const publish = (o: Partial<PublishLayerOptions> & Pick<PublishLayerOptions, 'layer'>) =>
  publishLayer({ regions: ['us-east-1'], endpointUrl: endpoint, maxAttempts: 2, ...o });

const cli = (args: string[]) =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...CREDENTIALS },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

beforeAll(async () => {
  engine = await requireEngine();
  for (const [k, v] of Object.entries(CREDENTIALS)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  out = await tempDir('lrb-it-publish-');
  moto = await startMoto(engine);
  endpoint = moto.endpoint;
});

afterAll(async () => {
  await moto?.container.remove();
  await out?.cleanup();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('publish to Lambda (moto server)', () => {
  it('first publish, then a no-op re-publish, then a new version for a changed zip', async () => {
    const one = await craftLayer('php-a', { bootstrap: text('#!/bin/sh\necho one\n') });
    const first = await publish({ layer: one.manifest, regions: ['us-east-1', 'eu-west-1'], layerName: 'php-82' });
    expect(first.results.map((r) => r.status)).toEqual(['published', 'published']);
    for (const r of first.results) {
      if (r.status === 'failed') throw new Error(r.error);
      expect(r.layerVersionArn).toMatch(LAYER_VERSION_ARN_PATTERN);
      expect(r.layerVersionArn).toBe(`arn:aws:lambda:${r.region}:123456789012:layer:php-82:1`);
      expect(r.codeSha256).toBe(b64(one.sha256));
    }
    // What Lambda (moto) stored: the facts the tool promises.
    const lambda = new LambdaClient({ region: 'eu-west-1', endpoint });
    const stored = await lambda.send(new GetLayerVersionCommand({ LayerName: 'php-82', VersionNumber: 1 }));
    lambda.destroy();
    expect(stored.CompatibleRuntimes).toEqual(['provided.al2023']);
    expect(stored.CompatibleArchitectures).toEqual(['x86_64']);
    expect(stored.LicenseInfo).toBe('PHP-3.01');
    expect(stored.Description).toContain(`sha256:${one.sha256}`);
    expect(stored.Description).toContain('lambda-runtime-builder 0.2.0');
    expect(stored.Description!.length).toBeLessThanOrEqual(256);

    const record = JSON.parse(await readFile(`${one.zip}.published.json`, 'utf8')) as PublishedRecord;
    expect(record.zipSha256).toBe(one.sha256);
    expect(record.layers.map((l) => [l.region, l.version, l.codeSha256])).toEqual([
      ['eu-west-1', 1, b64(one.sha256)],
      ['us-east-1', 1, b64(one.sha256)],
    ]);

    const again = await publish({ layer: one.zip, regions: ['us-east-1', 'eu-west-1'], layerName: 'php-82' });
    expect(again.results.map((r) => [r.status, r.status !== 'failed' && r.layerVersionArn])).toEqual([
      ['unchanged', 'arn:aws:lambda:us-east-1:123456789012:layer:php-82:1'],
      ['unchanged', 'arn:aws:lambda:eu-west-1:123456789012:layer:php-82:1'],
    ]);

    const two = await craftLayer('php-b', { bootstrap: text('#!/bin/sh\necho two\n') });
    const changed = await publish({ layer: two.manifest, regions: ['us-east-1'], layerName: 'php-82' });
    expect(changed.results[0]).toMatchObject({ status: 'published', version: 2, codeSha256: b64(two.sha256), layerVersionArn: 'arn:aws:lambda:us-east-1:123456789012:layer:php-82:2' });
  });

  it('a zip over 50 MB goes through the region-local S3 bucket', async () => {
    const big = await craftLayer('php-big', { bootstrap: text('#!/bin/sh\n'), 'lib/blob.bin': randomBytes(LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES + 1024) });
    const s3 = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'layers-us-east-1' }));
    await expect(publish({ layer: big.manifest, layerName: 'php-big' })).rejects.toThrow(/over Lambda's direct-upload limit of 52428800 bytes: pass --s3-bucket/);
    const r = await publish({ layer: big.manifest, layerName: 'php-big', s3Bucket: 'layers-{region}' });
    expect(r.results[0]).toMatchObject({ status: 'published', version: 1, codeSha256: b64(big.sha256) });
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'layers-us-east-1', Key: `php-big/${big.sha256}.zip` }));
    s3.destroy();
    expect(head.ContentLength).toBeGreaterThan(LAMBDA_DIRECT_UPLOAD_LIMIT_BYTES);
  });

  it('--public and --principal ask for lambda:GetLayerVersion on the published version', async () => {
    const l = await craftLayer('php-shared', { bootstrap: text('#!/bin/sh\necho shared\n') });
    const r = await publish({ layer: l.manifest, layerName: 'php-shared', permissions: [{ principal: '*' }, { principal: '111122223333' }] });
    const [only] = r.results;
    const policyPath = 'POST /2018-10-31/layers/php-shared/versions/1/policy';
    for (let i = 0; i < 50 && !moto.log().includes(policyPath); i++) await new Promise((res) => setTimeout(res, 100)); // the log travels through the engine
    const policyCalls = moto.log().split('\n').filter((line) => line.includes(policyPath));
    // moto 5.1.1 (Debian trixie) publishes layers but does not implement
    // AddLayerVersionPermission: it answers 404. The tool must make the call on the version it
    // published, and must report the region as failed rather than claim the layer is shared.
    expect(policyCalls.length).toBeGreaterThanOrEqual(1);
    expect(only).toMatchObject({ status: 'failed' });
    expect(only!.status === 'failed' && only!.error).toMatch(
      /^published arn:aws:lambda:us-east-1:123456789012:layer:php-shared:1, but AddLayerVersionPermission for principal \* failed: .*HTTP 404/,
    );
  });

  it('a region whose endpoint is down is reported while the others succeed', async () => {
    const l = await craftLayer('php-regions', { bootstrap: text('#!/bin/sh\necho regions\n') });
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await publish({ layer: l.manifest, layerName: 'php-regions', regions: ['us-east-1', 'ap-south-1', 'eu-central-1'], regionEndpoints: { 'ap-south-1': down } });
    expect(r.results.map((x) => [x.region, x.status])).toEqual([
      ['us-east-1', 'published'],
      ['ap-south-1', 'failed'],
      ['eu-central-1', 'published'],
    ]);
    expect(r.results[1]!.status === 'failed' && r.results[1]!.error).toMatch(/ECONNREFUSED|connect/);
    const record = JSON.parse(await readFile(`${l.zip}.published.json`, 'utf8')) as PublishedRecord;
    expect(record.layers.map((x) => x.region)).toEqual(['eu-central-1', 'us-east-1']);
  });
});

describe('the publish command', () => {
  it('--json lists every ARN; a failed region makes the exit status 1', async () => {
    const l = await craftLayer('php-cli', { bootstrap: text('#!/bin/sh\necho cli\n') });
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['publish', l.zip, '--region', 'us-west-2', '--region', 'sa-east-1', '--layer-name', 'php-cli', '--endpoint-url', endpoint, '--endpoint-url', `sa-east-1=${down}`, '--max-attempts', '1', '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { results: { region: string; status: string; layerVersionArn?: string }[] };
    expect(report.results.map((x) => [x.region, x.status, x.layerVersionArn])).toEqual([
      ['us-west-2', 'published', 'arn:aws:lambda:us-west-2:123456789012:layer:php-cli:1'],
      ['sa-east-1', 'failed', undefined],
    ]);
    expect(r.stdout + r.stderr).not.toContain('testing'); // no credential printed

    const ok = await cli(['publish', l.zip, '--region', 'us-west-2', '--layer-name', 'php-cli', '--endpoint-url', endpoint]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^us-west-2 +unchanged +arn:aws:lambda:us-west-2:123456789012:layer:php-cli:1$/m);
  });

  it('--dry-run prints the calls and makes none', async () => {
    const l = await craftLayer('php-dry', { bootstrap: text('#!/bin/sh\necho dry\n') });
    const r = await cli(['publish', l.manifest, '--region', 'eu-west-1', '--layer-name', 'php-dry', '--public', '--endpoint-url', endpoint, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('eu-west-1: lambda ListLayerVersions {"LayerName":"php-dry","MaxItems":1}');
    expect(r.stdout).toMatch(/eu-west-1: lambda PublishLayerVersion \{"LayerName":"php-dry",.*"CompatibleRuntimes":\["provided.al2023"\],"CompatibleArchitectures":\["x86_64"\],"LicenseInfo":"PHP-3.01"\}/);
    expect(r.stdout).toContain('"Principal":"*"');
    const lambda = new LambdaClient({ region: 'eu-west-1', endpoint });
    await expect(lambda.send(new GetLayerVersionCommand({ LayerName: 'php-dry', VersionNumber: 1 }))).rejects.toThrow();
    lambda.destroy();
  });

  it('a vendor layer is published for the runtime and arch of the PHP layer it was installed with', async () => {
    const files = { 'vendor/autoload.php': text('<?php return 1;\n') };
    const bytes = Buffer.from(zipSync(files, { level: 0 }));
    const zip = path.join(out.dir, `vendor-ab12cd34ef56-for-php-8.2.32-standard-al2023-portable-arm64.zip`);
    await writeFile(zip, bytes);
    const manifest = vendorManifestFixture('arm64', { file: path.basename(zip), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    await writeFile(`${zip}.json`, JSON.stringify(manifest, null, 2));
    const r = await cli(['publish', zip, '--region', 'eu-central-1', '--endpoint-url', endpoint]);
    // Progress only: no warning from the AWS SDK about Node versions (the CLI turns it off).
    expect(r.stderr).toBe('eu-central-1: published\n');
    expect(r.code).toBe(0);
    const name = 'vendor-ab12cd34ef56-for-php-8-2-32-standard-al2023-portable-arm64';
    expect(r.stdout).toMatch(new RegExp(`^eu-central-1 +published +arn:aws:lambda:eu-central-1:123456789012:layer:${name}:1$`, 'm'));
    const lambda = new LambdaClient({ region: 'eu-central-1', endpoint });
    const stored = await lambda.send(new GetLayerVersionCommand({ LayerName: name, VersionNumber: 1 }));
    lambda.destroy();
    expect(stored.CompatibleRuntimes).toEqual(['provided.al2023']);
    expect(stored.CompatibleArchitectures).toEqual(['arm64']);
    expect(stored.LicenseInfo ?? '').toBe(''); // none sent: moto answers '' where Lambda leaves the field out
    expect(stored.Description).toBe(`vendor ab12cd34ef56 for php 8.2.32 (standard) al2023-portable arm64; built by lambda-runtime-builder 0.2.0; zip sha256:${manifest.zip.sha256}`);
    expect(stored.Content?.CodeSha256).toBe(b64(manifest.zip.sha256));
  });

  it('refuses a non-deployable layer, a zip that does not match its manifest and one whose PHP would load Lambda\'s libraries (exit 2, one line)', async () => {
    const local = await craftLayer('php-debian', { bootstrap: text('#!/bin/sh\n') }, { platform: { name: 'debian-bookworm', deployable: false, lambdaRuntime: null, runtimeImage: 'debian:bookworm' } });
    const refused = await cli(['publish', local.zip, '--region', 'us-east-1', '--endpoint-url', endpoint]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^lambda-runtime-builder: .*platform debian-bookworm is for local verification only and cannot be published to Lambda: build with --platform al2023/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);

    const tampered = await craftLayer('php-tampered', { bootstrap: text('#!/bin/sh\necho a\n') });
    await writeFile(tampered.zip, Buffer.from(zipSync({ bootstrap: text('#!/bin/sh\necho b\n') }, { level: 0 })));
    const mismatch = await cli(['publish', tampered.manifest, '--region', 'us-east-1', '--endpoint-url', endpoint]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/php-tampered\.zip does not match .*php-tampered\.zip\.json: SHA-256 [0-9a-f]{64} .* the manifest says [0-9a-f]{64}/);
    expect(mismatch.stderr.trim().split('\n')).toHaveLength(1);

    // Checked on the zip: a layer built before the load-order check, its bin/php finding /opt/lib through DT_RUNPATH.
    const elf = (o: Partial<SyntheticElfOptions>) => new Uint8Array(buildSyntheticElf({ class: 64, endianness: 'little', machine: 62, type: 3, ...o }).data);
    const old = await craftLayer('php-runpath', {
      'bin/php': elf({ interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libssl.so.3', 'libc.so.6'], runpath: '/opt/lib' }),
      'lib/libssl.so.3': elf({ soname: 'libssl.so.3' }),
    });
    const shadowed = await cli(['publish', old.zip, '--region', 'us-east-1', '--endpoint-url', endpoint]);
    expect(shadowed.code).toBe(2);
    expect(shadowed.stderr.trim()).toMatch(/php-runpath\.zip: bin\/php finds libssl\.so\.3 through DT_RUNPATH "\/opt\/lib", .*; rebuild the layer with this version of build-runtime/);
    expect(shadowed.stderr.trim().split('\n')).toHaveLength(1);

    const usage = await cli(['publish', tampered.manifest]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim()).toBe('lambda-runtime-builder: no region: pass --region (repeatable), e.g. --region eu-west-1');
  });
});
