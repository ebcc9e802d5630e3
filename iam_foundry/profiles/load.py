"""The one place that loads `policy_json/` (rendering is policy/render.py).

A profile is a folder `policy_json/<profile>/` with a `profile.json`, a user policy template and
optional addenda under `addenda/<name>.json`. Templates are IAM JSON with `{{placeholder}}` markers;
rendering (policy/render.py) fills them and never leaves one behind.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from iam_foundry.errors import PolicyError, Problem
from iam_foundry.files import read_json  # the one JSON reader (refuses duplicate keys); re-exported here
from iam_foundry.paths import POLICY_ROOT
from iam_foundry.profiles.schema import schema_problems

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
T = TypeVar("T")


@dataclass(frozen=True)
class OutputSpec:
    """A profile's own output: a parameter passed through, or a JSON value built from placeholders
    (e.g. Anyscale's Compute Config with {{instance_profile_arn}}), emitted by both stack and module."""

    name: str
    description: str
    parameter: bool = False
    json: Any = None
    requires: str | None = None  # "node_role" | "user": emitted only when the plan creates it


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
    # The platform creates (and writes the policy of) the node role itself: the stack must not create it.
    platform_creates_node_role: bool = False


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
    example: str = ""  # a valid value (matches pattern): what tests and docs fill the parameter with


@dataclass(frozen=True)
class NodeRoleSpec:
    trust_policy: dict[str, Any]
    managed_policy_arns: tuple[str, ...]
    trust_source: Path


@dataclass(frozen=True)
class RoleSpec:
    """A role beside the node role that one variant creates (AI Unlimited's engine role): its own
    trust policy, instance profile, policies (those whose attach_to names it) and boundary.
    Its names are the placeholders {{<key>_name}} and {{<key>_instance_profile_name}}."""

    key: str                     # principal id, e.g. "engine_role"
    description: str
    name: str                    # default name template, e.g. "{{role_name}}-engine"
    instance_profile_name: str   # default instance profile name template
    trust_policy: dict[str, Any]
    trust_source: Path
    managed_policy_arns: tuple[str, ...] = ()
    handoff: str | None = None   # the installer field the platform is given the role in

    @property
    def name_key(self) -> str:
        return f"{self.key}_name"

    @property
    def instance_profile_key(self) -> str:
        return f"{self.key}_instance_profile_name"


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
    outputs: tuple[OutputSpec, ...] = ()
    account_parameter: str | None = None
    handoff: Mapping[str, str] = field(default_factory=dict)
    variant_roles: Mapping[str, tuple[RoleSpec, ...]] = field(default_factory=dict)

    def policies(self, variant: str | None = None) -> tuple[PolicySpec, ...]:
        return self.variants[variant or self.default_variant]

    def roles(self, variant: str | None = None) -> tuple[RoleSpec, ...]:
        """The variant's own roles besides the node role (most variants: none)."""
        return self.variant_roles.get(variant or self.default_variant, ())


def list_profiles(root: Path = POLICY_ROOT) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/profile.json"))


def _expect(cond: bool, where: Path, message: str, fix: str) -> None:
    if not cond:
        raise PolicyError(Problem(str(where), message, fix))


def _collect(problems: list[Problem], load: Callable[[], T]) -> T | None:
    """Run a loader; a PolicyError's problems join the list (so every problem is reported at once)."""
    try:
        return load()
    except PolicyError as err:
        problems.extend(err.problems)
        return None


def _load_addendum(path: Path, problems: list[Problem]) -> Addendum | None:
    """An addendum file checked against schemas/addendum.schema.json; None (problems added) if it is wrong."""
    data = _collect(problems, lambda: read_json(path))
    if data is None:
        return None
    found = schema_problems("addendum", data, path)
    if found:
        problems.extend(found)
        return None
    policy = data.get("policy")
    own_policy = None
    if policy is not None:
        # Its own managed policy, for a principal the stack does not create: replacing base statements makes no sense there.
        if not data.get("statements") or data.get("replaces_sids"):
            problems.append(Problem(f"{path} at $.policy", "an addendum with its own policy needs statements and no replaces_sids",
                                    '{"policy": {"id": "deployer", "name": "{{role_name}}-deployer"}, "statements": [...]}'))
            return None
        own_policy = AddendumPolicy(id=policy["id"], name=policy["name"], attach_to_roles=tuple(policy.get("attach_to_roles", [])))
    return Addendum(
        name=path.stem,
        description=data["description"],
        statements=tuple(data.get("statements", [])),
        replaces_sids=tuple(data.get("replaces_sids", [])),
        managed_policy_arns={k: tuple(v) for k, v in data.get("managed_policy_arns", {}).items()},
        conflicts_with=tuple(data.get("conflicts_with", [])),
        only_variants=tuple(data.get("only_variants", [])),
        source=path,
        policy=own_policy,
        requires_parameters=tuple(data.get("requires_parameters", [])),
        platform_creates_node_role=bool(data.get("platform_creates_node_role", False)),
    )


def load_policy_template(path: Path) -> dict[str, Any]:
    document = read_json(path)
    _expect(isinstance(document, dict) and isinstance(document.get("Statement"), list), path,
            "a policy template must be an object with a 'Statement' list", "see policy_json/nextai/user-policy.json")
    return document


def _load_policies(root: Path, entries: list[dict[str, Any]], where: str, problems: list[Problem]) -> tuple[PolicySpec, ...]:
    """The policies of one variant; entries are already schema-checked (id, template, attach_to)."""
    specs = []
    for entry in entries:
        source = (root / entry["template"]).resolve()
        template = _collect(problems, lambda: load_policy_template(source))
        if template is None:
            continue
        specs.append(PolicySpec(id=entry["id"], name=entry.get("name", "{{policy_name}}"), template=template, source=source,
                                attach_to=tuple(entry.get("attach_to", ["user"])), takes_addenda=entry.get("addenda", False)))
    ids = [entry["id"] for entry in entries]
    for index, policy_id in enumerate(ids):
        if policy_id in ids[:index]:
            problems.append(Problem(f"{where}[{index}].id", f"policy id '{policy_id}' is used twice", "give each policy its own id"))
    if sum(bool(entry.get("addenda", False)) for entry in entries) > 1:
        problems.append(Problem(where, "more than one policy takes addenda", "mark one policy with \"addenda\": true"))
    return tuple(specs)


def build_profile(name: str, root: Path, meta: Any, meta_path: Path,
                  addenda_paths: list[Path] | None = None) -> Profile:
    """A Profile from profile.json data (built-in profiles, and custom ones assembled from config).

    profile.json and every addendum are checked against their JSON Schemas, then against each other
    (replaced Sids, variants, parameters); every problem of every file is reported at once.
    """
    problems = schema_problems("profile", meta, meta_path)
    if addenda_paths is None:
        addenda_paths = sorted((root / "addenda").glob("*.json"))
    loaded = [_load_addendum(p, problems) for p in addenda_paths]
    if problems:
        raise PolicyError(problems)
    addenda = {a.name: a for a in loaded if a is not None}
    at = f"{meta_path} at $"
    default_variant = meta.get("default_variant", "default")
    variants = {default_variant: _load_policies(root, meta["policies"], f"{at}.policies", problems)}
    descriptions = {default_variant: meta.get("description", "")}
    roles: dict[str, tuple[RoleSpec, ...]] = {}
    for variant, spec in meta.get("variants", {}).items():
        if variant == default_variant:
            problems.append(Problem(f"{at}.variants.{variant}", "has the name of the default variant",
                                    "rename it, or change default_variant"))
        variants[variant] = _load_policies(root, spec["policies"], f"{at}.variants.{variant}.policies", problems)
        descriptions[variant] = spec.get("description", "")
        roles[variant] = _load_roles(root, spec.get("roles", {}), problems)
    node_role = None
    if "node_role" in meta:
        role = meta["node_role"]
        trust_path = (root / role["trust_policy"]).resolve()
        trust_policy = _collect(problems, lambda: read_json(trust_path))
        if trust_policy is not None:
            node_role = NodeRoleSpec(trust_policy=trust_policy, managed_policy_arns=tuple(role.get("managed_policy_arns", [])),
                                     trust_source=trust_path)
    parameters = {
        key: ParameterSpec(name=key, description=spec["description"], required=spec.get("required", False),
                           pattern=spec.get("pattern"), default=spec.get("default"), example=spec.get("example", ""))
        for key, spec in meta.get("parameters", {}).items()
    }
    problems += _cross_references(meta, at, parameters, variants, addenda)
    problems += _attach_problems(meta, at, default_variant, variants, roles, node_role is not None or "node_role" in meta)
    if problems:
        raise PolicyError(problems)
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
        outputs=tuple(_output_spec(entry) for entry in meta.get("outputs", [])),
        account_parameter=meta.get("account_parameter"),
        handoff=dict(meta.get("handoff", {})),
        variant_roles={k: v for k, v in roles.items() if v},
    )


