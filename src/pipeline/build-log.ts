import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { stripAnsi } from '../docker/build-output.js';
import { UserError } from '../errors.js';
import { TOOL_NAME, TOOL_VERSION } from '../paths.js';
import { describeFsError } from './output-files.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take `<log>.lock` for this process. A second build of the same target into the same output
 * directory would share the log, the zip and the manifest, so it is refused while the first runs;
 * a lock left by a process that is gone is taken over.
 */
async function lock(file: string, target: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw describeFsError(err, file, 'the build lock');
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserError(
          `another build of ${target} is writing ${path.dirname(path.dirname(file))} (pid ${pid}): wait for it to finish, or build into another --out`,
        );
      }
      await rm(file, { force: true }); // stale: its process is gone
    }
  }
  throw new UserError(`could not take the build lock ${file}: remove it if no build of ${target} is running`);
}

/** One build's log file: plain text, no colour codes; write errors surface as one clear line. */
export class BuildLog {
  private failure: unknown;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly lockFile: string,
    private readonly stream: WriteStream,
  ) {
    // Without a listener a full disk would crash the process through an unhandled 'error'.
    stream.on('error', (err) => {
      this.failure ??= err;
    });
  }

  static async open(file: string, target: string): Promise<BuildLog> {
    try {
      await mkdir(path.dirname(file), { recursive: true });
    } catch (err) {
      throw describeFsError(err, path.dirname(file), 'the log directory');
    }
    const lockFile = `${file}.lock`;
    await lock(lockFile, target);
    const stream = createWriteStream(file, { flags: 'w' });
    const log = new BuildLog(file, lockFile, stream);
    await new Promise<void>((resolve) => {
      stream.once('open', () => resolve());
      stream.once('error', () => resolve());
    });
    if (log.failure) {
      await rm(lockFile, { force: true });
      log.check();
    }
    log.write(`${TOOL_NAME} ${TOOL_VERSION}`);
    return log;
  }

  write(line: string): void {
    if (this.failure || this.closed) return;
    this.stream.write(`${stripAnsi(line)}\n`);
  }

  /** Throws the first write error, naming the log file. */
  check(): void {
    if (this.failure) throw describeFsError(this.failure, this.file, 'the build log');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      if (this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
    await rm(this.lockFile, { force: true });
  }
}
