import semver from 'semver';
import { z } from 'zod';

/** The profile a build uses when none is named; every interpreter recipe must have it. */
export const DEFAULT_PROFILE = 'minimal';

/** A SHA-256 as recipes pin it: 64 lowercase hex characters. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
const sha256 = z.string().regex(SHA256_HEX, 'must be 64 lowercase hex characters (a SHA-256)');
/**
 * A plain file name: what a source, patch archive or script is called in build contexts, Dockerfiles
 * and shell lines (`~` for Debian's revisions, e.g. openssl_3.5.7-1~deb13u2.debian.tar.xz).
 */
export const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
/** What PLAIN_FILE_NAME allows, for error messages ("… must be <this>"). */
export const PLAIN_FILE_NAME_RULE = "a plain file name (letters, digits, '.', '_', '+', '~', '-', starting with a letter or digit; no slashes)";
const fileName = z.string().regex(PLAIN_FILE_NAME, `must be ${PLAIN_FILE_NAME_RULE}`);
const semverRange = z
  .string()
  .min(1)
  .refine((r) => semver.validRange(r) !== null, 'must be a semver range, e.g. <8.1.0 or >=1.0.1 <3.0.0');
const name = z.string().regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and dashes');

/**
 * Which libraries a layer may take from the system it runs on. `glibc-only` (portable layers): glibc's
 * own libraries and nothing else; every other library ships in the layer (see src/elf/policy.ts).
 * A platform without a policy may use whatever its runtime image has.
 */
export const LIBRARY_POLICIES = ['glibc-only'] as const;
export const libraryPolicySchema = z.enum(LIBRARY_POLICIES);
export type LibraryPolicy = z.infer<typeof libraryPolicySchema>;

/** One pinned source (`SourceSpec`); src/sources fetches and verifies it. */
export const sourceSchema = z.strictObject({
  /** File name used in build contexts, e.g. `php-7.4.33.tar.xz`. A plain file name, no directories. */
  name: fileName,
  /** Official URL, e.g. `https://www.php.net/distributions/php-7.4.33.tar.xz`. */
  url: z.url(),
  /** Pinned SHA-256: the only thing that decides whether bytes are accepted. */
  sha256,
  /** Path under Debian's archive serving the same bytes, e.g. `pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz`. */
  debianPath: z
    .string()
    .regex(/^pool\/main\/[a-z0-9]+\/[^/]+\/[^/]+$/, 'must look like pool/main/<letter>/<srcpkg>/<file>')
    .optional(),
  /**
   * The pinned bytes are a repack of the upstream release (Debian's `+dfsg` `.orig` tarballs drop
   * files Debian cannot ship), not the upstream tarball itself: who repacked it, the upstream
   * release it stands for, and why it is used.
   */
  repack: z
    .strictObject({
      by: z.enum(['debian']),
      upstream: z.url(),
      reason: z.string().min(10),
    })
    .optional(),
  /**
   * How the pinned SHA-256 is known to be the official release's when it was pinned from another
   * copy (e.g. Debian's `.orig` tarball, with the official host unreachable): who else pins the
   * same SHA-256 for the official URL.
   */
  checksumEvidence: z.string().min(10).optional(),
});

/**
 * Patches applied to a version's first source after unpacking it (`patch -p1`, in this order):
 * e.g. the security fixes of Debian's package, from its `.debian.tar.xz`, which is then one of the
 * version's pinned sources.
 */
export const patchSetSchema = z.strictObject({
  /** The source (by its `name`, not the first one) that holds the patches: an archive. */
  from: fileName,
  /** Directory of the patches inside that archive, e.g. `debian/patches`. */
  dir: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, 'must be a relative path, e.g. debian/patches'),
  /** Patch files relative to `dir`, applied in this order. */
  apply: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*(\/[A-Za-z0-9][A-Za-z0-9._+-]*)*$/, 'must be a relative path of plain names'))
    .min(1),
  /** Why these patches, and why the others of that directory are left out. */
  reason: z.string().min(10),
});
export type PatchSet = z.infer<typeof patchSetSchema>;

const ruleName = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'must be lowercase letters, digits, dots and dashes');

/**
 * How a layer is built for its architecture (src/pipeline/build-method.ts chooses): natively, cross-compiled
 * on an engine of another arch, or emulated under QEMU.
 */
export const BUILD_METHODS = ['native', 'cross', 'emulated'] as const;
export type BuildMethod = (typeof BUILD_METHODS)[number];

/** A variable a rule may set for a build script: not one of the tool's own (`LRB_…`). */
const ENV_NAME = /^(?!LRB_)[A-Z][A-Z0-9_]*$/;

