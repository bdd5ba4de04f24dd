<?php
// Smoke check of recipes/php.json (opcache-enabled, opcache-jit-available-but-off): OPcache is
// loaded and on for the CLI, this very file went through it, timestamps are not re-checked, the
// interned strings buffer is the layer's size, and
// on PHP 8 the JIT is compiled in, off by default, and turned on by the settings a user would put
// in php/conf.d (run in a second PHP process, no shell needed).
$status = opcache_get_status(false);
if ($status === false) {
    echo 'opcache-off';
    exit(1);
}
$out = ['opcache-on'];
$out[] = opcache_is_script_cached(__FILE__) ? 'script-cached' : 'script-not-cached';
$out[] = 'validate_timestamps=' . ini_get('opcache.validate_timestamps');
// The layer's php.ini sizes the interned strings buffer (in MB): the setting must have applied.
$out[] = 'interned=' . ini_get('opcache.interned_strings_buffer') . 'M';
if (PHP_VERSION_ID >= 80000) {
    $out[] = isset($status['jit']) ? 'jit-' . ($status['jit']['on'] ? 'on' : 'off') : 'no-jit';
    $child = proc_open(
        [PHP_BINARY, '-d', 'opcache.jit=tracing', '-d', 'opcache.jit_buffer_size=16M', '-r', 'echo opcache_get_status(false)["jit"]["on"] ? "on" : "off";'],
        [1 => ['pipe', 'w']],
        $pipes
    );
    $answer = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    proc_close($child);
    $out[] = 'jit-when-enabled-' . trim((string) $answer);
}
echo implode(' ', $out);
