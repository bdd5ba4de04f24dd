import semver from 'semver';

/**
 * Upstream versions are not all semver: OpenSSL 1.x appends a letter (1.1.1w).
 * A version's numeric part is matched against semver ranges; the letter only
 * orders releases of the same numeric version (1.0.1k < 1.0.1u).
 */
const VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?([a-z]*)$/;

export interface VersionKey {
  semver: string;
  suffix: string;
}

export function versionKey(version: string): VersionKey | null {
  const m = VERSION.exec(version);
  if (!m) return null;
  return { semver: `${m[1]}.${m[2]}.${m[3] ?? '0'}`, suffix: m[4] ?? '' };
}

export function compareVersions(a: string, b: string): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  if (!ka || !kb) return a.localeCompare(b);
  const c = semver.compare(ka.semver, kb.semver);
  if (c !== 0) return c;
  if (ka.suffix.length !== kb.suffix.length) return ka.suffix.length - kb.suffix.length;
  return ka.suffix < kb.suffix ? -1 : ka.suffix > kb.suffix ? 1 : 0;
}

/** Does `version` (possibly 1.1.1w) fall within the semver `range`? */
export function satisfies(version: string, range: string): boolean {
  const key = versionKey(version);
  if (!key) return false;
  return semver.satisfies(key.semver, range);
}

/**
 * Pick the newest of `versions` matching what a user typed after the `@`:
 * an exact version (`7.4.33`, `1.1.1w`) or any semver range (`7.3`, `^8.1`, `>=8 <8.3`).
 * Returns null when the request is not a valid range.
 */
export function pickVersion(versions: readonly string[], request: string): string | null | undefined {
  if (versions.includes(request)) return request;
  const range = semver.validRange(request === '' || request === 'latest' ? '*' : request);
  if (range === null) return null;
  const matching = versions.filter((v) => satisfies(v, range)).sort(compareVersions);
  return matching.at(-1);
}
