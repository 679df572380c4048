"""Run a Lambda function's Python handler in a subprocess, isolated from the server, as AWS Lambda would."""
