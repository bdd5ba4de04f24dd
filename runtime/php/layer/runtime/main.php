<?php
/*
 * Entry point of the PHP Lambda runtime, started (and restarted) by /opt/bootstrap.
 *
 * Plain PHP 7.3 .. 8.5, no Composer; only the curl and json extensions are used.
 * Exit statuses: the table in src/ExitStatus.php. The status is also written to the file named
 * by the first argument, because PHP 7 cannot change its exit status after a fatal error or
 * exit() (see src/Runtime.php).
 */

require __DIR__ . '/src/ExitStatus.php';
require __DIR__ . '/src/Logger.php';
require __DIR__ . '/src/PhpErrors.php';
require __DIR__ . '/src/MemoryLimit.php';
require __DIR__ . '/src/ApiException.php';
require __DIR__ . '/src/InitException.php';
require __DIR__ . '/src/RuntimeApiClient.php';
require __DIR__ . '/src/Context.php';
require __DIR__ . '/src/ErrorPayload.php';
require __DIR__ . '/src/RawResponse.php';
require __DIR__ . '/src/HandlerLoader.php';
require __DIR__ . '/src/Runtime.php';

// $argv[1]: the file where the bootstrap wants the exit status written (see ../bootstrap).
exit(\LambdaRuntime\Runtime::fromEnvironment(isset($argv[1]) ? $argv[1] : null)->run());
