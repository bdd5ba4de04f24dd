<?php

namespace LambdaRuntime;

/**
 * What the runtime asks of its own process, through ext/pcntl (built into every profile of the
 * layer; a PHP without it still serves, see each method).
 */
final class Process
{
    /**
     * As PID 1 of a container (`invoke`, an image run locally; never on Lambda, whose own init is
     * PID 1), a signal without a handler is ignored: there, SIGTERM and SIGINT get a handler that
     * runs $beforeExit and exits with ExitStatus::SIGNALLED. It runs when PHP code next runs (async
     * signals); a signal that arrives while /next waits takes effect with the next event, or the
     * engine's SIGKILL. Anywhere else the signals keep their default action: PHP ends at once.
     *
     * @return bool whether the handlers are installed
     */
    public static function exitOnTerminationAsPid1(\Closure $beforeExit)
    {
        if (getmypid() !== 1 || !function_exists('pcntl_async_signals')) {
            return false;
        }
        pcntl_async_signals(true);
        $handler = function () use ($beforeExit) {
            $beforeExit();
            exit(ExitStatus::SIGNALLED);
        };
        pcntl_signal(SIGTERM, $handler);
        pcntl_signal(SIGINT, $handler);
        return true;
    }

    /**
     * Replaces this process with a fresh PHP that runs the bootstrap again (execve: same pid,
     * stdout/stderr and environment; memory, globals and loaded classes start over). PHP options
     * given on the original command line (-c, -d) are not carried over; PHPRC and the ini files
     * are read again.
     *
     * @return string returns only when it cannot: why
     */
    public static function restart()
    {
        if (!function_exists('pcntl_exec')) {
            return 'this PHP has no pcntl extension';
        }
        $files = get_included_files();
        $script = $files[0];
        if (!is_string(PHP_BINARY) || PHP_BINARY === '') {
            return 'PHP_BINARY is unknown';
        }
        flush();
        error_clear_last();
        @pcntl_exec(PHP_BINARY, array($script));
        $error = error_get_last();
        return 'pcntl_exec(' . PHP_BINARY . ') failed' . ($error !== null ? ': ' . $error['message'] : '');
    }
}
