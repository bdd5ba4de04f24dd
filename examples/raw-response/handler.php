<?php

// _HANDLER=handler.page: answers with raw bytes (here an HTML page) instead of JSON. Returning a
// \LambdaRuntime\RawResponse makes the runtime post its body unchanged, with its content type.
function page($event, $context)
{
    $name = isset($event['name']) ? $event['name'] : 'stranger';

    return new \LambdaRuntime\RawResponse(
        '<p>Hello, ' . htmlspecialchars($name, ENT_QUOTES, 'UTF-8') . '!</p>',
        'text/html; charset=utf-8'
    );
}
