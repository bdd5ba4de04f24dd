import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes, type BuildRuntimeReport } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { Manifest } from '../../src/pipeline/manifest.js';
import { ourContainers, requireEngine, runInRuntimeImage, tempDir, HEAVY_BUILDS } from './helpers.js';

// php@8.2 with the standard profile as users deploy it (al2023-portable: built in Debian 11,
// smoke-tested in the glibc-only image), and a second interpreter (Lua) by recipe alone. Every
// check in the recipes (modules that must and must not load, TLS, CA bundle, one OpenSSL, ini
// scan dir, glibc policy, arch) runs inside the build; these tests look at the result.
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let report: BuildRuntimeReport;
const manifests = new Map<string, Manifest>();
const PORTABLE_IMAGE = 'lambda-runtime-builder/glibc-only:bullseye-x86_64';

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-catalog-');
  const php = await buildRuntimes({ ...HEAVY_BUILDS.x86Standard, outDir: out.dir, renderer: 'silent', engine });
  const lua = await buildRuntimes({ targets: ['lua@5.4.7'], platform: 'debian-bookworm', profile: 'standard', outDir: out.dir, renderer: 'silent', engine });
  report = { ...php, results: [...php.results, ...lua.results] };
  for (const r of report.results) manifests.set(r.target, JSON.parse(await readFile(r.manifest, 'utf8')) as Manifest);
}, 60 * 60_000);

afterAll(async () => {
  await out?.cleanup();
});

