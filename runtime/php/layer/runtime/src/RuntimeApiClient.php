<?php

namespace LambdaRuntime;

/**
 * Minimal client of the Lambda Runtime API (2018-06-01) on top of ext/curl.
 *
 * One curl handle per endpoint kind (next, response, error) is created lazily and reused for
 * the life of the process, so each kind keeps its own keep-alive connection. /next has no
 * read timeout: the sandbox may be frozen for any length of time while it waits.
 */
final class RuntimeApiClient
{
    const ERROR_CONTENT_TYPE = 'application/vnd.aws.lambda.error+json';

    /** Bodies above this size are released from the curl handle right after sending. */
    const RELEASE_BODY_ABOVE = 1048576;

    /** @var string */
    private $baseUrl;
    /** @var resource|\CurlHandle|null */
    private $nextHandle = null;
    /** @var resource|\CurlHandle|null */
    private $responseHandle = null;
    /** @var resource|\CurlHandle|null */
    private $errorHandle = null;
    /** @var array<string,string> lower-cased header names of the last /next answer */
    private $headers = array();

    /**
     * @param string $address host:port from AWS_LAMBDA_RUNTIME_API
     */
    public function __construct($address)
    {
        if (!is_string($address) || $address === '') {
            throw new ApiException('AWS_LAMBDA_RUNTIME_API is not set');
        }
        $this->baseUrl = 'http://' . $address . '/2018-06-01/runtime/';
    }

    /**
     * Blocks until the next event arrives.
     *
     * @return array{0:string,1:array<string,string>} the event body and its headers (lower-case names)
     * @throws ApiException
     */
    public function nextInvocation()
    {
        if ($this->nextHandle === null) {
            $handle = $this->createHandle();
            curl_setopt($handle, CURLOPT_URL, $this->baseUrl . 'invocation/next');
            curl_setopt($handle, CURLOPT_HTTPGET, true);
            curl_setopt($handle, CURLOPT_HEADERFUNCTION, array($this, 'collectHeader'));
            $this->nextHandle = $handle;
        }
        $this->headers = array();
        $body = curl_exec($this->nextHandle);
        if ($body === false) {
            throw new ApiException('GET /runtime/invocation/next failed: ' . curl_error($this->nextHandle));
        }
        $status = (int) curl_getinfo($this->nextHandle, CURLINFO_RESPONSE_CODE);
        if ($status !== 200) {
            throw new ApiException('GET /runtime/invocation/next answered HTTP ' . $status . ': ' . self::describe($body));
        }
        return array($body, $this->headers);
    }

    /**
     * @internal curl header callback of the /next handle
     * @return int
     */
    public function collectHeader($handle, $line)
    {
        $length = strlen($line);
        $colon = strpos($line, ':');
        if ($colon === false) {
            if (strncmp($line, 'HTTP/', 5) === 0) {
                // A new response starts (e.g. after "100 Continue"): forget earlier headers.
                $this->headers = array();
            }
            return $length;
        }
        $name = strtolower(trim(substr($line, 0, $colon)));
        $this->headers[$name] = trim(substr($line, $colon + 1));
        return $length;
    }

    /**
     * @param string $requestId
     * @param string $body
     * @param string $contentType
     * @return array{0:int,1:string} HTTP status and body of the answer (202 when accepted)
     * @throws ApiException on connection failure or HTTP 500
     */
    public function postResponse($requestId, $body, $contentType)
    {
        if ($this->responseHandle === null) {
            $this->responseHandle = $this->createPostHandle();
        }
        return $this->post(
            $this->responseHandle,
            'invocation/' . rawurlencode($requestId) . '/response',
            $body,
            array('Content-Type: ' . $contentType)
        );
    }

    /**
     * @param string $requestId
     * @param string $body JSON {"errorMessage","errorType","stackTrace"}
     * @param string $functionErrorType value of Lambda-Runtime-Function-Error-Type
     * @return array{0:int,1:string}
     * @throws ApiException on connection failure or HTTP 500
     */
    public function postInvocationError($requestId, $body, $functionErrorType)
    {
        if ($this->errorHandle === null) {
            $this->errorHandle = $this->createPostHandle();
        }
        return $this->post(
            $this->errorHandle,
            'invocation/' . rawurlencode($requestId) . '/error',
            $body,
            array('Content-Type: ' . self::ERROR_CONTENT_TYPE, 'Lambda-Runtime-Function-Error-Type: ' . self::headerValue($functionErrorType))
        );
    }

