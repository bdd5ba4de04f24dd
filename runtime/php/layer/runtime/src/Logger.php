<?php

namespace LambdaRuntime;

/**
 * Writes one log line per event: "<request id>\t<LEVEL>\t<message>".
 * Newlines inside a message become carriage returns so that CloudWatch keeps the event whole.
 * ERROR and WARN go to stderr, everything else to stdout (Lambda ships both).
 */
final class Logger
{
    /** Request id printed outside of an invocation (init, shutdown). */
    const NO_REQUEST = '-';

    public static function log($requestId, $level, $message)
    {
        $line = ($requestId === null || $requestId === '' ? self::NO_REQUEST : $requestId)
            . "\t" . $level . "\t"
            . str_replace(array("\r\n", "\n"), "\r", (string) $message) . "\n";
        $stream = ($level === 'ERROR' || $level === 'WARN' || $level === 'FATAL') ? STDERR : STDOUT;
        fwrite($stream, $line);
    }

    public static function info($requestId, $message)
    {
        self::log($requestId, 'INFO', $message);
    }

    public static function warn($requestId, $message)
    {
        self::log($requestId, 'WARN', $message);
    }

    public static function error($requestId, $message)
    {
        self::log($requestId, 'ERROR', $message);
    }
}