describe('php@8.2.32 standard on al2023-portable', () => {
  it('pairs zlib, OpenSSL 3.5.7, curl 8.14.1, libxml2, SQLite and Oniguruma by rule, and lists every library taken from a Debian package', () => {
    const m = manifests.get('php@8.2.32')!;
    expect(m.recipe).toMatchObject({ name: 'php', version: '8.2.32', profile: 'standard' });
    expect(m.platform).toMatchObject({ name: 'al2023-portable', deployable: true, lambdaRuntime: 'provided.al2023' });
    expect(m.dependencies.map((d) => `${d.name}@${d.version}:${d.rule}`)).toEqual([
      'zlib@1.3.1:zlib-from-source-on-portable',
      'openssl@3.5.7:openssl-3-lts-from-php-8.1',
      'curl@8.14.1:curl-8-from-php-8.1',
      'libxml2@2.9.14:libxml2-from-source-on-portable-from-php-7.4',
      'sqlite3@3.46.1:sqlite3-from-source-on-portable-from-php-7.4',
      'oniguruma@6.9.9:oniguruma-from-source-from-php-7.4',
    ]);
    expect(m.libraries.builtFromSource).toEqual([
      { name: 'zlib', version: '1.3.1' },
      { name: 'openssl', version: '3.5.7' },
      { name: 'curl', version: '8.14.1' },
      { name: 'libxml2', version: '2.9.14' },
      { name: 'sqlite3', version: '3.46.1' },
      { name: 'oniguruma', version: '6.9.9' },
    ]);
    // OpenSSL, curl, libxml2 and SQLite carry Debian 13's security patches for their versions (the recipes' patches).
    const patched = Object.fromEntries(m.dependencies.filter((d) => d.patches).map((d) => [d.name, d.patches!]));
    expect(Object.keys(patched)).toEqual(['openssl', 'curl', 'libxml2', 'sqlite3']);
    expect(patched['openssl']!.from).toBe('openssl_3.5.7-1~deb13u2.debian.tar.xz');
    expect(patched['openssl']!.applied).toHaveLength(17);
    expect(patched['curl']!.applied).toContain('CVE-2026-7168.patch');
    expect(patched['curl']!.applied).toHaveLength(19);
    expect(patched['libxml2']!.from).toBe('libxml2_2.12.7+dfsg+really2.9.14-2.1+deb13u3.debian.tar.xz');
    expect(patched['libxml2']!.applied).toHaveLength(34);
    expect(patched['sqlite3']!.applied).toContain('52-CVE-2025-6965.patch');
    for (const d of Object.keys(patched)) {
      expect(m.dependencies.find((x) => x.name === d)!.sources.map((s) => s.name)).toContain(patched[d]!.from);
    }
    // Every bundled library names its Debian 11 package and version; the summary repeats them.
    for (const b of m.libraries.bundled) expect(b.package && b.packageVersion, b.soname).toBeTruthy();
    const result = report.results.find((r) => r.target === 'php@8.2.32')!;
    expect(result.fromPackages.map((p) => p.soname).sort()).toEqual(m.libraries.bundled.map((b) => b.soname).sort());
    // Only ICU (rule icu-from-the-build-distro-package-on-portable) and the C++ runtime it needs come
    // from Debian 11's packages; libxml2, SQLite and Oniguruma are built, and liblzma (libxml2's) is gone.
    expect([...new Set(m.libraries.bundled.map((b) => b.package))].sort()).toEqual(['libgcc-s1', 'libicu67', 'libstdc++6']);
    expect(m.libraries.bundled.map((b) => b.soname).filter((s) => /^lib(z|ssl|crypto|curl|xml2|sqlite3|onig|lzma)\.so/.test(s))).toEqual([]);
    expect(m.recipe.rules).toContain('icu-from-the-build-distro-package-on-portable');
    const bundled = new Map(m.libraries.bundled.map((b) => [b.soname.replace(/\.so.*/, ''), b]));
    for (const lib of ['libicuuc', 'libicui18n', 'libstdc++', 'libgcc_s']) {
      expect(bundled.get(lib), `${lib} bundled`).toBeDefined();
      expect(bundled.get(lib)!.package, `${lib} has a Debian package`).toMatch(/^lib/);
      expect(bundled.get(lib)!.packageVersion).toMatch(/^\d/);
    }
    expect(m.smoke.checks?.map((c) => c.name)).toEqual([
      'tls-keygen',
      'ca-bundle-default',
      'one-openssl',
      'tls-handshake',
      'ini-scan-dir-in-task-root',
      'opcache-jit-available-but-off',
      'intl-with-trimmed-icu-data',
    ]);
    expect(m.recipe.rules).toContain('icu-data-without-charset-tables');
    // The ICU data library ships from the layer's own lib/ (trimmed in the image), not copied from the platform.
    expect(bundled.get('libicudata')).toBeUndefined();
    // libgcc_s is here for ICU's C++ only: OPcache has libgcc's unwinder linked in (rule
    // opcache-jit-unwinder-linked-in-on-portable).
    expect(m.recipe.rules).toContain('opcache-jit-unwinder-linked-in-on-portable');
    expect(bundled.get('libgcc_s')!.neededBy.filter((f) => f.endsWith('/opcache.so'))).toEqual([]);
    expect(m.smoke.modules).toEqual(expect.arrayContaining(['mbstring', 'dom', 'pdo_sqlite', 'pdo_mysql', 'sockets', 'bcmath']));
    expect(m.smoke.modules).not.toContain('intl');
  });

  it('loads intl only when asked; everything but the legacy charset tables works from the trimmed ICU data', async () => {
    const zip = report.results.find((r) => r.target === 'php@8.2.32')!.zip;
    const entries = await readZipEntries(zip);
    const data = entries.find((e) => /^lib\/libicudata\.so\.\d+$/.test(e.path));
    expect(data?.type).toBe('file');
    // Debian 11's libicudata.so.67 without its legacy *.cnv tables: 23,261,848 bytes (measured 2026-12-02).
    expect(data!.type === 'file' && data!.data.length).toBeLessThan(27_000_000);
    const script = [
      '$r = [];',
      "$r[] = (new NumberFormatter('de_DE', NumberFormatter::DECIMAL))->format(1234.5);",
      "$r[] = (new IntlDateFormatter('fr_FR', IntlDateFormatter::FULL, IntlDateFormatter::NONE, 'UTC'))->format(0);",
      "$c = new Collator('sv_SE'); $a = ['ö', 'z', 'a']; $c->sort($a); $r[] = implode(',', $a);",
      "$r[] = Transliterator::create('Any-Latin; Latin-ASCII')->transliterate('Привет');",
      "$b = IntlBreakIterator::createWordInstance('ja'); $b->setText('東京都に住んでいます'); $r[] = count(iterator_to_array($b));",
      "$r[] = idn_to_ascii('bücher.de');",
      "$r[] = Locale::getDisplayLanguage('zh', 'de');",
      "$r[] = MessageFormatter::formatMessage('ru', '{n, plural, one{# файл} few{# файла} other{# файлов}}', ['n' => 3]);",
      "$r[] = bin2hex(UConverter::transcode(\"caf\\u{e9}\", 'ISO-8859-1', 'UTF-8'));",
      "$r[] = var_export(@UConverter::transcode('x', 'Shift_JIS', 'UTF-8'), true);",
      "$r[] = bin2hex(mb_convert_encoding('東', 'SJIS', 'UTF-8'));",
      "echo implode('|', $r);",
    ].join(' ');
    const [off, on] = await runInRuntimeImage(engine, PORTABLE_IMAGE, zip, [
      ['/opt/bin/php', '-m'],
      ['/opt/bin/php', '-d', 'extension=intl', '-r', script],
    ]);
    expect(off!.stdout.split('\n')).not.toContain('intl');
    expect(on!.exitCode).toBe(0);
    expect(on!.stdout.split('|')).toEqual([
      '1.234,5',
      'jeudi 1 janvier 1970',
      'a,z,ö',
      'Privet',
      '8',
      'xn--bcher-kva.de',
      'Chinesisch',
      '3 файла',
      '636166e9',
      'false',
      '938c',
    ]);
  });
});

