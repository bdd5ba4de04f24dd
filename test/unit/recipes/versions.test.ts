import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.js';
import { parseTarget } from '../../../src/recipes/resolve.js';
import { compareVersions, pickVersion, satisfies, versionKey } from '../../../src/recipes/versions.js';

const OPENSSL = ['3.6.3', '1.1.1w', '1.0.2u', '3.0.21', '1.0.1k', '3.5.7'];
const PHP = ['7.3.0', '7.3.33', '7.4.33', '8.0.30', '8.1.34', '8.2.32', '8.2.33', '8.3.33', '8.4.24', '8.5.9'];

describe('versionKey / compareVersions', () => {
  it('splits OpenSSL letter versions into a semver part and a suffix', () => {
    expect(versionKey('1.1.1w')).toEqual({ semver: '1.1.1', suffix: 'w' });
    expect(versionKey('8.2')).toEqual({ semver: '8.2.0', suffix: '' });
    expect(versionKey('v8.2.1')).toBeNull();
    expect(versionKey('8.2.1-rc1')).toBeNull();
  });

  it('orders letter versions: 1.0.1k < 1.0.2u < 1.1.1w < 3.0.21 < 3.5.7 < 3.6.3', () => {
    expect([...OPENSSL].sort(compareVersions)).toEqual(['1.0.1k', '1.0.2u', '1.1.1w', '3.0.21', '3.5.7', '3.6.3']);
    expect(compareVersions('1.0.1k', '1.0.1u')).toBeLessThan(0);
    expect(compareVersions('1.0.1', '1.0.1a')).toBeLessThan(0);
    // OpenSSL went 1.0.2z → 1.0.2za: a longer suffix is a later release.
    expect(compareVersions('1.0.2z', '1.0.2za')).toBeLessThan(0);
    expect(compareVersions('1.1.1w', '1.1.1w')).toBe(0);
  });

  it('orders numerically, not as strings', () => {
    expect(compareVersions('8.2.9', '8.2.10')).toBeLessThan(0);
    expect(compareVersions('7.3.33', '7.3.0')).toBeGreaterThan(0);
  });

  it('matches a letter version against a semver range by its numeric part', () => {
    expect(satisfies('1.0.1k', '>=1.0.1 <3.0.0')).toBe(true);
    expect(satisfies('1.0.1k', '>=1.0.2')).toBe(false);
    expect(satisfies('3.5.7', '>=1.0.1 <3.0.0')).toBe(false);
    expect(satisfies('not-a-version', '*')).toBe(false);
  });
});

describe('pickVersion', () => {
  it.each([
    ['7.3', '7.3.33'],
    ['7', '7.4.33'],
    ['7.4.33', '7.4.33'],
    ['7.3.0', '7.3.0'],
    ['8', '8.5.9'],
    ['8.2', '8.2.33'],
    ['^8.1 <8.3', '8.2.33'],
    ['>=8.1 <8.3', '8.2.33'],
    ['~8.1', '8.1.34'],
    ['<8', '7.4.33'],
    ['*', '8.5.9'],
    ['latest', '8.5.9'],
    ['', '8.5.9'],
  ])('php %j → %s', (request, expected) => {
    expect(pickVersion(PHP, request)).toBe(expected);
  });

  it.each([
    ['1.0.1k', '1.0.1k'],
    ['1.0', '1.0.2u'],
    ['1.0.1', '1.0.1k'],
    ['1.1.1', '1.1.1w'],
    ['1', '1.1.1w'],
    ['3', '3.6.3'],
    ['3.5', '3.5.7'],
    ['<3', '1.1.1w'],
  ])('openssl %j → %s', (request, expected) => {
    expect(pickVersion(OPENSSL, request)).toBe(expected);
  });

  it('undefined when nothing matches, null when the request is not a range', () => {
    expect(pickVersion(PHP, '9')).toBeUndefined();
    expect(pickVersion(PHP, '7.2')).toBeUndefined();
    expect(pickVersion(PHP, 'banana')).toBeNull();
    expect(pickVersion(PHP, '>=>8')).toBeNull();
  });
});

describe('parseTarget', () => {
  it('splits NAME@REQUEST; a bare name means any version', () => {
    expect(parseTarget('php@7.4')).toEqual({ name: 'php', request: '7.4', text: 'php@7.4' });
    expect(parseTarget('php@^8.1 <8.3')).toEqual({ name: 'php', request: '^8.1 <8.3', text: 'php@^8.1 <8.3' });
    expect(parseTarget('openssl@1.0.1k')).toMatchObject({ name: 'openssl', request: '1.0.1k' });
    expect(parseTarget('php')).toEqual({ name: 'php', request: '*', text: 'php' });
    expect(parseTarget('  php@8 ')).toMatchObject({ name: 'php', request: '8' });
  });

  it.each(['PHP@7', '@7.4', 'php@', '7.4', 'php 7.4', ''])('rejects %j with a hint', (text) => {
    expect(() => parseTarget(text)).toThrow(UserError);
    expect(() => parseTarget(text)).toThrow(/write NAME@VERSION, e\.g\. php@7\.4/);
  });
});
