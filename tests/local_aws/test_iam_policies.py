"""IAM policy evaluation, case by case from the IAM User Guide (each test names its page)."""

from __future__ import annotations

import pytest

from local_aws.iam.policies import Request, arn_match, conditions_hold, evaluate, trust_allows_service
from local_aws.principal import Principal, root

ACCT = "123456789012"
ALICE = Principal(arn=f"arn:aws:iam::{ACCT}:user/alice", account_id=ACCT)
SESSION = Principal(arn=f"arn:aws:sts::{ACCT}:assumed-role/Sfn/s1", account_id=ACCT,
                    role_arn=f"arn:aws:iam::{ACCT}:role/Sfn")
CRAWLER = f"arn:aws:glue:us-east-1:{ACCT}:crawler/raw"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ask(action="glue:StartCrawler", resource=CRAWLER, principal=SESSION, **context):
    return Request(action, resource, principal, {k.lower(): v if isinstance(v, list) else [v]
                                                 for k, v in context.items()})


def test_implicit_deny_without_an_allow():
    """"Policy evaluation logic": by default all requests are implicitly denied."""
    decision = evaluate(ask(), [doc(allow("glue:GetCrawler"))])
    assert not decision.allowed
    assert decision.reason == "because no identity-based policy allows the glue:StartCrawler action"


def test_explicit_deny_overrides_allow_in_any_policy():
    """"Policy evaluation logic": an explicit deny in any policy overrides any allow."""
    decision = evaluate(ask(), [doc(allow("glue:*")), doc(deny("glue:StartCrawler", CRAWLER))])
    assert (decision.allowed, decision.reason) == (False, "with an explicit deny in an identity-based policy")


def test_action_matching_is_case_insensitive_with_wildcards():
    """"IAM JSON policy elements: Action": action names are case-insensitive; * and ? wildcards."""
    assert evaluate(ask(), [doc(allow("GLUE:start*"))]).allowed
    assert evaluate(ask(), [doc(allow("glue:StartCrawle?"))]).allowed
    assert not evaluate(ask(), [doc(allow("glue:Start?"))]).allowed


def test_not_action_allows_everything_else_and_not_resource():
    """"IAM JSON policy elements: NotAction" and "NotResource": match every action/resource except those listed."""
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate(ask(), [policy]).allowed
    assert not evaluate(ask("iam:CreateUser", "*"), [policy]).allowed
    no_raw = doc({"Effect": "Allow", "Action": "glue:*", "NotResource": CRAWLER})
    assert not evaluate(ask(), [no_raw]).allowed
    assert evaluate(ask(resource=CRAWLER + "2"), [no_raw]).allowed


def test_resource_arn_components_are_matched_separately():
    """"IAM JSON policy elements: Resource": wildcards within ARN segments; ARNs are case-sensitive."""
    assert arn_match("arn:aws:glue:*:*:crawler/*", CRAWLER)
    assert not arn_match("arn:aws:glue:*:*:crawler/RAW", CRAWLER)
    assert arn_match("arn:aws:s3:::lake/*", "arn:aws:s3:::lake/raw/sales/x.csv")
    assert not arn_match("arn:aws:s3:::lake/*", "arn:aws:s3:::lake")


