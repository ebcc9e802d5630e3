"""The one resolver: (inputs, profile) -> Plan. Both emitters (stacks.py, module_export.py) read only a plan.

A plan holds every name, placeholder value, merged statement, principal, attachment (keyed by policy
id) and output with its description. Its values are text that may hold `tfjson.expr` tokens, so the
same resolver serves both emitters:

- `DeploymentInputs` (a validated config deployment): concrete values, the chosen addenda on;
  policies are split into parts under IAM's size quota.
- `ModuleInputs` (an exported module): values are Terraform variables/locals/data sources, and each
  addendum, the access key and the PGP key are *toggles* — statements, attachments and outputs carry
  the toggle (`when`) that adds them or (`unless`) that removes them.

`Plan.select(on)` gives the statements, names and outputs that are in effect with those toggles on;
the parity test compares a stack's plan with a module's plan selected with the same toggles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from iam_foundry.emit.tfjson import TOKEN, expr, hcl_literal, readable, readable_expression
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.policy.elements import as_list
from iam_foundry.policy.render import render, split_statements
from iam_foundry.profiles.load import PLACEHOLDER, Addendum, PolicySpec, Profile

MANAGED_POLICY_MAX_CHARS = 6144
TAG_MANAGED_BY = {"ManagedBy": "iam-foundry"}
NAME_KEYS = ("user_name", "policy_name", "role_name", "instance_profile_name")
# Toggles besides the addenda (a module switches them with variables; a deployment decides them in config).
ACCESS_KEY, PGP_KEY = "create_access_key", "pgp_key"
PARAMETER = "parameters."  # toggle prefix: an optional parameter that is given
# Guardrail toggles (a module's variables; a deployment's config fields).
PROFILE_BOUNDARY, PERMISSIONS_BOUNDARY, REQUIRE_BOUNDARY = "profile_boundary", "permissions_boundary", "require_boundary_on_created_roles"
BOUNDARY_SUFFIX = "-boundary"
POLICY_NAME_MAX = 128
# Whoever is bounded must not lift or change its boundary: else "attach AdministratorAccess to my own
# role" and then "remove my boundary" would still reach everything.
BOUNDARY_CHANGES = ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
                    "iam:PutRolePermissionsBoundary", "iam:PutUserPermissionsBoundary"]
# The calls that give a role permissions; each carries iam:PermissionsBoundary (the role's boundary).
ROLE_GRANTS = ["iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePolicy"]
BOUNDARY_POLICY_CHANGES = ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
BOUNDARY_DESCRIPTION = "ARN of the permissions boundary set on the user and node role"
MAIN_PRINCIPALS = ("user", "node_role")  # the principals the profile boundary covers (a variant's own roles get their own)


def default_name_template(profile: Profile, key: str) -> str:
    """The one default of each IAM name: the profile's, else derived from the deployment name."""
    fallback = {"user_name": "{{deployment}}-user", "policy_name": "{{deployment}}-policy",
                "role_name": "{{deployment}}-node-role", "instance_profile_name": "{{role_name}}"}[key]
    return str(profile.defaults.get(key) or fallback)


def role_names(profile: Profile, variant: str | None, values: Mapping[str, str], given: Mapping[str, str] | None = None) -> dict[str, str]:
    """The names of a variant's own roles ({{<key>_name}}, {{<key>_instance_profile_name}}): the names
    given (config `role_names`), else rendered from the profile's templates. The one rule config
    validation, bootstrap and the plan share."""
    names: dict[str, str] = {}
    given = given or {}
    meta = profile.root / "profile.json"
    for spec in profile.roles(variant):
        known = {**values, **names}
        names[spec.name_key] = given.get(spec.name_key) or render(spec.name, known, meta)
        names[spec.instance_profile_key] = given.get(spec.instance_profile_key) or render(spec.instance_profile_name, {**known, **names}, meta)
    return names


def role_title(key: str) -> str:
    """How outputs and messages name a variant's own role: engine_role -> "Engine role"."""
    return key.replace("_", " ").capitalize()


def logical_id(policy_id: str) -> str:
    """Terraform name of a policy's (first) aws_iam_policy: the main one is `policy`."""
    return "policy" if policy_id == "main" else f"policy_{policy_id.replace('-', '_')}"


def ec2_service_principal(partition: str) -> str:
    """EC2's service principal in trust policies: China regions need the .cn form (IAM rejects
    ec2.amazonaws.com there, and EKS checks node roles for ec2.amazonaws.com.cn)."""
    return "ec2.amazonaws.com.cn" if partition == "aws-cn" else "ec2.amazonaws.com"


@dataclass(frozen=True)
class LogicalIds:
    """Terraform names of the plan's resources. An iam-foundry stack keeps the names it always had; a
    construct in someone else's stack prefixes them with its construct id, so two fit in one stack."""

    user: str = "user"
    role: str = "node_role"
    instance_profile: str = "instance_profile"
    policy_prefix: str = ""

    @staticmethod
    def within(construct_id: str) -> "LogicalIds":
        return LogicalIds(f"{construct_id}_user", f"{construct_id}_node_role", f"{construct_id}_instance_profile", f"{construct_id}_")

    @property
    def access_key(self) -> str:
        return f"{self.user}_access_key"

    def policy(self, policy_id: str) -> str:
        return self.policy_prefix + logical_id(policy_id)

    def extra_role(self, key: str) -> str:
        """A variant's own role (e.g. engine_role); its instance profile is `<this>_instance_profile`."""
        return self.policy_prefix + key


@dataclass(frozen=True)
class Statement:
    body: dict[str, Any]
    source: Path
    when: str | None = None    # the toggle that adds it (an addendum)
    unless: str | None = None  # the toggle that removes it (an addendum replacing its Sid)
    any_of: tuple[str, ...] = ()  # and, when given, at least one of these toggles
    guard: bool = False        # a guardrail deny (a module keeps these in a policy of their own)

    def active(self, on: frozenset[str]) -> bool:
        return ((self.when is None or self.when in on) and (self.unless is None or self.unless not in on)
                and (not self.any_of or any(t in on for t in self.any_of)))


