import type { Step, StepName } from '../step-types.js';
import { buildImage, fetchSources } from './image.js';
import { assemble, checkSize, packageZip } from './layer.js';
import { bundleLibraries } from './libraries.js';
import { writeManifest } from './manifest.js';
import { smokeTest } from './smoke.js';

export const resolveStep: Step<'resolve'> = {
  name: 'resolve',
  title: 'Resolve recipe, dependencies and platform',
  async run(ctx) {
    const { plan } = ctx.prepared;
    ctx.log(`${plan.name} ${plan.version} (${plan.profile}) on ${plan.platform}/${plan.arch}`);
    for (const d of plan.dependencies) ctx.log(`with ${d.name} ${d.version}: ${d.rule}`);
    if (plan.for) ctx.log(`an extension layer for ${plan.for.zip} (inputs ${plan.for.inputsHash})`);
    return { value: { warnings: [...plan.warnings] }, summary: `${plan.name} ${plan.version} on ${plan.platform}/${plan.arch}` };
  },
};

/** Every step the tool knows, by name: the one registry the plans draw from. */
export const STEPS: { readonly [N in StepName]: Step<N> } = {
  resolve: resolveStep,
  'fetch-sources': fetchSources,
  'build-image': buildImage,
  'bundle-libraries': bundleLibraries,
  assemble,
  'smoke-test': smokeTest,
  package: packageZip,
  'check-size': checkSize,
  'write-manifest': writeManifest,
};

/** The step objects of a plan, in the plan's order. */
export function stepsOf(plan: { steps: readonly { name: StepName }[] }): Step[] {
  return plan.steps.map((s) => STEPS[s.name] as Step);
}

export { buildToolchain, ensureImage, IMAGE_HASH_LABEL, registryHint } from './image.js';
export { parseWhichPackage } from './libraries.js';
export { upToDate, upToDateResult } from './manifest.js';
