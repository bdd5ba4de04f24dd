<?php

// _HANDLER=handler.php: the runtime loads this file once and calls what it returns,
// with ($event, $context), for every event. Code above the return runs once, at init.
$startedAt = time();

return function ($event, $context) use ($startedAt) {
    if (!isset($event['a'], $event['b'])) {
        throw new InvalidArgumentException('The event needs numbers "a" and "b"');
    }

    return array(
        'sum' => $event['a'] + $event['b'],
        'warmForSeconds' => time() - $startedAt,
        'function' => $context->functionName,
    );
};