@dataclass(frozen=True)
class PlannedPolicy:
    """One custom managed policy. `parts` is set when the plan is concrete (split under the quota)."""

    id: str
    name: str
    description: str
    version: str
    statements: tuple[Statement, ...]
    attach_to: tuple[str, ...]            # principals of the plan: "user", "node_role"
    attach_to_roles: tuple[str, ...] = ()  # existing roles (names) it is attached to, not owned
    when: str | None = None                # an addendum's own policy exists only with that addendum
    parts: tuple[dict[str, Any], ...] | None = None
    logical_id: str = ""
    role_keys: tuple[str, ...] = ()       # one per attach_to_roles entry, from its template (not its value)

    def part_keys(self) -> list[str]:
        """Attachment keys of the parts: the policy id, then <id>_2, <id>_3, ... (stable across runs)."""
        key = self.id.replace("-", "_")
        return [key if index == 0 else f"{key}_{index + 1}" for index in range(len(self.part_ids()))]

    def part_ids(self) -> list[str]:
        count = len(self.parts) if self.parts is not None else 1
        return [self.logical_id if index == 0 else f"{self.logical_id}_{index + 1}" for index in range(count)]

    def selected(self, on: frozenset[str]) -> list[dict[str, Any]]:
        return [s.body for s in self.statements if s.active(on)]


@dataclass(frozen=True)
class PlannedBoundary:
    """The profile boundary: one managed policy holding every statement the plan's user and node role
    are given (custom parts and the AWS managed policies they attach), plus denies that keep any
    principal under it from lifting a boundary or rewriting this policy. A module's exists with
    profile_boundary and without permissions_boundary (`when`/`unless`)."""

    name: str
    arn: str  # the ARN it will have (the account may be a token filled at plan time)
    statements: tuple[Statement, ...]
    description: str = ""
    logical_id: str = "boundary"
    when: str | None = None
    unless: str | None = None

    def document(self, on: frozenset[str] = frozenset()) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [s.body for s in self.statements if s.active(on)]}


@dataclass(frozen=True)
class PlannedRole:
    """A role beside the node role that the variant creates (AI Unlimited's engine role): its own
    trust policy, instance profile and boundary; its policies name it in `attach_to`."""

    key: str                        # principal id, e.g. "engine_role"
    name: str
    instance_profile_name: str
    trust_policy: dict[str, Any]
    description: str
    logical_id: str
    boundary: PlannedBoundary | None = None   # its own profile boundary (the most its policies give it)
    permissions_boundary: str | None = None   # what it is bounded by: the given boundary, else its own

    @property
    def instance_profile_logical_id(self) -> str:
        return f"{self.logical_id}_instance_profile"


@dataclass(frozen=True)
class ManagedAttachment:
    """An AWS-managed (or other existing) policy ARN attached to a principal of the plan."""

    principal: str  # "user" | "node_role" | a variant's own role ("engine_role")
    arn: str
    origin: str     # the addendum (or "managed": the profile's node role list) it comes from
    index: int
    when: str | None = None

    @property
    def key(self) -> str:
        """Stable per principal (for_each-like): another attachment coming or going leaves it alone."""
        return f"{self.origin}_{self.index}"

    @property
    def module_id(self) -> str:
        """Its resource name in modules exported before attachments were keyed (their moved blocks' `from`)."""
        return f"{self.origin}_{self.principal}_{self.index}"


@dataclass(frozen=True)
class Output:
    name: str
    value: Any
    description: str
    sensitive: bool = False
    when: str | None = None
    unless: str | None = None

    def active(self, on: frozenset[str]) -> bool:
        return (self.when is None or self.when in on) and (self.unless is None or self.unless not in on)


@dataclass(frozen=True)
class Precondition:
    """A check on the node role at plan time: `actual` must equal `expected` (unless `expected` is null)."""

    actual: str
    expected: str
    error_message: str


@dataclass(frozen=True)
class Plan:
    profile: Profile
    variant: str
    deployment: str  # the deployment name (or its expression)
    names: Mapping[str, str]
    values: Mapping[str, str]
    toggles: tuple[str, ...]  # what the plan can switch; a concrete plan has them all decided
    on: frozenset[str]        # toggles on in a concrete plan (a symbolic plan: empty, see select)
    policies: tuple[PlannedPolicy, ...]
    attachments: tuple[ManagedAttachment, ...]
    trust_policy: dict[str, Any] | None
    creates_user: bool
    account_id: str
    preconditions: tuple[Precondition, ...]
    outputs: tuple[Output, ...]
    # On every resource that takes tags: ManagedBy and IamFoundryDeployment, which the caller's cannot
    # override, then the caller's (a deployment's config tags; a module merges var.tags under these).
    tags: Mapping[str, str] = field(default_factory=dict)
    boundary: PlannedBoundary | None = None
    # What user and node role get as permissions boundary: the given one, else the profile boundary.
    permissions_boundary: str | None = None
    # A module's guardrail denies, in a policy of their own (a deployment's are in its policies).
    guardrails: tuple[Statement, ...] = ()
    # The variant's own roles besides the node role (created with it).
    roles: tuple[PlannedRole, ...] = ()

    @property
    def creates_role(self) -> bool:
        return self.trust_policy is not None

    def select(self, on: frozenset[str]) -> dict[str, Any]:
        """What is in effect with these toggles: statements per policy name, names, output names."""
        policies = {p.name: [s.body for s in p.statements if s.active(on) and not s.guard]
                    for p in self.policies if p.when is None or p.when in on}
        guards = [s.body for p in self.policies if (p.when is None or p.when in on) and p.attach_to
                  for s in p.statements if s.guard and s.active(on)] + [s.body for s in self.guardrails if s.active(on)]
        boundary = self.boundary
        if boundary is not None and ((boundary.when and boundary.when not in on) or (boundary.unless and boundary.unless in on)):
            boundary = None
        unique: list[dict[str, Any]] = []
        for body in guards:
            if body not in unique:
                unique.append(body)
        roles = {}
        for role in self.roles:
            own = role.boundary
            if own is not None and ((own.when and own.when not in on) or (own.unless and own.unless in on)):
                own = None
            roles[role.key] = {"name": role.name, "instance_profile_name": role.instance_profile_name, "trust_policy": role.trust_policy,
                               "boundary": None if own is None else {"name": own.name, "arn": own.arn, "document": own.document(on)}}
        return {"policies": policies, "names": dict(self.names), "guardrails": sorted(unique, key=lambda b: json.dumps(b, sort_keys=True)),
                "boundary": None if boundary is None else {"name": boundary.name, "arn": boundary.arn, "document": boundary.document(on)},
                "roles": roles,
                "attachments": sorted((a.principal, a.arn) for a in self.attachments if a.when is None or a.when in on),
                "outputs": {o.name: o.description for o in self.outputs if o.active(on)},
                "trust_policy": self.trust_policy}


