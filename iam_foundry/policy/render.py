"""Rendering a profile's templates into policies: placeholders filled, statements merged with the
chosen addenda, documents measured and split to fit IAM's quota. The profile model and its loading
are profiles/load.py; the plan (plan.py) is the one caller that assembles whole policies.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from iam_foundry.emit.tfjson import measured
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.policy.elements import as_list
from iam_foundry.profiles.load import PLACEHOLDER, PolicySpec, Profile

__all__ = ["MEASURE_STAND_IN", "PLACEHOLDER", "merge_statements", "prefix_parameters", "render", "rendered_size",
           "split_statements", "statements_using"]

# Stand-in used when measuring size: an interpolated value renders to an account id at plan time.
MEASURE_STAND_IN = "123456789012"


# A placeholder right before a '*' in a resource: its value is a name prefix (role/{{prefix}}*).
PREFIX_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\*")


def prefix_parameters(profile: Profile) -> dict[str, str]:
    """Parameters used as a name prefix before '*' in a Resource or NotResource of any of the profile's
    policies or addenda: parameter -> the first resource template that does so."""
    statements = [s for specs in profile.variants.values() for spec in specs for s in spec.template["Statement"]]
    statements += [s for addendum in profile.addenda.values() for s in addendum.statements]
    found: dict[str, str] = {}
    for statement in statements:
        for key in ("Resource", "NotResource"):
            values = statement.get(key, [])
            for resource in as_list(values):
                for match in PREFIX_PLACEHOLDER.finditer(resource if isinstance(resource, str) else ""):
                    if match.group(1) in profile.parameters:
                        found.setdefault(match.group(1), resource)
    return found


def render(template: Any, values: Mapping[str, str], source: Path | str) -> Any:
    """Fill `{{name}}` placeholders in every string of a JSON value.

    Text stays literal (an IAM policy variable such as ${aws:username} included): escaping for
    Terraform happens where blocks are written (tfjson.to_terraform). Values may be tfjson.expr tokens.
    """
    if isinstance(template, dict):
        return {key: render(value, values, source) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, values, source) for item in template]
    if not isinstance(template, str):
        return template

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values or values[name] in (None, ""):
            raise PolicyError(Problem(
                str(source), f"placeholder {{{{{name}}}}} has no value",
                f"set '{name}' in the deployment (known: {sorted(k for k, v in values.items() if v)})"))
        return values[name]

    return PLACEHOLDER.sub(fill, template)


def merge_statements(profile: Profile, policy: PolicySpec, addenda: list[str]) -> list[tuple[dict[str, Any], Path]]:
    """A policy's statements plus, for the policy that takes addenda, the chosen ones (sorted by name),
    after the base statements, minus the base statements they replace; each with its file.
    The merge itself is the plan's (plan.py), the one place it is implemented."""
    from iam_foundry.plan import merged_templates  # plan.py imports this module

    return merged_templates(profile, policy, addenda)


def statements_using(profile: Profile, variant: str | None, addenda: list[str], placeholder: str) -> list[str]:
    """The statements (as "file Sid") of a variant plus chosen addenda that use {{placeholder}}."""
    marker = re.compile(r"\{\{\s*" + re.escape(placeholder) + r"\s*\}\}")
    found: list[str] = []
    chosen = [profile.addenda[name] for name in sorted(set(addenda)) if name in profile.addenda]
    sources = [(s, spec.source) for spec in profile.policies(variant) for s in spec.template["Statement"]]
    sources += [(s, a.source) for a in chosen for s in a.statements]
    for statement, source in sources:
        if marker.search(json.dumps(statement)):
            found.append(f"{Path(str(source)).name} {statement.get('Sid', '(no Sid)')}")
    return found


def rendered_size(document: Any) -> int:
    """IAM's size measure: characters without whitespace; expressions counted as an account id."""
    return len(measured(json.dumps(document, separators=(",", ":")), MEASURE_STAND_IN))


def split_statements(statements: list[dict[str, Any]], version: str, max_chars: int,
                     where: str = "policy") -> list[dict[str, Any]]:
    """Pack statements, in order, into as few documents of at most max_chars as greedy packing gives.

    Order is kept, so the same input always gives the same parts (no churn on re-run).
    """
    documents: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for statement in statements:
        candidate = {"Version": version, "Statement": current + [statement]}
        if rendered_size(candidate) <= max_chars:
            current.append(statement)
            continue
        single = {"Version": version, "Statement": [statement]}
        if rendered_size(single) > max_chars:
            sid = statement.get("Sid", "(no Sid)")
            raise PolicyError(Problem(
                f"{where}, statement {sid}",
                f"{rendered_size(single)} characters alone, over the {max_chars}-character managed policy quota",
                "split the statement's actions or resources into several statements"))
        documents.append({"Version": version, "Statement": current})
        current = [statement]
    if current or not documents:
        documents.append({"Version": version, "Statement": current})
    return documents
