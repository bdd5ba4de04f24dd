import { TOOL_VERSION } from '../../../src/paths.js';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, hashInputs, sha256Hex } from '../../../src/pipeline/hash.js';
import { STEP_NAMES, artifactBaseName, formatPlan, makePlan, type PlanOptions } from '../../../src/pipeline/plan.js';
import { loadCatalog, prepareTarget, type Catalog, type PrepareOptions, type PreparedBuild } from '../../../src/pipeline/prepare.js';
import { resolveBuild, type BuildSpec } from '../../../src/recipes/resolve.js';
import { renderBuild } from '../../../src/render/dockerfile.js';
import { candidateUrls } from '../../../src/sources/index.js';

const OUT = path.resolve('/tmp/lrb-plan-out');
const MIRROR = 'https://mirror.example/lrb';

let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog();
});

const prepare = (target: string, extra: Partial<PrepareOptions> = {}): Promise<PreparedBuild> =>
  prepareTarget(catalog, target, {
    platform: 'debian-bookworm',
    arch: 'x86_64',
    outDir: OUT,
    mirrors: [MIRROR],
    maxUnzippedBytes: 262_144_000,
    today: '2026-05-01',
    ...extra,
  });

function planOptions(extra: Partial<PlanOptions> = {}): PlanOptions {
  return {
    outDir: OUT,
    maxUnzippedBytes: 262_144_000,
    urlsFor: (s) => candidateUrls(s, { mirrors: [MIRROR] }),
    runtimeFiles: [{ path: 'bootstrap', mode: 0o755, sha256: sha256Hex('#!/bin/sh\n') }],
    checkScripts: [{ path: 'checks/tls.php', mode: 0o644, sha256: sha256Hex('<?php echo 1;') }],
    scriptDigests: {
      'common.sh': sha256Hex('common'),
      'build-openssl.sh': sha256Hex('openssl'),
      'build-autotools.sh': sha256Hex('autotools'),
      'finalize.sh': sha256Hex('finalize'),
    },
    notOnLambda: ['libgcrypt.so'],
    today: '2026-05-01',
    ...extra,
  };
}

function withSpec(spec: BuildSpec, change: (s: BuildSpec) => void): BuildSpec {
  const copy: BuildSpec = {
    ...spec,
    interpreter: { ...spec.interpreter, sources: spec.interpreter.sources.map((s) => ({ ...s })) },
    dependencies: spec.dependencies.map((d) => ({ ...d, sources: d.sources.map((s) => ({ ...s })) })),
  };
  change(copy);
  return copy;
}

