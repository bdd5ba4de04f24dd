/** A local HTTP server with misbehaving routes, for the source-fetch tests. No internet needed. */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

export const GOOD = randomBytes(256 * 1024 + 123);
export const GOOD_SHA = sha256(GOOD);
export const BAD = Buffer.concat([GOOD.subarray(0, GOOD.length - 1), Buffer.from([GOOD[GOOD.length - 1]! ^ 0xff])]);
export const BAD_SHA = sha256(BAD);

/** A real gzip file (think `.tar.gz`), which /gzip-real serves with Content-Encoding: gzip as broken servers do. */
export const GZ = gzipSync(Buffer.from('pretend this is a tar archive\n'.repeat(1000)));

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export interface TestServer {
  base: string;
  /** Request paths in arrival order. */
  requests: string[];
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Routes (the last path segment is the file name and is ignored, except under /debian):
 *   /good/*        GOOD with Content-Length            /bad/*        BAD (one byte differs)
 *   /missing/*     404                                  /hang/*       never sends headers
 *   /stall/*       headers + half the body, then silence /drop/*      Content-Length, half the body, socket destroyed
 *   /drop-chunked/* no Content-Length, half, destroyed   /trickle/*   GOOD in 8 pieces, 60 ms apart
 *   /delay/*       GOOD after 150 ms                     /gzip-enc/*   GOOD with a bogus Content-Encoding: gzip
 *   /gzip-real/*   GZ with Content-Encoding: gzip     /debian/pool/* GOOD
 */
export async function startServer(): Promise<TestServer> {
  const requests: string[] = [];
  let inFlight = 0;
  const state = { maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const route = url.split('/')[1];
    const half = GOOD.subarray(0, GOOD.length >> 1);
    switch (route) {
      case 'good':
      case 'debian':
        res.writeHead(200, { 'content-length': GOOD.length, 'content-type': 'application/octet-stream' });
        res.end(GOOD);
        return;
      case 'bad':
        res.writeHead(200, { 'content-length': BAD.length });
        res.end(BAD);
        return;
      case 'hang':
        return; // never answers
      case 'stall':
        res.writeHead(200, { 'content-length': GOOD.length });
        res.write(half);
        return; // then silence
      case 'drop':
        res.writeHead(200, { 'content-length': GOOD.length });
        res.write(half, () => setTimeout(() => req.socket.destroy(), 20));
        return;
      case 'drop-chunked':
        res.writeHead(200);
        res.write(half, () => setTimeout(() => req.socket.destroy(), 20));
        return;
      case 'trickle': {
        res.writeHead(200, { 'content-length': GOOD.length });
        void (async () => {
          const step = Math.ceil(GOOD.length / 8);
          for (let off = 0; off < GOOD.length; off += step) {
            res.write(GOOD.subarray(off, off + step));
            await sleep(60);
          }
          res.end();
        })();
        return;
      }
      case 'delay':
        setTimeout(() => {
          res.writeHead(200, { 'content-length': GOOD.length });
          res.end(GOOD);
        }, 150);
        return;
      case 'gzip-enc':
        // A misconfigured server labelling a .tar.gz as gzip-encoded: here the body is not even gzip.
        res.writeHead(200, { 'content-encoding': 'gzip' });
        res.end(GOOD);
        return;
      case 'gzip-real':
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': GZ.length });
        res.end(GZ);
        return;
      default:
        res.writeHead(404, 'Not Found');
        res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** All files under `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** A fetch that behaves like this sandbox: every host but 127.0.0.1 fails DNS at once. */
export function sandboxFetch(calls: string[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input);
    calls.push(url.href);
    if (url.hostname !== '127.0.0.1') {
      const cause = Object.assign(new Error(`getaddrinfo ENOTFOUND ${url.hostname}`), {
        code: 'ENOTFOUND',
        hostname: url.hostname,
      });
      throw new TypeError('fetch failed', { cause });
    }
    return fetch(input, init);
  }) as typeof fetch;
}
