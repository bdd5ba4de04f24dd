<?php

namespace LambdaRuntime;

/**
 * Turns the _HANDLER string into a callable, loading the function's code once (at init).
 *
 * Accepted forms (paths are relative to LAMBDA_TASK_ROOT):
 *   hello                 loads src/hello.php, else hello.php; calls hello($event, $context)
 *   dir/hello             same, with dir/: loads src/dir/hello.php, else dir/hello.php
 *   file.function         loads file.php; calls function($event, $context)
 *   dir/file.function     loads dir/file.php
 *   file.Class::method    loads file.php; calls the static method
 *   file.php              loads file.php, which must `return` a callable
 *
 * Every form loads a file inside the task root only: the file's real path (symbolic links and
 * "..") must be under the real path of LAMBDA_TASK_ROOT, else it is an init error.
 *
 * Before the handler file, Composer's autoloader is required, at most one of:
 *   <task root>/vendor/autoload.php   the function's own dependencies (they win), else
 *   <layer root>/vendor/autoload.php  a vendor layer's (/opt/vendor/autoload.php on Lambda;
 *                                     the layer root is the directory above runtime/)
 * Neither present: nothing is loaded. A failure while requiring it is an init error whose message
 * names the file, typed as a handler file's would be (Runtime.UserCodeSyntaxError for a syntax
 * error, else the exception's class with the function error type Runtime.InitError).
 */
final class HandlerLoader
{
    const NO_SUCH_HANDLER = 'Runtime.NoSuchHandler';
    const MALFORMED = 'Runtime.MalformedHandlerName';
    const SYNTAX_ERROR = 'Runtime.UserCodeSyntaxError';
    const INIT_ERROR = 'Runtime.InitError';

    /**
     * @param string|false|null $handler
     * @param string $taskRoot
     * @return array{0:\Closure,1:int} the handler and how many arguments to pass it (0..2)
     * @throws InitException
     */
    public static function load($handler, $taskRoot)
    {
        $handler = is_string($handler) ? trim($handler) : '';
        if ($handler === '') {
            throw new InitException(self::MALFORMED, 'The _HANDLER environment variable is not set or empty');
        }
        $root = rtrim($taskRoot, '/');
        self::requireAutoloader($root, dirname(__DIR__, 2));

        if (substr($handler, -4) === '.php') {
            $file = $root . '/' . $handler;
            if (!is_file($file)) {
                throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": file ' . $file . ' not found');
            }
            $file = self::insideTaskRoot($file, $taskRoot, $handler);
            $returned = self::includeFile($file, $handler);
            if (!is_callable($returned)) {
                throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": ' . $file
                    . ' must return a callable, it returned ' . (is_object($returned) ? get_class($returned) : gettype($returned)));
            }
            return self::prepare($returned, $handler);
        }

