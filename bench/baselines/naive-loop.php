<?php
/*
 * Benchmark baseline: the runtime loop of the common tutorials. A new curl handle (so a new TCP
 * connection) for every HTTP call, and the handler file is `require`d again on every invocation.
 * Not a runtime to use: no error reporting, no init error, no trace id.
 */

$api = 'http://' . getenv('AWS_LAMBDA_RUNTIME_API') . '/2018-06-01/runtime';
$taskRoot = getenv('LAMBDA_TASK_ROOT');
$handlerFile = $taskRoot . '/' . getenv('_HANDLER');

while (true) {
    $headers = array();
    $ch = curl_init($api . '/invocation/next');
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_PROXY, '');
    curl_setopt($ch, CURLOPT_HEADERFUNCTION, function ($ch, $line) use (&$headers) {
        $parts = explode(':', $line, 2);
        if (count($parts) === 2) {
            $headers[strtolower(trim($parts[0]))] = trim($parts[1]);
        }
        return strlen($line);
    });
    $body = curl_exec($ch);
    if ($body === false) {
        fwrite(STDERR, 'next failed: ' . curl_error($ch) . "\n");
        exit(1);
    }
    unset($ch);
    $requestId = $headers['lambda-runtime-aws-request-id'];

    $handler = require $handlerFile;
    $result = $handler(json_decode($body, true));

    $ch = curl_init($api . '/invocation/' . $requestId . '/response');
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_PROXY, '');
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($result)); // JSON-encoded, as AWS runtimes answer
    if (curl_exec($ch) === false) {
        fwrite(STDERR, 'response failed: ' . curl_error($ch) . "\n");
        exit(1);
    }
    unset($ch);
}
