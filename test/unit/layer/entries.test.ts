import { describe, expect, it } from 'vitest';
import {
  type LayerEntry,
  LayerConflictError,
  LayerPathError,
  UnsafeEntryError,
  ancestorPaths,
  assertValidEntries,
  findEntriesBelowNonDirectories,
  findEscapingSymlinks,
  isNormalizedLayerPath,
  mergeLayers,
  normalizeLayerPath,
  relativeTarget,
  rewriteAbsoluteTarget,
  sortEntries,
  symlinkTargetEscape,
} from '../../../src/layer/entries.js';

const file = (path: string, content = path, mode = 0o644): LayerEntry => ({ type: 'file', path, mode, data: Buffer.from(content) });
const dir = (path: string, mode = 0o755): LayerEntry => ({ type: 'directory', path, mode });
const link = (path: string, target: string): LayerEntry => ({ type: 'symlink', path, mode: 0o777, target });
const catchError = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('normalizeLayerPath', () => {
  it.each([
    ['bin/php', 'bin/php'],
    ['./bin/php', 'bin/php'],
    ['bin//php', 'bin/php'],
    ['bin/./php/', 'bin/php'],
    ['lib/libssl.so.1.1', 'lib/libssl.so.1.1'],
    ['a b/c', 'a b/c'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeLayerPath(input)).toBe(expected);
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['../x', '".."'],
    ['bin/../../x', '".."'],
    ['bin/..', '".."'],
    ['', 'layer root'],
    ['.', 'layer root'],
    ['./', 'layer root'],
    ['a\0b', 'NUL'],
  ])('rejects %j with a LayerPathError naming it', (input, reason) => {
    let error: unknown;
    try {
      normalizeLayerPath(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LayerPathError);
    expect((error as LayerPathError).path).toBe(input);
    expect((error as Error).message).toContain(JSON.stringify(input));
    expect((error as Error).message).toContain(reason);
  });

  it('isNormalizedLayerPath distinguishes canonical paths', () => {
    expect(isNormalizedLayerPath('bin/php')).toBe(true);
    expect(isNormalizedLayerPath('bin/php/')).toBe(false);
    expect(isNormalizedLayerPath('./bin')).toBe(false);
    expect(isNormalizedLayerPath('/bin')).toBe(false);
  });

  it('ancestorPaths lists parents shallowest first', () => {
    expect(ancestorPaths('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorPaths('a')).toEqual([]);
  });
});

describe('sortEntries', () => {
  it('sorts by code unit order, parents before children, without mutating the input', () => {
    const input = [file('lib/z'), dir('lib'), file('a-b'), dir('a'), file('a/b'), file('B'), file('lib/a.so')];
    const copy = [...input];
    const sorted = sortEntries(input).map((e) => e.path);
    expect(sorted).toEqual(['B', 'a', 'a-b', 'a/b', 'lib', 'lib/a.so', 'lib/z']);
    expect(input).toEqual(copy);
    for (const [i, p] of sorted.entries()) {
      for (const ancestor of ancestorPaths(p)) {
        expect(sorted.indexOf(ancestor)).toBeGreaterThanOrEqual(0);
        expect(sorted.indexOf(ancestor)).toBeLessThan(i);
      }
    }
  });
});

describe('mergeLayers', () => {
  it('lets later lists override earlier entries at the same path', () => {
    const merged = mergeLayers([file('bin/php', 'old', 0o755)], [file('bin/php', 'new', 0o700)]);
    const php = merged.find((e) => e.path === 'bin/php');
    expect(php).toMatchObject({ type: 'file', mode: 0o700 });
    expect(php?.type === 'file' && php.data.toString()).toBe('new');
  });

  it('adds missing parent directories with 0o755 and returns sorted entries', () => {
    const merged = mergeLayers([file('lib/php/extensions/opcache.so')], [link('bin/php', '../lib/php')]);
    expect(merged.map((e) => [e.path, e.type, e.mode])).toEqual([
      ['bin', 'directory', 0o755],
      ['bin/php', 'symlink', 0o777],
      ['lib', 'directory', 0o755],
      ['lib/php', 'directory', 0o755],
      ['lib/php/extensions', 'directory', 0o755],
      ['lib/php/extensions/opcache.so', 'file', 0o644],
    ]);
  });

  it('keeps an explicit directory mode and lets a later explicit directory change it', () => {
    expect(mergeLayers([dir('etc', 0o700)], [file('etc/php.ini')]).find((e) => e.path === 'etc')?.mode).toBe(0o700);
    expect(mergeLayers([dir('etc', 0o700)], [dir('etc', 0o750)]).find((e) => e.path === 'etc')?.mode).toBe(0o750);
  });

  it('refuses a later file or symlink over an earlier directory, naming both entries and what would be hidden', () => {
    const error = catchError(() =>
      mergeLayers({ name: 'image /opt', entries: [dir('lib'), file('lib/a.so'), file('lib/b/c.so')] }, { name: 'runtime files', entries: [link('lib', 'lib64')] }),
    );
    expect(error).toBeInstanceOf(LayerConflictError);
    expect((error as LayerConflictError).earlier).toEqual({ layer: 'image /opt', path: 'lib', type: 'directory' });
    expect((error as LayerConflictError).later).toEqual({ layer: 'runtime files', path: 'lib', type: 'symlink' });
    expect((error as Error).message).toBe(
      'runtime files has symlink "lib", but image /opt has directory "lib": it would hide file "lib/a.so" of image /opt; rename or remove one of them',
    );
    // A file over a directory, unnamed layers, and an empty directory (nothing to hide, still a type change).
    expect(() => mergeLayers([file('etc/php.ini')], [file('etc')])).toThrow(/layer 2 has file "etc", but layer 1 has directory "etc": it would hide file "etc\/php.ini" of layer 1/);
    expect(() => mergeLayers([dir('empty')], [link('empty', 'x')])).toThrow(/directory cannot be replaced/);
  });

  it('refuses a later entry below an earlier symlink or file instead of writing through it', () => {
    const error = catchError(() => mergeLayers({ name: 'image /opt', entries: [link('lib', 'lib64')] }, { name: 'bundled libraries', entries: [file('lib/x.so')] }));
    expect(error).toBeInstanceOf(LayerConflictError);
    expect((error as Error).message).toBe(
      'bundled libraries has file "lib/x.so", but image /opt has symlink "lib": "lib" must be a directory (extracting it would write through the symlink); rename or remove one of them',
    );
    expect(() => mergeLayers([file('etc')], [file('etc/php.ini')])).toThrow(/layer 2 has file "etc\/php.ini", but layer 1 has file "etc": .*a file cannot hold entries/);
    // An explicit directory over a symlink or file is the same change of type.
    expect(() => mergeLayers([link('share', 'usr/share')], [dir('share')])).toThrow(LayerConflictError);
    // Within one list the same rule holds.
    expect(() => mergeLayers([link('lib', 'lib64'), file('lib/x')])).toThrow(/layer 1 has file "lib\/x", but layer 1 has symlink "lib"/);
  });

  it('still lets files and symlinks replace each other, and directories merge', () => {
    const merged = mergeLayers([file('bin/php'), dir('lib'), file('lib/a')], [link('bin/php', 'php8'), dir('lib', 0o700), file('lib/b')], [file('bin/php', 'real')]);
    expect(merged.map((e) => [e.path, e.type, e.mode])).toEqual([
      ['bin', 'directory', 0o755],
      ['bin/php', 'file', 0o644],
      ['lib', 'directory', 0o700],
      ['lib/a', 'file', 0o644],
      ['lib/b', 'file', 0o644],
    ]);
  });

  it('normalizes paths, masks modes to permission bits, and rejects bad paths', () => {
    const merged = mergeLayers([{ type: 'file', path: './bin//php', mode: 0o100755, data: Buffer.from('x') }]);
    expect(merged.find((e) => e.type === 'file')).toMatchObject({ path: 'bin/php', mode: 0o755 });
    expect(() => mergeLayers([file('../evil')])).toThrow(LayerPathError);
    expect(() => mergeLayers([file('/etc/passwd')])).toThrow(/"\/etc\/passwd"/);
  });

  it('merges three layers in order', () => {
    const merged = mergeLayers([file('a', '1')], [file('a', '2'), file('b', '2')], [file('b', '3')]);
    expect(merged.map((e) => (e.type === 'file' ? `${e.path}=${e.data}` : e.path))).toEqual(['a=2', 'b=3']);
  });
});

describe('assertValidEntries', () => {
  it('accepts a valid list', () => {
    expect(() => assertValidEntries([dir('bin'), file('bin/php'), link('php', 'bin/php')])).not.toThrow();
  });
  it.each<[string, LayerEntry[], RegExp]>([
    ['duplicates', [file('a'), file('a')], /duplicate/],
    ['non-canonical paths', [file('bin/php/')], /not normalized/],
    ['absolute paths', [file('/bin/php')], /absolute/],
    ['an entry below a file', [file('a'), file('a/b')], /parent "a" is a file/],
    ['an entry below a symlink', [link('a', 'b'), file('a/b')], /parent "a" is a symlink/],
    ['an empty symlink target', [link('a', '')], /empty target/],
    ['an absolute symlink target', [link('etc/passwd', '/etc/passwd')], /"etc\/passwd": symlink target "\/etc\/passwd" is absolute/],
    ['a symlink climbing out', [link('share/passwd', '../../../../etc/passwd')], /"share\/passwd": symlink target "..\/..\/..\/..\/etc\/passwd" leaves the layer root/],
    ['a symlink escaping through another', [dir('lib'), link('lib/u', '..'), link('x', 'lib/u/..')], /"x": symlink target "lib\/u\/.." leaves the layer root through other links/],
  ])('rejects %s', (_name, entries, message) => {
    expect(() => assertValidEntries(entries)).toThrow(message);
  });

  it('reports an escaping symlink as an UnsafeEntryError naming the entry and its target', () => {
    const error = catchError(() => assertValidEntries([dir('runtime'), link('runtime/passwd', '../../../../etc/passwd')]));
    expect(error).toBeInstanceOf(UnsafeEntryError);
    expect((error as UnsafeEntryError).entryName).toBe('runtime/passwd');
    expect((error as Error).message).toBe('unsafe layer entry "runtime/passwd": symlink target "../../../../etc/passwd" leaves the layer root');
  });
});

describe('symlink containment', () => {
  it('accepts links that stay inside, including dangling ones', () => {
    const entries = [dir('lib'), file('lib/libz.so.1.2'), link('lib/libz.so', 'libz.so.1.2'), link('bin/x', '../lib/missing'), link('root', '.')];
    expect(findEscapingSymlinks(entries)).toEqual([]);
  });

  it('reports links leaving the root, absolute links and loops', () => {
    const problems = findEscapingSymlinks([
      link('a', '../etc/passwd'),
      link('lib/b', '../../x'),
      link('c', '/etc/passwd'),
      link('loop1', 'loop2'),
      link('loop2', 'loop1'),
    ]);
    expect(problems.map((p) => p.path).sort()).toEqual(['a', 'c', 'lib/b', 'loop1', 'loop2']);
    expect(problems.find((p) => p.path === 'loop1')?.reason).toMatch(/too many levels/);
  });

  it('follows other links: a textually harmless target can escape through an upward link', () => {
    // lib/u -> .. points at the root (fine); x -> lib/u/.. is "lib" textually, but really root/..
    const entries = [dir('lib'), link('lib/u', '..'), link('x', 'lib/u/..')];
    expect(findEscapingSymlinks(entries).map((p) => p.path)).toEqual(['x']);
    // Without the upward link the same text is harmless.
    expect(findEscapingSymlinks([dir('lib'), dir('lib/u'), link('x', 'lib/u/..')])).toEqual([]);
  });

  it('judges targets lexically from the link\'s directory', () => {
    expect(symlinkTargetEscape('a/b/c', '../../x')).toBeNull(); // a/b/c -> x
    expect(symlinkTargetEscape('a/b/c', '../../../x')).toMatch(/leaves the layer root/);
    expect(symlinkTargetEscape('a', '..')).toMatch(/leaves the layer root/);
    expect(symlinkTargetEscape('a', '.')).toBeNull();
    expect(symlinkTargetEscape('a/b', 'x/../../c')).toBeNull(); // a/x/../../c = c
    expect(symlinkTargetEscape('a/b', 'x/../../../c')).toMatch(/leaves/);
    expect(symlinkTargetEscape('a', '/opt/x')).toMatch(/is absolute/);
    // Lexically out even where following links would come back in: refused (no extractor is trusted to follow links).
    expect(findEscapingSymlinks([dir('a'), link('a/sub', 'deep/er'), link('a/l', 'sub/../../..')]).map((p) => p.path)).toEqual(['a/l']);
  });

  it('finds entries below files or symlinks', () => {
    expect(findEntriesBelowNonDirectories([link('lib', '/tmp'), file('lib/x'), file('y'), file('y/z/w')])).toEqual([
      { path: 'lib/x', parent: 'lib', parentType: 'symlink' },
      { path: 'y/z/w', parent: 'y', parentType: 'file' },
    ]);
  });

  it('rewrites absolute targets inside the root to relative ones', () => {
    expect(rewriteAbsoluteTarget('lib/libfoo.so', '/opt/lib/libfoo.so.1', '/opt')).toBe('libfoo.so.1');
    expect(rewriteAbsoluteTarget('bin/php', '/opt/lib/php/php', '/opt')).toBe('../lib/php/php');
    expect(rewriteAbsoluteTarget('top', '/opt', '/opt')).toBe('.');
    expect(rewriteAbsoluteTarget('a/b/c', '/opt//x/./y', '/opt/')).toBe('../../x/y');
    expect(rewriteAbsoluteTarget('a/b', '/opt/x/../y', '/opt')).toBe('../x/../y');
    expect(rewriteAbsoluteTarget('a', '/etc/passwd', '/opt')).toBeNull();
    expect(rewriteAbsoluteTarget('a', '/optical/x', '/opt')).toBeNull();
    expect(rewriteAbsoluteTarget('a', 'relative', '/opt')).toBe('relative');
  });

  it('relativeTarget computes the shortest relative path', () => {
    expect(relativeTarget(['lib'], ['lib', 'x'])).toBe('x');
    expect(relativeTarget(['a', 'b'], ['a', 'c', 'd'])).toBe('../c/d');
    expect(relativeTarget([], ['a'])).toBe('a');
    expect(relativeTarget(['a'], [])).toBe('..');
  });
});
