import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimes } from '../../src/api.js';
import type { DockerodeEngine } from '../../src/docker/engine.js';
import { invokeLayer } from '../../src/invoke/index.js';
import { readZipEntries } from '../../src/layer/zip.js';
import type { BuildResult, Manifest } from '../../src/pipeline/manifest.js';
import { execFileP, freePort, jsonBodies, ourContainers, requireEngine, tempDir, writeHandler } from './helpers.js';

// pgsql, the extension that needs a system library: PHP's own ext/pgsql built with phpize from the
// php@8.2.32 source, linked to libpq built from PostgreSQL 15.18's pinned source, as a layer of its
// own for php@8.2.32 standard on al2023-portable (the php layer catalog-builds.test.ts builds, so
// only the libpq and pgsql stages are compiled here). The build's smoke test ran the recipe's check
// (libpq's refusal of a closed port) in the glibc-only image; here a function over both layers talks
// to a real PostgreSQL server: Debian's, a cluster of its own started on loopback by this file.
const EXT_DIR = 'lib/php/extensions/no-debug-non-zts-20220829';
const BUILD = { platform: 'al2023-portable', profile: 'standard', renderer: 'silent' as const };
let engine: DockerodeEngine;
let out: { dir: string; cleanup: () => Promise<void> };
let pgRoot: { dir: string; cleanup: () => Promise<void> } | undefined;
let php: BuildResult;
let pgsql: BuildResult;
let manifest: Manifest;
let server: ChildProcess | undefined;
let serverLog = '';
let pgPort: number;

/** Debian's PostgreSQL server programs (package postgresql: /usr/lib/postgresql/<major>/bin), the newest major. */
async function postgresBin(): Promise<string> {
  const majors = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).filter((m) => /^\d+$/.test(m)).sort((a, b) => Number(a) - Number(b));
  if (!majors.length) throw new Error("no PostgreSQL server in /usr/lib/postgresql: install Debian's postgresql package (.ci/setup-machine.sh does)");
  return `/usr/lib/postgresql/${majors.at(-1)}/bin`;
}

/**
 * PostgreSQL refuses to run as root: as root, its programs run as the package's `postgres` user
 * (the process's own uid and gid, so that signals reach the server itself).
 */
