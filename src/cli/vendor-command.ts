/**
 * `build-runtime vendor`: a Composer vendor layer for a PHP layer (src/vendor/). A UserError is one
 * line and exit 2 (mapped by build-runtime.ts); usage errors exit 2 through commander.
 */
import type { Command } from 'commander';
import { defaultCacheDir } from '../sources/index.js';
import { buildVendorLayer } from '../vendor/run.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface VendorCliOptions {
  composer: string;
  lock?: string;
  for: string;
  out: string;
  cacheDir: string;
  mirror: string[];
  debianBase?: string;
  offline?: boolean;
  json?: boolean;
}

export function registerVendorCommand(program: Command, signal: AbortSignal): void {
  program
    .command('vendor')
    .description(
      "a Composer vendor layer for a PHP layer: composer install --no-dev --optimize-autoloader, run with that layer's own PHP " +
        "in its platform's runtime image (so ext-* and php requirements are checked against what the layer has); the zip holds " +
        'vendor/, which Lambda extracts to /opt/vendor and the runtime requires (/opt/vendor/autoload.php) when the function has ' +
        "no vendor/ of its own. Composer is Debian 13's package, pinned by SHA-256 (recipes/tools/composer.json).",
    )
    .requiredOption('--composer <file>', "the project's composer.json (path repositories must be inside its directory)")
    .option('--lock <file>', "install exactly this composer.lock (default: the project's, if any; else Composer resolves and the layer's .lock records it)")
    .requiredOption('--for <manifest>', 'the PHP layer it is for: its manifest, e.g. dist/php-8.2.32-standard-al2023-portable-x86_64.zip.json')
    .option('-o, --out <dir>', 'output directory for the zip, its manifest, the lock and the log', 'dist')
    .option('--cache-dir <dir>', 'where verified sources are cached', defaultCacheDir())
    .option('--mirror <base-url>', 'extra place to fetch the Composer packages from (repeatable)', collect, [])
    .option('--debian-base <url>', "base URL of Debian's archive")
    .option('--offline', 'use only cached sources and local mirrors')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      `
Example:
  npm run build-runtime -- vendor --composer app/composer.json --for dist/php-8.2.32-standard-al2023-portable-x86_64.zip.json
  npm run invoke -- --layer dist/php-8.2.32-standard-al2023-portable-x86_64.zip --layer dist/vendor-<hash>-for-php-....zip ...`,
    )
    .action(async (o: VendorCliOptions) => {
      const r = await buildVendorLayer({
        composerJson: o.composer,
        ...(o.lock !== undefined ? { lock: o.lock } : {}),
        forManifest: o.for,
        outDir: o.out,
        cacheDir: o.cacheDir,
        mirrors: o.mirror,
        ...(o.debianBase ? { debianBase: o.debianBase } : {}),
        ...(o.offline ? { offline: true } : {}),
        signal,
        onProgress: (line) => process.stderr.write(`[vendor] ${line}\n`),
      });
      if (o.json) {
        process.stdout.write(JSON.stringify({ result: r }, null, 2) + '\n');
        return;
      }
      process.stderr.write(
        `\nbuilt: ${r.zip}\n  sha256 ${r.zipSha256}\n  size   ${r.zippedBytes} bytes zipped, ${r.unzippedBytes} bytes unzipped\n` +
          `  for    ${r.for.zip} (inputs ${r.for.inputsHash.slice(0, 12)}): extract that layer first, this one over it\n` +
          `  packages ${r.packages.map((p) => `${p.name} ${p.version}`).join(', ') || 'none'}\n  lock   ${r.lock}\n  manifest ${r.manifest}\n`,
      );
      process.stdout.write(`${r.zip}\n`);
    });
}
