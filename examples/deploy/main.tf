# Terraform: a PHP function on a layer published by `build-runtime publish`.
#   terraform apply -var 'php_layer_arn=arn:aws:lambda:eu-west-1:123456789012:layer:php-82:1'
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "php_layer_arn" {
  type        = string
  description = "Layer version ARN printed by build-runtime publish (or read from <zip>.published.json)"
  default     = "arn:aws:lambda:eu-west-1:123456789012:layer:php-82:1"

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:layer:[a-zA-Z0-9_-]+:[0-9]+$", var.php_layer_arn))
    error_message = "php_layer_arn must be a Lambda layer version ARN."
  }
}

data "archive_file" "hello" {
  type        = "zip"
  source_dir  = "${path.module}/../hello"
  output_path = "${path.module}/hello.zip"
}

resource "aws_iam_role" "hello" {
  name = "php-hello"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.hello.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "hello" {
  function_name    = "php-hello"
  role             = aws_iam_role.hello.arn
  filename         = data.archive_file.hello.output_path
  source_code_hash = data.archive_file.hello.output_base64sha256
  handler          = "hello"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = 256
  timeout          = 10
  layers           = [var.php_layer_arn]
}

output "function_arn" {
  value = aws_lambda_function.hello.arn
}