async function serverUser(): Promise<{ uid: number; gid: number } | Record<string, never>> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => Number((await execFileP('id', [flag, 'postgres'])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function startPostgres(dataRoot: string): Promise<void> {
  const bin = await postgresBin();
  const user = await serverUser();
  const data = path.join(dataRoot, 'cluster');
  await mkdir(data, { recursive: true });
  await chmod(dataRoot, 0o755);
  if ('uid' in user) await chown(data, user.uid, user.gid);
  // Trust on loopback only: the server listens on 127.0.0.1 and a socket in its own directory.
  await execFileP(`${bin}/initdb`, ['-D', data, '-U', 'lrb', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], { ...user, env: { ...process.env, HOME: dataRoot } });
  pgPort = await freePort();
  server = spawn(`${bin}/postgres`, ['-D', data, '-p', String(pgPort), '-c', 'listen_addresses=127.0.0.1', '-k', data, '-c', 'fsync=off'], { stdio: ['ignore', 'pipe', 'pipe'], ...user });
  server.stderr!.on('data', (d: Buffer) => (serverLog = (serverLog + d.toString()).slice(-4000)));
  const until = Date.now() + 30_000;
  for (;;) {
    const ready = await execFileP(`${bin}/pg_isready`, ['-h', '127.0.0.1', '-p', String(pgPort)]).then(
      () => true,
      () => false,
    );
    if (ready) return;
    if (Date.now() > until || server.exitCode !== null) throw new Error(`PostgreSQL did not accept connections on 127.0.0.1:${pgPort}: ${serverLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  engine = await requireEngine();
  out = await tempDir('lrb-it-pgsql-');
  [php] = (await buildRuntimes({ ...BUILD, targets: ['php@8.2.32'], outDir: out.dir, engine })).results as [BuildResult];
  [pgsql] = (await buildRuntimes({ ...BUILD, targets: ['php-ext-pgsql'], for: 'php@8.2.32', outDir: out.dir, engine })).results as [BuildResult];
  manifest = JSON.parse(await readFile(pgsql.manifest, 'utf8')) as Manifest;
  // A directory of its own: the test's temporary directory is private to this user (0700).
  pgRoot = await tempDir('lrb-it-pgsql-server-');
  await startPostgres(pgRoot.dir);
}, 60 * 60_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGINT'); // PostgreSQL's fast shutdown
    const late = setTimeout(() => server!.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(late);
  }
  await pgRoot?.cleanup();
  await out?.cleanup();
});

describe('php-ext-pgsql --for php@8.2.32 --profile standard on al2023-portable', () => {
  it('is built from the PHP source it is for, with libpq from PostgreSQL 15.18 built from source, as its manifest says', () => {
    expect(path.basename(pgsql.zip)).toBe('php-ext-pgsql-8.2.32-for-php-8.2.32-standard-al2023-portable-x86_64.zip');
    expect(manifest.kind).toBe('extension-layer');
    expect(manifest.recipe).toMatchObject({ name: 'php-ext-pgsql', version: '8.2.32', license: 'PHP-3.01 AND PostgreSQL' });
    // A bundled extension's source is the interpreter's tarball.
    expect(manifest.recipe.sources.map((s) => s.name)).toEqual(['php-8.2.32.tar.xz']);
    expect(manifest.dependencies.map((d) => `${d.name}@${d.version} ${d.rule} ${d.sources.map((s) => s.sha256).join()}`)).toEqual([
      'libpq@15.18 libpq-15 11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4',
    ]);
    // libpq is the only library it carries, built from source (none is bundled from the build image's
    // packages); OpenSSL is the php layer's.
    expect(manifest.libraries.builtFromSource).toEqual([{ name: 'libpq', version: '15.18' }]);
    expect(manifest.libraries.bundled).toEqual([]);
    expect(manifest.smoke.checks).toEqual([{ name: 'pgsql-client-connects', output: 'pgsql 15.18 refused' }]);
  });

  it('holds pgsql.so, its ini and libpq (the file and its links), nothing else', async () => {
    const entries = (await readZipEntries(pgsql.zip)).filter((e) => e.type !== 'directory');
    expect(entries.map((e) => `${e.path}${e.type === 'symlink' ? ` -> ${e.target}` : ''}`).sort()).toEqual([
      'etc/php/conf.d/20-pgsql.ini',
      'lib/libpq.so -> libpq.so.5.15',
      'lib/libpq.so.5 -> libpq.so.5.15',
      'lib/libpq.so.5.15',
      `${EXT_DIR}/pgsql.so`,
    ]);
    const phpFiles = (await readZipEntries(php.zip)).map((e) => e.path);
    expect(phpFiles.filter((p) => /pgsql|libpq/.test(p))).toEqual([]);
    expect(pgsql.unzippedBytes).toBeLessThan(2 * 1024 * 1024);
  });

  it('serves invocations that write and read a real PostgreSQL through both layers', async () => {
    const fn = await writeHandler(
      out.dir,
      `<?php
function handler($event, $context)
{
    static $db;
    $db = $db ?: pg_connect(sprintf('host=127.0.0.1 port=%d user=lrb dbname=postgres connect_timeout=5', (int) getenv('PG_PORT')));
    pg_query($db, 'CREATE TABLE IF NOT EXISTS greetings (id serial PRIMARY KEY, name text NOT NULL)');
    pg_query_params($db, 'INSERT INTO greetings (name) VALUES ($1)', [$event['name']]);
    $rows = pg_fetch_all_columns(pg_query($db, 'SELECT name FROM greetings ORDER BY id'));
    return ['names' => $rows, 'server' => pg_parameter_status($db, 'server_version'), 'libpq' => pg_version($db)['client']];
}
`,
    );
    const result = await invokeLayer({
      layer: [php.zip, pgsql.zip],
      engine,
      functionPath: fn,
      handler: 'handler.handler',
      env: { PG_PORT: String(pgPort) },
      events: ['{"name":"first"}', '{"name":"second"}'],
    });
    const bodies = jsonBodies(result);
    const { stdout } = await execFileP(`${await postgresBin()}/postgres`, ['--version']);
    const version = /\) (\d+\.\d+)/.exec(stdout)![1];
    expect(bodies).toEqual([
      { names: ['first'], server: expect.stringMatching(new RegExp(`^${version!.replace('.', '\\.')}`)), libpq: '15.18' },
      { names: ['first', 'second'], server: expect.stringMatching(new RegExp(`^${version!.replace('.', '\\.')}`)), libpq: '15.18' },
    ]);
    // The rows are really in the server.
    const { stdout: count } = await execFileP(`${await postgresBin()}/psql`, ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'lrb', '-d', 'postgres', '-Atc', 'SELECT count(*) FROM greetings']);
    expect(count.trim()).toBe('2');
    expect(await ourContainers(engine)).toEqual([]);
  });
});
