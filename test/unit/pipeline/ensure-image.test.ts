import { describe, expect, it } from 'vitest';
import type { DockerEngine } from '../../../src/docker/types.js';
import { ensureImage } from '../../../src/pipeline/steps/index.js';

/** Just enough of an engine for ensureImage: images present, and what a pull does. */
function fakeEngine(present: Set<string>, pull: (ref: string) => Promise<void>): DockerEngine {
  return {
    inspectImage: async (ref: string) => (present.has(ref) ? { id: `sha256:${ref}`, labels: {} } : null),
    pullImage: pull,
  } as unknown as DockerEngine;
}

describe('ensureImage', () => {
  it('does nothing when the image is present', async () => {
    const pulled: string[] = [];
    await ensureImage(fakeEngine(new Set(['debian:bookworm']), async (r) => void pulled.push(r)), 'debian:bookworm', 'debian-bookworm', () => {});
    expect(pulled).toEqual([]);
  });

  it('pulls a missing image and logs it', async () => {
    const pulled: string[] = [];
    const log: string[] = [];
    await ensureImage(
      fakeEngine(new Set(), async (r) => void pulled.push(r)),
      'public.ecr.aws/lambda/provided:al2023',
      'al2023',
      (l) => log.push(l),
    );
    expect(pulled).toEqual(['public.ecr.aws/lambda/provided:al2023']);
    expect(log).toEqual(['pulling public.ecr.aws/lambda/provided:al2023']);
  });

  it('a failed pull says what to do: a Debian platform here, or docker load', async () => {
    const engine = fakeEngine(new Set(), async () => {
      throw new Error('Get "https://public.ecr.aws/v2/": dial tcp: lookup public.ecr.aws: no such host');
    });
    const err = await ensureImage(engine, 'public.ecr.aws/lambda/provided:al2', 'al2', () => {}).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^image public\.ecr\.aws\/lambda\/provided:al2 is not on this machine and could not be pulled\. .*--platform al2023-portable or debian-bookworm.*docker load.*no such host$/,
    );
  });
});
