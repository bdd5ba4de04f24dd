/**
 * Composer as a pinned input (`recipes/tools/composer.json`): Debian's packages of Composer and the
 * PHP libraries it needs, each a `.deb` verified by SHA-256, unpacked here into the files a
 * container needs to run it (`usr/bin/composer`, `usr/share/php/...`). Pure except `loadComposerTool`
 * (a file read); unpacking works on buffers.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import xz from 'xz-decompress';
import { z } from 'zod';
import { UserError } from '../errors.js';
import type { LayerEntry } from '../layer/entries.js';
import { readTarEntries } from '../layer/tar.js';
import { paths } from '../paths.js';
import { formatIssues } from '../recipes/registry.js';
import { sourceSchema } from '../recipes/schema.js';

const debSourceSchema = sourceSchema.extend({
  /** The Debian binary package and version this `.deb` is (what the manifest reports). */
  package: z.string().regex(/^[a-z0-9][a-z0-9.+-]+$/),
  version: z.string().min(1),
});

export const composerToolSchema = z.strictObject({
  name: z.literal('composer'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  description: z.string().min(10),
  /** Where the bytes come from, as the manifest says it: `debian trixie packages`. */
  from: z.string().min(1),
  license: z.string().min(1),
  /** The entry script, relative to the unpacked root. */
  bin: z.string().min(1),
  /** Path prefixes of the packages' files that are kept (the rest: docs, changelogs). */
  keep: z.array(z.string().min(1)).min(1),
  /** PHP extensions of which Composer needs at least one (it aborts without). */
  needsOneOf: z.array(z.string().min(1)).min(1),
  /** PHP extensions Composer needs, each loaded for its run when the layer has it as a shared module only. */
  needsAll: z.array(z.string().min(1)),
  needsReason: z.string().min(10),
  sources: z.array(debSourceSchema).min(1),
});

export type ComposerTool = z.infer<typeof composerToolSchema>;

export const COMPOSER_TOOL_FILE = path.join(paths.recipes, 'tools', 'composer.json');

export async function loadComposerTool(file = COMPOSER_TOOL_FILE): Promise<ComposerTool> {
  const text = await readFile(file, 'utf8');
  const parsed = composerToolSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new UserError(`invalid Composer tool file\n${formatIssues(file, parsed.error.issues)}`);
  return parsed.data;
}

/** The members of a Debian package (an `ar` archive: `debian-binary`, `control.tar.*`, `data.tar.*`). */
export function arMembers(deb: Buffer, what: string): Map<string, Buffer> {
  const magic = '!<arch>\n';
  if (deb.subarray(0, magic.length).toString('latin1') !== magic) throw new Error(`${what} is not a Debian package (no ar header)`);
  const members = new Map<string, Buffer>();
  let off = magic.length;
  while (off + 60 <= deb.length) {
    const header = deb.subarray(off, off + 60).toString('latin1');
    if (header.slice(58, 60) !== '`\n') throw new Error(`${what}: broken ar member header at byte ${off}`);
    const name = header.slice(0, 16).trim().replace(/\/$/, '');
    const size = Number(header.slice(48, 58).trim());
    if (!Number.isInteger(size) || size < 0 || off + 60 + size > deb.length) throw new Error(`${what}: ar member ${name} runs past the end`);
    members.set(name, deb.subarray(off + 60, off + 60 + size));
    off += 60 + size + (size % 2);
  }
  return members;
}

async function decompress(name: string, data: Buffer, what: string): Promise<Buffer> {
  if (name.endsWith('.tar')) return data;
  if (name.endsWith('.gz')) return gunzipSync(data);
  if (name.endsWith('.xz')) {
    const stream = new xz.XzReadableStream(new Blob([new Uint8Array(data)]).stream());
    return Buffer.from(await new Response(stream).arrayBuffer());
  }
  throw new Error(`${what}: ${name} is compressed in a way this tool does not read (only .xz, .gz or plain tar)`);
}

/** The files of a `.deb` whose paths start with one of `keep` (paths without the leading `./`). */
export async function debFiles(deb: Buffer, keep: readonly string[], what: string): Promise<LayerEntry[]> {
  const members = arMembers(deb, what);
  const dataName = [...members.keys()].find((n) => n.startsWith('data.tar'));
  if (!dataName) throw new Error(`${what} has no data.tar member`);
  const tar = await decompress(dataName, members.get(dataName)!, what);
  const entries = await readTarEntries(Readable.from([tar]), { symlinkRoot: '/' });
  const kept = (p: string) => keep.some((k) => p === k.replace(/\/$/, '') || p.startsWith(k.endsWith('/') ? k : `${k}/`) || k.startsWith(`${p}/`));
  return entries.filter((e) => kept(e.path));
}

/** Every `.deb` of the tool unpacked into one tree (a later package's file over an earlier one's). */
export async function composerTree(tool: ComposerTool, debs: ReadonlyMap<string, Buffer>): Promise<LayerEntry[]> {
  const byPath = new Map<string, LayerEntry>();
  for (const s of tool.sources) {
    const deb = debs.get(s.sha256);
    if (!deb) throw new Error(`Composer source ${s.name} was not fetched`);
    for (const e of await debFiles(deb, tool.keep, s.name)) byPath.set(e.path, e);
  }
  if (!byPath.has(tool.bin)) throw new Error(`the Composer packages hold no ${tool.bin}`);
  return [...byPath.values()];
}
