<?php

namespace LambdaRuntime;

/**
 * Builds the body of /invocation/{id}/error and /init/error:
 * {"errorMessage": "...", "errorType": "...", "stackTrace": ["...", ...]}.
 */
final class ErrorPayload
{
    const MAX_MESSAGE_BYTES = 65536;
    const MAX_FRAMES = 100;

    /** @var string[] PHP error constants that end the script */
    private static $fatalNames = array(
        1 => 'E_ERROR',
        4 => 'E_PARSE',
        16 => 'E_CORE_ERROR',
        64 => 'E_COMPILE_ERROR',
        256 => 'E_USER_ERROR',
        4096 => 'E_RECOVERABLE_ERROR',
    );

    /**
     * @param string $errorType
     * @param string $errorMessage
     * @param string[] $stackTrace
     * @return string JSON, always valid (invalid UTF-8 is substituted)
     */
    public static function encode($errorType, $errorMessage, array $stackTrace)
    {
        $message = (string) $errorMessage;
        if (strlen($message) > self::MAX_MESSAGE_BYTES) {
            $message = substr($message, 0, self::MAX_MESSAGE_BYTES) . '... (truncated)';
        }
        $json = json_encode(
            array('errorMessage' => $message, 'errorType' => (string) $errorType, 'stackTrace' => array_values($stackTrace)),
            JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR
        );
        if (!is_string($json)) {
            $json = '{"errorMessage":"The error could not be encoded","errorType":"Runtime.UnknownReason","stackTrace":[]}';
        }
        return $json;
    }

    /**
     * Stack trace lines of a Throwable and its previous ones, down to the runtime's call of the
     * handler (the runtime's own frames are left out).
     *
     * @return string[]
     */
    public static function traceOf($throwable, $runtimeDir)
    {
        $lines = array();
        $first = true;
        for ($e = $throwable; $e !== null; $e = $e->getPrevious()) {
            if (!$first) {
                $lines[] = 'Caused by ' . get_class($e) . ': ' . $e->getMessage();
            }
            $first = false;
            $lines[] = 'at ' . $e->getFile() . '(' . $e->getLine() . ')';
            $index = 0;
            foreach ($e->getTrace() as $frame) {
                if ($index >= self::MAX_FRAMES) {
                    $lines[] = '... more frames left out';
                    break;
                }
                $call = (isset($frame['class']) ? $frame['class'] . (isset($frame['type']) ? $frame['type'] : '::') : '')
                    . (isset($frame['function']) ? $frame['function'] : '') . '()';
                if (isset($frame['file']) && strncmp($frame['file'], $runtimeDir, strlen($runtimeDir)) === 0) {
                    // The runtime calling the handler: everything further down is the runtime's.
                    $lines[] = '#' . $index . ' [lambda runtime]: ' . $call;
                    break;
                }
                $where = isset($frame['file']) ? $frame['file'] . '(' . (isset($frame['line']) ? $frame['line'] : '?') . ')' : '[internal function]';
                $lines[] = '#' . $index . ' ' . $where . ': ' . $call;
                $index++;
            }
        }
        return $lines;
    }

    /**
     * @param array|null $error error_get_last()
     * @return bool whether it is an error that ends the script
     */
    public static function isFatal($error)
    {
        return is_array($error) && isset($error['type']) && isset(self::$fatalNames[$error['type']]);
    }

    /** @return string e.g. E_COMPILE_ERROR */
    public static function fatalName($type)
    {
        return isset(self::$fatalNames[$type]) ? self::$fatalNames[$type] : 'E_UNKNOWN';
    }
}
