/**
 * Which shared libraries a layer must carry: pure logic over `ldd` output and the
 * list of libraries the platform's clean runtime image already has.
 */

export interface LddDependency {
  soname: string;
  /** Resolved path, or null when ldd says "not found". */
  path: string | null;
}

/**
 * Parse `ldd FILE...` output. With several files ldd prints a `FILE:` header before
 * each block; with one file it prints none, so `files[0]` names it.
 */
export function parseLdd(stdout: string, files: readonly string[]): Map<string, LddDependency[]> {
  const result = new Map<string, LddDependency[]>();
  let current: string | undefined = files.length === 1 ? files[0] : undefined;
  if (current) result.set(current, []);
  for (const raw of stdout.split('\n')) {
    const line = raw.trimEnd();
    if (!line) continue;
    if (!/^\s/.test(line) && line.endsWith(':')) {
      current = line.slice(0, -1);
      result.set(current, []);
      continue;
    }
    if (!current) continue;
    const text = line.trim();
    if (/^(not a dynamic executable|statically linked)$/.test(text)) continue;
    const arrow = /^(\S+) => (?:(not found)|(\S+)(?: \(0x[0-9a-f]+\))?)$/.exec(text);
    if (arrow) {
      const [, soname, notFound, resolved] = arrow;
      result.get(current)!.push({ soname: soname!, path: notFound ? null : resolved! });
      continue;
    }
    // `linux-vdso.so.1 (0x...)` or the loader `/lib64/ld-linux-x86-64.so.2 (0x...)`: provided by the system.
  }
  return result;
}

export interface BundlePlan {
  /** Absolute paths in the build image to copy into the layer's lib/, keyed by soname. */
  bundle: { soname: string; path: string; neededBy: string[] }[];
  /** Libraries the runtime image already provides. */
  provided: string[];
  missing: { file: string; soname: string }[];
}

export interface BundleOptions {
  /** Install prefix: libraries already under it ship with the layer. */
  prefix: string;
  /** Library file names present in the clean runtime image. */
  runtimeLibraries: ReadonlySet<string>;
  /** Soname prefixes to bundle even when the image has them (absent on real Lambda). */
  alwaysBundle: readonly string[];
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function planBundle(deps: Map<string, LddDependency[]>, opts: BundleOptions): BundlePlan {
  const bundle = new Map<string, { soname: string; path: string; neededBy: string[] }>();
  const provided = new Set<string>();
  const missing: { file: string; soname: string }[] = [];
  const under = opts.prefix.endsWith('/') ? opts.prefix : `${opts.prefix}/`;
  for (const [file, list] of deps) {
    for (const dep of list) {
      if (dep.path === null) {
        missing.push({ file, soname: dep.soname });
        continue;
      }
      if (dep.path.startsWith(under)) continue;
      const forced = opts.alwaysBundle.some((p) => dep.soname.startsWith(p));
      if (!forced && (opts.runtimeLibraries.has(dep.soname) || opts.runtimeLibraries.has(basename(dep.path)))) {
        provided.add(dep.soname);
        continue;
      }
      const entry = bundle.get(dep.soname) ?? { soname: dep.soname, path: dep.path, neededBy: [] };
      entry.neededBy.push(file);
      bundle.set(dep.soname, entry);
    }
  }
  return {
    bundle: [...bundle.values()].sort((a, b) => a.soname.localeCompare(b.soname)),
    provided: [...provided].sort(),
    missing,
  };
}
