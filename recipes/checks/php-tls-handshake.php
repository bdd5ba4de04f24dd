<?php
// Smoke check `tls-handshake` of recipes/php.json: a real TLS handshake through both of the
// layer's TLS clients (PHP's openssl streams and curl), to a local server whose certificate
// chains to a CA this script makes, and proof that the same connections are refused without that
// CA or under another host name. Prints one line:
//   handshake-ok stream curl refused-untrusted refused-wrong-name <negotiated protocol>
// or `failed: <what>: <why>` and exits 1. Valid PHP 7.3 to 8.x; runs with nothing but glibc under
// the layer (a second PHP process is the server: proc_open with an argv array from PHP 7.4, through
// /bin/sh before). Everything it writes goes to a fresh directory under sys_get_temp_dir().
//
//   php php-tls-handshake.php                  run the check
//   php php-tls-handshake.php serve DIR        (internal) the TLS server, started by the check

const BODY = 'hello-over-tls';
const SERVER_SECONDS = 30;

function fail($what, $why)
{
    echo 'failed: ', $what, ': ', preg_replace('/\s+/', ' ', trim($why)), "\n";
    exit(1);
}

/** Calls $fn and returns [its result, the warnings it raised] instead of printing them. */
function quietly(callable $fn)
{
    $warnings = [];
    set_error_handler(function ($no, $message) use (&$warnings) {
        $warnings[] = $message;
        return true;
    });
    try {
        $result = $fn();
    } finally {
        restore_error_handler();
    }
    return [$result, implode(' | ', $warnings)];
}

function opensslErrors()
{
    $errors = [];
    while (($e = openssl_error_string()) !== false) {
        $errors[] = $e;
    }
    return implode(' | ', $errors);
}

// --- The server: serve every connection that completes a handshake until killed (or a deadline) --

function serve($dir)
{
    $context = stream_context_create(['ssl' => [
        'local_cert' => "$dir/server.pem",
        'local_pk' => "$dir/server.key",
        'verify_peer' => false,
    ]]);
    $server = stream_socket_server('ssl://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $context);
    if ($server === false) {
        fwrite(STDERR, "cannot listen: $errstr\n");
        exit(1);
    }
    $name = stream_socket_get_name($server, false);
    echo substr($name, strrpos($name, ':') + 1), "\n";
    fflush(STDOUT);
    $deadline = microtime(true) + SERVER_SECONDS;
    while (microtime(true) < $deadline) {
        // A client that refuses our certificate makes the handshake, and so accept(), fail: go on.
        list($peer, $warnings) = quietly(function () use ($server) {
            return stream_socket_accept($server, 1);
        });
        if ($peer === false) {
            if ($warnings !== '') fwrite(STDERR, "accept: $warnings\n");
            continue;
        }
        stream_set_timeout($peer, 5);
        while (($line = fgets($peer)) !== false && rtrim($line) !== '') {
            // read the request head
        }
        fwrite($peer, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . strlen(BODY) . "\r\nConnection: close\r\n\r\n" . BODY);
        fclose($peer);
    }
    exit(0);
}

if (isset($argv[1]) && $argv[1] === 'serve') {
    serve($argv[2]);
}

// --- A throw-away CA and a server certificate for localhost and 127.0.0.1 signed by it ----------

$dir = sys_get_temp_dir() . '/lrb-tls-check-' . bin2hex(random_bytes(6));
if (!mkdir($dir, 0700)) fail('setup', "cannot create $dir");
$serverProcess = null;
$pipes = [];
// On every exit: stop the server, then remove what this check wrote.
register_shutdown_function(function () use ($dir, &$serverProcess, &$pipes) {
    if (is_resource($serverProcess)) {
        proc_terminate($serverProcess);
        foreach ($pipes as $p) fclose($p);
        proc_close($serverProcess);
    }
    foreach (glob("$dir/*") ?: [] as $f) unlink($f);
    rmdir($dir);
});

$config = "$dir/openssl.cnf";
file_put_contents($config, <<<'CNF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

CNF
);

function keyPair($config)
{
    $key = openssl_pkey_new(['config' => $config, 'private_key_bits' => 2048, 'private_key_type' => OPENSSL_KEYTYPE_RSA]);
    if ($key === false) fail('key', opensslErrors());
    return $key;
}

function certificate(array $subject, $key, $issuerCert, $issuerKey, $section, $config)
{
    $options = ['config' => $config, 'digest_alg' => 'sha256', 'x509_extensions' => $section];
    $csr = openssl_csr_new($subject, $key, $options);
    if ($csr === false) fail("csr for $section", opensslErrors());
    $cert = openssl_csr_sign($csr, $issuerCert, $issuerKey, 1, $options, random_int(1, PHP_INT_MAX));
    if ($cert === false) fail("signing the $section certificate", opensslErrors());
    return $cert;
}

$caKey = keyPair($config);
$caCert = certificate(['commonName' => 'lambda-runtime-builder smoke-test CA'], $caKey, null, $caKey, 'ca', $config);
$serverKey = keyPair($config);
$serverCert = certificate(['commonName' => 'localhost'], $serverKey, $caCert, $caKey, 'server', $config);
if (!openssl_x509_export_to_file($caCert, "$dir/ca.pem")
    || !openssl_x509_export_to_file($serverCert, "$dir/server.pem")
    || !openssl_pkey_export_to_file($serverKey, "$dir/server.key", null, ['config' => $config])) {
    fail('writing the certificates', opensslErrors());
}

// --- Start the server: a second PHP process --------------------------------------------------------

$argvServer = [PHP_BINARY, __FILE__, 'serve', $dir];
$command = PHP_VERSION_ID >= 70400 ? $argvServer : implode(' ', array_map('escapeshellarg', $argvServer));
$serverProcess = proc_open($command, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => ['file', "$dir/server.log", 'w']], $pipes);
if (!is_resource($serverProcess)) fail('server', 'proc_open failed');
$serverLog = function () use ($dir) {
    return is_readable("$dir/server.log") ? (string) file_get_contents("$dir/server.log") : '';
};
stream_set_timeout($pipes[1], 10);
$port = (int) fgets($pipes[1]);
if ($port <= 0) fail('server', 'no port announced: ' . $serverLog());

