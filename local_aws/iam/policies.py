"""IAM policy evaluation, as the IAM User Guide documents it.

    decision = policies.evaluate(Request(action="glue:StartCrawler", resource=arn, principal=caller, context={}),
                                 identity_policies=[doc, ...], resource_policy=bucket_policy_or_None)
    decision.allowed          # bool
    decision.reason           # "because no identity-based policy allows the glue:StartCrawler action", ...

Sources (IAM User Guide): "Policy evaluation logic" and "Determining whether a request is allowed or denied within
an account" (an explicit Deny in any policy wins; else an Allow in an identity-based or a resource-based policy
allows; a permissions boundary or session policy that does not allow denies implicitly); "IAM JSON policy
elements: Action / NotAction / Resource / NotResource / Principal / NotPrincipal / Condition"; "Condition
operators" (a key missing from the request context makes a condition false, except for negated operators, which
are then true, ...IfExists, which is true, and Null); "Conditions with multiple context keys or values" (operators
and keys AND, values OR, negated operators NOR; ForAllValues / ForAnyValue); "IAM policy elements: Variables and
tags" (``${aws:username}`` and the ``${*}``, ``${?}``, ``${$}`` escapes, in version 2012-10-17 policies).

Documents are the parsed JSON (dicts). Context keys are matched case-insensitively; pass them lower-cased.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from local_aws.principal import Principal

ALLOW, DENY = "Allow", "Deny"


class PolicyNotEmulated(Exception):
    """A policy uses an element or operator this evaluator does not implement (named in the message)."""


@dataclass(frozen=True)
class Request:
    """One authorisation question: may ``principal`` perform ``action`` on ``resource``?

    action: ``<service prefix>:<Action>``; resource: an ARN (or ``*`` for actions without resource-level
    permissions); principal: None for an anonymous (unsigned) request; context: the request context's condition
    keys, lower-cased, each to its list of values (strings).
    """

    action: str
    resource: str
    principal: Principal | None
    context: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # AWS's wording of why, for the error message ("" when allowed)


# --- matching ------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """``*`` any run of characters, ``?`` one character."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str) -> bool:
    """ArnLike / Resource matching: each of the six colon-delimited components checked separately (the last one,
    the resource, may itself hold colons)."""
    if pattern == "*":
        return True
    p = pattern.split(":", 5)
    a = arn.split(":", 5)
    if len(p) != 6 or len(a) != 6:
        return glob_match(pattern, arn)
    return all(glob_match(x, y) for x, y in zip(p, a, strict=True))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "\x00STAR\x00", "?": "\x00QMARK\x00", "$": "$"}


def _substitute(value: str, request: Request, version: str) -> tuple[str, bool]:
    """Policy variables replaced by request context values; (text, ok). ok is False when a variable's key is
    missing (the element then does not match). ``${*}`` and ``${?}`` stand for literal ``*`` and ``?``."""
    if version != "2012-10-17" or "${" not in value:
        return value, True
    ok = True

    def repl(m: re.Match) -> str:
        nonlocal ok
        name = m.group(1)
        if name in _ESCAPES:
            return _ESCAPES[name]
        key, _, default = name.partition(",")
        values = request.context.get(key.strip().lower())
        if values:
            return values[0]
        if default:
            return default.strip().strip("'")
        ok = False
        return ""

    return _VARIABLE.sub(repl, value), ok


def _literal_aware_match(pattern: str, value: str, matcher) -> bool:
    if "\x00" not in pattern:
        return matcher(pattern, value)
    # Escaped wildcards: match literally by splitting on them.
    pieces = re.split("(\x00STAR\x00|\x00QMARK\x00)", pattern)
    regex = "".join(re.escape("*") if p == "\x00STAR\x00" else re.escape("?") if p == "\x00QMARK\x00"
                    else _glob(p, False).pattern for p in pieces)
    return re.fullmatch(regex, value, re.DOTALL) is not None


# --- principals (resource-based and trust policies) ----------------------------------------------------------------


def _principal_matches(element, caller: Principal | None, service: str | None, effect: str,
                       account_means_any: bool = False) -> bool:
    """Whether a Principal element names the caller. An account (``123456789012`` or ``arn:aws:iam::<acct>:root``)
    names every principal of the account for a Deny, but for an Allow only delegates to the account: its
    identities still need an identity-based policy ("AWS JSON policy elements: Principal", AWS account principals).
    A role ARN names that role's sessions."""
    if element == "*":
        return True
    if not isinstance(element, dict):
        raise PolicyNotEmulated(f"Principal element {element!r}")
    for kind, values in element.items():
        for value in _as_list(values):
            if kind == "AWS":
                if value == "*":
                    return True
                if caller is None:
                    continue
                account_arn = f"arn:aws:iam::{value}:root" if re.fullmatch(r"\d{12}", value) else value
                if account_arn == f"arn:aws:iam::{caller.account_id}:root":
                    if caller.is_root or effect == DENY or account_means_any:
                        return True
                    continue
                if value == caller.arn or (caller.role_arn is not None and value == caller.role_arn):
                    return True
            elif kind == "Service":
                if service is not None and value == service:
                    return True
            elif kind in ("Federated", "CanonicalUser"):
                continue
            else:
                raise PolicyNotEmulated(f"Principal type {kind!r}")
    return False


