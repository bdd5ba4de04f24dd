<?php

namespace LambdaRuntime;

/**
 * The invocation loop: init (load the handler once), then /next -> handler -> response|error.
 *
 * run() returns, and the shutdown function exit()s with, the statuses of ExitStatus (INIT_ERROR,
 * API_ERROR; RESTART only when the process cannot replace itself). After a fatal error or exit()
 * in the handler, the shutdown function reports it and restarts PHP in place (Process::restart).
 * PHP 7 keeps the exit status of a fatal error (255) or of the handler's exit(N) even when a
 * shutdown function calls exit() again: there, an exit after a fatal error is 255.
 *
 * Every handler result is JSON-encoded (application/json), as in AWS's managed runtimes; a
 * RawResponse is posted as it is, with its own content type.
 */
final class Runtime
{
    const HANDLER_ERROR_TYPE = 'Runtime.HandlerError';
    const EXIT_ERROR_TYPE = 'Runtime.ExitError';
    const RESPONSE_TOO_LARGE_TYPE = 'Function.ResponseSizeTooLarge';

    const PHASE_INIT = 1;
    const PHASE_WAITING = 2;
    const PHASE_INVOKING = 3;
    const PHASE_EXITING = 4;

    /** @var string|false */
    private $apiAddress;
    /** @var string|false */
    private $handlerName;
    /** @var string */
    private $taskRoot;
    /** @var array<string,mixed> function-level context fields read once from the environment */
    private $function;
    /** @var RuntimeApiClient|null */
    private $client = null;
    /** @var \Closure|null */
    private $handler = null;
    /** @var int */
    private $argc = 2;
    /** @var int */
    private $phase = self::PHASE_INIT;
    /** @var string|null request being served */
    private $requestId = null;
    /** @var int ob_get_level() outside of the handler's output buffer */
    private $outputLevel = 0;
    /** @var string frames from files under this directory are left out of stack traces */
    private $runtimeDir;
    /** @var int JSON flags for results; failures are detected with json_last_error() (7.3-compatible) */
    private $jsonFlags;

    /**
     * @param string|false $apiAddress AWS_LAMBDA_RUNTIME_API
     * @param string|false $handlerName _HANDLER
     * @param string $taskRoot LAMBDA_TASK_ROOT
     * @param array<string,mixed> $function functionName, functionVersion, memoryLimitInMB, logGroupName, logStreamName
     */
    public function __construct($apiAddress, $handlerName, $taskRoot, array $function)
    {
        $this->apiAddress = $apiAddress;
        $this->handlerName = $handlerName;
        $this->taskRoot = $taskRoot;
        $this->function = $function;
        $this->runtimeDir = dirname(__DIR__) . '/';
        $this->jsonFlags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION;
    }