def test_condition_key_missing_false_but_negated_true_and_if_exists():
    """"Condition operators": a key missing from the request context makes the condition false, except for
    negated operators (true) and ...IfExists (true)."""
    r = ask()
    assert not conditions_hold({"StringEquals": {"aws:SourceArn": "x"}}, r)
    assert conditions_hold({"StringNotEquals": {"aws:SourceArn": "x"}}, r)
    assert conditions_hold({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:states:*"}}, r)
    assert conditions_hold({"Null": {"aws:SourceArn": "true"}}, r)
    assert not conditions_hold({"Null": {"aws:SourceArn": "false"}}, r)


def test_multiple_values_or_negated_nor_and_set_operators():
    """"Conditions with multiple context keys or values": values OR, negated NOR; ForAllValues is true for an
    empty key, ForAnyValue false."""
    r = ask(**{"s3:prefix": "raw/sales/"})
    assert conditions_hold({"StringLike": {"s3:prefix": ["curated/*", "raw/*"]}}, r)
    assert not conditions_hold({"StringNotLike": {"s3:prefix": ["curated/*", "raw/*"]}}, r)
    assert conditions_hold({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, r)
    assert not conditions_hold({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, r)
    tags = ask(**{"aws:TagKeys": ["a", "b"]})
    assert not conditions_hold({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, tags)
    assert conditions_hold({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}}, tags)


def test_bool_ip_arn_numeric_date_operators():
    """"Condition operators": Bool, IpAddress, ArnLike, Numeric and Date families."""
    r = ask(**{"aws:SecureTransport": "true", "aws:SourceIp": "10.0.1.7", "aws:CurrentTime": "2026-01-02T00:00:00Z",
               "aws:SourceArn": f"arn:aws:states:us-east-1:{ACCT}:stateMachine:daily", "s3:max-keys": "10"})
    assert conditions_hold({"Bool": {"aws:SecureTransport": True}}, r)
    assert not conditions_hold({"Bool": {"aws:SecureTransport": "false"}}, r)
    assert conditions_hold({"IpAddress": {"aws:SourceIp": "10.0.0.0/16"}}, r)
    assert not conditions_hold({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/16"]}}, r)
    assert conditions_hold({"ArnLike": {"aws:SourceArn": "arn:aws:states:*:*:stateMachine:*"}}, r)
    assert conditions_hold({"NumericLessThanEquals": {"s3:max-keys": "10"}}, r)
    assert conditions_hold({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, r)


def test_policy_variables_in_resource():
    """"IAM policy elements: Variables and tags": ${aws:username} in a 2012-10-17 policy."""
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    own = ask("s3:GetObject", "arn:aws:s3:::home/alice/x", ALICE, **{"aws:username": "alice"})
    other = ask("s3:GetObject", "arn:aws:s3:::home/bob/x", ALICE, **{"aws:username": "alice"})
    assert evaluate(own, [policy]).allowed and not evaluate(other, [policy]).allowed


def test_resource_policy_allow_deny_and_root():
    """"Policy evaluation logic" within one account: a resource-based policy naming the principal allows without
    an identity-based policy; its explicit deny applies to every principal, root included; naming the account
    only delegates (identities still need an identity-based allow)."""
    obj = ask("s3:GetObject", "arn:aws:s3:::lake/raw/x", ALICE)
    by_name = doc({"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::lake/*"})
    assert evaluate(obj, [], by_name).allowed
    by_account = doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "s3:GetObject",
                      "Resource": "arn:aws:s3:::lake/*"})
    assert not evaluate(obj, [], by_account).allowed
    deny_all = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::lake/*"})
    decision = evaluate(obj, [doc(allow("s3:*"))], deny_all)
    assert (decision.allowed, decision.reason) == (False, "with an explicit deny in a resource-based policy")
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::lake/raw/x", root(ACCT)), [], deny_all).allowed
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::lake/raw/x", root(ACCT)), []).allowed


def test_role_arn_principal_names_its_sessions_and_anonymous_needs_star():
    """"AWS JSON policy elements: Principal": a role ARN names the role's sessions; anonymous needs "*"."""
    by_role = doc({"Effect": "Allow", "Principal": {"AWS": SESSION.role_arn}, "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::lake/*"})
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::lake/x", SESSION), [], by_role).allowed
    anonymous = ask("s3:GetObject", "arn:aws:s3:::lake/x", None)
    assert not evaluate(anonymous, [], by_role).allowed
    public = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"})
    assert evaluate(anonymous, [], public).allowed


def test_permissions_boundary_and_session_policy_limit_identity_allows():
    """"Policy evaluation logic": an identity-based allow is limited by a permissions boundary and by a session
    policy (effective permissions are the intersection)."""
    everything = [doc(allow("*"))]
    assert not evaluate(ask(), everything, boundary=doc(allow("s3:*"))).allowed
    assert evaluate(ask(), everything, boundary=doc(allow("glue:*"))).allowed
    decision = evaluate(ask(), everything, session_policy=doc(allow("s3:*")))
    assert decision.reason == "because no session policy allows the glue:StartCrawler action"


@pytest.mark.parametrize("service, trusted", [("states.amazonaws.com", True), ("glue.amazonaws.com", False)])
def test_trust_policy_names_the_service_principal(service, trusted):
    """"AWS JSON policy elements: Principal", AWS service principals in a role trust policy."""
    trust = doc({"Effect": "Allow", "Principal": {"Service": ["states.amazonaws.com"]}, "Action": "sts:AssumeRole"})
    assert trust_allows_service(trust, service) is trusted
