import type { SourceSpec } from './spec.js';

/** Why one candidate URL did not yield the source. */
export type AttemptFailureKind =
  | 'checksum' // bytes arrived but their SHA-256 is not the pinned one
  | 'dns' // host name did not resolve
  | 'connect' // connection refused / unreachable
  | 'tls' // certificate or TLS handshake problem
  | 'http' // non-2xx status
  | 'not-found' // local file (file:// or directory mirror) missing
  | 'timeout' // no headers within connectTimeoutMs, or no body bytes for stallTimeoutMs
  | 'network' // connection dropped / reset mid-way, other transport errors
  | 'too-large' // body exceeded maxBytes
  | 'io' // local file system error
  | 'offline'; // not tried: offline mode and the candidate needs the network

export interface FetchAttempt {
  url: string;
  kind: AttemptFailureKind;
  /** Human-readable reason, e.g. `HTTP 404 Not Found`. */
  reason: string;
  /** Set when kind === 'checksum'. */
  expectedSha256?: string;
  actualSha256?: string;
}

/** Failure of one candidate; collected into a {@link SourceFetchError}. */
export class CandidateError extends Error {
  override readonly name = 'CandidateError';
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    readonly extra: { expectedSha256?: string; actualSha256?: string } = {},
  ) {
    super(message);
  }
}

/** Every candidate failed (or, offline, the cache had nothing). Lists each URL tried and what to do. */
export class SourceFetchError extends Error {
  override readonly name = 'SourceFetchError';
  readonly spec: SourceSpec;
  readonly attempts: readonly FetchAttempt[];
  /** Where a verified copy of the file would be (and can be put by hand). */
  readonly cachePath: string;
  readonly offline: boolean;

  constructor(args: { spec: SourceSpec; attempts: FetchAttempt[]; cachePath: string; offline: boolean }) {
    super(formatSourceFetchError(args));
    this.spec = args.spec;
    this.attempts = args.attempts;
    this.cachePath = args.cachePath;
    this.offline = args.offline;
  }

  /** Candidates that served bytes with the wrong SHA-256. */
  get checksumMismatches(): FetchAttempt[] {
    return this.attempts.filter((a) => a.kind === 'checksum');
  }
}

function formatSourceFetchError(args: {
  spec: SourceSpec;
  attempts: FetchAttempt[];
  cachePath: string;
  offline: boolean;
}): string {
  const { spec, attempts, cachePath, offline } = args;
  const lines: string[] = [];
  const tried = attempts.filter((a) => a.kind !== 'offline');
  if (offline) {
    lines.push(`Cannot get ${spec.name} (sha256 ${spec.sha256}): offline mode and it is not in the cache (${cachePath}).`);
  } else {
    lines.push(`Cannot get ${spec.name} (sha256 ${spec.sha256}): all ${tried.length} source(s) failed.`);
  }
  const mismatches = attempts.filter((a) => a.kind === 'checksum');
  if (mismatches.length > 0) {
    lines.push('');
    lines.push(`!! CHECKSUM MISMATCH: ${mismatches.length === 1 ? 'a source' : `${mismatches.length} sources`} served different bytes than pinned. They were refused and nothing was cached:`);
    for (const m of mismatches) {
      lines.push(`!!   ${m.url}`);
      lines.push(`!!     expected sha256 ${m.expectedSha256 ?? spec.sha256}`);
      lines.push(`!!     actual   sha256 ${m.actualSha256 ?? '?'}`);
    }
    lines.push('!! The file may be corrupted, a different release, or tampered with. Do not bypass this check.');
  }
  if (tried.length > 0) {
    lines.push('');
    lines.push('Tried, in order:');
    tried.forEach((a, i) => lines.push(`  ${i + 1}. ${a.url}\n     -> ${a.reason}`));
  }
  const skipped = attempts.filter((a) => a.kind === 'offline');
  if (skipped.length > 0) {
    lines.push('');
    lines.push('Not tried (offline mode, needs the network):');
    for (const a of skipped) lines.push(`  - ${a.url}`);
  }
  lines.push('');
  lines.push('What to do:');
  if (offline) lines.push('  - run again without --offline, or');
  lines.push(
    `  - pass --mirror <base-url> pointing at a server or local directory that holds ${spec.name} (fetched as <base-url>/${spec.name}), or`,
  );
  lines.push(
    `  - download ${spec.name} yourself, check that \`sha256sum ${spec.name}\` prints ${spec.sha256}, and copy it to ${cachePath}`,
  );
  return lines.join('\n');
}