/** A script from dockerfiles/scripts (or beside the recipe) that a rule runs, with its arguments. */
const ruleScript = z.strictObject({ script: fileName, args: z.array(z.string()) });

export const ruleSchema = z.strictObject({
  name: ruleName,
  reason: z.string().min(10),
  when: semverRange,
  profiles: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  packages: z.array(z.string()).optional(),
  /** Platforms this version cannot be built for; building for one is refused with the reason. */
  excludePlatforms: z.array(z.string()).optional(),
  /** Applies only on these platforms (a fact of their packages, e.g. a tool a distro does not ship). */
  platforms: z.array(z.string()).min(1).optional(),
  /** Applies only on platforms with one of these library policies (e.g. portable `glibc-only`). */
  libraryPolicies: z.array(libraryPolicySchema).min(1).optional(),
  /**
   * Applies only to builds of these methods, e.g. `cross`: configure cannot run the test programs it
   * compiles for another arch, so a rule answers them.
   */
  buildMethods: z.array(z.enum(BUILD_METHODS)).min(1).optional(),
  /**
   * Scripts run in the component's stage before its build script, in order, each with its
   * arguments (e.g. providing a tool that the build asks for and the platform does not ship).
   */
  preBuild: z.array(ruleScript).min(1).optional(),
  /**
   * Scripts run in the component's stage after its build script, in order, each with its
   * arguments (e.g. trimming a platform library before the layer ships it).
   */
  postBuild: z.array(ruleScript).min(1).optional(),
  /**
   * Variables for the component's build script, in its environment: a `NAME=value` in `args` would
   * reach configure as the whole variable, replacing what the script sets (build-autotools.sh puts
   * its own `-L` before the LDFLAGS it is given). Rules naming the same variable are joined with a
   * space, in rule order.
   */
  env: z
    .record(z.string(), z.string().min(1))
    .superRefine((env, ctx) => {
      for (const name of Object.keys(env)) {
        if (!ENV_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'must be an upper-case variable name not starting with LRB_' });
      }
    })
    .optional(),
});

export const dependencyRuleSchema = z.strictObject({
  name: ruleName,
  reason: z.string().min(10),
  when: semverRange,
  default: z.string(),
  allowed: semverRange,
});

export const profileSchema = z.strictObject({
  description: z.string(),
  args: z.array(z.string()),
  packages: z.array(z.string()),
  mustLoad: z.array(z.string()),
  mustNotLoad: z.array(z.string()),
});

const command = z.array(z.string()).min(1);

/** In a smoke check's command, stands for where the check's `script` is in the container. */
export const SCRIPT_PLACEHOLDER = '{script}';

export const smokeCheckSchema = z
  .strictObject({
    name: ruleName,
    reason: z.string().min(10),
    /** Profiles this check applies to; every profile when absent. */
    profiles: z.array(z.string()).min(1).optional(),
    /**
     * A file beside the recipe (a path relative to the recipe's directory, e.g.
     * `checks/php-tls-handshake.php`) that the check runs: it is copied into the smoke container
     * and `{script}` in the command names it there. For checks too long for one command line.
     */
    script: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*(\/[A-Za-z0-9][A-Za-z0-9._+-]*)*$/, 'must be a path inside the recipe directory, e.g. checks/tls.php')
      .optional(),
    /** Versions of the check's own recipe it applies to (a semver range); every version when absent. */
    when: semverRange.optional(),
    command,
    expect: z.string().refine((r) => {
      try {
        new RegExp(r, 'm');
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression'),
  })
  .superRefine((check, ctx) => {
    const named = check.command.some((a) => a.includes(SCRIPT_PLACEHOLDER));
    if (check.script && !named) ctx.addIssue({ code: 'custom', path: ['command'], message: `must name the check's script as ${SCRIPT_PLACEHOLDER}` });
    if (!check.script && named) ctx.addIssue({ code: 'custom', path: ['command'], message: `${SCRIPT_PLACEHOLDER} needs a 'script' to stand for` });
  });

/** A key of an extension's ini file: what PHP settings are named like (`apc.enable_cli`). */
const iniKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_.]*$/, 'must be a PHP ini setting name, e.g. apc.enable_cli');

/**
 * What makes an `extension` recipe (`recipes/php-ext-<name>.json`) an extension of an interpreter:
 * built against the exact interpreter of the target with that interpreter's own tools (phpize,
 * php-config), installed in its extension directory and enabled by an ini file in its scan dir.
 */
