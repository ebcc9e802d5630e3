"""AWS's evaluation of identity-based policies, offline: may this principal make this request?

Implements the documented logic for a principal's own policies within one account (no resource
policies, SCPs or session policies): an explicit Deny in any policy wins; otherwise an Allow in the
identity policies is needed and, when a permissions boundary is given, an Allow in the boundary too
(the result is the intersection). References:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

from iam_foundry.access.policy import PolicyDocument, StatementRef
from iam_foundry.access.principals import principal_policies

ContextValue = str | Sequence[str]
# ${aws:username}, ${aws:PrincipalTag/team, 'none'} and the escapes ${*}, ${?}, ${$}.
VARIABLE = re.compile(r"\$\{([^}]*)\}")
SPECIAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Request:
    action: str                     # "ec2:RunInstances"
    resource: str = "*"             # ARN
    context: Mapping[str, ContextValue] = field(default_factory=dict)  # condition keys, e.g. {"iam:PassedToService": "ec2.amazonaws.com"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str                     # "allowed by ...", "explicitly denied by ...", "no statement allows", "outside permissions boundary"
    deciding: tuple[StatementRef, ...]

    def __bool__(self) -> bool:
        return self.allowed


# --- matching -------------------------------------------------------------------------------------

def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class _Context:
    """Request context with case-insensitive key lookup (condition key names are case-insensitive)."""

    def __init__(self, context: Mapping[str, ContextValue]):
        self._values: dict[str, tuple[str, ...]] = {}
        for key, value in context.items():
            items = (value,) if isinstance(value, (str, bool, int, float)) else tuple(value)
            self._values[key.lower()] = tuple(_text(v) for v in items)

    def get(self, key: str) -> tuple[str, ...] | None:
        return self._values.get(key.lower())


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _substitute(pattern: str, context: _Context, *, wildcards: bool, star: str = ".*", one: str = ".") -> str | None:
    """Regex source for a policy string: variables filled from the request, * and ? as wildcards.

    A variable with no value in the request (and no default) makes the string match nothing, as AWS
    documents for policy variables. Values filled in are literal: a '*' in a user name is no wildcard.
    """
    out: list[str] = []
    position = 0
    for match in VARIABLE.finditer(pattern):
        out.append(_glob_source(pattern[position:match.start()], wildcards, star, one))
        position = match.end()
        body = match.group(1).strip()
        if body in SPECIAL_VARIABLES:
            out.append(re.escape(SPECIAL_VARIABLES[body]))
            continue
        name, _, default = body.partition(",")
        values = context.get(name.strip())
        if values and len(values) == 1:
            out.append(re.escape(values[0]))
        elif default.strip():
            out.append(re.escape(default.strip().strip("'\"")))
        else:
            return None
    out.append(_glob_source(pattern[position:], wildcards, star, one))
    return "".join(out)


def _glob_source(text: str, wildcards: bool, star: str = ".*", one: str = ".") -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(star if c == "*" else one if c == "?" else re.escape(c) for c in text)


@lru_cache(maxsize=8192)
def _compiled(source: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def match_string(pattern: str, value: str, context: _Context | None = None, *, wildcards: bool = True,
                 ignore_case: bool = False) -> bool:
    source = _substitute(pattern, context or _Context({}), wildcards=wildcards)
    return source is not None and _compiled(source, ignore_case).fullmatch(value) is not None


def match_action(pattern: str, action: str) -> bool:
    """Action names are case-insensitive; * and ? are wildcards (no policy variables in actions)."""
    return _compiled(_glob_source(pattern, True), True).fullmatch(action) is not None


def match_arn(pattern: str, arn: str, context: _Context | None = None) -> bool:
    """ARN matching as IAM does it: case-sensitive; each of the first five colon-separated segments
    is matched on its own (a wildcard there does not cross a colon), the resource part as a whole."""
    if pattern == "*":
        return True
    context = context or _Context({})
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(a_parts) < len(p_parts):
        return False
    # A short pattern such as "arn:aws:s3:*": its last segment covers the rest of the ARN.
    a_parts = a_parts[:len(p_parts) - 1] + [":".join(a_parts[len(p_parts) - 1:])]
    for index, (p, a) in enumerate(zip(p_parts, a_parts)):
        last = index == len(p_parts) - 1
        source = _substitute(p, context, wildcards=True) if last else _substitute(p, context, wildcards=True, star="[^:]*", one="[^:]")
        if source is None or not _compiled(source, False).fullmatch(a):
            return False
    return True


# --- condition operators --------------------------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None


def _compare(parse: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str, _Context], bool]:
    def check(value: str, policy: str, context: _Context) -> bool:
        left, right = parse(value), parse(policy)
        return left is not None and right is not None and test(left, right)
    return check


def _ip(value: str, policy: str, context: _Context) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


def _binary(value: str, policy: str, context: _Context) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(policy, validate=True)
    except ValueError:
        return False


# operator -> (positive test of one request value against one policy value, negated?)
_OPERATORS: dict[str, tuple[Callable[[str, str, _Context], bool], bool]] = {
    "StringEquals": (lambda v, p, c: match_string(p, v, c, wildcards=False), False),
    "StringNotEquals": (lambda v, p, c: match_string(p, v, c, wildcards=False), True),
    "StringEqualsIgnoreCase": (lambda v, p, c: match_string(p, v, c, wildcards=False, ignore_case=True), False),
    "StringNotEqualsIgnoreCase": (lambda v, p, c: match_string(p, v, c, wildcards=False, ignore_case=True), True),
    "StringLike": (lambda v, p, c: match_string(p, v, c), False),
    "StringNotLike": (lambda v, p, c: match_string(p, v, c), True),
    "NumericEquals": (_compare(_number, lambda a, b: a == b), False),
    "NumericNotEquals": (_compare(_number, lambda a, b: a == b), True),
    "NumericLessThan": (_compare(_number, lambda a, b: a < b), False),
    "NumericLessThanEquals": (_compare(_number, lambda a, b: a <= b), False),
    "NumericGreaterThan": (_compare(_number, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_compare(_number, lambda a, b: a >= b), False),
    "DateEquals": (_compare(_date, lambda a, b: a == b), False),
    "DateNotEquals": (_compare(_date, lambda a, b: a == b), True),
    "DateLessThan": (_compare(_date, lambda a, b: a < b), False),
    "DateLessThanEquals": (_compare(_date, lambda a, b: a <= b), False),
    "DateGreaterThan": (_compare(_date, lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_compare(_date, lambda a, b: a >= b), False),
    "Bool": (lambda v, p, c: v.lower() == str(p).lower(), False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (lambda v, p, c: match_arn(p, v, c), False),
    "ArnLike": (lambda v, p, c: match_arn(p, v, c), False),
    "ArnNotEquals": (lambda v, p, c: match_arn(p, v, c), True),
    "ArnNotLike": (lambda v, p, c: match_arn(p, v, c), True),
}


class UnknownOperator(ValueError):
    pass


def condition_holds(operator: str, key: str, policy_values: Any, context: _Context) -> bool:
    """One operator/key pair of a Condition block (values of one key are ORed)."""
    qualifier = ""
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        if operator.startswith(prefix):
            qualifier, operator = prefix[:-1], operator[len(prefix):]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator.removesuffix("IfExists") if if_exists else operator
    wanted = [_text(v) for v in _values(policy_values)]
    present = context.get(key)

    if base == "Null":
        # "true": the key is absent (or, for a multivalued key, empty); "false": it is present.
        absent = not present
        return any((w.lower() == "true") == absent for w in wanted)
    if base not in _OPERATORS:
        raise UnknownOperator(operator)
    test, negated = _OPERATORS[base]

    def matches(value: str) -> bool:
        return any(test(value, w, context) for w in wanted)

    if qualifier == "ForAllValues":
        # True for an absent or empty key; otherwise every request value must pass.
        return not present or all(matches(v) != negated for v in present)
    if qualifier == "ForAnyValue":
        if not present:
            return if_exists
        return any(matches(v) != negated for v in present)
    if not present:
        # Absent key: false, except ...IfExists and the negated operators, which are true.
        return if_exists or negated
    hit = any(matches(v) for v in present)
    return not hit if negated else hit


def _conditions_hold(condition: Mapping[str, Any], context: _Context) -> bool:
    for operator, pairs in condition.items():
        if not isinstance(pairs, Mapping):
            return False
        for key, policy_values in pairs.items():
            if not condition_holds(operator, key, policy_values, context):
                return False
    return True


def statement_matches(statement: Mapping[str, Any], request: Request, context: _Context | None = None) -> bool:
    """Does the statement apply to the request (action, resource and condition)? Effect is not looked at."""
    context = context or _Context(request.context)
    if "Action" in statement:
        if not any(match_action(p, request.action) for p in _values(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(match_action(p, request.action) for p in _values(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(match_arn(p, request.resource, context) for p in _values(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(match_arn(p, request.resource, context) for p in _values(statement["NotResource"])):
            return False
    return _conditions_hold(statement.get("Condition", {}) or {}, context)


def _matching(policies: Iterable[PolicyDocument], request: Request, context: _Context) -> tuple[list[StatementRef], list[StatementRef]]:
    allows: list[StatementRef] = []
    denies: list[StatementRef] = []
    for policy in policies:
        for ref, statement in policy.statements():
            if statement.get("Effect") in ("Allow", "Deny") and statement_matches(statement, request, context):
                (denies if statement["Effect"] == "Deny" else allows).append(ref)
    return allows, denies


def _names(refs: Sequence[StatementRef]) -> str:
    return ", ".join(str(r) for r in refs)


def evaluate(policies: Sequence[PolicyDocument], request: Request,
             boundary: Sequence[PolicyDocument] | None = None) -> Decision:
    """AWS's decision for one request against a principal's identity policies (and boundary)."""
    context = _Context(request.context)
    allows, denies = _matching(policies, request, context)
    boundary_allows: list[StatementRef] = []
    if boundary is not None:
        boundary_allows, boundary_denies = _matching(boundary, request, context)
        denies += boundary_denies
    if denies:
        return Decision(False, f"explicitly denied by {_names(denies)}", tuple(denies))
    if not allows:
        return Decision(False, "no statement allows", ())
    if boundary is not None and not boundary_allows:
        return Decision(False, "outside permissions boundary", tuple(allows))
    deciding = tuple(allows) + tuple(boundary_allows)
    return Decision(True, f"allowed by {_names(allows)}", deciding)


__all__ = ["Decision", "PolicyDocument", "Request", "StatementRef", "evaluate", "principal_policies", "statement_matches"]
