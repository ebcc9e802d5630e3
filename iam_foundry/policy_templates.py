"""The one place that loads and renders `policy_json/`.

A profile is a folder `policy_json/<profile>/` with a `profile.json`, a user policy template and
optional addenda under `addenda/<name>.json`. Templates are IAM JSON with `{{placeholder}}` markers;
rendering fills them and never leaves one behind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from .errors import PolicyError, Problem

POLICY_ROOT = Path(__file__).resolve().parent.parent / "policy_json"
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# A Terraform interpolation such as ${data.aws_caller_identity.current.account_id}, but not an
# escaped IAM policy variable ($${aws:username}).
TF_INTERPOLATION = re.compile(r"(?<!\$)\$\{[^}]+\}")
# Stand-in used when measuring size: an interpolated value renders to an account id at plan time.
MEASURE_STAND_IN = "123456789012"
ATTACH_TARGETS = ("user", "node_role")


@dataclass(frozen=True)
class AddendumPolicy:
    """An addendum whose statements form their own managed policy instead of joining the main one:
    for a principal the stack does not create (a deployer, a vendor's existing role)."""

    id: str
    name: str  # may hold placeholders
    attach_to_roles: tuple[str, ...] = ()  # names (templates) of existing roles; empty = unattached


@dataclass(frozen=True)
class Addendum:
    name: str
    description: str
    statements: tuple[dict[str, Any], ...] = ()
    replaces_sids: tuple[str, ...] = ()
    managed_policy_arns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts_with: tuple[str, ...] = ()
    only_variants: tuple[str, ...] = ()
    source: Path | None = None
    policy: AddendumPolicy | None = None
    requires_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicySpec:
    """One custom managed policy of a profile: its template and who it is attached to."""

    id: str
    name: str  # may hold placeholders, e.g. "{{policy_name}}"
    template: dict[str, Any]
    source: Path
    attach_to: tuple[str, ...]
    takes_addenda: bool = False


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    description: str
    required: bool = False
    pattern: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class NodeRoleSpec:
    trust_policy: dict[str, Any]
    managed_policy_arns: tuple[str, ...]
    trust_source: Path


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    description: str
    defaults: Mapping[str, Any]
    parameters: Mapping[str, ParameterSpec]
    derived: Mapping[str, Mapping[str, str]]
    variants: Mapping[str, tuple[PolicySpec, ...]]
    default_variant: str
    variant_descriptions: Mapping[str, str]
    node_role: NodeRoleSpec | None
    addenda: Mapping[str, Addendum]
    root: Path
    outputs: tuple[str, ...] = ()
    account_parameter: str | None = None
    handoff: Mapping[str, str] = field(default_factory=dict)

    def policies(self, variant: str | None = None) -> tuple[PolicySpec, ...]:
        return self.variants[variant or self.default_variant]


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(Problem(str(path), "file not found", "check the path")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise PolicyError(
            Problem(f"{path}:{err.lineno}:{err.colno}", f"malformed JSON: {err.msg}", "fix the JSON syntax at that line")
        ) from None


def list_profiles(root: Path = POLICY_ROOT) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/profile.json"))


def _expect(cond: bool, where: Path, message: str, fix: str) -> None:
    if not cond:
        raise PolicyError(Problem(str(where), message, fix))


def _load_addendum(path: Path) -> Addendum:
    data = read_json(path)
    _expect(isinstance(data, dict), path, "an addendum must be a JSON object", 'use {"description": ..., "statements": [...]}')
    known = {"description", "statements", "replaces_sids", "managed_policy_arns", "conflicts_with", "only_variants",
             "policy", "requires_parameters"}
    unknown = sorted(set(data) - known)
    _expect(not unknown, path, f"unknown keys {unknown}", f"use only {sorted(known)}")
    statements = data.get("statements", [])
    _expect(isinstance(statements, list) and all(isinstance(s, dict) for s in statements), path,
            "'statements' must be a list of IAM statement objects", "wrap the statements in [ ]")
    arns = data.get("managed_policy_arns", {})
    _expect(isinstance(arns, dict) and set(arns) <= set(ATTACH_TARGETS), path,
            "'managed_policy_arns' must map 'user' and/or 'node_role' to lists of ARNs",
            '{"user": ["arn:..."], "node_role": ["arn:..."]}')
    _expect(bool(statements) or bool(arns), path, "the addendum adds nothing", "give it statements or managed_policy_arns")
    policy = data.get("policy")
    own_policy = None
    if policy is not None:
        _expect(isinstance(policy, dict) and {"id", "name"} <= set(policy) <= {"id", "name", "attach_to_roles"}
                and bool(statements) and not data.get("replaces_sids"), path,
                "'policy' needs 'id' and 'name' (optional 'attach_to_roles'), statements, and no replaces_sids",
                '{"policy": {"id": "deployer", "name": "{{role_name}}-deployer"}, "statements": [...]}')
        own_policy = AddendumPolicy(id=policy["id"], name=policy["name"], attach_to_roles=tuple(policy.get("attach_to_roles", [])))
    return Addendum(
        name=path.stem,
        description=str(data.get("description", "")),
        statements=tuple(statements),
        replaces_sids=tuple(data.get("replaces_sids", [])),
        managed_policy_arns={k: tuple(v) for k, v in arns.items()},
        conflicts_with=tuple(data.get("conflicts_with", [])),
        only_variants=tuple(data.get("only_variants", [])),
        source=path,
        policy=own_policy,
        requires_parameters=tuple(data.get("requires_parameters", [])),
    )


def load_policy_template(path: Path) -> dict[str, Any]:
    document = read_json(path)
    _expect(isinstance(document, dict) and isinstance(document.get("Statement"), list), path,
            "a policy template must be an object with a 'Statement' list", "see policy_json/nextai/user-policy.json")
    return document


def _load_policies(root: Path, entries: Any, where: Path) -> tuple[PolicySpec, ...]:
    _expect(isinstance(entries, list) and entries, where, "'policies' must be a non-empty list", "see policy_json/nextai/profile.json")
    specs = []
    for entry in entries:
        _expect(isinstance(entry, dict) and {"id", "template"} <= set(entry), where,
                "each policy needs 'id' and 'template'", '{"id": "main", "template": "policy.json", "attach_to": ["user"]}')
        attach_to = tuple(entry.get("attach_to", ["user"]))
        _expect(set(attach_to) <= set(ATTACH_TARGETS), where, f"policy '{entry['id']}': attach_to {list(attach_to)}",
                f"use {list(ATTACH_TARGETS)}")
        source = (root / entry["template"]).resolve()
        specs.append(PolicySpec(id=entry["id"], name=entry.get("name", "{{policy_name}}"), template=load_policy_template(source),
                                source=source, attach_to=attach_to, takes_addenda=bool(entry.get("addenda", False))))
    _expect(sum(s.takes_addenda for s in specs) <= 1, where, "more than one policy takes addenda", "mark one policy with \"addenda\": true")
    return tuple(specs)


def build_profile(name: str, root: Path, meta: dict[str, Any], meta_path: Path,
                  addenda_paths: list[Path] | None = None) -> Profile:
    """A Profile from profile.json data (built-in profiles, and custom ones assembled from config)."""
    known = {"title", "description", "source", "defaults", "parameters", "derived", "policies", "variants",
             "default_variant", "node_role", "outputs", "account_parameter", "handoff"}
    unknown = sorted(set(meta) - known)
    _expect(not unknown, meta_path, f"unknown keys {unknown}", f"use only {sorted(known)}")
    default_variant = meta.get("default_variant", "default")
    variants = {default_variant: _load_policies(root, meta.get("policies"), meta_path)}
    descriptions = {default_variant: meta.get("description", "")}
    for variant, spec in meta.get("variants", {}).items():
        variants[variant] = _load_policies(root, spec.get("policies"), meta_path)
        descriptions[variant] = spec.get("description", "")
    node_role = None
    if meta.get("node_role"):
        role = meta["node_role"]
        trust_path = (root / role["trust_policy"]).resolve()
        node_role = NodeRoleSpec(trust_policy=read_json(trust_path),
                                 managed_policy_arns=tuple(role.get("managed_policy_arns", [])), trust_source=trust_path)
    parameters = {
        key: ParameterSpec(name=key, description=spec.get("description", ""), required=bool(spec.get("required", False)),
                           pattern=spec.get("pattern"), default=spec.get("default"))
        for key, spec in meta.get("parameters", {}).items()
    }
    if addenda_paths is None:
        addenda_paths = sorted((root / "addenda").glob("*.json"))
    addenda = {p.stem: _load_addendum(p) for p in addenda_paths}
    return Profile(
        name=name,
        title=str(meta.get("title", name)),
        description=str(meta.get("description", "")),
        defaults=dict(meta.get("defaults", {})),
        parameters=parameters,
        derived=dict(meta.get("derived", {})),
        variants=variants,
        default_variant=default_variant,
        variant_descriptions=descriptions,
        node_role=node_role,
        addenda=addenda,
        root=root,
        outputs=tuple(meta.get("outputs", [])),
        account_parameter=meta.get("account_parameter"),
        handoff=dict(meta.get("handoff", {})),
    )


def load_profile_dir(root: Path) -> Profile:
    """Load a profile from a folder holding profile.json."""
    meta_path = root / "profile.json"
    meta = read_json(meta_path)
    _expect(isinstance(meta, dict), meta_path, "profile.json must be a JSON object", "see policy_json/nextai/profile.json")
    return build_profile(root.name, root, meta, meta_path)


@lru_cache(maxsize=None)
def load_profile(name: str, root: Path = POLICY_ROOT) -> Profile:
    folder = root / name
    if not (folder / "profile.json").is_file():
        raise PolicyError(Problem(f"profile '{name}'", "no such profile", f"use one of {list_profiles(root) + ['custom']}"))
    return load_profile_dir(folder)


def render(template: Any, values: Mapping[str, str], source: Path | str) -> Any:
    """Fill `{{name}}` placeholders in every string of a JSON value.

    Literal `${` in a template (an IAM policy variable such as ${aws:username}) is escaped to `$${`
    so Terraform passes it through; values may themselves be Terraform interpolations.
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

    return PLACEHOLDER.sub(fill, template.replace("${", "$${"))


def merge_statements(profile: Profile, policy: PolicySpec, addenda: list[str]) -> list[tuple[dict[str, Any], Path]]:
    """A policy's statements plus, for the policy that takes addenda, the chosen ones.

    Addenda come in a stable order (sorted by name), after the base statements, minus the base
    statements they replace. Returns each statement with the file it came from, for error messages.
    """
    chosen = [profile.addenda[name] for name in sorted(set(addenda))] if policy.takes_addenda else []
    chosen = [addendum for addendum in chosen if addendum.policy is None]  # those form their own policy
    replaced = {sid for addendum in chosen for sid in addendum.replaces_sids}
    merged = [(s, policy.source) for s in policy.template["Statement"] if s.get("Sid") not in replaced]
    for addendum in chosen:
        merged.extend((s, addendum.source) for s in addendum.statements)
    return merged


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
    """IAM's size measure: characters without whitespace; interpolations counted as an account id."""
    text = json.dumps(document, separators=(",", ":"))
    return len(TF_INTERPOLATION.sub(MEASURE_STAND_IN, text))


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
