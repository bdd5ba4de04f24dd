<?php

namespace LambdaRuntime;

/**
 * Keeps PHP's memory_limit below the sandbox's memory, so that a handler that uses too much
 * (runaway recursion, a huge array) hits PHP's limit, a fatal error the runtime reports for
 * its request, before the sandbox runs out of memory and the process is killed without a word.
 */
final class MemoryLimit
{
    /** Memory left outside memory_limit: PHP itself, extensions, curl's buffers. */
    const MIN_RESERVE_MB = 32;

    /**
     * Lowers memory_limit to the function's memory minus a reserve (10 %, at least 32 MB) when it
     * is unlimited (-1, the layer's php.ini) or higher; a lower limit is kept.
     *
     * @param int|null $memoryMb AWS_LAMBDA_FUNCTION_MEMORY_SIZE
     * @return int|null the new limit in bytes, null when it was left as it was
     */
    public static function fitToSandbox($memoryMb)
    {
        if (!is_int($memoryMb) || $memoryMb <= 0) {
            return null;
        }
        $reserveMb = max(self::MIN_RESERVE_MB, intdiv($memoryMb, 10));
        if ($memoryMb - $reserveMb < self::MIN_RESERVE_MB) {
            return null; // too small a sandbox to be worth a guess
        }
        $cap = ($memoryMb - $reserveMb) * 1048576;
        $current = self::bytes(ini_get('memory_limit'));
        if ($current >= 0 && $current <= $cap) {
            return null;
        }
        return ini_set('memory_limit', (string) $cap) === false ? null : $cap;
    }

    /**
     * An ini size ("128M", "1g", "134217728", "-1") in bytes; -1 for unlimited.
     *
     * @param string|false $value
     * @return int
     */
    public static function bytes($value)
    {
        $value = trim((string) $value);
        if ($value === '' || $value[0] === '-') {
            return -1;
        }
        $number = (int) $value;
        switch (strtolower(substr($value, -1))) {
            case 'g':
                return $number * 1073741824;
            case 'm':
                return $number * 1048576;
            case 'k':
                return $number * 1024;
        }
        return $number;
    }
}