def _load_roles(root: Path, entries: Mapping[str, Any], problems: list[Problem]) -> tuple[RoleSpec, ...]:
    """A variant's own roles; entries are already schema-checked."""
    specs = []
    for key, entry in entries.items():
        trust_path = (root / entry["trust_policy"]).resolve()
        trust = _collect(problems, lambda: read_json(trust_path))
        if trust is None:
            continue
        specs.append(RoleSpec(key=key, description=entry["description"], name=entry["name"],
                              instance_profile_name=entry.get("instance_profile_name", "{{" + key + "_name}}"),
                              trust_policy=trust, trust_source=trust_path,
                              managed_policy_arns=tuple(entry.get("managed_policy_arns", [])), handoff=entry.get("handoff")))
    return tuple(specs)


def _attach_problems(meta: dict[str, Any], at: str, default_variant: str, variants: Mapping[str, tuple[PolicySpec, ...]],
                     roles: Mapping[str, tuple[RoleSpec, ...]], has_node_role: bool) -> list[Problem]:
    """Each attach_to names a principal the variant has: the user, the node role (with a node_role
    section), or one of the variant's own roles; a variant's own role gets at least one policy."""
    problems = []
    for variant in variants:
        own = {r.key for r in roles.get(variant, ())}
        where = f"{at}.policies" if variant == default_variant else f"{at}.variants.{variant}.policies"
        entries = meta["policies"] if variant == default_variant else meta["variants"][variant]["policies"]
        for index, entry in enumerate(entries):
            for target_index, target in enumerate(entry.get("attach_to", [])):
                if target not in ("user", "node_role") and target not in own:
                    problems.append(Problem(f"{where}[{index}].attach_to[{target_index}]", f"'{target}' is not a principal of this variant",
                                            _unknown("role", target, sorted(own | {"user", "node_role"}))))
        if own and not has_node_role:
            problems.append(Problem(f"{at}.variants.{variant}.roles", "a variant's own roles need the profile's node_role section",
                                    "add node_role (the roles are created with it)"))
        for key in sorted(own):
            if not any(key in entry.get("attach_to", []) for entry in entries):
                problems.append(Problem(f"{at}.variants.{variant}.roles.{key}", "no policy of the variant is attached to it",
                                        f'add "{key}" to a policy\'s attach_to'))
    return problems