        $dot = strrpos($handler, '.');
        if ($dot === false) {
            // "hello" or "dir/hello": the function is named like the file.
            $slash = strrpos($handler, '/');
            $function = $slash === false ? $handler : substr($handler, $slash + 1);
            if (!self::isFunctionName($function) || !self::isRelativePath($handler)) {
                throw new InitException(self::MALFORMED, 'Handler "' . $handler . '" is not of the form "function", "file.function" or "file.php"');
            }
            $file = null;
            foreach (array($root . '/src/' . $handler . '.php', $root . '/' . $handler . '.php') as $candidate) {
                if (is_file($candidate)) {
                    $file = $candidate;
                    break;
                }
            }
            if ($file === null) {
                throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": neither ' . $root . '/src/' . $handler
                    . '.php nor ' . $root . '/' . $handler . '.php exists');
            }
        } else {
            $path = substr($handler, 0, $dot);
            $function = substr($handler, $dot + 1);
            if ($path === '' || !self::isRelativePath($path) || !self::isFunctionName($function)) {
                throw new InitException(self::MALFORMED, 'Handler "' . $handler . '" is not of the form "function", "file.function" or "file.php"');
            }
            $file = $root . '/' . $path . '.php';
            if (!is_file($file)) {
                throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": file ' . $file . ' not found');
            }
        }

        $file = self::insideTaskRoot($file, $taskRoot, $handler);
        self::includeFile($file, $handler);
        if (!is_callable($function)) {
            throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": ' . (strpos($function, '::') === false ? 'function ' : 'method ')
                . $function . '() is not defined after loading ' . $file);
        }
        return self::prepare($function, $handler);
    }

    /**
     * The real path of an existing handler file, refused when it is outside the task root.
     *
     * @return string
     * @throws InitException
     */
    private static function insideTaskRoot($file, $taskRoot, $handler)
    {
        $real = realpath($file);
        $realRoot = realpath($taskRoot);
        if ($real === false || $realRoot === false) {
            throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": the real path of ' . $file
                . ' or of the task root ' . $taskRoot . ' cannot be resolved');
        }
        $prefix = rtrim($realRoot, '/') . '/';
        if (strncmp($real, $prefix, strlen($prefix)) !== 0) {
            throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '": ' . $file . ' resolves to ' . $real
                . ', which is outside the task root ' . $realRoot . ' (LAMBDA_TASK_ROOT); handler files must be inside it');
        }
        return $real;
    }

    /**
     * @return array{0:\Closure,1:int}
     */
    private static function prepare($callable, $handler)
    {
        try {
            $closure = \Closure::fromCallable($callable);
            $reflection = new \ReflectionFunction($closure);
        } catch (\Throwable $e) {
            throw new InitException(self::NO_SUCH_HANDLER, 'Handler "' . $handler . '" cannot be called: ' . $e->getMessage(), $e);
        }
        // User functions ignore extra arguments, so they always get ($event, $context);
        // internal functions reject them, so they only get what they declare.
        $argc = 2;
        if ($reflection->isInternal() && !$reflection->isVariadic()) {
            $argc = min(2, $reflection->getNumberOfParameters());
        }
        return array($closure, $argc);
    }

    /**
     * Requires the task root's vendor/autoload.php, else the layer root's, if either exists.
     *
     * @param string $root the task root, without a trailing slash
     * @param string $layerRoot the layer's root (/opt on Lambda)
     * @throws InitException
     */
    private static function requireAutoloader($root, $layerRoot)
    {
        foreach (array($root, rtrim($layerRoot, '/')) as $dir) {
            $file = $dir . '/vendor/autoload.php';
            if (is_file($file)) {
                self::requireAutoloadFile($file);
                return;
            }
        }
    }

    /**
     * Requires an autoload.php in a scope of its own and maps failures to init errors.
     */
    private static function requireAutoloadFile($__file)
    {
        try {
            require_once $__file;
        } catch (\ParseError $e) {
            throw new InitException(self::SYNTAX_ERROR, 'Composer autoloader ' . $__file . ': syntax error in ' . $e->getFile()
                . ' on line ' . $e->getLine() . ': ' . $e->getMessage(), $e);
        } catch (\Throwable $e) {
            throw new InitException(get_class($e), 'Composer autoloader ' . $__file . ': requiring it failed: ' . $e->getMessage(), $e, self::INIT_ERROR);
        }
    }

    /**
     * Includes the file in a scope of its own and maps load failures to init errors.
     */
    private static function includeFile($__file, $__handler)
    {
        try {
            return require $__file;
        } catch (\ParseError $e) {
            throw new InitException(self::SYNTAX_ERROR, 'Handler "' . $__handler . '": syntax error in ' . $e->getFile()
                . ' on line ' . $e->getLine() . ': ' . $e->getMessage(), $e);
        } catch (\Throwable $e) {
            throw new InitException(get_class($e), 'Handler "' . $__handler . '": loading ' . $__file . ' failed: ' . $e->getMessage(), $e, self::INIT_ERROR);
        }
    }

    private static function isFunctionName($name)
    {
        // function, Namespace\function, Class::method or Namespace\Class::method (no PCRE needed)
        $parts = explode('::', $name);
        if (count($parts) > 2) {
            return false;
        }
        $names = explode('\\', $parts[0]);
        if ($names[0] === '' && count($names) > 1) {
            array_shift($names); // leading backslash
        }
        if (count($parts) === 2) {
            $names[] = $parts[1];
        }
        foreach ($names as $identifier) {
            if (!self::isIdentifier($identifier)) {
                return false;
            }
        }
        return true;
    }

    private static function isIdentifier($identifier)
    {
        static $allowed = null;
        if ($allowed === null) {
            $allowed = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
            for ($byte = 0x80; $byte <= 0xff; $byte++) {
                $allowed .= chr($byte);
            }
        }
        $length = strlen($identifier);
        return $length > 0
            && strspn($identifier, $allowed) === $length
            && strpos('0123456789', $identifier[0]) === false;
    }

    private static function isRelativePath($path)
    {
        return $path !== '' && $path[0] !== '/' && strpos($path, "\0") === false;
    }
}
