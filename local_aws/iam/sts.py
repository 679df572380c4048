"""STS answers from the request's principal: GetCallerIdentity names who signed the call, as AWS does.

Source: AWS STS API Reference, "GetCallerIdentity" (UserId: the account id for the root user, the user's unique
id AIDA... for an IAM user, ``<role id>:<session name>`` for an assumed role). moto answers from the access key
and falls back to a made-up ``arn:aws:sts::<account>:user/moto`` for keys it did not mint (our root test keys).
"""

from __future__ import annotations

from local_aws import principal
from local_aws.patches import patch


@patch("moto.sts.models.STSBackend.get_caller_identity", wrap=True,
       why="GetCallerIdentity names the request's principal (moto: user/moto for keys it did not mint, "
           "where AWS names the account root)")
def _get_caller_identity(original):
    def get_caller_identity(self, access_key_id: str, region: str) -> tuple[str, str, str]:
        caller = principal.current()
        if caller is not None and caller.is_root:
            return caller.account_id, caller.arn, caller.account_id
        return original(self, access_key_id, region)

    return get_caller_identity
