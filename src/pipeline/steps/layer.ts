import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { checkArch as checkElfArch, checkGlibcCeiling, formatArchViolation, formatGlibcViolations } from '../../elf/checks.js';
import { checkBundledLoadOrder, formatLoadOrderViolation } from '../../elf/load-order.js';
import { checkGlibcOnlyPolicy, formatForbiddenPathHit, formatPolicyViolations, portableForbiddenPaths, scanForbiddenPaths } from '../../elf/policy.js';
import { mergeLayers } from '../../layer/entries.js';
import { multiarchTriplet } from '../../platforms/registry.js';
import { checkBudget, measure } from '../../layer/size.js';
import { buildZip } from '../../layer/zip.js';
import { splitExtensionLayer } from '../extension-layer.js';
import { sha256Hex } from '../hash.js';
import { describeFsError, ensureWritableDir, tempNameFor } from '../output-files.js';
import type { Step } from '../step-types.js';

export const assemble: Step<'assemble'> = {
  name: 'assemble',
  title: 'Assemble /opt and check ELF files (glibc, arch)',
  async run(ctx) {
    const { spec, runtimeEntries } = ctx.prepared;
    const libs = ctx.output('bundle-libraries');
    const layer = mergeLayers(
      { name: "the image's /opt", entries: libs.opt },
      { name: 'the bundled libraries', entries: libs.entries },
      { name: 'the runtime files', entries: runtimeEntries },
    );
    const context = { platform: spec.platform.name, glibc: spec.platform.glibc };
    const glibc = checkGlibcCeiling(layer, spec.platform.glibc);
    const arch = checkElfArch(layer, spec.arch);
    const lines = [...formatGlibcViolations(glibc, context), ...arch.map(formatArchViolation)];
    // Every platform: Lambda's LD_LIBRARY_PATH is the same for all provided runtimes.
    lines.push(...checkBundledLoadOrder(layer).map((v) => formatLoadOrderViolation(v)));
    // A portable layer is checked against its binary policy, not against what the proof image has.
    const portable = spec.platform.libraryPolicy === 'glibc-only';
    if (portable) {
      lines.push(...formatPolicyViolations(checkGlibcOnlyPolicy(layer, { arch: spec.arch, glibc: spec.platform.glibc }), context));
      const { method } = ctx.prepared;
      const forbidden = portableForbiddenPaths({
        triplet: multiarchTriplet(spec.arch),
        ...(method.method === 'cross' ? { buildTriplet: multiarchTriplet(method.engineArch) } : {}),
        buildRoot: '/usr/src/lrb',
      });
      lines.push(...scanForbiddenPaths(layer, forbidden).map(formatForbiddenPathHit));
    }
    if (lines.length) throw new Error(`ELF checks failed:\n  ${lines.join('\n  ')}`);
    const policy = portable ? ', library policy glibc-only, no build-distro paths' : '';
    const checked = `ELF checks passed (glibc <= ${spec.platform.glibc}, ${spec.arch}, bundled libraries before the system's${policy})`;
    // Checked whole, as Lambda's /opt will be: an extension layer then keeps only what the extension adds.
    if (spec.extensionLayer) {
      const split = splitExtensionLayer(layer, spec.extensionLayer.extension, libs.bundle.bundle);
      const held = split.layer.filter((e) => e.type === 'file').map((e) => e.path);
      ctx.log(`extension layer: ${held.join(', ')}; the runtime layer beneath it: ${split.beneath.length} entries`);
      return {
        value: { layer: split.layer, beneath: split.beneath, bundled: split.libraries },
        summary: `${layer.length} entries, ${checked}; the extension layer holds ${held.join(', ')}`,
      };
    }
    return { value: { layer, bundled: libs.bundle.bundle.map((b) => b.soname) }, summary: `${layer.length} entries, ${checked}` };
  },
};

/** Zip the layer and write it beside its final name; the runner removes it unless the build completes. */
export const packageZip: Step<'package'> = {
  name: 'package',
  title: 'Write the layer zip',
  async run(ctx) {
    const { plan } = ctx.prepared;
    const zip = await buildZip(ctx.output('assemble').layer);
    await ensureWritableDir(path.dirname(plan.output.zip), '--out');
    const tempPath = ctx.tempFile(tempNameFor(plan.output.zip));
    try {
      await writeFile(tempPath, zip);
    } catch (err) {
      throw describeFsError(err, plan.output.zip, 'the layer zip');
    }
    return { value: { zip, sha256: sha256Hex(zip), tempPath }, summary: `${path.basename(plan.output.zip)} (${zip.length} bytes)` };
  },
};

export const checkSize: Step<'check-size'> = {
  name: 'check-size',
  title: "Check size against Lambda's limits",
  async run(ctx) {
    const { plan } = ctx.prepared;
    const size = measure(ctx.output('assemble').layer, ctx.output('package').zip.length);
    // Over budget throws: the zip stays a temporary file, removed by the runner.
    const warnings = checkBudget(size, { maxUnzippedBytes: plan.maxUnzippedBytes });
    return { value: { size, warnings }, summary: `${size.unzippedBytes} bytes unzipped, ${size.zippedBytes} zipped` };
  },
};
