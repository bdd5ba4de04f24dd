import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEBIAN_BASE, SourceSpecError, candidateUrls, validateSourceSpec, type SourceSpec } from '../../../src/sources/index.js';

const PHP: SourceSpec = {
  name: 'php-7.4.33.tar.xz',
  url: 'https://www.php.net/distributions/php-7.4.33.tar.xz',
  sha256: '924846abf93bc613815c55dd3f5809377813ac62a9ec4eb3778675b82a27b927',
  debianPath: 'pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz',
};

describe('candidateUrls', () => {
  it('official first, then mirrors in order, then Debian', () => {
    expect(candidateUrls(PHP, { mirrors: ['http://m1.example/src', 'https://m2.example/a/b/'] })).toEqual([
      'https://www.php.net/distributions/php-7.4.33.tar.xz',
      'http://m1.example/src/php-7.4.33.tar.xz',
      'https://m2.example/a/b/php-7.4.33.tar.xz',
      'http://deb.debian.org/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz',
    ]);
    expect(DEFAULT_DEBIAN_BASE).toBe('http://deb.debian.org/debian');
  });

  it('no Debian candidate without a debianPath; custom Debian base', () => {
    const { debianPath: _, ...noDeb } = PHP;
    expect(candidateUrls(noDeb)).toEqual([PHP.url]);
    expect(candidateUrls(PHP, { debianBase: 'http://ftp.de.debian.org/debian///' }).at(-1)).toBe(
      'http://ftp.de.debian.org/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz',
    );
  });

  it('file:// bases and plain directories become file URLs', () => {
    expect(candidateUrls(PHP, { mirrors: ['file:///srv/mirror/'] })[1]).toBe('file:///srv/mirror/php-7.4.33.tar.xz');
    expect(candidateUrls(PHP, { mirrors: ['/srv/mirror'] })[1]).toBe('file:///srv/mirror/php-7.4.33.tar.xz');
    expect(candidateUrls(PHP, { mirrors: ['rel/dir'] })[1]).toBe(
      pathToFileURL(path.resolve('rel/dir', 'php-7.4.33.tar.xz')).href,
    );
  });

  it('drops duplicates, keeping the first position', () => {
    expect(candidateUrls(PHP, { mirrors: ['https://www.php.net/distributions', 'http://deb.debian.org/debian/pool/main/p/php7.4'], debianBase: DEFAULT_DEBIAN_BASE })).toEqual([
      PHP.url,
      'http://deb.debian.org/debian/pool/main/p/php7.4/php-7.4.33.tar.xz',
      'http://deb.debian.org/debian/pool/main/p/php7.4/php7.4_7.4.33.orig.tar.xz',
    ]);
  });

  it('rejects unsupported or malformed mirrors', () => {
    expect(() => candidateUrls(PHP, { mirrors: ['ftp://x.example/'] })).toThrow(SourceSpecError);
    expect(() => candidateUrls(PHP, { mirrors: ['http://x.example/?a=1'] })).toThrow(/query/);
    expect(() => candidateUrls(PHP, { mirrors: [''] })).toThrow(/empty/);
  });
});

describe('validateSourceSpec', () => {
  it('accepts the real pinned names', () => {
    for (const name of ['php-8.4.24.tar.xz', 'openssl-1.1.1w.tar.gz', 'Python-3.13.5.tar.xz', 'lua-5.4.7.tar.gz']) {
      expect(() => validateSourceSpec({ ...PHP, name })).not.toThrow();
    }
  });
  it.each(['..', '.', '.hidden', 'a/b', 'a\\b', 'x y.tar', '-rf', 'a..tar', 'x'.repeat(256)])('rejects name %j', (name) => {
    expect(() => validateSourceSpec({ ...PHP, name })).toThrow(SourceSpecError);
  });
  it('rejects bad hashes and URLs', () => {
    expect(() => validateSourceSpec({ ...PHP, sha256: PHP.sha256.slice(1) })).toThrow(/64 lowercase hex/);
    expect(() => validateSourceSpec({ ...PHP, sha256: `${PHP.sha256.slice(1)}g` })).toThrow(/64 lowercase hex/);
    expect(() => validateSourceSpec({ ...PHP, url: 'not a url' })).toThrow(/valid absolute URL/);
  });
});