class Inputs(Protocol):
    """What differs between a deployment and an exported module; the resolver asks for nothing else."""

    profile: Profile
    variant: str
    symbolic: bool

    def values(self) -> dict[str, str]: ...
    def derived(self, key: str, rule: Mapping[str, str], fill: Callable[[str], str]) -> str: ...
    def policy_name(self, spec_id: str, rendered: str, default_template: str) -> str: ...
    def addenda(self) -> list[str]: ...
    def precondition(self, account_id: str) -> Precondition | None: ...
    def principals(self) -> tuple[bool, bool]: ...
    @property
    def ids(self) -> LogicalIds: ...
    def switches(self) -> frozenset[str]: ...
    def boundary_arn(self, values: Mapping[str, str]) -> str | None: ...
    def extra_tags(self) -> dict[str, str]: ...
    def guardrails(self, statements: list[dict[str, Any]], boundary_arn: str | None) -> list[dict[str, Any]]: ...


def resolve(inputs: Inputs) -> Plan:
    """The plan of a deployment or a module; every placeholder filled, every statement placed."""
    profile, variant = inputs.profile, inputs.variant
    values = inputs.values()
    meta = profile.root / "profile.json"
    # Derived values, e.g. a Secrets Manager scope that narrows when a cluster name is given.
    for key, rule in profile.derived.items():
        values[key] = inputs.derived(key, rule, lambda text: render(text, values, meta))
    addenda = inputs.addenda()
    symbolic = inputs.symbolic
    creates_user, creates_role = inputs.principals()
    on = frozenset() if symbolic else frozenset(addenda) | inputs.switches()

    def toggle(name: str) -> str | None:
        return name if symbolic else None

    # The boundary's ARN, known before the policies: a policy's guardrail names it.
    boundary_arn = None if symbolic else inputs.boundary_arn(values)
    # The variant's own roles exist with the node role (AI Unlimited's engine role beside the server's).
    extra_roles = profile.roles(variant) if creates_role else ()
    principals = {"user"} if creates_user else set()
    principals |= {"node_role"} if creates_role else set()
    principals |= {r.key for r in extra_roles}
    policies: list[PlannedPolicy] = []
    for spec in profile.policies(variant):
        statements = _merged(profile, spec, addenda, lambda body, source: render(body, values, source), toggle)
        if not symbolic:
            statements += tuple(Statement(body, meta, guard=True) for body in inputs.guardrails([s.body for s in statements], boundary_arn))
        name = inputs.policy_name(spec.id, render(spec.name, values, spec.source), spec.name)
        attach_to = tuple(t for t in spec.attach_to if t in principals)
        policies.append(_policy(profile, spec.id, name, values, spec.template.get("Version", "2012-10-17"),
                                statements, attach_to, (), None, symbolic, inputs.ids))
    for addendum in (profile.addenda[a] for a in addenda):
        if addendum.policy is not None:  # its own managed policy, for a principal the plan does not create
            spec = addendum.policy
            statements = tuple(Statement(render(s, values, addendum.source), addendum.source) for s in addendum.statements)
            name = inputs.policy_name(spec.id, render(spec.name, values, addendum.source), spec.name)
            roles = tuple(render(role, values, addendum.source) for role in spec.attach_to_roles)
            policies.append(replace(_policy(profile, spec.id, name, values, "2012-10-17", statements, (), roles,
                                            toggle(addendum.name), symbolic, inputs.ids), role_keys=role_keys(spec.attach_to_roles)))

    attachments = _attachments(profile, addenda, values, creates_user, creates_role, toggle)
    attachments += tuple(ManagedAttachment(r.key, render(arn, values, r.trust_source), "managed", index)
                         for r in extra_roles for index, arn in enumerate(r.managed_policy_arns))
    trust = render(profile.node_role.trust_policy, values, profile.node_role.trust_source) if creates_role and profile.node_role else None
    account_id = values["account_id"]
    precondition = inputs.precondition(account_id) if creates_role else None
    roles = tuple(PlannedRole(r.key, values[r.name_key], values[r.instance_profile_key], render(r.trust_policy, values, r.trust_source),
                              r.description, inputs.ids.extra_role(r.key)) for r in extra_roles)
    names = {k: values[k] for k in NAME_KEYS if k in values and (k != "user_name" or creates_user)
             and (k not in ("role_name", "instance_profile_name") or creates_role)}
    names |= {k: values[k] for r in extra_roles for k in (r.name_key, r.instance_profile_key)}
    plan = Plan(profile=profile, variant=variant, deployment=values["deployment"], names=names, values=values,
                toggles=tuple(addenda) + ((ACCESS_KEY, PGP_KEY) if symbolic else ()), on=on,
                policies=tuple(policies), attachments=attachments, trust_policy=trust, creates_user=creates_user,
                account_id=account_id, preconditions=(precondition,) if precondition else (), outputs=(), roles=roles,
                tags={**TAG_MANAGED_BY, "IamFoundryDeployment": values["deployment"], **inputs.extra_tags()})
    plan = _with_guardrails(plan, inputs, values, boundary_arn)
    return _with_outputs(plan, inputs, values, symbolic)


