<?php

// The function used by every benchmark variant that runs a handler. It returns a closure so
// that the naive baseline can `require` it again on every invocation.
return function ($event) {
    return 'Hello, ' . $event['name'] . '!';
};
