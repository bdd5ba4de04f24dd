import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../../src/render/shell.js';

describe('shellQuote', () => {
  it.each([
    '--disable-all',
    '--with-config-file-scan-dir=/opt/etc/php/conf.d:/var/task/php/conf.d',
    '--with-pdo-mysql=mysqlnd',
    '--enable-intl=shared',
    'linux',
    'a@b%c+d,e',
  ])('leaves the safe word %j alone', (word) => {
    expect(shellQuote(word)).toBe(word);
  });

  it.each([
    ['CFLAGS=-O2 -g', "'CFLAGS=-O2 -g'"],
    ["it's", "'it'\\''s'"],
    ['lib/*.a', "'lib/*.a'"],
    ['ssl/*.dist', "'ssl/*.dist'"],
    ['file?.txt', "'file?.txt'"],
    ['[ab]', "'[ab]'"],
    ['$HOME', "'$HOME'"],
    ['`id`', "'`id`'"],
    ['a"b', `'a"b'`],
    ['a;b', "'a;b'"],
    ['a\\b', "'a\\b'"],
    ['~', "'~'"],
    ['', "''"],
    ["''", "''\\'''\\'''"],
    ['line\nbreak', "'line\nbreak'"],
  ])('quotes %j as %s', (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });
});

describe('shellJoin', () => {
  it('joins quoted words with single spaces', () => {
    expect(shellJoin(['--a', 'b c', "d'e"])).toBe("--a 'b c' 'd'\\''e'");
    expect(shellJoin([])).toBe('');
  });

  it('round-trips through a real POSIX shell, word for word, with no expansion', () => {
    const words = [
      'plain',
      'two words',
      "it's",
      'lib/*.a',
      '*',
      '$HOME',
      '$(echo pwned)',
      '`echo pwned`',
      'a"b\'c',
      '',
      'back\\slash',
      'tab\there',
      'new\nline',
      '~root',
      '--x=a b',
      '!bang',
      '#hash',
      'a&b|c>d<e',
    ];
    // printf '%s\0' prints each argument followed by NUL; the shell runs in / where globs would match.
    const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellJoin(words)}`], { cwd: '/', env: { HOME: '/root-home' } });
    const back = out.toString('utf8').split('\0');
    expect(back.pop()).toBe('');
    expect(back).toEqual(words);
  });
});
