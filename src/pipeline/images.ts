/**
 * Which of the tool's Docker images to remove: pure logic over the engine's image list.
 *
 * Every build tags its image per target (`lambda-runtime-builder/php:7.4.33-minimal-...`); when
 * the inputs change, the next build moves the tag and the old image is left untagged. Those are
 * what `image-prune` removes by default. `--all` removes the tagged ones too, so the next build of
 * each target starts without Docker's cache.
 */
import type { ImageSummary } from '../docker/types.js';

export interface ImagePrunePlan {
  /** Newest first, so that an image built on top of another goes before it. */
  remove: ImageSummary[];
  keep: ImageSummary[];
  /**
   * Sum of the engine's sizes of the images to remove: an upper bound of what is freed, since
   * images share layers.
   */
  bytes: number;
}

export function selectImagesToPrune(images: readonly ImageSummary[], opts: { all?: boolean } = {}): ImagePrunePlan {
  const remove = images.filter((i) => opts.all || i.tags.length === 0);
  const keep = images.filter((i) => !remove.includes(i));
  remove.sort((a, b) => b.created - a.created || a.id.localeCompare(b.id));
  return { remove, keep, bytes: remove.reduce((sum, i) => sum + i.sizeBytes, 0) };
}

/** `sha256:0123456789ab 682 MB untagged, built 2026-11-21` */
export function describeImage(i: ImageSummary): string {
  const id = i.id.replace(/^(sha256:)?([0-9a-f]{12}).*$/, 'sha256:$2');
  const size = `${(i.sizeBytes / 2 ** 20).toFixed(0)} MB`;
  const built = new Date(i.created * 1000).toISOString().slice(0, 10);
  return `${id} ${size} ${i.tags.length ? i.tags.join(', ') : 'untagged'}, built ${built}`;
}