    /**
     * @param string $body
     * @param string $functionErrorType
     * @return array{0:int,1:string}
     * @throws ApiException on connection failure or HTTP 500
     */
    public function postInitError($body, $functionErrorType)
    {
        if ($this->errorHandle === null) {
            $this->errorHandle = $this->createPostHandle();
        }
        return $this->post(
            $this->errorHandle,
            'init/error',
            $body,
            array('Content-Type: ' . self::ERROR_CONTENT_TYPE, 'Lambda-Runtime-Function-Error-Type: ' . self::headerValue($functionErrorType))
        );
    }

    private function post($handle, $path, $body, array $headers)
    {
        // An empty "Expect:" stops curl from waiting for "100 Continue" before large bodies.
        $headers[] = 'Expect:';
        curl_setopt($handle, CURLOPT_URL, $this->baseUrl . $path);
        curl_setopt($handle, CURLOPT_HTTPHEADER, $headers);
        curl_setopt($handle, CURLOPT_POSTFIELDS, $body);
        $answer = curl_exec($handle);
        if (strlen($body) > self::RELEASE_BODY_ABOVE) {
            // curl keeps its own copy of the body until the next request: free it now.
            curl_setopt($handle, CURLOPT_POSTFIELDS, '');
        }
        if ($answer === false) {
            throw new ApiException('POST /runtime/' . $path . ' failed: ' . curl_error($handle));
        }
        $status = (int) curl_getinfo($handle, CURLINFO_RESPONSE_CODE);
        if ($status >= 500) {
            throw new ApiException('POST /runtime/' . $path . ' answered HTTP ' . $status . ': ' . self::describe($answer));
        }
        return array($status, $answer);
    }

    /**
     * Closes the connections (before the process replaces itself: its sockets would stay open in
     * the new program). PHP 8 closes a CurlHandle when its last reference goes (curl_close() does
     * nothing there and is deprecated in 8.5); PHP 7 needs curl_close().
     */
    public function close()
    {
        foreach (array('nextHandle', 'responseHandle', 'errorHandle') as $name) {
            if ($this->$name !== null && PHP_VERSION_ID < 80000) {
                curl_close($this->$name);
            }
            $this->$name = null;
        }
    }

    private function createPostHandle()
    {
        $handle = $this->createHandle();
        curl_setopt($handle, CURLOPT_POST, true);
        return $handle;
    }

    private function createHandle()
    {
        $handle = curl_init();
        if ($handle === false) {
            throw new ApiException('curl_init() failed');
        }
        curl_setopt_array($handle, array(
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
            CURLOPT_PROXY => '',            // never route the Runtime API through an *_proxy variable
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_CONNECTTIMEOUT => 10,
            CURLOPT_TIMEOUT => 0,           // no read timeout, in particular on /next
            CURLOPT_NOSIGNAL => true,
            CURLOPT_FAILONERROR => false,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_USERAGENT => self::userAgent(),
        ));
        return $handle;
    }

    /**
     * `lambda-runtime-builder-php/<tool version> (PHP <version>)`: the layer's runtime/VERSION file
     * is written by the tool that built the layer.
     */
    private static function userAgent()
    {
        $file = dirname(__DIR__) . '/VERSION';
        $version = is_readable($file) ? trim((string) file_get_contents($file)) : 'dev';
        return 'lambda-runtime-builder-php/' . $version . ' (PHP ' . PHP_VERSION . ')';
    }

    private static function headerValue($value)
    {
        return str_replace(array("\r", "\n"), ' ', (string) $value);
    }

    /**
     * Short text for an API answer: its errorMessage when it is a JSON error, else its start.
     *
     * @param string|bool $body
     * @return string
     */
    public static function describe($body)
    {
        $body = (string) $body;
        $decoded = json_decode($body, true);
        if (is_array($decoded) && isset($decoded['errorMessage']) && is_string($decoded['errorMessage'])) {
            return $decoded['errorMessage'];
        }
        return strlen($body) > 500 ? substr($body, 0, 500) . '...' : $body;
    }
}
