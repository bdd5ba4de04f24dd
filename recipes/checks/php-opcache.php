<?php
// Smoke check of recipes/php.json (opcache-enabled, opcache-jit-available-but-off): OPcache is
// loaded and on for the CLI, this very file went through it, timestamps are not re-checked, the
// interned strings buffer is the layer's size, and
// on PHP 8 the JIT is compiled in, off by default, and turned on by the settings a user would put
// in php/conf.d: a second PHP process (no shell needed) runs this file with them, and the JIT must
// compile the hot loop into machine code that computes the right sum. (OPcache neither caches nor
// compiles a script modified in the last 2 seconds, opcache.file_update_protection: when trying
// this by hand, do not run it right after editing it.)
if (($argv[1] ?? '') === 'jit-child') {
    // The JIT writes its stubs at start-up: only code written while the loop runs counts.
    $freeBefore = opcache_get_status(false)['jit']['buffer_free'];
    $sum = static function (int $n): int {
        $s = 0;
        for ($i = 0; $i < $n; $i++) {
            $s += $i % 7;
        }
        return $s;
    };
    $total = 0;
    for ($k = 0; $k < 200; $k++) {
        $total += $sum(1000);
    }
    $jit = opcache_get_status(false)['jit'];
    echo $jit['on'] ? 'on' : 'off';
    echo $jit['buffer_free'] < $freeBefore ? '-compiled' : '-nothing-compiled';
    echo $total === 200 * 2997 ? '' : '-wrong-sum';
    exit(0);
}
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
        [PHP_BINARY, '-d', 'opcache.jit=tracing', '-d', 'opcache.jit_buffer_size=16M', __FILE__, 'jit-child'],
        [1 => ['pipe', 'w']],
        $pipes
    );
    $answer = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    proc_close($child);
    $out[] = 'jit-when-enabled-' . trim((string) $answer);
}
echo implode(' ', $out);