    /**
     * @return self
     */
    public static function fromEnvironment()
    {
        $taskRoot = getenv('LAMBDA_TASK_ROOT');
        $memory = getenv('AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
        return new self(
            getenv('AWS_LAMBDA_RUNTIME_API'),
            getenv('_HANDLER'),
            is_string($taskRoot) && $taskRoot !== '' ? $taskRoot : '/var/task',
            array(
                'functionName' => self::env('AWS_LAMBDA_FUNCTION_NAME'),
                'functionVersion' => self::env('AWS_LAMBDA_FUNCTION_VERSION'),
                'memoryLimitInMB' => is_string($memory) && $memory !== '' ? (int) $memory : null,
                'logGroupName' => self::env('AWS_LAMBDA_LOG_GROUP_NAME'),
                'logStreamName' => self::env('AWS_LAMBDA_LOG_STREAM_NAME'),
            )
        );
    }

    /**
     * Runs until the Runtime API fails or init fails; never returns otherwise.
     *
     * @return int exit status
     */
    public function run()
    {
        register_shutdown_function(array($this, 'onShutdown'));
        Process::exitOnTerminationAsPid1(function () {
            // Stopped from outside: nothing to report, no restart.
            $this->phase = self::PHASE_EXITING;
        });
        PhpErrors::install(function () {
            return $this->requestId;
        });
        MemoryLimit::fitToSandbox($this->function['memoryLimitInMB']);

        try {
            $this->client = new RuntimeApiClient($this->apiAddress);
        } catch (ApiException $e) {
            return $this->stop(ExitStatus::API_ERROR, $e->getMessage());
        }

        try {
            $loaded = HandlerLoader::load($this->handlerName, $this->taskRoot);
            $this->handler = $loaded[0];
            $this->argc = $loaded[1];
        } catch (InitException $e) {
            $previous = $e->getPrevious();
            return $this->failInit(
                $e->getErrorType(),
                $e->getFunctionErrorType(),
                $e->getMessage(),
                $previous === null ? array() : ErrorPayload::traceOf($previous, $this->runtimeDir)
            );
        }

        $this->phase = self::PHASE_WAITING;
        try {
            while (true) {
                $this->serveOne();
            }
        } catch (ApiException $e) {
            return $this->stop(ExitStatus::API_ERROR, 'Runtime API failure, exiting: ' . $e->getMessage());
        }
        return ExitStatus::API_ERROR; // not reached
    }

    /**
     * One invocation: /next, handler, response or error.
     *
     * @throws ApiException
     */
    private function serveOne()
    {
        $next = $this->client->nextInvocation();
        $headers = $next[1];
        if (!isset($headers['lambda-runtime-aws-request-id']) || $headers['lambda-runtime-aws-request-id'] === '') {
            throw new ApiException('GET /runtime/invocation/next answered without Lambda-Runtime-Aws-Request-Id');
        }
        $requestId = $headers['lambda-runtime-aws-request-id'];
        $this->requestId = $requestId;
        $this->phase = self::PHASE_INVOKING;

        self::setTraceId(isset($headers['lambda-runtime-trace-id']) ? $headers['lambda-runtime-trace-id'] : '');
        $context = new Context($headers, $this->function);
        $event = self::decodeEvent($next[0]);
        unset($next);

        $failure = null;
        $payload = null;
        $contentType = null;
        $this->outputLevel = ob_get_level();
        // The handler's output goes to stdout (the log) as it is produced, never into the
        // response; the buffer also lets us close whatever buffers the handler leaves open.
        ob_start(null, 1);
        try {
            $handler = $this->handler;
            if ($this->argc >= 2) {
                $result = $handler($event, $context);
            } elseif ($this->argc === 1) {
                $result = $handler($event);
            } else {
                $result = $handler();
            }
            unset($event, $context);
            list($payload, $contentType, $failure) = $this->encodeResult($result);
            unset($result);
        } catch (\Throwable $e) {
            $failure = array(
                get_class($e),
                $e->getMessage(),
                ErrorPayload::traceOf($e, $this->runtimeDir),
            );
            unset($e);
        }
        $this->closeOutput();

        if ($failure !== null) {
            $this->reportInvocationError($requestId, $failure[0], $failure[1], $failure[2], self::HANDLER_ERROR_TYPE);
        } else {
            $size = strlen($payload);
            $answer = $this->client->postResponse($requestId, $payload, $contentType);
            $payload = null;
            if ($answer[0] === 413) {
                // The Runtime API has ended the invocation (as Function.ResponseSizeTooLarge): an
                // error posted now would only be refused with 403.
                Logger::error($requestId, 'Response refused (HTTP 413): ' . $size . ' bytes is over the maximum payload size: '
                    . RuntimeApiClient::describe($answer[1]) . ' The invocation ends as ' . self::RESPONSE_TOO_LARGE_TYPE . '.');
            } elseif ($answer[0] < 200 || $answer[0] > 299) {
                Logger::warn($requestId, 'POST /runtime/invocation/' . $requestId . '/response answered HTTP ' . $answer[0] . ': ' . RuntimeApiClient::describe($answer[1]));
            }
        }

        $this->requestId = null;
        $this->phase = self::PHASE_WAITING;
    }

    /**
     * A handler's result as the response body: JSON for every value (as AWS's managed runtimes
     * do), a RawResponse's body as it is.
     *
     * @return array{0:string|null,1:string|null,2:array|null} body, content type, or the failure
     */
    private function encodeResult($result)
    {
        if ($result instanceof RawResponse) {
            return array($result->getBody(), $result->getContentType(), null);
        }
        $payload = json_encode($result, $this->jsonFlags);
        $jsonError = json_last_error();
        if ($payload === false || $jsonError !== JSON_ERROR_NONE) {
            $message = 'The handler\'s result could not be encoded as JSON: ' . json_last_error_msg();
            if ($jsonError === JSON_ERROR_UTF8) {
                $message .= ' (to answer with bytes that are not UTF-8 text, return new \\LambdaRuntime\\RawResponse($bytes, $contentType))';
            }
            return array(null, null, array('JsonException', $message, array()));
        }
        return array($payload, 'application/json', null);
    }

    /**
     * @param string[] $trace
     * @throws ApiException
     */
    private function reportInvocationError($requestId, $errorType, $message, array $trace, $functionErrorType)
    {
        // The log line carries the posted JSON: message and stack trace stay apart, on one line.
        $body = ErrorPayload::encode($errorType, $message, $trace);
        Logger::error($requestId, 'Invocation error: ' . $body);
        $answer = $this->client->postInvocationError($requestId, $body, $functionErrorType);
        if ($answer[0] < 200 || $answer[0] > 299) {
            Logger::warn($requestId, 'POST /runtime/invocation/' . $requestId . '/error answered HTTP ' . $answer[0] . ': ' . RuntimeApiClient::describe($answer[1]));
        }
    }

    /**
     * Reports an init failure and returns the exit status.
     *
     * @param string[] $trace
     * @return int
     */
    private function failInit($errorType, $functionErrorType, $message, array $trace)
    {
        $this->phase = self::PHASE_EXITING;
        $body = ErrorPayload::encode($errorType, $message, $trace);
        Logger::error(null, 'Init error: ' . $body);
        try {
            $answer = $this->client->postInitError($body, $functionErrorType);
            if ($answer[0] < 200 || $answer[0] > 299) {
                Logger::warn(null, 'POST /runtime/init/error answered HTTP ' . $answer[0] . ': ' . RuntimeApiClient::describe($answer[1]));
            }
        } catch (ApiException $e) {
            Logger::error(null, 'Could not report the init error: ' . $e->getMessage());
        }
        return ExitStatus::INIT_ERROR;
    }

    /**
     * Last chance to report a fatal error (or exit()) in the handler or during init.
     *
     * @internal registered with register_shutdown_function()
     */
    public function onShutdown()
    {
        // After "Allowed memory size exhausted" the handler's memory is still in use: lift the
        // limit so that reporting the error can allocate.
        @ini_set('memory_limit', '-1');
        $error = error_get_last();
        if ($this->phase !== self::PHASE_INVOKING && $this->phase !== self::PHASE_INIT) {
            // PHP logs nothing itself (see PhpErrors): a fatal error here must still be seen.
            if (ErrorPayload::isFatal($error)) {
                Logger::error($this->requestId, PhpErrors::fatalLine($error));
            }
            return;
        }
        $this->closeOutput();

        if (ErrorPayload::isFatal($error)) {
            $errorType = ErrorPayload::fatalName($error['type']);
            $message = $error['message'];
            $trace = array('at ' . $error['file'] . '(' . $error['line'] . ')');
        } else {
            $errorType = self::EXIT_ERROR_TYPE;
            $message = 'The handler called exit() during the invocation';
            $trace = array();
        }

        if ($this->phase === self::PHASE_INIT) {
            if ($this->client === null) {
                $this->phase = self::PHASE_EXITING;
                exit(ExitStatus::INIT_ERROR);
            }
            $handler = 'Handler "' . (is_string($this->handlerName) ? trim($this->handlerName) : '') . '": ';
            if (ErrorPayload::isFatal($error)) {
                $initType = ($error['type'] === E_PARSE || $error['type'] === E_COMPILE_ERROR) ? HandlerLoader::SYNTAX_ERROR : self::EXIT_ERROR_TYPE;
                $message = $handler . 'PHP fatal error (' . $errorType . ') while loading: ' . $message;
            } else {
                // The type says exit(); the message says where (not the type again).
                $initType = self::EXIT_ERROR_TYPE;
                $message = $handler . 'its code called exit() while it was being loaded';
            }
            exit($this->failInit($initType, $initType, $message, $trace));
        }

        $requestId = $this->requestId;
        $this->phase = self::PHASE_EXITING;
        try {
            $this->reportInvocationError($requestId, $errorType, $message, $trace, self::EXIT_ERROR_TYPE);
        } catch (ApiException $e) {
            Logger::error($requestId, 'Runtime API failure, exiting: ' . $e->getMessage());
            exit(ExitStatus::API_ERROR);
        }
        $why = 'the process cannot be reused after ' . ($errorType === self::EXIT_ERROR_TYPE ? 'exit()' : 'a fatal error');
        Logger::warn($requestId, 'Restarting PHP: ' . $why);
        // The new process opens its own connections: close these rather than leak them into it.
        $this->client->close();
        $this->client = null;
        $cannot = Process::restart();
        Logger::error($requestId, 'Could not restart PHP in place (' . $cannot . '): exiting, so that Lambda starts a new sandbox');
        exit(ExitStatus::RESTART);
    }

    private function stop($status, $message)
    {
        $this->phase = self::PHASE_EXITING;
        Logger::error($this->requestId, $message);
        return $status;
    }

    /** Ends the handler's output buffer and any it left open, sending their content to the log. */
    private function closeOutput()
    {
        while (ob_get_level() > $this->outputLevel) {
            if (!@ob_end_flush()) {
                break;
            }
        }
    }

    /** @param string $traceId empty to clear */
    private static function setTraceId($traceId)
    {
        if ($traceId !== '') {
            putenv('_X_AMZN_TRACE_ID=' . $traceId);
            $_ENV['_X_AMZN_TRACE_ID'] = $traceId;
            $_SERVER['_X_AMZN_TRACE_ID'] = $traceId;
        } else {
            putenv('_X_AMZN_TRACE_ID');
            unset($_ENV['_X_AMZN_TRACE_ID'], $_SERVER['_X_AMZN_TRACE_ID']);
        }
    }

    /** JSON events become arrays; a body that is not JSON is passed as the raw string. */
    private static function decodeEvent($body)
    {
        if ($body === '') {
            return null;
        }
        $event = json_decode($body, true, 8192);
        return json_last_error() === JSON_ERROR_NONE ? $event : $body;
    }

    private static function env($name)
    {
        $value = getenv($name);
        return is_string($value) && $value !== '' ? $value : null;
    }
}