// --- Clients ---------------------------------------------------------------------------------------

/** GET / over PHP's openssl stream wrapper; returns [body or false, why it failed, protocol]. */
function viaStream($port, array $ssl)
{
    $context = stream_context_create(['ssl' => $ssl + ['verify_peer' => true, 'verify_peer_name' => true, 'allow_self_signed' => false]]);
    list($fp, $warnings) = quietly(function () use ($port, $context) {
        return stream_socket_client("ssl://127.0.0.1:$port", $errno, $errstr, 10, STREAM_CLIENT_CONNECT, $context);
    });
    if ($fp === false) return [false, $warnings, null];
    $meta = stream_get_meta_data($fp);
    stream_set_timeout($fp, 10);
    fwrite($fp, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
    $response = stream_get_contents($fp);
    fclose($fp);
    $parts = explode("\r\n\r\n", (string) $response, 2);
    return [isset($parts[1]) ? $parts[1] : false, 'response: ' . $response, isset($meta['crypto']['protocol']) ? $meta['crypto']['protocol'] : 'unknown'];
}

/** GET / through libcurl; returns [body or false, curl's errno, its message]. */
function viaCurl($port, $host, $caFile)
{
    $ch = curl_init("https://$host:$port/");
    $options = [
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_SSL_VERIFYPEER => true,
        CURLOPT_SSL_VERIFYHOST => 2,
        CURLOPT_CONNECTTIMEOUT => 10,
        CURLOPT_TIMEOUT => 20,
        // Every name resolves to the local server without a resolver (the image may have no /etc/hosts).
        CURLOPT_RESOLVE => ["$host:$port:127.0.0.1"],
    ];
    if ($caFile !== null) $options[CURLOPT_CAINFO] = $caFile;
    curl_setopt_array($ch, $options);
    $body = curl_exec($ch);
    $result = [$body, curl_errno($ch), curl_error($ch)];
    if (PHP_VERSION_ID < 80000) curl_close($ch); // a no-op since 8.0, deprecated in 8.5
    return $result;
}

// 60 is CURLE_PEER_FAILED_VERIFICATION (CURLE_SSL_CACERT before curl 7.62); 51 is what curl
// before 7.62 reported for a name that does not match.
const CURL_VERIFY_ERRORS = [51, 60];

list($body, $why, $protocol) = viaStream($port, ['cafile' => "$dir/ca.pem", 'peer_name' => 'localhost']);
if ($body !== BODY) fail('stream handshake with the test CA', $why . ' ' . $serverLog());

list($body, $errno, $error) = viaCurl($port, 'localhost', "$dir/ca.pem");
if ($body !== BODY) fail('curl handshake with the test CA', "curl error $errno: $error " . $serverLog());

// Without the test CA (the layer's default bundle only), both must refuse the server.
list($body, $why) = viaStream($port, ['peer_name' => 'localhost']);
if ($body !== false || stripos($why, 'certificate verify failed') === false) {
    fail('stream without the test CA must fail verification', $why);
}
list($body, $errno, $error) = viaCurl($port, 'localhost', null);
if ($body !== false || !in_array($errno, CURL_VERIFY_ERRORS, true)) {
    fail('curl without the test CA must fail verification', "curl error $errno: $error");
}

// With the CA but under a name the certificate does not carry, both must refuse it too.
list($body, $why) = viaStream($port, ['cafile' => "$dir/ca.pem", 'peer_name' => 'not-localhost.invalid']);
if ($body !== false || stripos($why, 'did not match') === false) {
    fail('stream under another name must fail verification', $why);
}
list($body, $errno, $error) = viaCurl($port, 'not-localhost.invalid', "$dir/ca.pem");
if ($body !== false || !in_array($errno, CURL_VERIFY_ERRORS, true)) {
    fail('curl under another name must fail verification', "curl error $errno: $error");
}

echo "handshake-ok stream curl refused-untrusted refused-wrong-name $protocol\n";