export const extensionSchema = z.strictObject({
  /** The interpreter recipe it extends (`php`). */
  for: name,
  /** The name the interpreter lists it under (`php -m`) and its shared object's base name (`redis` → redis.so). */
  module: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lowercase letters, digits and underscores, e.g. pdo_pgsql'),
  /** Loaded with zend_extension= instead of extension= (opcache, xdebug). */
  zend: z.boolean().optional(),
  /**
   * An extension that ships in the interpreter's own source (PHP's `ext/pgsql`): built from that
   * source's `dir` with phpize, so its version and source are the interpreter's (the recipe lists no
   * versions); `supports` is the range of interpreter versions it builds with.
   */
  bundled: z
    .strictObject({
      dir: z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, 'must be a relative path in the interpreter source, e.g. ext/pgsql'),
      supports: semverRange,
    })
    .optional(),
  /** Settings written after the extension= line of its ini file, in this order. */
  ini: z.array(z.tuple([iniKey, z.string()])).optional(),
  /**
   * Other extensions it can use when they are in the same build (phpredis with igbinary): each is a
   * named rule whose arguments are added to this extension's configure call, and the other
   * extension is built and loaded first.
   */
  uses: z
    .array(
      z.strictObject({
        name: ruleName,
        /** The other extension's recipe name (`php-ext-igbinary`). */
        extension: name,
        reason: z.string().min(10),
        args: z.array(z.string()),
      }),
    )
    .optional(),
});

