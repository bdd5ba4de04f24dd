import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { PACKAGE_ROOT, paths } from '../../../src/paths.js';
import {
  DEFAULT_ARCH,
  DEFAULT_PLATFORM,
  PlatformRegistry,
  checkArch,
  libraryDirs,
  lifecycleWarnings,
  multiarchTriplet,
  normalizeArch,
  ociArch,
  platformPackages,
} from '../../../src/platforms/registry.js';
import { RecipeRegistry } from '../../../src/recipes/registry.js';

let platforms: PlatformRegistry;
beforeAll(async () => {
  platforms = await PlatformRegistry.load(paths.platforms);
});

const ALL = ['amzn-2017.03', 'al2', 'al2023', 'al2023-portable', 'debian-bullseye', 'debian-bookworm'];

describe('PlatformRegistry', () => {
  it('loads the platforms in file order; the default exists', () => {
    expect(platforms.names()).toEqual(ALL);
    // What Lambda runs today: provided.al2 is blocked for creates and updates since 2026.
    expect(DEFAULT_PLATFORM).toBe('al2023');
    expect(platforms.get(DEFAULT_PLATFORM).lambdaRuntime).toBe('provided.al2023');
    expect(platforms.get(DEFAULT_PLATFORM).lifecycle?.createBlocked).toBeUndefined();
    expect(DEFAULT_ARCH).toBe('x86_64');
    expect(platforms.notOnLambda).toContain('libgcrypt.so');
  });

  it('unknown platform → UserError listing every name', () => {
    expect(() => platforms.get('al2025')).toThrow(UserError);
    expect(() => platforms.get('al2025')).toThrow(
      "unknown platform 'al2025': use one of amzn-2017.03, al2, al2023, al2023-portable, debian-bullseye, debian-bookworm (--platform)",
    );
  });

  it('Amazon Linux platforms and the portable one are deployable, with the Lambda runtime names', () => {
    expect(platforms.list().map((p) => [p.name, p.deployable, p.lambdaRuntime, p.packageManager])).toEqual([
      ['amzn-2017.03', true, 'provided', 'yum'],
      ['al2', true, 'provided.al2', 'yum'],
      ['al2023', true, 'provided.al2023', 'dnf'],
      ['al2023-portable', true, 'provided.al2023', 'apt'],
      ['debian-bullseye', false, null, 'apt'],
      ['debian-bookworm', false, null, 'apt'],
    ]);
  });

  it('every package name a built-in recipe, rule or profile uses is mapped on every platform that can build it', async () => {
    const recipes = await RecipeRegistry.load([paths.recipes]);
    // A library that interpreters build only under a library policy (libxml2 on al2023-portable)
    // needs its packages only on platforms with that policy.
    const onlyUnder = new Map<string, Set<string>>();
    const everywhere = new Set<string>();
    for (const { recipe } of recipes.list()) {
      for (const d of recipe.dependencies ?? []) {
        if (!d.libraryPolicies) everywhere.add(d.name);
        else for (const policy of d.libraryPolicies) onlyUnder.set(d.name, (onlyUnder.get(d.name) ?? new Set()).add(policy));
      }
    }
    const used = new Map<string, Set<string> | 'all'>();
    const use = (name: string, where: Set<string> | 'all') => {
      const had = used.get(name);
      used.set(name, had === 'all' || where === 'all' ? 'all' : new Set([...(had ?? []), ...where]));
    };
    for (const { recipe } of recipes.list()) {
      const where = recipe.kind === 'library' && !everywhere.has(recipe.name) && onlyUnder.has(recipe.name) ? onlyUnder.get(recipe.name)! : 'all';
      recipe.build.packages.forEach((p) => use(p, where));
      for (const r of recipe.rules ?? []) (r.packages ?? []).forEach((p) => use(p, where));
      for (const p of Object.values(recipe.profiles ?? {})) p.packages.forEach((x) => use(x, where));
    }
    expect([...used.keys()].sort()).toEqual(['autoconf', 'automake', 'icu', 'icu-tools', 'libtool', 'libxml2', 'oniguruma', 'perl', 'sqlite3', 'tcl', 'zlib']);
    expect(used.get('tcl')).toEqual(new Set(['glibc-only']));
    for (const p of platforms.list()) {
      // A platform that builds a library from source (buildFromSource) needs that library recipe's
      // packages, and not the package it replaces.
      const fromSource = new Set(Object.keys(p.buildFromSource ?? {}));
      const libraryPackages = [...fromSource].flatMap((lib) => recipes.get(lib).recipe.build.packages);
      const needed = [...used]
        .filter(([, where]) => where === 'all' || (p.libraryPolicy !== undefined && where.has(p.libraryPolicy)))
        .map(([name]) => name)
        .filter((name) => !fromSource.has(name));
      expect(() => platformPackages(p, [...needed, ...libraryPackages], 'test'), p.name).not.toThrow();
    }
  });

  it('al2023-portable: built in Debian 11 for provided.al2023, glibc-only, proven in the local glibc-only image', () => {
    const p = platforms.get('al2023-portable');
    const al2023 = platforms.get('al2023');
    expect(p.buildImage).toBe('debian:bullseye');
    expect(p.glibc).toBe(platforms.get('debian-bullseye').glibc);
    expect(p.glibc).toBe('2.31');
    // Built on an older glibc than the target's: runs there (never the other way round).
    expect(Number(p.glibc.split('.')[1])).toBeLessThanOrEqual(Number(al2023.glibc.split('.')[1]));
    expect(p.lambdaRuntime).toBe(al2023.lambdaRuntime);
    expect(p.libraryPolicy).toBe('glibc-only');
    expect(p.runtimeImage).toBe('lambda-runtime-builder/glibc-only:bullseye-x86_64');
    expect(p.arches).toEqual(['x86_64', 'arm64']);
    // arm64 from an x86_64 engine: cross-built in the same Debian 11, proven in the arm64 glibc-only image.
    expect(p.foreignArch?.arm64).toEqual({
      buildImage: 'lambda-runtime-builder/debian-arm64:bullseye',
      runtimeImage: 'lambda-runtime-builder/glibc-only:bullseye-arm64',
      makeImages: '.ci/make-glibc-image.sh bullseye arm64',
      makeBuildImage: '.ci/make-arm64-images.sh bullseye',
    });
    expect(p.lifecycle).toBeUndefined();
    // The script that makes the runtime image is in the repository and tags exactly that image.
    const script = readFileSync(path.join(PACKAGE_ROOT, p.makeRuntimeImage!), 'utf8');
    expect(script).toContain('tag="lambda-runtime-builder/glibc-only:$suite-$arch"');
    expect(script).toContain('suite=${1:-${LRB_GLIBC_SUITE:-bullseye}}');
    expect(script).toContain('arch=${2:-${LRB_GLIBC_ARCH:-x86_64}}');
    // Its glibc lives in the multiarch dir (Debian 11 is not merged-/usr) and the loader in /lib64.
    expect(libraryDirs(p, 'x86_64')).toEqual(['/lib/x86_64-linux-gnu', '/lib64']);
    // Only the portable platform has a library policy.
    expect(platforms.list().filter((x) => x.libraryPolicy).map((x) => x.name)).toEqual(['al2023-portable']);
  });

  it('a library policy or runtime-image script the schema does not know → the field path', () => {
    const data = JSON.parse(readFileSync(paths.platforms, 'utf8')) as { platforms: Record<string, unknown>[] };
    data.platforms[3]!['libraryPolicy'] = 'musl-only';
    data.platforms[2]!['makeRuntimeImage'] = '/usr/local/bin/make-image';
    const run = () => PlatformRegistry.parse(JSON.stringify(data), 'platforms.json');
    expect(run).toThrow(/platforms\.json: platforms\[3\]\.libraryPolicy: /);
    expect(run).toThrow(/platforms\.json: platforms\[2\]\.makeRuntimeImage: must name a script under \.ci\//);
  });

  it('invalid platform data → the file and field path', () => {
    const data = JSON.parse(readFileSync(paths.platforms, 'utf8')) as { platforms: Record<string, unknown>[] };
    data.platforms[1]!['glibc'] = '2.26.1';
    delete (data.platforms[2]!['packages'] as Record<string, unknown>)['toolchain'];
    data.platforms[3]!['arches'] = ['amd64'];
    const run = () => PlatformRegistry.parse(JSON.stringify(data), '/etc/lrb/platforms.json');
    expect(run).toThrow(UserError);
    expect(run).toThrow(/^invalid platforms file\n/);
    expect(run).toThrow(/\/etc\/lrb\/platforms\.json: platforms\[1\]\.glibc: /);
    expect(run).toThrow(/\/etc\/lrb\/platforms\.json: platforms\[2\]\.packages: must map 'toolchain' to the compiler packages/);
    expect(run).toThrow(/\/etc\/lrb\/platforms\.json: platforms\[3\]\.arches\[0\]: /);
  });
});

describe('checkArch', () => {
  it('accepts a listed arch and returns it', () => {
    expect(checkArch(platforms.get('al2'), 'arm64')).toBe('arm64');
    expect(checkArch(platforms.get('amzn-2017.03'), 'x86_64')).toBe('x86_64');
  });

  it('refuses an unlisted arch, naming the allowed ones', () => {
    expect(() => checkArch(platforms.get('amzn-2017.03'), 'arm64')).toThrow(
      "platform amzn-2017.03 does not support arch 'arm64': use one of x86_64 (--arch)",
    );
    // Docker/Debian spellings are not ours.
    expect(() => checkArch(platforms.get('al2023'), 'aarch64')).toThrow(/use one of x86_64, arm64/);
    expect(() => checkArch(platforms.get('al2023'), 'amd64')).toThrow(UserError);
  });
});

describe('platformPackages', () => {
  it('maps recipe package names to the platform vocabulary, in order, without duplicates', () => {
    expect(platformPackages(platforms.get('al2'), ['zlib', 'libxml2', 'zlib'], 'php')).toEqual(['zlib-devel', 'libxml2-devel']);
    expect(platformPackages(platforms.get('debian-bookworm'), ['zlib', 'oniguruma', 'icu'], 'php')).toEqual([
      'zlib1g-dev',
      'libonig-dev',
      'libicu-dev',
    ]);
    expect(platformPackages(platforms.get('al2023'), ['perl'], 'openssl')).toEqual([
      'perl-FindBin',
      'perl-IPC-Cmd',
      'perl-File-Compare',
      'perl-File-Copy',
      'perl-Time-Piece',
    ]);
    // A package that maps to nothing (perl is in Debian's base) is fine.
    expect(platformPackages(platforms.get('debian-bookworm'), ['perl'], 'openssl')).toEqual([]);
  });

  it('unknown package → error naming who needs it, the platform and where to add it', () => {
    expect(() => platformPackages(platforms.get('al2'), ['zlib', 'libyaml'], 'php 8.2.33')).toThrow(UserError);
    expect(() => platformPackages(platforms.get('al2'), ['zlib', 'libyaml'], 'php 8.2.33')).toThrow(
      `php 8.2.33 needs package 'libyaml', which platform al2 does not map: add "libyaml" to its packages in dockerfiles/platforms.json`,
    );
  });
});

describe('lifecycleWarnings', () => {
  it('al2 on 2026-11-21: creation blocked since 2026-07-31, updates blocked since 2026-08-31; suggests al2023', () => {
    const w = lifecycleWarnings(platforms.get('al2'), '2026-11-21');
    expect(w).toEqual([
      'Lambda runtime provided.al2 (platform al2) is deprecated since 2026-06-30: AWS blocks creating functions on it since 2026-07-31; updates blocked since 2026-08-31. Build for --platform al2023 instead.',
    ]);
  });

  it('al2 between create and update block: updates blocked *from* the date', () => {
    expect(lifecycleWarnings(platforms.get('al2'), '2026-08-01')[0]).toContain(
      'AWS blocks creating functions on it since 2026-07-31; updates blocked from 2026-08-31.',
    );
  });

  it('al2 on 2026-05-01: nothing yet', () => {
    expect(lifecycleWarnings(platforms.get('al2'), '2026-05-01')).toEqual([]);
    expect(lifecycleWarnings(platforms.get('al2'), '2026-06-29')).toEqual([]);
  });

  it('al2 on 2026-07-01: deprecated, creation blocked from 2026-07-31', () => {
    expect(lifecycleWarnings(platforms.get('al2'), '2026-07-01')).toEqual([
      'Lambda runtime provided.al2 (platform al2) is deprecated since 2026-06-30; creating functions is blocked from 2026-07-31. Build for --platform al2023 instead.',
    ]);
    // The boundary day itself counts.
    expect(lifecycleWarnings(platforms.get('al2'), '2026-06-30')).toHaveLength(1);
    expect(lifecycleWarnings(platforms.get('al2'), '2026-07-31')[0]).toContain('AWS blocks creating functions on it since 2026-07-31');
  });

  it('amzn-2017.03: blocked since 2024', () => {
    const w = lifecycleWarnings(platforms.get('amzn-2017.03'), '2026-11-21');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^Lambda runtime provided \(platform amzn-2017\.03\) is deprecated since 2023-12-31: /);
    expect(w[0]).toContain('blocks creating functions on it since 2024-01-09; updates blocked since 2024-02-08');
    expect(w[0]).toContain('--platform al2023');
  });

  it('none for al2023 (supported until 2029), al2023-portable and Debian (not a Lambda runtime)', () => {
    expect(lifecycleWarnings(platforms.get('al2023'), '2026-11-21')).toEqual([]);
    expect(lifecycleWarnings(platforms.get('al2023-portable'), '2026-11-21')).toEqual([]);
    expect(lifecycleWarnings(platforms.get('debian-bookworm'), '2026-11-21')).toEqual([]);
    expect(lifecycleWarnings(platforms.get('debian-bullseye'), '2099-01-01')).toEqual([]);
  });
});

