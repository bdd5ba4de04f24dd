<?php

namespace LambdaRuntime;

/**
 * The context passed to handlers as second argument.
 *
 * Read it as an object ($context->awsRequestId, $context->getRemainingTimeInMillis()) or as an
 * array ($context['awsRequestId']). json_encode($context) gives all fields.
 */
final class Context implements \ArrayAccess, \JsonSerializable
{
    /** @var string */
    public $awsRequestId;
    /** @var string */
    public $invokedFunctionArn;
    /** @var int epoch milliseconds */
    public $deadlineMs;
    /** @var string|null Lambda-Runtime-Trace-Id (also in the _X_AMZN_TRACE_ID variable) */
    public $traceId;
    /** @var mixed decoded Lambda-Runtime-Client-Context, null when absent */
    public $clientContext;
    /** @var mixed decoded Lambda-Runtime-Cognito-Identity, null when absent */
    public $identity;
    /** @var string|null */
    public $functionName;
    /** @var string|null */
    public $functionVersion;
    /** @var int|null */
    public $memoryLimitInMB;
    /** @var string|null */
    public $logGroupName;
    /** @var string|null */
    public $logStreamName;

    /**
     * @param array<string,string> $headers /next answer headers, lower-case names
     * @param array<string,mixed> $function functionName, functionVersion, memoryLimitInMB, logGroupName, logStreamName
     */
    public function __construct(array $headers, array $function)
    {
        $this->awsRequestId = isset($headers['lambda-runtime-aws-request-id']) ? $headers['lambda-runtime-aws-request-id'] : '';
        $this->invokedFunctionArn = isset($headers['lambda-runtime-invoked-function-arn']) ? $headers['lambda-runtime-invoked-function-arn'] : '';
        $this->deadlineMs = isset($headers['lambda-runtime-deadline-ms']) ? (int) $headers['lambda-runtime-deadline-ms'] : 0;
        $this->traceId = isset($headers['lambda-runtime-trace-id']) && $headers['lambda-runtime-trace-id'] !== ''
            ? $headers['lambda-runtime-trace-id'] : null;
        $this->clientContext = isset($headers['lambda-runtime-client-context'])
            ? self::decodeHeader($headers['lambda-runtime-client-context']) : null;
        $this->identity = isset($headers['lambda-runtime-cognito-identity'])
            ? self::decodeHeader($headers['lambda-runtime-cognito-identity']) : null;
        $this->functionName = $function['functionName'];
        $this->functionVersion = $function['functionVersion'];
        $this->memoryLimitInMB = $function['memoryLimitInMB'];
        $this->logGroupName = $function['logGroupName'];
        $this->logStreamName = $function['logStreamName'];
    }

    /** Milliseconds left before the invocation times out (never negative). */
    public function getRemainingTimeInMillis()
    {
        $left = $this->deadlineMs - (int) floor(microtime(true) * 1000);
        return $left > 0 ? $left : 0;
    }

    public function getAwsRequestId()
    {
        return $this->awsRequestId;
    }

    public function getInvokedFunctionArn()
    {
        return $this->invokedFunctionArn;
    }

    public function getDeadlineMs()
    {
        return $this->deadlineMs;
    }

    public function getTraceId()
    {
        return $this->traceId;
    }

    public function getClientContext()
    {
        return $this->clientContext;
    }

    public function getIdentity()
    {
        return $this->identity;
    }

    /** @return array<string,mixed> all fields, plus remainingTimeInMillis at the time of the call */
    public function toArray()
    {
        return array(
            'awsRequestId' => $this->awsRequestId,
            'invokedFunctionArn' => $this->invokedFunctionArn,
            'deadlineMs' => $this->deadlineMs,
            'remainingTimeInMillis' => $this->getRemainingTimeInMillis(),
            'traceId' => $this->traceId,
            'clientContext' => $this->clientContext,
            'identity' => $this->identity,
            'functionName' => $this->functionName,
            'functionVersion' => $this->functionVersion,
            'memoryLimitInMB' => $this->memoryLimitInMB,
            'logGroupName' => $this->logGroupName,
            'logStreamName' => $this->logStreamName,
        );
    }

    public function offsetExists($offset): bool
    {
        return $offset === 'remainingTimeInMillis' || (is_string($offset) && property_exists($this, $offset) && $this->$offset !== null);
    }

    #[\ReturnTypeWillChange]
    public function offsetGet($offset)
    {
        if ($offset === 'remainingTimeInMillis') {
            return $this->getRemainingTimeInMillis();
        }
        if (is_string($offset) && property_exists($this, $offset)) {
            return $this->$offset;
        }
        trigger_error('Undefined context field: ' . (is_scalar($offset) ? $offset : gettype($offset)), E_USER_NOTICE);
        return null;
    }

    public function offsetSet($offset, $value): void
    {
        throw new \LogicException('The Lambda context is read-only');
    }

    public function offsetUnset($offset): void
    {
        throw new \LogicException('The Lambda context is read-only');
    }

    #[\ReturnTypeWillChange]
    public function jsonSerialize()
    {
        return $this->toArray();
    }

    private static function decodeHeader($value)
    {
        if ($value === '') {
            return null;
        }
        $decoded = json_decode($value, true);
        return json_last_error() === JSON_ERROR_NONE ? $decoded : $value;
    }
}
