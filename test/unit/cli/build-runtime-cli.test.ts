import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileP(process.execPath, ['--import', 'tsx', 'src/cli/build-runtime.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
const fails = (args: string[]) =>
  cli(args).then(
    () => {
      throw new Error(`expected build-runtime ${args.join(' ')} to fail`);
    },
    (e: { code: number; stderr: string; stdout: string }) => e,
  );

// The CLI as a user meets it, without Docker: DOCKER_HOST points nowhere to prove it.
describe('the CLI', () => {
  it('--dry-run --json prints the plan and exits 0 without Docker', async () => {
    const { stdout } = await cli(['php@7.4', '--platform', 'debian-bookworm', '--dry-run', '--json'], { DOCKER_HOST: 'tcp://127.0.0.1:1' });
    const plan = JSON.parse(stdout) as { plans: { version: string; steps: { name: string }[] }[] };
    expect(plan.plans[0]!.version).toBe('7.4.33');
    expect(plan.plans[0]!.steps.map((s) => s.name)).toContain('smoke-test');
  });

  it('bad input exits 2 with a message naming the bad thing', async () => {
    const err = await fails(['php@9', '--platform', 'debian-bookworm']);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/no php version matches '9': pinned versions are 7\.3\.0, .*8\.5\.9/);
  });
});

describe('the CLI refuses bad input with exit 2', () => {
  it.each([
    [['php@7.4', '--platform', 'solaris'], /unknown platform 'solaris': use one of .*al2023.*debian-bookworm/],
    [['php@7.4', '--max-unzipped', 'lots'], /lots/],
    [['php@7.4', '--platform', 'debian-bookworm', '--with', 'openssl@3.5.7'], /rule 'openssl-1\.x-before-php-8\.1' allows openssl >=1\.0\.1 <3\.0\.0/],
    [['php@7.4', '--platform', 'debian-bookworm', '--profile', 'huge'], /no profile 'huge': use one of minimal, standard/],
    [['openssl@3'], /openssl is a library recipe/],
    [[], /no target given/],
  ])('%j', async (args, message) => {
    const err = await fails([...args, '--dry-run']);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
  });

  it.each([['cache-prune'], ['image-prune']])('%s with an unknown option exits 2 too', async (sub) => {
    const err = await fails([sub, '--bogus']);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('image-prune without a Docker engine exits 2 and says how to start one', async () => {
    const err = await cli(['image-prune'], { DOCKER_HOST: 'tcp://127.0.0.1:1' }).then(
      () => {
        throw new Error('expected image-prune to fail');
      },
      (e: { code: number; stderr: string }) => e,
    );
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/no Docker engine answers .*start one/);
  });

  it('--help documents every option', async () => {
    const { stdout } = await cli(['--help']);
    for (const opt of ['--platform', '--out', '--cache-dir', '--mirror', '--max-unzipped', '--json', '--dry-run', '--verbose', '--with', '--profile', '--list', '--jobs', '--force']) {
      expect(stdout).toContain(opt);
    }
  });
});

describe('--list', () => {
  it('--json --offline lists every recipe version with its pairing and platform support, without probing', async () => {
    const { stdout } = await cli(['--list', '--json', '--offline']);
    const listing = JSON.parse(stdout) as {
      recipes: { name: string; version: string; pairs: Record<string, string>; platforms: { name: string; supported: boolean; reason?: string }[]; sources: { available: string }[] }[];
      platforms: { name: string }[];
    };
    const php = listing.recipes.filter((r) => r.name === 'php').map((r) => r.version);
    expect(php).toEqual(['7.3.0', '7.3.33', '7.4.33', '8.0.30', '8.1.34', '8.2.32', '8.2.33', '8.3.33', '8.4.24', '8.5.9']);
    const php74 = listing.recipes.find((r) => r.name === 'php' && r.version === '7.4.33')!;
    expect(php74.pairs).toEqual({ zlib: '1.3.1', openssl: '1.1.1w', curl: '7.88.1' }); // zlib: on al2023-portable only
    const php84 = listing.recipes.find((r) => r.name === 'php' && r.version === '8.4.24')!;
    expect(php84.platforms.find((p) => p.name === 'amzn-2017.03')).toMatchObject({ supported: false });
    expect(php84.platforms.find((p) => p.name === 'amzn-2017.03')!.reason).toContain('c11-compiler-from-php-8.4');
    expect(php84.platforms.find((p) => p.name === 'al2023')).toMatchObject({ supported: true });
    expect(listing.recipes.some((r) => r.name === 'lua')).toBe(true);
    expect(listing.platforms.map((p) => p.name)).toEqual(['amzn-2017.03', 'al2', 'al2023', 'al2023-portable', 'debian-bullseye', 'debian-bookworm']);
    for (const r of listing.recipes) for (const s of r.sources) expect(['cached', 'not-probed']).toContain(s.available);
  });

  it('says which profiles build against platform packages on a portable platform (minimal: none; standard: only ICU, by named rules)', async () => {
    const { stdout } = await cli(['--list', '--json', '--offline']);
    const listing = JSON.parse(stdout) as { platforms: { name: string; systemPackages: { target: string; profile: string; packages: string[]; rules: string[] }[] }[] };
    const portable = listing.platforms.find((p) => p.name === 'al2023-portable')!;
    // zlib, OpenSSL and curl are built from pinned sources there, so minimal takes nothing; standard
    // also builds libxml2, SQLite and Oniguruma, and takes ICU from Debian 11 by rule.
    expect(portable.systemPackages.map((s) => s.profile)).toEqual(['standard']);
    expect(portable.systemPackages[0]!.packages.sort()).toEqual(['icu-devtools', 'libicu-dev']);
    // The rules listed are every rule of the portable library policy that applied: the one that keeps
    // ICU from Debian, and the one that links libgcc's unwinder into OPcache instead of bundling libgcc_s.
    expect(portable.systemPackages[0]!.rules).toEqual(['opcache-jit-unwinder-linked-in-on-portable', 'icu-from-the-build-distro-package-on-portable']);
    // A platform without a library policy lists its packages without such rules.
    const bookworm = listing.platforms.find((p) => p.name === 'debian-bookworm')!;
    expect(bookworm.systemPackages.every((s) => s.rules.length === 0)).toBe(true);
    const text = (await cli(['--list', '--offline'])).stdout;
    expect(text).toMatch(
      /al2023-portable .*\n {4}php@\S+ standard: builds against platform packages icu-devtools, libicu-dev \(libraries bundled from them: package and version in the manifest; library-policy rules applied: opcache-jit-unwinder-linked-in-on-portable, icu-from-the-build-distro-package-on-portable\)/,
    );
  });
});

describe('cache-prune', () => {
  it('--dry-run reports without removing', async () => {
    const { stdout } = await cli(['cache-prune', '--dry-run', '--cache-dir', path.join(REPO_ROOT, 'no-such-cache-dir')]);
    expect(stdout).toBe('would remove 0 files, 0 bytes\n');
  });
});

describe('user mistakes end in one line and exit 2, never a stack trace', () => {
  const nowhere = { DOCKER_HOST: 'tcp://127.0.0.1:1' };
  const failsWith = (args: string[]) =>
    cli(args, nowhere).then(
      () => {
        throw new Error(`expected build-runtime ${args.join(' ')} to fail`);
      },
      (e: { code: number; stderr: string; stdout: string }) => e,
    );

  it.each([
    [['php@7.4', '--platform', 'debian-bookworm', '--out', '/dev/null'], /^lambda-runtime-builder: cannot write --out \/dev\/null: a part of the path is a file, not a directory: choose a directory \(ENOTDIR\)$/m],
    [['php@7.4', '--platform', 'debian-bookworm', '--mirror', 'ftp://mirror.invalid/x'], /^lambda-runtime-builder: mirror "ftp:\/\/mirror\.invalid\/x": scheme ftp: is not supported/m],
    [['php@7.4', '--platform', 'al2023', '--platform', 'debian-bookworm', '--dry-run'], /--platform was given more than once: give it once/],
    [['php@7.4', '--platform', 'debian-bookworm', '--with', 'openssl', '--dry-run'], /--with openssl names no version: write --with openssl@VERSION \(rule 'openssl-1\.x-before-php-8\.1' picks openssl 1\.1\.1w/],
    [['php@7.4', '--dry-run', '--force'], /option '--dry-run' cannot be used with option '--force'/],
    [['--list', 'php@7.4'], /--list takes no targets \(got php@7\.4\)/],
  ])('%j', async (args, message) => {
    const err = await failsWith(args);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it('--json prints one JSON document with the error also on failure', async () => {
    const err = await failsWith(['php@9', '--json']);
    expect(err.code).toBe(2);
    expect(JSON.parse(err.stdout)).toEqual({ error: { kind: 'input', message: expect.stringMatching(/^no php version matches '9'/), exitStatus: 2 } });
  });

  it('a bare NAME builds the newest pinned version and the plan says so', async () => {
    const { stdout } = await cli(['php', '--platform', 'debian-bookworm', '--dry-run'], nowhere);
    expect(stdout).toMatch(/warning {4}php names no version: building the newest pinned one, php@8\.5\.9 \(write php@8\.5\.9 to pin it\)/);
  });
});
