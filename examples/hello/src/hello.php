<?php

// _HANDLER=hello: the runtime loads src/hello.php and calls hello($event).
function hello($data)
{
    return 'Hello, ' . $data['name'] . '!';
}
