/**
 * Source specs: what a recipe pins (file name, official URL, SHA-256, optional Debian pool path),
 * their validation, and the ordered list of places to fetch them from.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PLAIN_FILE_NAME, PLAIN_FILE_NAME_RULE, SHA256_HEX, type SourceSpec } from '../recipes/schema.js';

/** What a recipe pins for one source; its one home is the recipes' zod schema (`sourceSchema`). */
export type { SourceSpec };

/** Options that decide where a source may be fetched from. */
export interface CandidateOptions {
  /** Base URLs (`http(s)://`, `file://`) or local directories, tried as `${base}/${spec.name}`. */
  mirrors?: readonly string[];
  /** Base of Debian's archive; default {@link DEFAULT_DEBIAN_BASE}. */
  debianBase?: string;
}

export const DEFAULT_DEBIAN_BASE = 'http://deb.debian.org/debian';

/** Thrown for a malformed {@link SourceSpec} or mirror option (a programming/config error, not a fetch failure). */
export class SourceSpecError extends Error {
  override readonly name = 'SourceSpecError';
}

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const SUPPORTED_PROTOCOLS = new Set(['http:', 'https:', 'file:']);

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** Throws {@link SourceSpecError} unless `spec` is well formed. */
export function validateSourceSpec(spec: SourceSpec): void {
  const label = typeof spec?.name === 'string' ? JSON.stringify(spec.name) : '(unnamed)';
  if (spec === null || typeof spec !== 'object') throw new SourceSpecError('source spec must be an object');
  if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 255 || !PLAIN_FILE_NAME.test(spec.name)) {
    throw new SourceSpecError(
      `source ${label}: name must be ${PLAIN_FILE_NAME_RULE}`,
    );
  }
  if (spec.name.includes('..')) {
    throw new SourceSpecError(`source ${label}: name must not contain '..'`);
  }
  if (typeof spec.sha256 !== 'string' || !SHA256_HEX.test(spec.sha256)) {
    const hint = typeof spec.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(spec.sha256) ? ' (use lowercase)' : '';
    throw new SourceSpecError(`source ${label}: sha256 must be 64 lowercase hex characters${hint}, got ${JSON.stringify(spec.sha256)}`);
  }
  if (typeof spec.url !== 'string') throw new SourceSpecError(`source ${label}: url must be a string`);
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new SourceSpecError(`source ${label}: url is not a valid absolute URL: ${JSON.stringify(spec.url)}`);
  }
  if (!SUPPORTED_PROTOCOLS.has(url.protocol)) {
    throw new SourceSpecError(`source ${label}: url scheme ${url.protocol} is not supported (http, https, file)`);
  }
  if (spec.debianPath !== undefined) {
    const p = spec.debianPath;
    if (
      typeof p !== 'string' ||
      p.length === 0 ||
      p.startsWith('/') ||
      /[\\?#\s]/.test(p) ||
      p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
    ) {
      throw new SourceSpecError(
        `source ${label}: debianPath must be a relative archive path like 'pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz', got ${JSON.stringify(p)}`,
      );
    }
  }
}

/** Turns a mirror base (URL or local directory) and a file name into a fetchable URL. */
export function mirrorUrl(base: string, name: string): string {
  if (SCHEME_RE.test(base)) {
    let parsed: URL;
    try {
      parsed = new URL(base);
    } catch {
      throw new SourceSpecError(`mirror ${JSON.stringify(base)} is not a valid URL`);
    }
    if (!SUPPORTED_PROTOCOLS.has(parsed.protocol)) {
      throw new SourceSpecError(`mirror ${JSON.stringify(base)}: scheme ${parsed.protocol} is not supported (http, https, file, or a local directory)`);
    }
    if (parsed.search || parsed.hash) {
      throw new SourceSpecError(`mirror ${JSON.stringify(base)}: a base URL must not carry a query or fragment`);
    }
    return `${base.replace(/\/+$/, '')}/${name}`;
  }
  if (base.length === 0) throw new SourceSpecError('mirror must not be empty');
  return pathToFileURL(path.resolve(base, name)).href;
}

/**
 * Where to fetch `spec` from, in order: the official URL, then each mirror, then Debian's archive
 * (when the spec has a Debian path). Duplicates are dropped. Pure apart from resolving relative
 * local mirror directories against the current directory.
 */
export function candidateUrls(spec: SourceSpec, opts: CandidateOptions = {}): string[] {
  validateSourceSpec(spec);
  const out: string[] = [spec.url];
  for (const base of opts.mirrors ?? []) out.push(mirrorUrl(base, spec.name));
  if (spec.debianPath !== undefined) {
    out.push(mirrorUrl(opts.debianBase ?? DEFAULT_DEBIAN_BASE, spec.debianPath));
  }
  return [...new Set(out)];
}
