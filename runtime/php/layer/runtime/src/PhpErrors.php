<?php

namespace LambdaRuntime;

/**
 * PHP's own diagnostics while the runtime runs: each appears exactly once, as a runtime log line.
 *
 * The layer's php.ini has display_errors off and log_errors on, so that errors before the
 * runtime starts (e.g. an extension that fails to load) go to stderr once. Once the runtime
 * runs, it turns log_errors off as well and takes over: warnings, notices and deprecations are
 * logged here as "<request id>\tWARN\tPHP Warning:  <message> in <file> on line <n>", and fatal
 * errors are reported (and logged) by Runtime::onShutdown().
 */
final class PhpErrors
{
    /** @var array<int,string> */
    private static $labels = array(
        2 => 'Warning',          // E_WARNING
        8 => 'Notice',           // E_NOTICE
        32 => 'Warning',         // E_CORE_WARNING
        128 => 'Warning',        // E_COMPILE_WARNING
        512 => 'Warning',        // E_USER_WARNING
        1024 => 'Notice',        // E_USER_NOTICE
        2048 => 'Strict Standards', // E_STRICT (the constant is deprecated in PHP 8.4)
        8192 => 'Deprecated',    // E_DEPRECATED
        16384 => 'Deprecated',   // E_USER_DEPRECATED
    );

    /** @var \Closure|null returns the request id being served, or null */
    private static $requestId = null;

    /**
     * @param \Closure $requestId returns the request id being served, or null
     */
    public static function install(\Closure $requestId)
    {
        self::$requestId = $requestId;
        ini_set('display_errors', '0');
        ini_set('log_errors', '0');
        set_error_handler(array(__CLASS__, 'handle'));
    }

    /**
     * @internal the error handler
     * @return bool false: PHP goes on as usual (error_get_last(), fatal errors), printing nothing
     */
    public static function handle($type, $message, $file = '', $line = 0)
    {
        // error_reporting() leaves out what @ silences; fatal ones are reported at shutdown.
        if ((error_reporting() & $type) === 0 || ErrorPayload::isFatal(array('type' => $type))) {
            return false;
        }
        $label = isset(self::$labels[$type]) ? self::$labels[$type] : 'Error ' . $type;
        $requestId = self::$requestId === null ? null : call_user_func(self::$requestId);
        Logger::warn($requestId, 'PHP ' . $label . ':  ' . $message . ' in ' . $file . ' on line ' . $line);
        return false;
    }

    /**
     * The log text of a fatal error (error_get_last()) that no request can be blamed for.
     *
     * @param array $error
     * @return string
     */
    public static function fatalLine(array $error)
    {
        return 'PHP Fatal error (' . ErrorPayload::fatalName($error['type']) . '):  ' . $error['message']
            . ' in ' . $error['file'] . ' on line ' . $error['line'];
    }
}