def _output_spec(entry: str | dict[str, Any]) -> OutputSpec:
    if isinstance(entry, str):  # a parameter, passed through
        return OutputSpec(name=entry, description=f"Passed through from parameters.{entry}", parameter=True)
    return OutputSpec(name=entry["name"], description=entry["description"], json=entry["json"], requires=entry.get("requires"))


def _unknown(kind: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"no {kind} of that name; known: {known}"


def _matches(pattern: str, value: str) -> bool | None:
    """Whether value matches the whole pattern, as the config checks it; None when the pattern is not
    a valid regex (the schema reports that)."""
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return None


def _cross_references(meta: dict[str, Any], at: str, parameters: Mapping[str, ParameterSpec],
                      variants: Mapping[str, tuple[PolicySpec, ...]], addenda: Mapping[str, Addendum]) -> list[Problem]:
    """What a schema cannot see: names in one place that must exist in another."""
    problems = []
    known_parameters = sorted(parameters)
    account_parameter = meta.get("account_parameter")
    if account_parameter and account_parameter not in parameters:
        problems.append(Problem(f"{at}.account_parameter", f"'{account_parameter}' is not a parameter of this profile",
                                _unknown("parameter", account_parameter, known_parameters)))
    for key, spec in parameters.items():
        # The example stands for a real value wherever one is needed (tests, docs): it must be one.
        for kind, value in (("example", spec.example), ("default", spec.default)):
            if value is not None and spec.pattern and _matches(spec.pattern, value) is False:
                problems.append(Problem(f"{at}.parameters.{key}.{kind}", f"'{value}' does not match the parameter's pattern {spec.pattern}",
                                        f"give a {kind} the config would accept for {key}"))
    for key, rule in meta.get("derived", {}).items():
        if rule["if_set"] not in parameters:
            problems.append(Problem(f"{at}.derived.{key}.if_set", f"'{rule['if_set']}' is not a parameter of this profile",
                                    _unknown("parameter", rule["if_set"], known_parameters)))
    for index, output in enumerate(meta.get("outputs", [])):
        if isinstance(output, str) and output not in parameters:
            problems.append(Problem(f"{at}.outputs[{index}]", f"'{output}' is not a parameter (a computed output is an object "
                                    "with name, description and json)", _unknown("parameter", output, known_parameters)))
    for addendum in addenda.values():
        where = f"{addendum.source} at $"
        for index, other in enumerate(addendum.conflicts_with):
            if other not in addenda:
                problems.append(Problem(f"{where}.conflicts_with[{index}]", f"no addendum '{other}' in this profile",
                                        _unknown("addendum", other, sorted(addenda))))
        for index, variant in enumerate(addendum.only_variants):
            if variant not in variants:
                problems.append(Problem(f"{where}.only_variants[{index}]", f"no variant '{variant}' in this profile",
                                        _unknown("variant", variant, sorted(variants))))
        # A replaced Sid missing from the base policy would silently keep the base statement: the
        # policy would grant more than the addendum means to. Check every variant it can be used with.
        usable = [v for v in variants if not addendum.only_variants or v in addendum.only_variants]
        for variant in usable:
            base = next((spec for spec in variants[variant] if spec.takes_addenda), None)
            if base is None:
                continue
            sids = sorted({s["Sid"] for s in base.template["Statement"] if isinstance(s, dict) and isinstance(s.get("Sid"), str)})
            for index, sid in enumerate(addendum.replaces_sids):
                if sid not in sids:
                    in_variant = f" (variant '{variant}')" if len(variants) > 1 else ""
                    problems.append(Problem(f"{where}.replaces_sids[{index}]",
                                            f"no statement with Sid '{sid}' in {base.source.name}{in_variant}: it would stay in the policy",
                                            _unknown("Sid", sid, sids)))
    return problems


def load_profile_dir(root: Path) -> Profile:
    """Load a profile from a folder holding profile.json."""
    meta_path = root / "profile.json"
    return build_profile(root.name, root, read_json(meta_path), meta_path)


@lru_cache(maxsize=None)
def load_profile(name: str, root: Path = POLICY_ROOT) -> Profile:
    folder = root / name
    if not (folder / "profile.json").is_file():
        raise PolicyError(Problem(f"profile '{name}'", "no such profile", f"use one of {list_profiles(root) + ['custom']}"))
    return load_profile_dir(folder)
