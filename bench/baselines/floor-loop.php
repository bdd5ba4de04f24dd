<?php
/*
 * Benchmark floor: the least a PHP loop can do per invocation. One reused curl handle per
 * endpoint kind (keep-alive), no handler, no decoding: it answers every event with a constant.
 */

$api = 'http://' . getenv('AWS_LAMBDA_RUNTIME_API') . '/2018-06-01/runtime';
$requestId = '';

$next = curl_init($api . '/invocation/next');
curl_setopt($next, CURLOPT_RETURNTRANSFER, true);
curl_setopt($next, CURLOPT_PROXY, '');
curl_setopt($next, CURLOPT_HEADERFUNCTION, function ($ch, $line) use (&$requestId) {
    if (strncasecmp($line, 'lambda-runtime-aws-request-id:', 30) === 0) {
        $requestId = trim(substr($line, 30));
    }
    return strlen($line);
});

$response = curl_init();
curl_setopt($response, CURLOPT_RETURNTRANSFER, true);
curl_setopt($response, CURLOPT_PROXY, '');
curl_setopt($response, CURLOPT_POST, true);
curl_setopt($response, CURLOPT_POSTFIELDS, '"Hello, World!"'); // what a JSON-encoding runtime answers

while (true) {
    if (curl_exec($next) === false) {
        fwrite(STDERR, 'next failed: ' . curl_error($next) . "\n");
        exit(1);
    }
    curl_setopt($response, CURLOPT_URL, $api . '/invocation/' . $requestId . '/response');
    if (curl_exec($response) === false) {
        fwrite(STDERR, 'response failed: ' . curl_error($response) . "\n");
        exit(1);
    }
}