# --- conditions ----------------------------------------------------------------------------------------------------


def _date(value: str) -> dt.datetime:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _ip_in(network: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


# operator -> (value matcher(policy value, request value) -> bool, negated)
_OPERATORS = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: _literal_aware_match(p, v, glob_match), False),
    "StringNotLike": (lambda p, v: _literal_aware_match(p, v, glob_match), True),
    "NumericEquals": (lambda p, v: float(v) == float(p), False),
    "NumericNotEquals": (lambda p, v: float(v) == float(p), True),
    "NumericLessThan": (lambda p, v: float(v) < float(p), False),
    "NumericLessThanEquals": (lambda p, v: float(v) <= float(p), False),
    "NumericGreaterThan": (lambda p, v: float(v) > float(p), False),
    "NumericGreaterThanEquals": (lambda p, v: float(v) >= float(p), False),
    "DateEquals": (lambda p, v: _date(v) == _date(p), False),
    "DateNotEquals": (lambda p, v: _date(v) == _date(p), True),
    "DateLessThan": (lambda p, v: _date(v) < _date(p), False),
    "DateLessThanEquals": (lambda p, v: _date(v) <= _date(p), False),
    "DateGreaterThan": (lambda p, v: _date(v) > _date(p), False),
    "DateGreaterThanEquals": (lambda p, v: _date(v) >= _date(p), False),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "BinaryEquals": (lambda p, v: p == v, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (lambda p, v: arn_match(p, v), False),
    "ArnLike": (lambda p, v: arn_match(p, v), False),
    "ArnNotEquals": (lambda p, v: arn_match(p, v), True),
    "ArnNotLike": (lambda p, v: arn_match(p, v), True),
}


def _condition_holds(operator: str, key: str, policy_values: list, request: Request, version: str) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            raise PolicyNotEmulated(f"condition set operator {qualifier!r}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator[: -len("IfExists")] if if_exists else operator
    values = request.context.get(key.lower())
    if base == "Null":
        present = bool(values)
        return all((_text(p).lower() == "true") != present for p in policy_values)
    if base not in _OPERATORS:
        raise PolicyNotEmulated(f"condition operator {operator!r}")
    match, negated = _OPERATORS[base]
    wanted = []
    for p in policy_values:
        text, ok = _substitute(_text(p), request, version)
        if ok:
            wanted.append(text)

    def one(value: str) -> bool:
        try:
            hit = any(match(p, value) for p in wanted)
        except (ValueError, TypeError):
            hit = False  # a value of the wrong type never matches
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values or [])
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values or [])
    if not values:
        return if_exists or negated
    return any(one(v) for v in values) if not negated else all(one(v) for v in values)


def conditions_hold(condition: dict, request: Request, version: str = "2012-10-17") -> bool:
    """All operators, and all keys under each, must hold ("Conditions with multiple context keys or values")."""
    for operator, keys in condition.items():
        for key, policy_values in keys.items():
            if not _condition_holds(operator, key, _as_list(policy_values), request, version):
                return False
    return True


# --- statements and policies ---------------------------------------------------------------------------------------


def _action_in(element, action: str) -> bool:
    return any(glob_match(p, action, ignore_case=True) for p in _as_list(element))


def _resource_in(element, request: Request, version: str) -> bool:
    for pattern in _as_list(element):
        text, ok = _substitute(pattern, request, version)
        if ok and _literal_aware_match(text, request.resource, arn_match):
            return True
    return False


def statement_applies(statement: dict, request: Request, version: str, *, service: str | None = None,
                      resource_based: bool = False, account_means_any: bool = False) -> bool:
    """Whether a statement's Action/NotAction, Resource/NotResource, Principal/NotPrincipal and Condition all
    match the request (its Effect is then in force)."""
    if "Action" in statement:
        if not _action_in(statement["Action"], request.action):
            return False
    elif "NotAction" in statement:
        if _action_in(statement["NotAction"], request.action):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _resource_in(statement["Resource"], request, version):
            return False
    elif "NotResource" in statement:
        if _resource_in(statement["NotResource"], request, version):
            return False
    elif not resource_based:
        return False  # an identity-based statement without a resource element is invalid
    effect = statement.get("Effect")
    if "Principal" in statement:
        if not _principal_matches(statement["Principal"], request.principal, service, effect, account_means_any):
            return False
    elif "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], request.principal, service, effect, account_means_any):
            return False
    elif resource_based:
        return False
    condition = statement.get("Condition")
    return not condition or conditions_hold(condition, request, version)


