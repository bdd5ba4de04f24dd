<?php

namespace LambdaRuntime;

/**
 * The exit statuses of the PHP runtime and of /opt/bootstrap: the one home of this table.
 *
 *   status  name         set by          meaning                                     bootstrap then
 *   ------  -----------  --------------  ------------------------------------------  --------------------
 *   75      RESTART      runtime/main    a fatal error / exit() in the handler was   starts PHP again (same
 *                                        reported as that request's invocation       sandbox; the next /next
 *                                        error; the PHP process cannot be trusted    serves the next event)
 *   78      INIT_ERROR   runtime/main    init failed (handler missing / failed to    exits 78
 *                                        load); reported to /runtime/init/error
 *                                        (or that report failed)
 *   69      API_ERROR    runtime/main    the Runtime API is unusable: connection     exits 69
 *                                        failure, HTTP 500 or an unexpected answer
 *   127     MISSING      bootstrap       bin/php or runtime/main.php is missing or   (exits 127)
 *                                        not executable
 *   143     SIGNALLED    bootstrap       SIGTERM/SIGINT received: forwarded to PHP   (exits 143)
 *                                        as SIGTERM, exit after PHP is gone
 *   other   -            PHP itself      PHP died without the runtime handling it    exits with that status
 *                                        (255 for a fatal error outside a handler,
 *                                        128+N when killed by signal N, 0 if PHP
 *                                        returned)
 *
 * The bootstrap (a shell script) cannot read PHP constants, so it repeats the values it uses
 * as EXIT_<NAME>=<status> assignments; test/unit/runtime/exit-status.test.ts checks that they
 * match the constants below.
 */
final class ExitStatus
{
    const RESTART = 75;
    const INIT_ERROR = 78;
    const API_ERROR = 69;
    const MISSING = 127;
    const SIGNALLED = 143;
}