export const recipeSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name,
    kind: z.enum(['interpreter', 'library', 'extension']),
    description: z.string(),
    /** SPDX licence id (or expression) of what the recipe builds; published as a layer's LicenseInfo. */
    license: z.string().min(1).max(512).optional(),
    dependencies: z
      .array(
        z.strictObject({
          name,
          /** Built only on platforms with one of these library policies; on every platform when absent. */
          libraryPolicies: z.array(libraryPolicySchema).min(1).optional(),
          /** Built only for these profiles of the interpreter (the libraries of their extensions); for every profile when absent. */
          profiles: z.array(z.string()).min(1).optional(),
          /** Built only for interpreter versions in this range; for every version when absent. */
          when: semverRange.optional(),
          rules: z.array(dependencyRuleSchema).min(1),
        }),
      )
      .optional(),
    build: z.strictObject({
      script: fileName,
      args: z.array(z.string()),
      packages: z.array(z.string()),
      prune: z.array(z.string()).optional(),
    }),
    smoke: z
      .strictObject({
        /** Required for interpreters; an extension is checked by its module name and its checks. */
        version: z.strictObject({ command, expect: z.string().includes('{version}') }).optional(),
        modules: z.strictObject({ command }).optional(),
        /** Behaviour checks: each command's output must match `expect` (a regular expression). */
        checks: z.array(smokeCheckSchema).optional(),
      })
      .optional(),
    runtime: z.string().optional(),
    profiles: z.record(z.string(), profileSchema).optional(),
    rules: z.array(ruleSchema).optional(),
    /**
     * Interpreters that take extensions: where their ini files go, relative to the layer's root (a
     * directory of the interpreter's ini scan path, e.g. etc/php/conf.d).
     */
    extensionIniDir: z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/, 'must be a relative path, e.g. etc/php/conf.d').optional(),
    /** Only for `extension` recipes. */
    extension: extensionSchema.optional(),
    versions: z
      .array(
        z.strictObject({
          version: z.string().min(1),
          /** Extensions: the versions of the interpreter this release builds and works with (a semver range). */
          supports: semverRange.optional(),
          sources: z.array(sourceSchema).min(1),
          patches: patchSetSchema.optional(),
        }),
      )
      // Absent only for an extension bundled with its interpreter (extension.bundled): it has the interpreter's.
      .default([]),
  })
  .superRefine((recipe, ctx) => {
    recipe.versions.forEach((v, i) => {
      if (!v.patches) return;
      const names = v.sources.map((s) => s.name);
      if (!names.slice(1).includes(v.patches.from)) {
        ctx.addIssue({
          code: 'custom',
          path: ['versions', i, 'patches', 'from'],
          message: `'${v.patches.from}' must name one of this version's sources after the first (the first is what is patched): ${names.join(', ')}`,
        });
      }
      const twice = v.patches.apply.filter((p, j) => v.patches!.apply.indexOf(p) !== j);
      if (twice.length) ctx.addIssue({ code: 'custom', path: ['versions', i, 'patches', 'apply'], message: `listed twice: ${[...new Set(twice)].join(', ')}` });
    });
    if (recipe.kind === 'extension') {
      if (!recipe.extension) ctx.addIssue({ code: 'custom', path: ['extension'], message: 'an extension recipe needs an extension section (for, module)' });
      recipe.versions.forEach((v, i) => {
        if (!v.supports) ctx.addIssue({ code: 'custom', path: ['versions', i, 'supports'], message: 'an extension version must say which interpreter versions it supports, e.g. >=7.4.0 <8.5.0' });
      });
      if (recipe.extension?.bundled && recipe.versions.length) {
        ctx.addIssue({ code: 'custom', path: ['versions'], message: `a bundled extension (extension.bundled) takes the version and source of its interpreter: drop versions` });
      }
      // Its libraries (libpq for pgsql) are built after the interpreter, for every profile.
      (recipe.dependencies ?? []).forEach((d, i) => {
        if (d.profiles) ctx.addIssue({ code: 'custom', path: ['dependencies', i, 'profiles'], message: 'an extension is built the same for every profile: drop profiles' });
      });
      for (const field of ['profiles', 'runtime'] as const) {
        if (recipe[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `an extension takes the ${field} of the interpreter it is built into` });
      }
      if (recipe.smoke?.version || recipe.smoke?.modules) ctx.addIssue({ code: 'custom', path: ['smoke'], message: 'an extension is checked by its module name and smoke.checks only' });
    } else {
      if (recipe.extension) ctx.addIssue({ code: 'custom', path: ['extension'], message: `only an extension recipe has an extension section (this is a ${recipe.kind})` });
      recipe.versions.forEach((v, i) => {
        if (v.supports) ctx.addIssue({ code: 'custom', path: ['versions', i, 'supports'], message: `only extension versions say which interpreter versions they support (this is a ${recipe.kind})` });
      });
    }
    if (recipe.kind === 'interpreter') {
      if (!recipe.smoke) ctx.addIssue({ code: 'custom', path: ['smoke'], message: 'an interpreter needs a smoke test' });
      else if (!recipe.smoke.version) ctx.addIssue({ code: 'custom', path: ['smoke', 'version'], message: 'an interpreter needs a version check' });
      if (!recipe.profiles || !recipe.profiles[DEFAULT_PROFILE])
        ctx.addIssue({ code: 'custom', path: ['profiles'], message: `an interpreter needs at least a '${DEFAULT_PROFILE}' profile` });
    }
    if (recipe.versions.length === 0 && !recipe.extension?.bundled) {
      ctx.addIssue({ code: 'custom', path: ['versions'], message: 'a recipe needs at least one pinned version' });
    }
    const seen = new Set<string>();
    recipe.versions.forEach((v, i) => {
      if (seen.has(v.version)) ctx.addIssue({ code: 'custom', path: ['versions', i, 'version'], message: `duplicate version ${v.version}` });
      seen.add(v.version);
    });
    // A profile name with a typo would make its rule, check or dependency silently never apply.
    const profiled: [(string | number)[], string[] | undefined][] = [
      ...(recipe.rules ?? []).map((r, i) => [['rules', i, 'profiles'], r.profiles] as [(string | number)[], string[] | undefined]),
      ...(recipe.smoke?.checks ?? []).map((c, i) => [['smoke', 'checks', i, 'profiles'], c.profiles] as [(string | number)[], string[] | undefined]),
      ...(recipe.dependencies ?? []).map((d, i) => [['dependencies', i, 'profiles'], d.profiles] as [(string | number)[], string[] | undefined]),
    ];
    for (const [path, names] of profiled) {
      for (const p of names ?? []) {
        if (!recipe.profiles?.[p]) ctx.addIssue({ code: 'custom', path, message: `unknown profile '${p}'` });
      }
    }
  });

export type SourceSpec = z.infer<typeof sourceSchema>;
export type Rule = z.infer<typeof ruleSchema>;
export type DependencyRule = z.infer<typeof dependencyRuleSchema>;
export type Profile = z.infer<typeof profileSchema>;
export type Recipe = z.infer<typeof recipeSchema>;
export type SmokeCheck = z.infer<typeof smokeCheckSchema>;
export type RecipeVersion = Recipe['versions'][number];
export type ExtensionSection = z.infer<typeof extensionSchema>;

/** `--ext redis` names the recipe `php-ext-redis`: an extension's recipe name from its interpreter and short name. */
export function extensionRecipeName(interpreter: string, short: string): string {
  return `${interpreter}-ext-${short}`;
}

/** The other way: `php-ext-redis` (an extension of `php`) → `redis`. */
export function extensionShortName(interpreter: string, recipeName: string): string {
  return recipeName.slice(extensionRecipeName(interpreter, '').length);
}