def role_keys(templates: tuple[str, ...]) -> tuple[str, ...]:
    """Keys of a policy's existing-role attachments, from the role name templates ("{{access_role_name}}"
    -> access_role_name): known before any value is, and unchanged when another role comes or goes."""
    keys: list[str] = []
    for template in templates:
        base = key = re.sub(r"[^A-Za-z0-9]+", "_", template).strip("_").lower() or "role"
        count = 2
        while key in keys:
            key, count = f"{base}_{count}", count + 1
        keys.append(key)
    return tuple(keys)


def allows_create_role(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action", [])
    return statement.get("Effect") == "Allow" and any(a.lower() in ("iam:createrole", "iam:*", "*") for a in
                                                       as_list(actions))


def boundary_arn_of(values: Mapping[str, str], path: str) -> str:
    return f"arn:{values['partition']}:iam::{values['account_id']}:policy{path}{values['policy_name']}{BOUNDARY_SUFFIX}"


def boundary_denies(arn: str) -> list[dict[str, Any]]:
    return [{"Sid": "DenyPermissionsBoundaryChanges", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"},
            {"Sid": "DenyBoundaryPolicyChanges", "Effect": "Deny", "Action": BOUNDARY_POLICY_CHANGES, "Resource": arn}]


def require_boundary_statement(boundary_arn: str) -> dict[str, Any]:
    """Roles are created, or given policies, only with this boundary (a request naming none matches too)."""
    return {"Sid": "RequireBoundaryOnCreatedRoles", "Effect": "Deny", "Action": ROLE_GRANTS, "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}}}


def guardrail_statements(deployment: Any, statements: list[dict[str, Any]], boundary_arn: str | None) -> list[dict[str, Any]]:
    """Denies added to a deployment policy's own statements.

    With require_boundary_on_created_roles, a policy that lets its principal create roles gets a
    deny on creating a role, or writing or attaching a role policy, unless the role has the boundary
    (IAM sends iam:PermissionsBoundary with these calls; a Deny with StringNotEquals also matches a
    request that names none): a role of the pattern that exists without the boundary cannot be given
    '*' either. A boundary the user gives is not ours to edit, so the denies that keep
    it in place go into the identity policy instead (the profile boundary holds them itself)."""
    extra: list[dict[str, Any]] = []
    if deployment.require_boundary_on_created_roles and boundary_arn and any(allows_create_role(s) for s in statements):
        extra.append(require_boundary_statement(boundary_arn))
    if deployment.permissions_boundary:
        extra.append({"Sid": "KeepPermissionsBoundary", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"})
    return extra


def aws_managed_statements(arn: str) -> list[dict[str, Any]]:
    """The statements of an AWS managed policy (the shipped copies)."""
    from iam_foundry.access.principals import managed_policy  # imported here: access imports documents, which imports this module

    raw = managed_policy(arn).document["Statement"]
    return [dict(s) for s in as_list(raw)]


def concrete_boundary_document(deployment_name: str, name: str, arn: str, policies: list[tuple[str, list[dict[str, Any]]]],
                               managed_arns: list[str]) -> dict[str, Any]:
    """The union of what a deployment's user and node role are given, as one managed policy.

    The statements themselves, not a summary of their actions: a boundary of "these actions on *"
    would let a principal that can write its own policy use them on every resource. One policy for
    both principals: the user and its node role share the profile, and a role created under
    require_boundary_on_created_roles gets the same one. policies: (policy id, parts) attached."""
    from iam_foundry.policy.render import rendered_size

    where = f"deployment '{deployment_name}' profile boundary '{name}'"
    if len(name) > POLICY_NAME_MAX:
        raise PolicyError(Problem(where, f"the name is {len(name)} characters, over IAM's {POLICY_NAME_MAX}",
                                  "shorten policy_name, or set profile_boundary = false and give permissions_boundary"))
    statements: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(statement: dict[str, Any], fallback: str) -> None:
        body = {k: v for k, v in statement.items() if k != "Sid"}
        if any(body == {k: v for k, v in s.items() if k != "Sid"} for s in statements):
            return  # the same statement reached by two policies (e.g. user and node role)
        base = sid = statement.get("Sid") or fallback
        count = 2
        while sid in seen:  # Sids stay unique across the policies merged here
            sid, count = f"{base}{count}", count + 1
        seen.add(sid)
        statements.append({"Sid": sid, **body})

    for policy_id, parts in policies:
        for part in parts:
            for index, statement in enumerate(part["Statement"]):
                add(statement, f"{policy_id.title()}{index}")
    for arn_ in list(dict.fromkeys(managed_arns)):
        short = re.sub(r"[^A-Za-z0-9]", "", arn_.rsplit("/", 1)[-1])
        for index, statement in enumerate(aws_managed_statements(arn_)):
            add(statement, f"{short}{index}")
    statements += boundary_denies(arn)
    document = {"Version": "2012-10-17", "Statement": statements}
    size = rendered_size(document)
    if size > MANAGED_POLICY_MAX_CHARS:
        raise PolicyError(Problem(where, f"{size} characters, over the {MANAGED_POLICY_MAX_CHARS}-character managed policy quota "
                                  "(a boundary is one policy and cannot be split)",
                                  "drop addenda, or set profile_boundary = false and give your own permissions_boundary"))
    return document


def _with_guardrails(plan: Plan, inputs: Inputs, values: Mapping[str, str], boundary_arn: str | None) -> Plan:
    """The profile boundary, what user and node role are bounded by, and (a module's) guardrail denies."""
    profile, ids = plan.profile, inputs.ids
    reference = f"aws_iam_policy.{ids.policy_prefix}boundary"
    if not inputs.symbolic:
        d = inputs.deployment
        boundary = None
        if boundary_arn and not d.permissions_boundary and (plan.creates_user or plan.creates_role):
            name = f"{d.policy_name}{BOUNDARY_SUFFIX}"
            attached = [(p.id, list(p.parts or ())) for p in plan.policies if set(p.attach_to) & set(MAIN_PRINCIPALS)]
            managed = [a.arn for a in plan.attachments if a.principal == "user"] + [a.arn for a in plan.attachments if a.principal == "node_role"]
            document = concrete_boundary_document(d.name, name, boundary_arn, attached, managed)
            boundary = PlannedBoundary(name, boundary_arn, tuple(Statement(s, profile.root / "profile.json") for s in document["Statement"]),
                                       f"{profile.title} permissions boundary: the most the deployment's principals may hold "
                                       f"(iam-foundry deployment {d.name})", logical_id=f"{ids.policy_prefix}boundary")
        bound = d.permissions_boundary or (expr(f"{reference}.arn") if boundary else None)
        roles = []
        for role in plan.roles:
            # A role of its own gets a boundary of its own: the engine role must not reach what the server may do.
            own = None
            if boundary is not None:
                name = f"{role.name}{BOUNDARY_SUFFIX}"
                arn = f"arn:{values['partition']}:iam::{values['account_id']}:policy{d.path}{name}"
                document = concrete_boundary_document(d.name, name, arn, [(p.id, list(p.parts or ())) for p in plan.policies if role.key in p.attach_to],
                                                      [a.arn for a in plan.attachments if a.principal == role.key])
                own = PlannedBoundary(name, arn, tuple(Statement(s, profile.root / "profile.json") for s in document["Statement"]),
                                      f"{profile.title} {role_title(role.key).lower()} permissions boundary: the most that role may hold "
                                      f"(iam-foundry deployment {d.name})", logical_id=f"{role.logical_id}_boundary")
            roles.append(replace(role, boundary=own, permissions_boundary=d.permissions_boundary or (
                expr(f"aws_iam_policy.{own.logical_id}.arn") if own else None)))
        return Plan(**{**plan.__dict__, "boundary": boundary, "permissions_boundary": bound, "roles": tuple(roles)})
    # A module: every statement it can grant, each under its toggle; Sids unique across its policies.
    seen: set[str] = set()
    statements: list[Statement] = []

    def add(statement: Statement, fallback: str, into: list[Statement] = statements, sids: set[str] = seen) -> None:
        base = sid = statement.body.get("Sid") or fallback
        count = 2
        while sid in sids:
            sid, count = f"{base}{count}", count + 1
        sids.add(sid)
        into.append(Statement({"Sid": sid, **{k: v for k, v in statement.body.items() if k != "Sid"}}, statement.source,
                              statement.when, statement.unless, statement.any_of))

    meta = profile.root / "profile.json"
    arn = boundary_arn_of(values, expr("var.path"))
    keep = Statement({"Sid": "KeepPermissionsBoundary", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"}, meta,
                     when=PERMISSIONS_BOUNDARY, guard=True)
    # In the boundary, its ARN rebuilt, as the boundary's own denies have it (a reference to itself is a cycle);
    # in the guardrails policy (below) by reference, so that policy's count depends on variables only.
    require = [Statement(require_boundary_statement(arn), meta, when=REQUIRE_BOUNDARY, guard=True)] if creates_roles(profile, plan.variant) else []
    for policy in plan.policies:
        if set(policy.attach_to) & set(MAIN_PRINCIPALS):
            for index, statement in enumerate(policy.statements):
                add(statement, f"{policy.id.title()}{index}")
            # The guardrail deny where a deployment's boundary copies it from: after the first attached policy
            # that creates roles (KeepPermissionsBoundary comes only with a given boundary, which replaces this one).
            if require and any(allows_create_role(s.body) for s in policy.statements):
                add(require.pop(), "")
    # The AWS managed policies attached (a deployment's order: the user's, then the node role's), each once,
    # under every toggle that attaches it: two addenda attaching one policy give its statements once.
    toggles: dict[str, set[str | None]] = {}
    for attachment in [a for a in plan.attachments if a.principal == "user"] + [a for a in plan.attachments if a.principal == "node_role"]:
        toggles.setdefault(attachment.arn, set()).add(attachment.when)
    for managed, whens in toggles.items():
        short = re.sub(r"[^A-Za-z0-9]", "", managed.rsplit("/", 1)[-1])
        toggled = tuple(sorted(w for w in whens if w is not None)) if None not in whens else ()
        for index, body in enumerate(aws_managed_statements("arn:aws:iam::aws:policy/" + managed.rsplit("/", 1)[-1])):
            # One toggle: `when`; several: any of them; always attached somewhere: no toggle.
            add(Statement(body, meta, when=toggled[0] if len(toggled) == 1 else None, any_of=toggled if len(toggled) > 1 else ()),
                f"{short}{index}")
    statements += [Statement(body, meta) for body in boundary_denies(arn)]
    boundary = PlannedBoundary(f"{values['policy_name']}{BOUNDARY_SUFFIX}", arn, tuple(statements),
                               f"{profile.title} permissions boundary: the most this module's principals may hold (iam-foundry module)",
                               when=PROFILE_BOUNDARY, unless=PERMISSIONS_BOUNDARY)
    roles = []
    for role in plan.roles:
        own: list[Statement] = []
        for policy in plan.policies:
            if role.key in policy.attach_to:
                for index, statement in enumerate(policy.statements):
                    add(statement, f"{policy.id.title()}{index}", own, set())
        name = f"{role.name}{BOUNDARY_SUFFIX}"
        role_arn = f"arn:{values['partition']}:iam::{values['account_id']}:policy" + expr("var.path") + name
        own += [Statement(body, profile.root / "profile.json") for body in boundary_denies(role_arn)]
        roles.append(replace(role, permissions_boundary=expr(f"local.{role.key}_boundary_arn"), boundary=PlannedBoundary(
            name, role_arn, tuple(own), f"{profile.title} {role_title(role.key).lower()} permissions boundary: the most that role may hold "
            "(iam-foundry module)", logical_id=f"{role.logical_id}_boundary", when=PROFILE_BOUNDARY, unless=PERMISSIONS_BOUNDARY)))
    guards = [keep] + ([Statement(require_boundary_statement(expr("local.boundary_arn")), meta, when=REQUIRE_BOUNDARY,
                                  any_of=(PERMISSIONS_BOUNDARY, PROFILE_BOUNDARY), guard=True)] if creates_roles(profile, plan.variant) else [])
    return Plan(**{**plan.__dict__, "boundary": boundary, "permissions_boundary": expr("local.boundary_arn"), "guardrails": tuple(guards),
                   "roles": tuple(roles)})


def creates_roles(profile: Profile, variant: str) -> bool:
    """Whether a variant's own policies let a principal create roles (a module offers require_boundary_on_created_roles)."""
    return any(allows_create_role(s) for spec in profile.policies(variant) for s in spec.template["Statement"])


def merged_templates(profile: Profile, spec: PolicySpec, addenda: list[str]) -> list[tuple[dict[str, Any], Path]]:
    """The merge of a deployment with these addenda, unrendered: (statement template, its file)."""
    return [(s.body, s.source) for s in _merged(profile, spec, addenda, lambda body, source: body, lambda name: None)]


def _merged(profile: Profile, spec: PolicySpec, addenda: list[str], fill: Callable[[Any, Path], Any], toggle: Any) -> tuple[Statement, ...]:
    """A policy's statements plus, for the policy that takes addenda, each addendum's (sorted by name),
    after the base statements; a base statement an addendum replaces is removed by that addendum."""
    chosen: list[Addendum] = [profile.addenda[a] for a in sorted(set(addenda))] if spec.takes_addenda else []
    chosen = [a for a in chosen if a.policy is None]
    replaced_by = {sid: a.name for a in chosen for sid in a.replaces_sids}
    result = []
    for body in spec.template["Statement"]:
        remover = replaced_by.get(body.get("Sid"))
        if remover is not None and toggle(remover) is None:
            continue  # concrete plan: the addendum is on, so the statement is gone
        result.append(Statement(fill(body, spec.source), spec.source, unless=remover and toggle(remover)))
    for addendum in chosen:
        result += [Statement(fill(body, addendum.source), addendum.source, when=toggle(addendum.name))
                   for body in addendum.statements]
    return tuple(result)


def _policy(profile: Profile, policy_id: str, name: str, values: Mapping[str, str], version: str,
            statements: tuple[Statement, ...], attach_to: tuple[str, ...], roles: tuple[str, ...],
            when: str | None, symbolic: bool, ids: LogicalIds) -> PlannedPolicy:
    label = "" if policy_id == "main" else f"{policy_id} "
    description = f"{profile.title} {label}policy (iam-foundry deployment {values['deployment']})"
    parts = None
    if not symbolic:  # a module cannot split at plan time; export checks the worst case instead
        _check_unique_sids([s.body for s in statements], values["deployment"], name)
        parts = tuple(split_statements([s.body for s in statements], version, MANAGED_POLICY_MAX_CHARS,
                                       where=f"deployment '{values['deployment']}' policy '{name}'"))
    return PlannedPolicy(id=policy_id, name=name, description=description, version=version, statements=statements,
                         attach_to=attach_to, attach_to_roles=roles, when=when, parts=parts, logical_id=ids.policy(policy_id))


def _attachments(profile: Profile, addenda: list[str], values: Mapping[str, str], creates_user: bool,
                 creates_role: bool, toggle: Any) -> tuple[ManagedAttachment, ...]:
    """Managed policy ARNs on the plan's principals, each keyed by where it comes from (not by position)."""
    found: list[ManagedAttachment] = []
    seen: set[tuple[str, str, str | None]] = set()

    def add(principal: str, arn: str, origin: str, index: int, when: str | None) -> None:
        if (principal, arn, when) not in seen:
            seen.add((principal, arn, when))
            found.append(ManagedAttachment(principal, arn, origin, index, when))

    if creates_role and profile.node_role:
        for index, arn in enumerate(profile.node_role.managed_policy_arns):
            add("node_role", render(arn, values, profile.root / "profile.json"), "managed", index, None)
    for addendum in (profile.addenda[a] for a in addenda):
        for principal in ("user", "node_role"):
            if (principal == "user" and not creates_user) or (principal == "node_role" and not creates_role):
                continue
            for index, arn in enumerate(addendum.managed_policy_arns.get(principal, ())):
                add(principal, render(arn, values, addendum.source), addendum.name.replace("-", "_"), index, toggle(addendum.name))
    return tuple(found)


def _with_outputs(plan: Plan, inputs: Inputs, values: Mapping[str, str], symbolic: bool) -> Plan:
    """Every output with its description; resource references use the emitters' shared logical ids."""
    outputs: list[Output] = []
    ids = inputs.ids
    created = [p for p in plan.policies]

    def arn_list(attribute: str) -> Any:
        if not symbolic:
            return [expr(f"aws_iam_policy.{part}.{attribute}") for p in created for part in p.part_ids()]
        fixed = ", ".join(f"aws_iam_policy.{p.logical_id}.{attribute}" for p in created if p.when is None)
        counted = [f"aws_iam_policy.{p.logical_id}[*].{attribute}" for p in created if p.when is not None]
        return expr(f"concat([{fixed}]{''.join(', ' + c for c in counted)})") if counted else \
            [expr(f"aws_iam_policy.{p.logical_id}.{attribute}") for p in created]

    for policy in created:
        if policy.attach_to:
            continue  # an addendum's own policy: its ARN is what the installer is handed
        parts = policy.part_ids()
        value: Any = expr(f"one(aws_iam_policy.{policy.logical_id}[*].arn)") if policy.when else (
            expr(f"aws_iam_policy.{parts[0]}.arn") if len(parts) == 1 else [expr(f"aws_iam_policy.{i}.arn") for i in parts])
        # Output descriptions are literal text to Terraform: a module's role names are said, not interpolated.
        roles = [TOKEN.sub(lambda m: readable(m.group(0))[2:-1], role) for role in policy.attach_to_roles]
        where = f" (attached to {', '.join(roles)})" if roles else " (attach it yourself)"
        outputs.append(Output(f"{policy.id.replace('-', '_')}_policy_arn", value, f"ARN of the {policy.id} policy{where}",
                              when=policy.when))
    outputs.append(Output("policy_arns", arn_list("arn"), "ARNs of the custom managed policies (one per part)"))
    outputs.append(Output("policy_names", arn_list("name"), "Names of the custom managed policies"))
    if plan.boundary is not None:
        reference = f"aws_iam_policy.{plan.boundary.logical_id}"
        outputs.append(Output("boundary_policy_arn", expr(f"one({reference}[*].arn)") if symbolic else expr(f"{reference}.arn"),
                              BOUNDARY_DESCRIPTION, when=plan.boundary.when, unless=plan.boundary.unless))
    if plan.creates_user:
        key = f"aws_iam_access_key.{ids.access_key}"

        def key_attr(attribute: str) -> str:
            return expr(f"one({key}[*].{attribute})") if symbolic else expr(f"{key}.{attribute}")

        outputs += [Output("user_name", expr(f"aws_iam_user.{ids.user}.name"), "IAM user name"),
                    Output("user_arn", expr(f"aws_iam_user.{ids.user}.arn"), "IAM user ARN")]
        outputs += [Output("access_key_id", key_attr("id"), "Access key id of the user", when=ACCESS_KEY),
                    Output("access_key_encrypted_secret", key_attr("encrypted_secret"),
                           "Secret access key, encrypted with pgp_key", sensitive=True, when=PGP_KEY),
                    Output("access_key_secret", key_attr("secret"), "Secret access key (read it with: terraform output -raw access_key_secret)",
                           sensitive=True, when=ACCESS_KEY, unless=PGP_KEY)]
    if plan.creates_role:
        outputs += [Output("role_name", expr(f"aws_iam_role.{ids.role}.name"), "Node role name"),
                    Output("role_arn", expr(f"aws_iam_role.{ids.role}.arn"), "Node role ARN"),
                    Output("instance_profile_name", expr(f"aws_iam_instance_profile.{ids.instance_profile}.name"), "Instance profile name"),
                    Output("instance_profile_arn", expr(f"aws_iam_instance_profile.{ids.instance_profile}.arn"), "Instance profile ARN")]
    for role in plan.roles:  # a variant's own roles: <key>_name, <key>_arn, <key>_instance_profile_name/_arn
        title, profile_ref = role_title(role.key), f"aws_iam_instance_profile.{role.instance_profile_logical_id}"
        outputs += [Output(f"{role.key}_name", expr(f"aws_iam_role.{role.logical_id}.name"), f"{title} name"),
                    Output(f"{role.key}_arn", expr(f"aws_iam_role.{role.logical_id}.arn"), f"{title} ARN"),
                    Output(f"{role.key}_instance_profile_name", expr(f"{profile_ref}.name"), f"{title}'s instance profile name"),
                    Output(f"{role.key}_instance_profile_arn", expr(f"{profile_ref}.arn"), f"{title}'s instance profile ARN")]
        if role.boundary is not None:
            reference = f"aws_iam_policy.{role.boundary.logical_id}"
            outputs.append(Output(f"{role.key}_boundary_policy_arn", expr(f"one({reference}[*].arn)") if symbolic else expr(f"{reference}.arn"),
                                  f"ARN of the permissions boundary set on the {title.lower()}", when=role.boundary.when, unless=role.boundary.unless))
    # The profile's own outputs, declared as data in profile.json.
    references = {**values, "user_arn": expr(f"aws_iam_user.{ids.user}.arn"), "role_arn": expr(f"aws_iam_role.{ids.role}.arn"),
                  "instance_profile_arn": expr(f"aws_iam_instance_profile.{ids.instance_profile}.arn")}
    for spec in plan.profile.outputs:
        if spec.requires == "node_role" and not plan.creates_role or spec.requires == "user" and not plan.creates_user:
            continue
        if spec.parameter:  # passed through when given (a module's variable may be null)
            if symbolic:
                outputs.append(Output(spec.name, values[spec.name], spec.description, when=f"{PARAMETER}{spec.name}"))
            elif values.get(spec.name):
                outputs.append(Output(spec.name, values[spec.name], spec.description))
            continue
        rendered = render(spec.json, references, plan.profile.root / "profile.json")
        outputs.append(Output(spec.name, expr(f"jsonencode({hcl_literal(rendered)})"), spec.description))
    outputs.append(Output("account_id", plan.account_id, "AWS account the deployment lives in"))
    if not symbolic:  # a deployment has every toggle decided
        outputs = [o for o in outputs if o.active(plan.on)]
    return Plan(**{**plan.__dict__, "outputs": tuple(outputs)})


def _check_unique_sids(statements: list[dict[str, Any]], deployment: str, policy: str) -> None:
    seen: set[str] = set()
    for statement in statements:
        sid = statement.get("Sid")
        if sid and sid in seen:
            raise PolicyError(Problem(f"deployment '{deployment}' policy '{policy}'", f"duplicate statement Sid '{sid}' after merging addenda",
                                      "give every statement in the profile and its addenda its own Sid"))
        if sid:
            seen.add(sid)


# --- the two kinds of inputs ---------------------------------------------------------------------

@dataclass(frozen=True)
class DeploymentInputs:
    """A validated config deployment: concrete values (the account id may be read at plan time)."""

    deployment: Any  # config.Deployment (not imported: config imports this module's name defaults)
    profile: Profile
    symbolic: bool = False
    ids: LogicalIds = LogicalIds()
    # The denies added to each policy (documents.py passes its own, so a test can take them away).
    guard: Callable[[Any, list[dict[str, Any]], str | None], list[dict[str, Any]]] | None = None

    @property
    def variant(self) -> str:
        return self.deployment.variant or self.profile.default_variant

    def values(self) -> dict[str, str]:
        d = self.deployment
        values = dict(d.parameters)
        values.update(
            account_id=d.account_id or expr("data.aws_caller_identity.current.account_id"),
            region=d.region, partition=d.partition, deployment=d.name,
            user_name=d.user_name, policy_name=d.policy_name,
            role_name=d.role_name, instance_profile_name=d.instance_profile_name,
            ec2_service_principal=ec2_service_principal(d.partition),
        )
        values.update(role_names(self.profile, self.variant, values, d.role_names))
        return values

    def principals(self) -> tuple[bool, bool]:
        d = self.deployment
        return d.create_user, bool(self.profile.node_role) and d.create_node_role

    def switches(self) -> frozenset[str]:
        d = self.deployment
        return frozenset(name for name, on in ((ACCESS_KEY, d.create_access_key), (PGP_KEY, bool(d.pgp_key)),
                                               (PROFILE_BOUNDARY, d.profile_boundary), (PERMISSIONS_BOUNDARY, bool(d.permissions_boundary)),
                                               (REQUIRE_BOUNDARY, d.require_boundary_on_created_roles)) if on)

    def boundary_arn(self, values: Mapping[str, str]) -> str | None:
        """The given boundary, else the profile boundary's ARN when the deployment creates one."""
        d = self.deployment
        wants = d.profile_boundary and bool(d.create_user or (self.profile.node_role and d.create_node_role))
        return d.permissions_boundary or (boundary_arn_of(values, d.path) if wants else None)

    def guardrails(self, statements: list[dict[str, Any]], boundary_arn: str | None) -> list[dict[str, Any]]:
        return (self.guard or guardrail_statements)(self.deployment, statements, boundary_arn)

    def extra_tags(self) -> dict[str, str]:
        return dict(self.deployment.tags)  # the config refuses the project's own keys

    def derived(self, key: str, rule: Mapping[str, str], fill: Callable[[str], str]) -> str:
        return fill(rule["then"] if self.deployment.parameters.get(rule["if_set"]) else rule["else"])

    def policy_name(self, spec_id: str, rendered: str, default_template: str) -> str:
        return self.deployment.policy_names.get(spec_id) or rendered

    def addenda(self) -> list[str]:
        return sorted(set(self.deployment.addenda))

    def precondition(self, account_id: str) -> Precondition | None:
        parameter = self.profile.account_parameter
        expected = self.deployment.parameters.get(parameter) if parameter else None
        if expected is None or self.deployment.account_id:
            return None  # known at synth time: config.py compared them already
        return Precondition(account_id, expected, f"{self.profile.title} needs the role in account {expected} "
                                                  f"(parameters.{parameter}); the credentials point at another account.")


@dataclass(frozen=True)
class ModuleInputs:
    """An exported module: every value a Terraform expression, every addendum a toggle."""

    profile: Profile
    variant: str
    symbolic: bool = True
    ids: LogicalIds = LogicalIds()
    locals: dict[str, str] = field(default_factory=dict)  # derived values, filled while resolving

    def values(self) -> dict[str, str]:
        profile = self.profile
        values = {name: expr(f"var.{name}") for name in profile.parameters}
        values.update({
            "account_id": expr("data.aws_caller_identity.current.account_id"),
            "partition": expr("data.aws_partition.current.partition"),
            "region": expr("data.aws_region.current.name"),
            "deployment": expr("var.name"),
            # ec2.amazonaws.com, or ec2.amazonaws.com.cn in China (the partition's DNS suffix).
            "ec2_service_principal": "ec2." + expr("data.aws_partition.current.dns_suffix"),
        })
        values.update({key: expr(f"local.{key}") for key in NAME_KEYS})
        values.update({key: expr(f"local.{key}") for r in self.profile.roles(self.variant) for key in (r.name_key, r.instance_profile_key)})
        if not self.principals()[0]:
            values.pop("user_name")  # no user, no local.user_name
        return values

    def principals(self) -> tuple[bool, bool]:
        return bool(self.profile.defaults.get("create_user", True)), self.profile.node_role is not None

    def switches(self) -> frozenset[str]:
        return frozenset()  # every switch is a variable

    def boundary_arn(self, values: Mapping[str, str]) -> str | None:
        return None  # the module's local.boundary_arn

    def guardrails(self, statements: list[dict[str, Any]], boundary_arn: str | None) -> list[dict[str, Any]]:
        return []  # a module's are a policy of their own (Plan.guardrails)

    def extra_tags(self) -> dict[str, str]:
        return {}  # var.tags: the emitter merges it under the plan's tags

    def derived(self, key: str, rule: Mapping[str, str], fill: Callable[[str], str]) -> str:
        """A local chosen at plan time; the emitter writes `locals` from `self.locals`."""
        flag = rule["if_set"]
        self.locals[key] = expr(f"var.{flag} != null && var.{flag} != \"\" ? {hcl_literal(fill(rule['then']))} : {hcl_literal(fill(rule['else']))}")
        return expr(f"local.{key}")

    def policy_name(self, spec_id: str, rendered: str, default_template: str) -> str:
        if default_template == "{{policy_name}}" or spec_id in self.own_policy_ids():
            return rendered
        # A profile's second policy (e.g. Iguazio's AssignPrivateIPAddresses): its own name variable.
        return expr(f"coalesce(var.{policy_name_variable(spec_id)}, {hcl_literal(rendered)})")

    def own_policy_ids(self) -> set[str]:
        return {a.policy.id for a in self.profile.addenda.values() if a.policy}

    def addenda(self) -> list[str]:
        # The module always creates the node role, which an addendum by which the platform creates it refuses.
        return [name for name, a in self.profile.addenda.items()
                if (not a.only_variants or self.variant in a.only_variants) and not a.platform_creates_node_role]

    def precondition(self, account_id: str) -> Precondition | None:
        parameter = self.profile.account_parameter
        if not parameter:
            return None
        return Precondition(account_id, expr(f"var.{parameter}"),
                            f"{self.profile.title} needs the role in the account given as {parameter}; "
                            "the credentials point at another account.")


def policy_name_variable(policy_id: str) -> str:
    return f"{policy_id.replace('-', '_')}_policy_name"


def name_default_expression(profile: Profile, key: str, template: str | None = None, variant: str | None = None) -> str:
    """local.<name> of a module: the variable, else the profile's default with placeholders as references
    (a variant's own role names pass their template and variant)."""
    refs = {name: expr(f"var.{name}") for name in profile.parameters} | {n: expr(f"local.{n}") for n in NAME_KEYS}
    refs |= {k: expr(f"local.{k}") for r in profile.roles(variant) for k in (r.name_key, r.instance_profile_key)}
    refs["deployment"] = expr("var.name")
    template = PLACEHOLDER.sub(lambda m: refs.get(m.group(1), m.group(0)), template or default_name_template(profile, key))
    whole = TOKEN.fullmatch(template)  # "{{role_name}}" alone: the reference itself, not a template
    return expr(f"coalesce(var.{key}, {readable_expression(template) if whole else hcl_literal(template)})")


def document_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
