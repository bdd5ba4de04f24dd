export {
  DEFAULT_DEBIAN_BASE,
  SourceSpecError,
  candidateUrls,
  isSha256Hex,
  mirrorUrl,
  validateSourceSpec,
  type CandidateOptions,
  type SourceSpec,
} from './spec.js';
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_BYTES,
  DEFAULT_STALL_TIMEOUT_MS,
  ensureSource,
  ensureSources,
  type FetchOptions,
  type FetchedSource,
  type SourceProgress,
} from './fetch.js';
export {
  cachedSourcePath,
  defaultCacheDir,
  pruneCache,
  sha256File,
  sweepStaleTempFiles,
  type PruneOptions,
  type PruneResult,
} from './cache.js';
export { SourceFetchError, type AttemptFailureKind, type FetchAttempt } from './errors.js';
