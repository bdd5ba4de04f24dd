<?php

// _HANDLER=lib/greeter.greet: the runtime loads lib/greeter.php and calls greet($event, $context).
function greet($event, $context)
{
    echo "Greeting someone\n"; // goes to the log, not into the response

    return array(
        'greeting' => 'Hello, ' . (isset($event['name']) ? $event['name'] : 'stranger') . '!',
        'requestId' => $context->awsRequestId,
        'remainingMs' => $context->getRemainingTimeInMillis(),
    );
}
