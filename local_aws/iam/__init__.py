"""IAM for the local AWS: who is calling (identity, SigV4), what they may do (policy evaluation), and the
sessions services use when they act as their roles.

    identity.caller_of(environ)      -> Credential | None   the request's credentials, resolved to a principal
    roles.session_for(role_arn, ...) -> RoleSession          temporary credentials of a role, as AssumeRole mints

The server establishes the principal per request with ``local_aws.principal.acting_as``.
"""
