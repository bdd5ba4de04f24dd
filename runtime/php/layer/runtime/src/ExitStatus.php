<?php

namespace LambdaRuntime;

/**
 * The exit statuses of the PHP runtime (/opt/bootstrap): the one home of this table.
 *
 *   status  name         meaning
 *   ------  -----------  -------------------------------------------------------------------------
 *   78      INIT_ERROR   init failed (handler missing / failed to load); reported to
 *                        /runtime/init/error (or that report failed)
 *   69      API_ERROR    the Runtime API is unusable: connection failure, HTTP 500 or an
 *                        unexpected answer
 *   143     SIGNALLED    SIGTERM/SIGINT received as PID 1 of a container (Process::
 *                        exitOnTerminationAsPid1); elsewhere these signals end PHP (128+N)
 *   75      RESTART      a fatal error / exit() in the handler was reported as that request's
 *                        error, and the process could not replace itself with a fresh PHP (no
 *                        pcntl): it exits instead, and Lambda starts a new sandbox. With pcntl
 *                        the process restarts in place and does not exit.
 *   other   -            PHP died without the runtime handling it (255 for a fatal error outside
 *                        a handler, and on PHP 7 for any exit after a fatal error; 128+N when
 *                        killed by signal N; 0 if PHP returned)
 */
final class ExitStatus
{
    const RESTART = 75;
    const INIT_ERROR = 78;
    const API_ERROR = 69;
    const SIGNALLED = 143;
}
