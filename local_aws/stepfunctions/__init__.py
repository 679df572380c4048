"""Step Functions concerns beyond moto's interpreter, one module each: the JSONata evaluator (``jsonata``), the
context object (``context``), create-time validation (``validation``) and runtime errors (``runtime``). The service
module ``local_aws.services.stepfunctions`` imports them so their patches are declared."""
