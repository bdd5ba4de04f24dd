/**
 * A recipe's named rules as they apply to one build (pure): which add flags, packages and pre- and
 * post-build steps, and which refuse a platform. Shared by every component a build resolves: interpreter,
 * dependencies and extensions.
 */
import { UserError } from '../errors.js';
import type { AppliedRule, RuleScriptStep } from './resolve.js';
import type { BuildMethod, Platform, Recipe } from './schema.js';
import { satisfies } from './versions.js';

/** A rule or dependency limited to some library policies applies only on a platform with one of them. */
export function policyApplies(policies: readonly string[] | undefined, platform: Platform): boolean {
  return !policies || (platform.libraryPolicy !== undefined && policies.includes(platform.libraryPolicy));
}

export function applyRules(recipe: Recipe, version: string, profile: string | undefined, platform: Platform, method: BuildMethod): {
  args: string[];
  packages: string[];
  rules: AppliedRule[];
  preBuild: RuleScriptStep[];
  postBuild: RuleScriptStep[];
  env: Record<string, string>;
} {
  const args = [...recipe.build.args];
  const packages = [...recipe.build.packages];
  const rules: AppliedRule[] = [];
  const preBuild: RuleScriptStep[] = [];
  const postBuild: RuleScriptStep[] = [];
  const env: Record<string, string> = {};
  for (const rule of recipe.rules ?? []) {
    if (!satisfies(version, rule.when)) continue;
    if (rule.profiles && (!profile || !rule.profiles.includes(profile))) continue;
    if (rule.excludePlatforms) continue; // checked by checkPlatformRules
    if (rule.platforms && !rule.platforms.includes(platform.name)) continue;
    if (!policyApplies(rule.libraryPolicies, platform)) continue;
    if (rule.buildMethods && !rule.buildMethods.includes(method)) continue;
    args.push(...(rule.args ?? []));
    packages.push(...(rule.packages ?? []));
    rules.push({ name: rule.name, reason: rule.reason });
    for (const step of rule.preBuild ?? []) preBuild.push({ rule: rule.name, script: step.script, args: [...step.args] });
    for (const step of rule.postBuild ?? []) postBuild.push({ rule: rule.name, script: step.script, args: [...step.args] });
    addEnv(env, rule.env ?? {});
  }
  return { args, packages, rules, preBuild, postBuild, env };
}

/** Adds `more` to `env`: a variable already there gets the new value after a space (flags add up). */
export function addEnv(env: Record<string, string>, more: Readonly<Record<string, string>>): Record<string, string> {
  for (const [name, value] of Object.entries(more)) env[name] = env[name] === undefined ? value : `${env[name]} ${value}`;
  return env;
}

/**
 * Refuse a recipe version on a platform a named rule excludes. A rule limited to profiles excludes
 * only builds of those profiles (a dependency, built without a profile, is never refused by one).
 */
export function checkPlatformRules(recipe: Recipe, version: string, platform: Platform, profile?: string): void {
  for (const rule of recipe.rules ?? []) {
    if (rule.profiles && (!profile || !rule.profiles.includes(profile))) continue;
    if (rule.excludePlatforms?.includes(platform.name) && satisfies(version, rule.when)) {
      throw new UserError(
        `${recipe.name} ${version} cannot be built for platform ${platform.name}: rule '${rule.name}': ${rule.reason}`,
      );
    }
  }
}