describe('multiarchTriplet', () => {
  it("names Debian's triplet per arch", () => {
    expect(multiarchTriplet('x86_64')).toBe('x86_64-linux-gnu');
    expect(multiarchTriplet('arm64')).toBe('aarch64-linux-gnu');
  });
});

describe('normalizeArch', () => {
  it.each([
    ['x86_64', 'x86_64'],
    ['amd64', 'x86_64'],
    ['x64', 'x86_64'],
    ['aarch64', 'arm64'],
    ['arm64', 'arm64'],
  ])('maps %j to %j', (name, arch) => {
    expect(normalizeArch(name)).toBe(arch);
  });

  it('passes an unknown name through unchanged (the caller reports it)', () => {
    expect(normalizeArch('riscv64')).toBe('riscv64');
    expect(normalizeArch('AMD64')).toBe('AMD64');
    expect(normalizeArch('constructor')).toBe('constructor');
    expect(normalizeArch('')).toBe('');
  });

  it('maps every arch a platform offers to itself', () => {
    for (const p of platforms.list()) for (const a of p.arches) expect(normalizeArch(a)).toBe(a);
  });
});

describe('ociArch', () => {
  it("names Docker's architecture, which normalizeArch maps back", () => {
    expect(ociArch('x86_64')).toBe('amd64');
    expect(ociArch('arm64')).toBe('arm64');
    expect(normalizeArch(ociArch('x86_64'))).toBe('x86_64');
  });
});

describe('libraryDirs', () => {
  it('substitutes the multiarch triplet on Debian', () => {
    expect(libraryDirs(platforms.get('debian-bookworm'), 'x86_64')).toEqual(['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib']);
    expect(libraryDirs(platforms.get('debian-bookworm'), 'arm64')).toEqual(['/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']);
    expect(libraryDirs(platforms.get('debian-bullseye'), 'arm64')).toEqual([
      '/lib/aarch64-linux-gnu',
      '/usr/lib/aarch64-linux-gnu',
      '/lib64',
      '/usr/lib',
    ]);
  });

  it('leaves Amazon Linux paths alone', () => {
    expect(libraryDirs(platforms.get('al2'), 'arm64')).toEqual(['/lib64', '/usr/lib64']);
    expect(libraryDirs(platforms.get('al2023'), 'x86_64')).toEqual(['/lib64', '/usr/lib64']);
  });
});