describe('canonicalJson / hashInputs', () => {
  it('is independent of key order, at every depth', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: 'x' } };
    const b = { a: { x: 'x', y: [1, { p: 2, q: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"x","y":[1,{"p":2,"q":1}]},"b":1}');
    expect(hashInputs(a)).toBe(hashInputs(b));
    expect(hashInputs(a)).toBe(sha256Hex(canonicalJson(a)));
  });

  it('keeps array order and drops undefined members', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(canonicalJson({ s: 'quote"', n: null, t: true })).toBe('{"n":null,"s":"quote\\"","t":true}');
    expect(hashInputs({ a: 1 })).not.toBe(hashInputs({ a: '1' }));
  });

  it('sha256Hex is plain SHA-256', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('makePlan: php@7.4 on debian-bookworm', () => {
  let p: PreparedBuild;
  beforeAll(async () => {
    p = await prepare('php@7.4');
  });

  it('names the target, platform and dependencies with their rules', () => {
    const plan = p.plan;
    expect(plan).toMatchObject({
      target: 'php@7.4',
      name: 'php',
      version: '7.4.33',
      profile: 'minimal',
      platform: 'debian-bookworm',
      arch: 'x86_64',
      deployable: false,
      lambdaRuntime: null,
      glibc: '2.36',
      maxUnzippedBytes: 262_144_000,
      images: {
        build: 'debian:bookworm',
        runtime: 'debian:bookworm',
        tag: 'lambda-runtime-builder/php:7.4.33-minimal-debian-bookworm-x86_64',
      },
      stages: ['toolchain', 'dep-openssl', 'dep-curl', 'interpreter'],
    });
    expect(plan.dependencies).toEqual([
      { name: 'openssl', version: '1.1.1w', rule: 'openssl-1.x-before-php-8.1', reason: expect.stringContaining('1.1.1w'), overridden: false },
      { name: 'curl', version: '7.88.1', rule: 'curl-7.88-with-openssl-1.x', reason: expect.any(String), overridden: false },
    ]);
    expect(plan.rules).toEqual([
      { component: 'openssl', name: 'no-tests-from-1.1', reason: expect.any(String) },
      { component: 'php', name: 'json-extension-before-php-8', reason: expect.any(String) },
      { component: 'php', name: 'pkg-config-from-php-7.4', reason: expect.any(String) },
      { component: 'php', name: 'opcache-shared-before-php-8.5', reason: expect.any(String) },
      { component: 'php', name: 'bundled-libraries-found-before-lambda-system-libraries', reason: expect.any(String) },
    ]);
  });

  it('steps in order', () => {
    expect(p.plan.steps.map((s) => s.name)).toEqual([
      'resolve',
      'fetch-sources',
      'build-image',
      'bundle-libraries',
      'assemble',
      'smoke-test',
      'package',
      'check-size',
      'write-manifest',
    ]);
    expect(p.plan.steps.map((s) => s.name)).toEqual([...STEP_NAMES]);
    expect(p.plan.steps.every((s) => s.title.length > 10)).toBe(true);
  });

  it('output names: zip, manifest beside it, log under logs/', () => {
    expect(p.plan.output).toEqual({
      zip: path.join(OUT, 'php-7.4.33-debian-bookworm-x86_64.zip'),
      manifest: path.join(OUT, 'php-7.4.33-debian-bookworm-x86_64.zip.json'),
      log: path.join(OUT, 'logs', 'php-7.4.33-debian-bookworm-x86_64.log'),
    });
    expect(artifactBaseName(p.spec)).toBe('php-7.4.33-debian-bookworm-x86_64');
  });

  it('a non-minimal profile is named in the artifact and the tag', async () => {
    const s = await prepare('php@7.4', { profile: 'standard', arch: 'arm64' });
    expect(path.basename(s.plan.output.zip)).toBe('php-7.4.33-standard-debian-bookworm-arm64.zip');
    expect(s.plan.images.tag).toBe('lambda-runtime-builder/php:7.4.33-standard-debian-bookworm-arm64');
  });

  it('sources in build order, each with official → mirrors → Debian URLs', () => {
    expect(p.plan.sources).toEqual([
      {
        component: 'openssl@1.1.1w',
        name: 'openssl-1.1.1w.tar.gz',
        sha256: 'cf3098950cb4d853ad95c0841f1f9c6d3dc102dccfcacd521d93925208b76ac8',
        urls: [
          'https://www.openssl.org/source/old/1.1.1/openssl-1.1.1w.tar.gz',
          `${MIRROR}/openssl-1.1.1w.tar.gz`,
          'http://deb.debian.org/debian/pool/main/o/openssl/openssl_1.1.1w.orig.tar.gz',
        ],
      },
      {
        // Debian's security archive is not under the main archive: no Debian path, its url only.
        component: 'openssl@1.1.1w',
        name: 'openssl_1.1.1w-0+deb11u8.debian.tar.xz',
        sha256: '1b9aab73493a39ccab81f22092abce8d4857deeb5a084c2dcf89e60ec108c818',
        urls: [
          'http://deb.debian.org/debian-security/pool/updates/main/o/openssl/openssl_1.1.1w-0+deb11u8.debian.tar.xz',
          `${MIRROR}/openssl_1.1.1w-0+deb11u8.debian.tar.xz`,
        ],
      },
      {
        component: 'curl@7.88.1',
        name: 'curl-7.88.1.tar.gz',
        sha256: 'cdb38b72e36bc5d33d5b8810f8018ece1baa29a8f215b4495e495ded82bbf3c7',
        urls: [
          'https://curl.se/download/curl-7.88.1.tar.gz',
          `${MIRROR}/curl-7.88.1.tar.gz`,
          'http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1.orig.tar.gz',
        ],
      },
      {
        component: 'curl@7.88.1',
        name: 'curl_7.88.1-10+deb12u15.debian.tar.xz',
        sha256: '961b78bc48492c5693e4decb352ddd176f343260a8956f48b2887874048ef23b',
        urls: [
          'https://snapshot.debian.org/file/03b665ea82b1f319f6944c9473c8c9fd9980838b',
          `${MIRROR}/curl_7.88.1-10+deb12u15.debian.tar.xz`,
          'http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10+deb12u15.debian.tar.xz',
        ],
      },
      {
        component: 'php@7.4.33',
        name: 'php-7.4.33.tar.xz',
        sha256: '924846abf93bc613815c55dd3f5809377813ac62a9ec4eb3778675b82a27b927',
        urls: [
          'https://www.php.net/distributions/php-7.4.33.tar.xz',
          `${MIRROR}/php-7.4.33.tar.xz`,
          'http://deb.debian.org/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz',
        ],
      },
    ]);
  });

  it('a source without a Debian path has no Debian URL; a custom Debian base is used', async () => {
    const s = await prepare('php@8.5', { mirrors: [], debianBase: 'http://ftp.example/debian' });
    const php = s.plan.sources.find((x) => x.name === 'php-8.5.9.tar.xz')!;
    expect(php.urls).toEqual(['https://www.php.net/distributions/php-8.5.9.tar.xz']);
    const openssl = s.plan.sources.find((x) => x.name === 'openssl-3.5.7.tar.gz')!;
    expect(openssl.urls.at(-1)).toBe('http://ftp.example/debian/pool/main/o/openssl/openssl_3.5.7.orig.tar.gz');
  });

  it('non-deployable warning, and no lifecycle warning on Debian', () => {
    expect(p.plan.warnings).toEqual([
      'platform debian-bookworm is for local verification only: the layer is not meant for Lambda (use al2023 or al2 to deploy)',
    ]);
  });

  it('lifecycle warnings come through for al2 after its block date', async () => {
    const al2 = await prepare('php@7.4', { platform: 'al2', today: '2026-11-21' });
    expect(al2.plan.warnings).toHaveLength(1);
    expect(al2.plan.warnings[0]).toMatch(/provided\.al2 .*blocks creating functions on it since 2026-07-31.*--platform al2023/);
    expect((await prepare('php@7.4', { platform: 'al2023', today: '2026-11-21' })).plan.warnings).toEqual([]);
  });

  it('prepare reads the real scripts and runtime files', () => {
    expect(Object.keys(p.scriptPaths).sort()).toEqual(['apply-patches.sh', 'build-autotools.sh', 'build-openssl.sh', 'common.sh', 'finalize.sh', 'write-ini.sh']);
    expect(p.runtimeEntries.some((e) => e.path === 'bootstrap' && e.type === 'file' && e.mode === 0o755)).toBe(true);
    // The runtime is versioned with the tool (its User-Agent names this version).
    const version = p.runtimeEntries.find((e) => e.path === 'runtime/VERSION');
    expect(version?.type === 'file' && version.data.toString()).toBe(`${TOOL_VERSION}\n`);
    // The files smoke checks run, read from beside the recipe with their directory.
    expect(p.checkScripts.map((e) => `${e.type} ${e.path}`)).toEqual(['directory checks', 'file checks/php-tls-handshake.php', 'file checks/php-opcache.php']);
    const script = p.checkScripts.find((e) => e.type === 'file');
    expect(script?.type === 'file' && script.data.toString()).toMatch(/^<\?php/);
    expect(p.plan.imageHash).toMatch(/^[0-9a-f]{64}$/);
    expect(p.plan.inputsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(p.plan.inputsHash).not.toBe(p.plan.imageHash);
  });

  it('is deterministic', async () => {
    const again = await prepare('php@7.4');
    expect(again.plan).toEqual(p.plan);
  });
});

describe('makePlan: hashes', () => {
  const resolve = (target: string, profile = 'minimal'): BuildSpec =>
    resolveBuild(catalog.recipes, target, { platform: catalog.platforms.get('debian-bookworm'), arch: 'x86_64', profile });

  it('imageHash unchanged when only runtime files change, inputsHash changes', () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, r, planOptions({ runtimeFiles: [{ path: 'bootstrap', mode: 0o755, sha256: sha256Hex('#!/bin/sh\necho changed\n') }] }));
    const c = makePlan(s, r, planOptions({ runtimeFiles: [{ path: 'bootstrap', mode: 0o644, sha256: sha256Hex('#!/bin/sh\n') }] }));
    expect(b.imageHash).toBe(a.imageHash);
    expect(c.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
    expect(c.inputsHash).not.toBe(a.inputsHash);
    expect(new Set([a.inputsHash, b.inputsHash, c.inputsHash]).size).toBe(3);
  });

  it('a changed check script changes inputsHash, not imageHash (the image does not hold it)', () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, r, planOptions({ checkScripts: [{ path: 'checks/tls.php', mode: 0o644, sha256: sha256Hex('<?php echo 2;') }] }));
    expect(b.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
  });

  it('neither hash depends on where sources are fetched from, the output dir, or today', () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, r, planOptions({ urlsFor: (x) => [x.url], outDir: '/elsewhere', today: '2030-01-01' }));
    expect(b.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).toBe(a.inputsHash);
  });

  it('a changed source sha256 changes both hashes', () => {
    const s = resolve('php@7.4');
    const a = makePlan(s, renderBuild(s, catalog.templates), planOptions());
    for (const change of [
      (x: BuildSpec) => (x.interpreter.sources[0]!.sha256 = 'f'.repeat(64)),
      (x: BuildSpec) => (x.dependencies[0]!.sources[0]!.sha256 = '0'.repeat(64)),
    ]) {
      const s2 = withSpec(s, change);
      const b = makePlan(s2, renderBuild(s2, catalog.templates), planOptions());
      expect(b.imageHash).not.toBe(a.imageHash);
      expect(b.inputsHash).not.toBe(a.inputsHash);
    }
  });

  it('a changed Dockerfile or build script changes both hashes', () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, { ...r, dockerfile: r.dockerfile.replace('--disable-cgi', '--disable-cgi --enable-debug') }, planOptions());
    expect(b.imageHash).not.toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
    const c = makePlan(s, r, planOptions({ scriptDigests: { ...planOptions().scriptDigests, 'finalize.sh': sha256Hex('finalize v2') } }));
    expect(c.imageHash).not.toBe(a.imageHash);
    expect(c.inputsHash).not.toBe(a.inputsHash);
  });

  it('the profile changes both hashes; the arch changes the image hash even with the same Dockerfile text', () => {
    const min = resolve('php@7.4');
    const std = resolve('php@7.4', 'standard');
    const a = makePlan(min, renderBuild(min, catalog.templates), planOptions());
    const b = makePlan(std, renderBuild(std, catalog.templates), planOptions());
    expect(b.imageHash).not.toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
    // Same rendered text (the header comment aside, which names the arch), different arch.
    const arm: BuildSpec = { ...min, arch: 'arm64' };
    const c = makePlan(arm, renderBuild(min, catalog.templates), planOptions());
    expect(c.imageHash).not.toBe(a.imageHash);
    expect(c.inputsHash).not.toBe(a.inputsHash);
  });

  it('notOnLambda shapes a deployable layer (what is always bundled), so it is part of its inputs', () => {
    const s = resolveBuild(catalog.recipes, 'php@7.4', { platform: catalog.platforms.get('al2023'), arch: 'x86_64' });
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, r, planOptions({ notOnLambda: ['libgcrypt.so', 'libgpg-error.so'] }));
    expect(b.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
    // A local-only platform never force-bundles, so the list cannot change its layers.
    const d = resolve('php@7.4');
    const rd = renderBuild(d, catalog.templates);
    expect(makePlan(d, rd, planOptions({ notOnLambda: ['libfoo.so'] })).inputsHash).toBe(makePlan(d, rd, planOptions()).inputsHash);
  });

  it("what does not shape the layer leaves inputsHash alone: the platform's description, lifecycle and other recipes' package mappings", () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const platform = {
      ...s.platform,
      description: 'reworded',
      packages: { ...s.platform.packages, 'some-new-recipe-lib': ['libnew-dev'] },
    };
    const s2: BuildSpec = { ...s, platform };
    const b = makePlan(s2, renderBuild(s2, catalog.templates), planOptions());
    expect(renderBuild(s2, catalog.templates).dockerfile).toBe(r.dockerfile);
    expect(b.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).toBe(a.inputsHash);
    // ...while the runtime image or the glibc ceiling, which decide checks and bundling, do.
    const s3: BuildSpec = { ...s, platform: { ...s.platform, runtimeImage: 'debian:bookworm-slim' } };
    expect(makePlan(s3, r, planOptions()).inputsHash).not.toBe(a.inputsHash);
    const s4: BuildSpec = { ...s, platform: { ...s.platform, glibc: '2.31' } };
    expect(makePlan(s4, r, planOptions()).inputsHash).not.toBe(a.inputsHash);
  });

  it('the size budget is part of the inputs, not of the image', () => {
    const s = resolve('php@7.4');
    const r = renderBuild(s, catalog.templates);
    const a = makePlan(s, r, planOptions());
    const b = makePlan(s, r, planOptions({ maxUnzippedBytes: 100 }));
    expect(b.imageHash).toBe(a.imageHash);
    expect(b.inputsHash).not.toBe(a.inputsHash);
  });
});

