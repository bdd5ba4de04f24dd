import semver from 'semver';
import { z } from 'zod';

/** The profile a build uses when none is named; every interpreter recipe must have it. */
export const DEFAULT_PROFILE = 'minimal';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a SHA-256)');
const fileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'must be a plain file name (no slashes)');
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

export const sourceSchema = z.strictObject({
  name: fileName,
  url: z.url(),
  sha256,
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
});

const ruleName = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'must be lowercase letters, digits, dots and dashes');

export const ruleSchema = z.strictObject({
  name: ruleName,
  reason: z.string().min(10),
  when: semverRange,
  profiles: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  packages: z.array(z.string()).optional(),
  /** Platforms this version cannot be built for; building for one is refused with the reason. */
  excludePlatforms: z.array(z.string()).optional(),
  /** Applies only on platforms with one of these library policies (e.g. portable `glibc-only`). */
  libraryPolicies: z.array(libraryPolicySchema).min(1).optional(),
  /**
   * Scripts run in the component's stage after its build script, in order, each with its
   * arguments (e.g. trimming a platform library before the layer ships it).
   */
  postBuild: z.array(z.strictObject({ script: fileName, args: z.array(z.string()) })).min(1).optional(),
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

export const recipeSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name,
    kind: z.enum(['interpreter', 'library']),
    description: z.string(),
    /** SPDX licence id (or expression) of what the recipe builds; published as a layer's LicenseInfo. */
    license: z.string().min(1).max(512).optional(),
    dependencies: z
      .array(
        z.strictObject({
          name,
          /** Built only on platforms with one of these library policies; on every platform when absent. */
          libraryPolicies: z.array(libraryPolicySchema).min(1).optional(),
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
        version: z.strictObject({ command, expect: z.string().includes('{version}') }),
        modules: z.strictObject({ command }).optional(),
        /** Behaviour checks: each command's output must match `expect` (a regular expression). */
        checks: z
          .array(
            z.strictObject({
              name: ruleName,
              reason: z.string().min(10),
              /** Profiles this check applies to; every profile when absent. */
              profiles: z.array(z.string()).min(1).optional(),
              command,
              expect: z.string().refine((r) => {
                try {
                  new RegExp(r, 'm');
                  return true;
                } catch {
                  return false;
                }
              }, 'must be a valid regular expression'),
            }),
          )
          .optional(),
      })
      .optional(),
    runtime: z.string().optional(),
    profiles: z.record(z.string(), profileSchema).optional(),
    rules: z.array(ruleSchema).optional(),
    versions: z
      .array(z.strictObject({ version: z.string().min(1), sources: z.array(sourceSchema).min(1) }))
      .min(1),
  })
  .superRefine((recipe, ctx) => {
    if (recipe.kind === 'interpreter') {
      if (!recipe.smoke) ctx.addIssue({ code: 'custom', path: ['smoke'], message: 'an interpreter needs a smoke test' });
      if (!recipe.profiles || !recipe.profiles[DEFAULT_PROFILE])
        ctx.addIssue({ code: 'custom', path: ['profiles'], message: `an interpreter needs at least a '${DEFAULT_PROFILE}' profile` });
    }
    const seen = new Set<string>();
    recipe.versions.forEach((v, i) => {
      if (seen.has(v.version)) ctx.addIssue({ code: 'custom', path: ['versions', i, 'version'], message: `duplicate version ${v.version}` });
      seen.add(v.version);
    });
    // A profile name with a typo would make its rule or check silently never apply.
    const profiled: [(string | number)[], string[] | undefined][] = [
      ...(recipe.rules ?? []).map((r, i) => [['rules', i, 'profiles'], r.profiles] as [(string | number)[], string[] | undefined]),
      ...(recipe.smoke?.checks ?? []).map((c, i) => [['smoke', 'checks', i, 'profiles'], c.profiles] as [(string | number)[], string[] | undefined]),
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
export type RecipeVersion = Recipe['versions'][number];

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
  makeRuntimeImage: z.string().regex(/^\.ci\/[a-z0-9-]+\.sh$/, 'must name a script under .ci/, e.g. .ci/make-glibc-image.sh').optional(),
  arches: z.array(z.enum(['x86_64', 'arm64'])).min(1),
  libraryDirs: z.array(z.string().startsWith('/')).min(1),
  lifecycle: z
    .strictObject({
      deprecated: z.iso.date().optional(),
      createBlocked: z.iso.date().optional(),
      updateBlocked: z.iso.date().optional(),
      /** The platform to suggest instead, once this one is deprecated. */
      successor: z.string().optional(),
    })
    .optional(),
  packages: z.record(z.string(), z.array(z.string())).refine((p) => 'toolchain' in p, {
    message: "must map 'toolchain' to the compiler packages",
  }),
});

export const platformsFileSchema = z.strictObject({
  notOnLambda: z.array(z.string()),
  platforms: z.array(platformSchema).min(1),
});

export type Platform = z.infer<typeof platformSchema>;
export type Arch = Platform['arches'][number];
