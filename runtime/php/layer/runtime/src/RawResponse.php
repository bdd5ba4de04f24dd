<?php

namespace LambdaRuntime;

/**
 * A handler result sent as it is, without JSON encoding.
 *
 * The runtime JSON-encodes every value a handler returns, as AWS's managed runtimes do: the
 * string "Hello" is answered as "\"Hello\"" (application/json). To answer with raw bytes
 * instead (text, an image, a body that already is JSON), return one of these:
 *
 *     return new \LambdaRuntime\RawResponse($png, 'image/png');
 *
 * The body is posted to the Runtime API unchanged, with the given Content-Type.
 */
final class RawResponse
{
    const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

    /** @var string */
    private $body;
    /** @var string */
    private $contentType;

    /**
     * @param string $body the bytes to answer with
     * @param string $contentType e.g. text/plain; charset=utf-8
     * @throws \InvalidArgumentException
     */
    public function __construct($body, $contentType = self::DEFAULT_CONTENT_TYPE)
    {
        if (!is_string($body)) {
            throw new \InvalidArgumentException('RawResponse body must be a string, got ' . gettype($body));
        }
        if (!is_string($contentType) || trim($contentType) === '' || strpbrk($contentType, "\r\n\0") !== false) {
            throw new \InvalidArgumentException('RawResponse content type must be a non-empty single-line string');
        }
        $this->body = $body;
        $this->contentType = trim($contentType);
    }

    /** @return string */
    public function getBody()
    {
        return $this->body;
    }

    /** @return string */
    public function getContentType()
    {
        return $this->contentType;
    }
}
