import { describe, expect, it } from 'vitest';
import type { ImageSummary } from '../../../src/docker/types.js';
import { describeImage, selectImagesToPrune } from '../../../src/pipeline/images.js';

function image(id: string, tags: string[], created: number, sizeBytes = 100): ImageSummary {
  return { id: `sha256:${id.padEnd(64, '0')}`, tags, created, sizeBytes, labels: {} };
}

const toolchainOld = image('aa', [], 100, 700);
const phpOld = image('bb', [], 200, 900);
const phpNew = image('cc', ['lambda-runtime-builder/php:7.4.33-minimal-debian-bookworm-x86_64'], 300, 950);
const toolchain = image('dd', ['lambda-runtime-builder/toolchain:debian-bookworm-x86_64'], 50, 680);

describe('selectImagesToPrune', () => {
  it('by default removes only untagged images (replaced by newer builds), newest first', () => {
    const plan = selectImagesToPrune([toolchainOld, phpNew, phpOld, toolchain]);
    expect(plan.remove.map((i) => i.id.slice(7, 9))).toEqual(['bb', 'aa']);
    expect(plan.keep.map((i) => i.id.slice(7, 9))).toEqual(['cc', 'dd']);
    expect(plan.bytes).toBe(1600);
  });

  it('--all removes tagged images too, still newest first so children go before their parents', () => {
    const plan = selectImagesToPrune([toolchain, toolchainOld, phpOld, phpNew], { all: true });
    expect(plan.remove.map((i) => i.id.slice(7, 9))).toEqual(['cc', 'bb', 'aa', 'dd']);
    expect(plan.keep).toEqual([]);
    expect(plan.bytes).toBe(3230);
  });

  it('nothing to do → empty plan', () => {
    expect(selectImagesToPrune([phpNew])).toEqual({ remove: [], keep: [phpNew], bytes: 0 });
    expect(selectImagesToPrune([])).toEqual({ remove: [], keep: [], bytes: 0 });
  });
});

describe('describeImage', () => {
  it('short id, size in MB, tags or "untagged", build date', () => {
    expect(describeImage(image('0123456789abcdef', [], Date.UTC(2026, 10, 21) / 1000, 682 * 2 ** 20))).toBe(
      'sha256:0123456789ab 682 MB untagged, built 2026-11-21',
    );
    expect(describeImage(phpNew)).toMatch(/^sha256:cc0000000000 0 MB lambda-runtime-builder\/php:7\.4\.33-minimal-debian-bookworm-x86_64, built 1970-01-01$/);
  });
});