const archSchema = z.enum(['x86_64', 'arm64']);
const ciScript = z.string().regex(/^\.ci\/[a-z0-9-]+\.sh$/, 'must name a script under .ci/, e.g. .ci/make-glibc-image.sh');
const foreignImageScript = z
  .string()
  .regex(/^\.ci\/[a-z0-9-]+\.sh( [a-z0-9.-]+)*$/, 'must be a script under .ci/ and its arguments, e.g. .ci/make-arm64-images.sh bookworm');

/**
 * How a package manager's platforms cross-compile for another architecture at native speed (Debian:
 * `crossbuild-essential-<arch>` and multiarch `:<arch>` packages). In every string, `{debArch}` is the
 * target's Debian architecture (`arm64`) and `{triplet}` its multiarch triplet (`aarch64-linux-gnu`).
 */
export const crossToolchainSchema = z.strictObject({
  /** Shell commands run in the toolchain stage before its packages are installed. */
  setup: z.array(z.string().min(1)),
  /** Packages added to the platform's `toolchain`: the cross compiler and binutils. */
  toolchain: z.array(z.string().min(1)).min(1),
  /** Appended to each library package of the recipe (`zlib1g-dev` → `zlib1g-dev:arm64`). */
  packageSuffix: z.string().min(1),
  /** Recipe package names that are tools run during the build: installed for the build machine, without the suffix. */
  hostPackages: z.array(z.string().min(1)),
  /** Where the target's libraries are in the build image, in search order (the library closure of a cross build). */
  libraryDirs: z.array(z.string().startsWith('/')).min(1),
});
export type CrossToolchain = z.infer<typeof crossToolchainSchema>;

export const platformSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9.-]*$/, 'must be lowercase letters, digits, dots and dashes'),
  description: z.string(),
  deployable: z.boolean(),
  lambdaRuntime: z.string().nullable(),
  glibc: z.string().regex(/^\d+\.\d+$/),
  buildImage: z.string().min(1),
  runtimeImage: z.string().min(1),
  packageManager: z.enum(['apt', 'yum', 'dnf']),
  /** See LIBRARY_POLICIES; absent: the layer may use every library of the runtime image. */
  libraryPolicy: libraryPolicySchema.optional(),
  /** A script of this repository that creates `runtimeImage` locally (it is not in any registry). */
  makeRuntimeImage: ciScript.optional(),
  arches: z.array(archSchema).min(1),
  libraryDirs: z.array(z.string().startsWith('/')).min(1),
  /**
   * Images of this platform for an architecture other than the engine's, run under QEMU user mode
   * (binfmt_misc): `runtimeImage` smoke-tests (and `invoke` runs) a layer of that arch, `buildImage`
   * runs an emulated build. Named by tag, never by Docker platform: images made with `docker import`
   * carry the engine's arch whatever they hold. `makeImages` creates them when no registry has them.
   */
  foreignArch: z
    .partialRecord(
      archSchema,
      z.strictObject({
        buildImage: z.string().min(1),
        runtimeImage: z.string().min(1),
        /** The command that creates them: a script under .ci/ and its arguments. */
        makeImages: foreignImageScript.optional(),
        /** The command that creates `buildImage` when `makeImages` makes only `runtimeImage`. */
        makeBuildImage: foreignImageScript.optional(),
      }),
    )
    .optional(),
  lifecycle: z
    .strictObject({
      deprecated: z.iso.date().optional(),
      createBlocked: z.iso.date().optional(),
      updateBlocked: z.iso.date().optional(),
      /** The platform to suggest instead, once this one is deprecated. */
      successor: z.string().optional(),
    })
    .optional(),
  /**
   * Libraries this platform has no usable package for (missing, or too old for a recipe), each with
   * why: an interpreter's dependency of that name is built from its pinned source here whatever its
   * `libraryPolicies` say, and the package it replaces is not installed.
   */
  buildFromSource: z.record(z.string(), z.string().min(1)).optional(),
  packages: z.record(z.string(), z.array(z.string())).refine((p) => 'toolchain' in p, {
    message: "must map 'toolchain' to the compiler packages",
  }),
});

export const platformsFileSchema = z.strictObject({
  notOnLambda: z.array(z.string()),
  /** Cross toolchains by package manager: the platforms of a package manager listed here can cross-compile. */
  crossToolchains: z.partialRecord(z.enum(['apt', 'yum', 'dnf']), crossToolchainSchema).optional(),
  platforms: z.array(platformSchema).min(1),
});

export type Platform = z.infer<typeof platformSchema>;
export type Arch = Platform['arches'][number];
