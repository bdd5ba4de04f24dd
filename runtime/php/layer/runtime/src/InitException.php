<?php

namespace LambdaRuntime;

/** The handler could not be loaded; reported to /runtime/init/error. */
final class InitException extends \RuntimeException
{
    /** @var string body errorType, e.g. Runtime.NoSuchHandler */
    private $errorType;
    /** @var string Lambda-Runtime-Function-Error-Type header */
    private $functionErrorType;

    /**
     * @param string $errorType
     * @param string $message
     * @param \Throwable|null $previous
     * @param string|null $functionErrorType defaults to $errorType
     */
    public function __construct($errorType, $message, $previous = null, $functionErrorType = null)
    {
        parent::__construct($message, 0, $previous);
        $this->errorType = $errorType;
        $this->functionErrorType = $functionErrorType === null ? $errorType : $functionErrorType;
    }

    public function getErrorType()
    {
        return $this->errorType;
    }

    public function getFunctionErrorType()
    {
        return $this->functionErrorType;
    }
}
