<?php

namespace LambdaRuntime;

/** The Runtime API cannot be used any more (connection failure, HTTP 500, unexpected answer). */
final class ApiException extends \RuntimeException
{
}