describe('formatPlan', () => {
  it('reads as a dry run: header, platform, dependencies, rules, sources with URLs, stages, steps, output, warnings', async () => {
    const p = await prepare('php@7.3', { with: ['openssl@1.0.1k'] });
    const text = formatPlan(p.plan);
    const lines = text.split('\n');
    expect(lines[0]).toBe('php@7.3 → php 7.3.33 (profile minimal)');
    expect(lines[1]).toBe('  platform   debian-bookworm (x86_64), glibc 2.36, not deployable (local verification only)');
    expect(lines[2]).toBe(
      '  images     build debian:bookworm; runtime debian:bookworm; tag lambda-runtime-builder/php:7.3.33-minimal-debian-bookworm-x86_64',
    );
    expect(lines).toContain(
      '  with       openssl 1.0.1k (--with): rule openssl-1.x-before-php-8.1: PHP 7.1 to 8.0 need OpenSSL >= 1.0.1 and < 3.0; 1.1.1w is the last 1.x release.',
    );
    expect(lines.some((l) => l.startsWith('  with       curl 7.88.1: rule curl-7.88-with-openssl-1.x: '))).toBe(true);
    expect(lines.some((l) => l.startsWith('  rule       php: prefix-arguments-before-php-7.4: '))).toBe(true);
    const src = lines.indexOf('  sources');
    expect(lines.slice(src + 1, src + 3)).toEqual([
      '    openssl-1.0.1k.tar.gz  sha256 8f9faeaebad088e772f4ef5e38252d472be4d878c6b3a2718c10a4fcebe7a41c',
      '      https://www.openssl.org/source/old/1.0.1/openssl-1.0.1k.tar.gz',
    ]);
    expect(lines).toContain('  stages     toolchain → dep-openssl → dep-curl → interpreter');
    expect(lines).toContain('    1. resolve: Resolve recipe, dependencies and platform');
    expect(lines).toContain("    9. write-manifest: Write the manifest");
    expect(lines).toContain(`  output     ${path.join(OUT, 'php-7.3.33-debian-bookworm-x86_64.zip')}`);
    expect(lines).toContain('  budget     262144000 bytes unzipped');
    expect(lines).toContain(`  inputs     ${p.plan.inputsHash}`);
    expect(lines.at(-1)).toMatch(/^  warning    platform debian-bookworm is for local verification only/);
  });

  it('deployable platforms show the Lambda runtime', async () => {
    const p = await prepare('php@8.2', { platform: 'al2023' });
    expect(formatPlan(p.plan).split('\n')[1]).toBe('  platform   al2023 (x86_64), glibc 2.34, Lambda runtime provided.al2023');
  });
});