def effects(policy: dict, request: Request, *, service: str | None = None, resource_based: bool = False,
            account_means_any: bool = False) -> set[str]:
    """The Effects ("Allow", "Deny") of the policy's statements that apply to the request."""
    version = policy.get("Version", "2008-10-17")
    found = set()
    for statement in _as_list(policy.get("Statement", [])):
        if statement_applies(statement, request, version, service=service, resource_based=resource_based,
                             account_means_any=account_means_any):
            found.add(statement.get("Effect"))
    return found


def evaluate(request: Request, identity_policies: Iterable[dict], resource_policy: dict | None = None,
             *, session_policy: dict | None = None, boundary: dict | None = None) -> Decision:
    """Allow or deny a request within one account ("Policy evaluation logic", same-account flow).

    The root user is not restricted by identity-based policies, but an explicit Deny in a resource-based policy
    applies to it. An anonymous caller (principal None) needs a resource-based policy allowing ``*``.
    """
    action = request.action
    identity = [] if request.principal is None or request.principal.is_root else list(identity_policies)
    identity_effects: set[str] = set()
    for policy in identity:
        identity_effects |= effects(policy, request)
    resource_effects = effects(resource_policy, request, resource_based=True) if resource_policy else set()
    if DENY in identity_effects:
        return Decision(False, "with an explicit deny in an identity-based policy")
    if DENY in resource_effects:
        return Decision(False, "with an explicit deny in a resource-based policy")
    boundary_effects = effects(boundary, request) if boundary else None
    session_effects = effects(session_policy, request) if session_policy else None
    if boundary_effects is not None and DENY in boundary_effects:
        return Decision(False, "with an explicit deny in a permissions boundary")
    if session_effects is not None and DENY in session_effects:
        return Decision(False, "with an explicit deny in a session policy")
    if request.principal is not None and request.principal.is_root:
        return Decision(True, "")
    if ALLOW in resource_effects and request.principal is not None \
            and resource_names_caller_directly(resource_policy, request):
        return Decision(True, "")  # a resource policy naming the user or session itself is enough
    if boundary_effects is not None and ALLOW not in boundary_effects:
        return Decision(False, f"because no permissions boundary allows the {action} action")
    if session_effects is not None and ALLOW not in session_effects:
        return Decision(False, f"because no session policy allows the {action} action")
    if ALLOW in identity_effects or ALLOW in resource_effects:
        return Decision(True, "")
    if request.principal is None:
        return Decision(False, f"because no resource-based policy allows the {action} action")
    return Decision(False, f"because no identity-based policy allows the {action} action")


def resource_names_caller_directly(policy: dict, request: Request) -> bool:
    """Whether an allowing statement names the IAM user or the role session ARN itself: then, within an account,
    a permissions boundary or session policy does not limit it ("Policy evaluation logic", "Evaluating
    identity-based policies with resource-based policies")."""
    caller = request.principal
    version = policy.get("Version", "2008-10-17")
    for statement in _as_list(policy.get("Statement", [])):
        if statement.get("Effect") != ALLOW or not isinstance(statement.get("Principal"), dict):
            continue
        names = _as_list(statement["Principal"].get("AWS", []))
        if caller.arn in names and statement_applies(statement, request, version, resource_based=True):
            return True
    return False


def trust_allows_service(document: str | dict, service: str, context: dict[str, list[str]] | None = None) -> bool:
    """Whether a role's trust policy lets the service principal ``service`` call sts:AssumeRole."""
    import json

    policy = json.loads(document) if isinstance(document, str) else document
    request = Request("sts:AssumeRole", "*", None, context or {})
    found = effects(policy, request, service=service, resource_based=True)
    return ALLOW in found and DENY not in found


def evaluate_assume_role(request: Request, identity_policies: Iterable[dict], trust_policy: dict,
                         *, boundary: dict | None = None) -> Decision:
    """sts:AssumeRole: the role's trust policy must allow the caller, and the caller's identity-based policies
    must allow the action unless the trust policy names the caller itself ("IAM roles: How to use a trust
    policy", "Policy evaluation logic": a trust policy naming the account delegates to its identity policies).
    """
    trusted = effects(trust_policy, request, resource_based=True, account_means_any=True)
    if DENY in trusted:
        return Decision(False, "with an explicit deny in a resource-based policy")
    if ALLOW not in trusted:
        return Decision(False, f"because no resource-based policy allows the {request.action} action")
    direct = request.principal is not None and ALLOW in effects(trust_policy, request, resource_based=True)
    return evaluate(request, identity_policies, trust_policy if direct else None, boundary=boundary)


def statements(policy: dict) -> Sequence[dict]:
    return _as_list(policy.get("Statement", []))
