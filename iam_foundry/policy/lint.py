"""Offline checks of every rendered IAM document: grammar, then least-privilege rules.

LocalStack does not enforce IAM and Access Analyzer needs a live account, so the project checks its
policies itself before anything reaches Terraform. Grammar errors always fail. Lint findings fail
unless the profile accepts them, with a reason, in `policy_json/<profile>/lint-accepted.json`:

    [{"rule": "LP003", "sid": "PassNodeRole", "reason": "why this is acceptable"}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from iam_foundry.emit.tfjson import TOKEN  # a project expression (e.g. an ARN known at plan time)
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.policy.elements import as_list
from iam_foundry.profiles.load import PLACEHOLDER, read_json

STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"}
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
SID = re.compile(r"^[A-Za-z0-9]*$")
CONDITION_BASE = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
    "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals",
    "ArnNotLike", "Null",
}
SENSITIVE_SERVICES = ("iam", "sts", "kms", "secretsmanager")
ROLE_CREATION_ACTIONS = {
    "iam:createrole", "iam:deleterole", "iam:attachrolepolicy", "iam:detachrolepolicy", "iam:putrolepolicy",
    "iam:deleterolepolicy", "iam:updateassumerolepolicy", "iam:createinstanceprofile", "iam:deleteinstanceprofile",
    "iam:addroletoinstanceprofile", "iam:removerolefrominstanceprofile",
}
# Secrets Manager actions that only work on "*" (no resource-level permissions).
# A name prefix before a '*' in a resource (role/<prefix>*) shorter than this matches too much.
MIN_NAME_PREFIX = 3
# The last segment of a resource ARN: the name part after the final ':' or '/', when it ends in '*'.
NAME_PREFIX = re.compile(r"[:/]([^:/]*)\*$")
SECRETS_ACCOUNT_LEVEL = {"secretsmanager:listsecrets", "secretsmanager:getrandompassword", "secretsmanager:batchgetsecretvalue"}

RULES = {
    "LP001": "no '*' or '<service>:*' action on '*' resources for iam, sts, kms, secretsmanager",
    "LP002": "iam:PassRole only on specific role ARNs",
    "LP003": "iam:PassRole limited with an iam:PassedToService condition",
    "LP004": "role and instance-profile creation limited to a name pattern",
    "LP005": "Secrets Manager limited to the platform's secret prefix",
    "LP006": "no Allow with NotAction (it grants every other action, including future ones)",
    "LP007": "no Allow with NotResource (it grants every other resource, including future ones)",
    "LP008": f"a name prefix before '*' in a resource has at least {MIN_NAME_PREFIX} characters, not only punctuation",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    policy: str
    sid: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule} ({RULES[self.rule]}): policy '{self.policy}', statement '{self.sid}': {self.detail}"


def _is_condition_operator(name: str) -> bool:
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        name = name.removeprefix(prefix)
    return name.removesuffix("IfExists") in CONDITION_BASE


def grammar_problems(document: Any, where: str, trust: bool = False) -> list[Problem]:
    """IAM policy grammar: version, effects, action and resource shapes, condition operators, Sids."""
    problems: list[Problem] = []

    def bad(message: str, fix: str) -> None:
        problems.append(Problem(where, message, fix))

    if not isinstance(document, dict):
        return [Problem(where, "a policy document must be a JSON object", "use {\"Version\": ..., \"Statement\": [...]}")]
    if document.get("Version") != "2012-10-17":
        bad(f"Version is {document.get('Version')!r}", 'use "Version": "2012-10-17"')
    unknown = set(document) - {"Version", "Statement", "Id"}
    if unknown:
        bad(f"unknown top-level keys {sorted(unknown)}", "use only Version, Statement, Id")
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        bad("Statement must be a non-empty list", "add at least one statement")
        return problems
    sids: set[str] = set()
    for index, statement in enumerate(statements):
        label = f"Statement[{index}]" + (f" ({statement.get('Sid')})" if isinstance(statement, dict) and statement.get("Sid") else "")
        if not isinstance(statement, dict):
            bad(f"{label} is not an object", "write each statement as {...}")
            continue
        for key in sorted(set(statement) - STATEMENT_KEYS):
            bad(f"{label}: unknown key '{key}'", f"use only {sorted(STATEMENT_KEYS)}")
        sid = statement.get("Sid")
        if sid is not None:
            if not isinstance(sid, str) or not SID.match(sid):
                bad(f"{label}: Sid {sid!r} is not alphanumeric", "use letters and digits only")
            elif sid in sids:
                bad(f"{label}: duplicate Sid '{sid}'", "give each statement its own Sid")
            sids.add(sid)
        if statement.get("Effect") not in ("Allow", "Deny"):
            bad(f"{label}: Effect is {statement.get('Effect')!r}", 'use "Allow" or "Deny"')
        actions = statement.get("Action", statement.get("NotAction"))
        if actions is None:
            bad(f"{label}: no Action", "add an Action")
        for action in as_list(actions or []):
            if not isinstance(action, str) or not (action == "*" or ACTION.match(action)):
                bad(f"{label}: action {action!r} is not service:Action", 'write actions like "ec2:RunInstances"')
        if trust:
            if "Principal" not in statement and "NotPrincipal" not in statement:
                bad(f"{label}: a trust policy statement needs a Principal", 'add "Principal": {"Service": "ec2.amazonaws.com"}')
        else:
            resources = statement.get("Resource", statement.get("NotResource"))
            if resources is None:
                bad(f"{label}: no Resource", 'add a Resource ("*" or ARNs)')
            for resource in as_list(resources or []):
                if not isinstance(resource, str) or not (resource == "*" or resource.startswith("arn:") or TOKEN.match(resource)):
                    bad(f"{label}: resource {resource!r} is neither an ARN nor '*'", "write resources as arn:... or *")
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict):
            bad(f"{label}: Condition must be an object", "use {\"Operator\": {\"key\": value}}")
        else:
            for operator in condition:
                if not _is_condition_operator(operator):
                    bad(f"{label}: unknown condition operator '{operator}'", "use an IAM condition operator such as StringEquals")
        text = str(statement)
        for match in PLACEHOLDER.finditer(text):
            bad(f"{label}: placeholder {match.group(0)} left unfilled", f"give '{match.group(1)}' a value")
    return problems


def _matches_sensitive_wildcard(action: str) -> bool:
    if action == "*":
        return True
    service, _, name = action.partition(":")
    return service in SENSITIVE_SERVICES and name == "*"


def specific_prefix(prefix: str) -> bool:
    """Long enough, and more than punctuation, to name a family of resources rather than most of them."""
    return len(prefix) >= MIN_NAME_PREFIX and any(c.isalnum() for c in prefix)


def lint_statements(statements: Iterable[dict[str, Any]], policy: str) -> list[Finding]:
    findings: list[Finding] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", "(no Sid)")
        if "NotAction" in statement:
            findings.append(Finding("LP006", policy, sid, f"Allow with NotAction {statement['NotAction']!r}"))
        if "NotResource" in statement:
            findings.append(Finding("LP007", policy, sid, f"Allow with NotResource {statement['NotResource']!r}"))
        for resource in as_list(statement.get("Resource", statement.get("NotResource", []))):
            match = NAME_PREFIX.search(resource) if isinstance(resource, str) else None
            if match and match.group(1) and not specific_prefix(match.group(1).rstrip("*")):
                findings.append(Finding("LP008", policy, sid, f"name prefix '{match.group(1)}' before '*' in {resource}"))
        if "Action" not in statement:
            continue
        actions = [a for a in as_list(statement["Action"]) if isinstance(a, str)]
        lowered = {a.lower() for a in actions}
        resources = [r for r in as_list(statement.get("Resource", [])) if isinstance(r, str)]
        condition = statement.get("Condition", {})
        all_resources = "*" in resources

        for action in actions:
            if _matches_sensitive_wildcard(action) and all_resources:
                findings.append(Finding("LP001", policy, sid, f"'{action}' on '*'"))
        if {"iam:passrole", "iam:*", "iam:pass*"} & lowered:
            # Only resources that can match a role count: "*", "role/*", or "any resource of the account".
            broad = [r for r in resources if r == "*" or r.endswith(":role/*") or r.endswith(":*")]
            if broad:
                findings.append(Finding("LP002", policy, sid, f"iam:PassRole on {broad}"))
            passed_to = any("iam:PassedToService" in keys for keys in condition.values() if isinstance(keys, dict))
            if not passed_to:
                findings.append(Finding("LP003", policy, sid, "iam:PassRole without an iam:PassedToService condition"))
        if ROLE_CREATION_ACTIONS & lowered:
            broad = [r for r in resources if r == "*" or r.endswith(":role/*") or r.endswith(":instance-profile/*")]
            if broad:
                findings.append(Finding("LP004", policy, sid, f"role creation on {broad}"))
        secret_actions = [a for a in lowered if a.startswith("secretsmanager:") and a not in SECRETS_ACCOUNT_LEVEL]
        if secret_actions:
            broad = [r for r in resources if r == "*" or r.endswith(":secret:*")]
            if broad:
                findings.append(Finding("LP005", policy, sid, f"Secrets Manager on {broad}"))
    return findings


def accepted_findings(profile_root: Path) -> list[dict[str, str]]:
    path = profile_root / "lint-accepted.json"
    if not path.exists():
        return []
    entries = read_json(path)
    for entry in entries:
        if not (isinstance(entry, dict) and entry.get("rule") in RULES and entry.get("sid") and str(entry.get("reason", "")).strip()):
            raise PolicyError(Problem(str(path), f"bad entry {entry!r}", 'each entry needs "rule" (LP00x), "sid" and a non-empty "reason"'))
    return entries


def unexplained(findings: list[Finding], accepted: list[dict[str, str]]) -> list[Finding]:
    ok = {(entry["rule"], entry["sid"]) for entry in accepted}
    return [f for f in findings if (f.rule, f.sid) not in ok]
