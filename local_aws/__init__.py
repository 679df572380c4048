"""A local AWS for the sales pipeline: moto plus real engines, served on one loopback port."""

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