describe('php@8.2.32 standard on al2023-portable: the libraries built from source', () => {
  it('are the ones PHP uses at run time: libxml2 2.9.14 (with zlib, without lzma), SQLite 3.46.1 (FTS5, column metadata), Oniguruma 6.9.9', async () => {
    const zip = report.results.find((r) => r.target === 'php@8.2.32')!.zip;
    const entries = await readZipEntries(zip);
    for (const lib of ['lib/libxml2.so.2', 'lib/libsqlite3.so.0', 'lib/libonig.so.5']) expect(entries.some((e) => e.path === lib), lib).toBe(true);
    for (const gone of ['bin/xmllint', 'bin/sqlite3', 'bin/onig-config', 'bin/xml2-config', 'lib/xml2Conf.sh']) expect(entries.some((e) => e.path === gone), gone).toBe(false);
    expect(entries.filter((e) => /^lib\/liblzma/.test(e.path))).toEqual([]);
    const script = [
      '$r = [LIBXML_DOTTED_VERSION, SQLite3::version()["versionString"], MB_ONIGURUMA_VERSION];',
      "$d = new DOMDocument(); $d->loadXML('<a><b>x</b></a>'); $r[] = $d->documentElement->firstChild->textContent;",
      "$p = new PDO('sqlite::memory:'); $p->exec('CREATE VIRTUAL TABLE t USING fts5(body)'); $p->exec(\"INSERT INTO t VALUES ('lambda layers')\");",
      "$r[] = $p->query(\"SELECT count(*) FROM t WHERE t MATCH 'layers'\")->fetchColumn();",
      "$p->exec('CREATE TABLE u (v)'); $r[] = $p->query('SELECT v FROM u')->getColumnMeta(0)['table'] ?? 'no-table';",
      "$r[] = mb_ereg_replace('[aeiou]', '_', 'oniguruma');",
      "echo implode('|', $r);",
    ].join(' ');
    const [run] = await runInRuntimeImage(engine, PORTABLE_IMAGE, zip, [['/opt/bin/php', '-r', script]]);
    expect(run!.exitCode).toBe(0);
    expect(run!.stdout.split('|')).toEqual(['2.9.14', '3.46.1', '6.9.9', 'x', '1', 'u', '_n_g_r_m_']);
  });
});

describe('lua@5.4.7, a second interpreter by recipe alone', () => {
  it('is built with the same pipeline and runs code in a clean container', async () => {
    const lua = report.results.find((r) => r.target === 'lua@5.4.7')!;
    expect(path.basename(lua.zip)).toBe('lua-5.4.7-standard-debian-bookworm-x86_64.zip');
    const [r] = await runInRuntimeImage(engine, 'debian:bookworm', lua.zip, [['/opt/bin/lua', '-e', 'print(_VERSION, 2^10)']]);
    expect(r!.stdout.trim()).toBe('Lua 5.4\t1024.0');
  });
});

it('leaves no container behind', async () => {
  expect(await ourContainers(engine)).toEqual([]);
});
