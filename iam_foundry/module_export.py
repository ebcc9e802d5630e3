"""Export a profile as a self-contained Terraform JSON module (no cdktf at run time).

Platform teams call it from their own HCL; the caller owns the provider and the backend. Names,
parameters, addenda toggles, path, boundary and tags become variables; every name and ARN is an
output. Placeholders become Terraform references (var.*, local.*, data sources), and each
addendum's statements are concatenated only when its `enable_<addendum>` variable is true.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from modules.versions import AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION

from . import __version__
from .errors import FoundryError, PolicyError, Problem
from .access.principals import managed_policy
from .documents import BOUNDARY_CHANGES, BOUNDARY_POLICY_CHANGES, BOUNDARY_SUFFIX, ROLE_GRANTS, _allows_create_role
from .lint import MIN_NAME_PREFIX, grammar_problems
from .policy_templates import PLACEHOLDER, Profile, load_profile, prefix_parameters, render
from .tfjson import TOKEN, expr, expression_of, hcl_literal, measured, to_terraform

MODULE_MAX_POLICY_CHARS = 6144
NAME_VARS = ("user_name", "policy_name", "role_name", "instance_profile_name")


def _var(name: str) -> str:
    return name.replace("-", "_")


def _toggle(addendum: str) -> str:
    return f"enable_{_var(addendum)}"


def _references(profile: Profile) -> dict[str, str]:
    """Placeholder -> Terraform expression inside a template string."""
    refs = {
        "account_id": expr("data.aws_caller_identity.current.account_id"),
        "partition": expr("data.aws_partition.current.partition"),
        "region": expr("data.aws_region.current.name"),
        "deployment": expr("local.policy_name"),
        # ec2.amazonaws.com, or ec2.amazonaws.com.cn in China (the partition's DNS suffix).
        "ec2_service_principal": "ec2." + expr("data.aws_partition.current.dns_suffix"),
    }
    refs.update({name: expr(f"local.{name}") for name in NAME_VARS if name != "user_name" or profile.defaults.get("create_user", True)})
    refs.update({name: expr(f"var.{name}") for name in profile.parameters})
    refs.update({name: expr(f"local.{name}") for name in profile.derived})
    return refs


def _default_expression(profile: Profile, key: str, fallback: str) -> str:
    """local.<name> = coalesce(var.<name>, <profile default, with placeholders as references>)."""
    default = str(profile.defaults.get(key) or fallback)
    refs = {name: expr(f"var.{name}") for name in profile.parameters} | {n: expr(f"local.{n}") for n in NAME_VARS}
    template = PLACEHOLDER.sub(lambda m: refs.get(m.group(1), m.group(0)), default)
    return expr(f"coalesce(var.{key}, {hcl_literal(template)})")


def export_module(profile_name: str, variant: str | None, outdir: Path) -> Path:
    profile = load_profile(profile_name)
    variant = variant or profile.default_variant
    if variant not in profile.variants:
        raise PolicyError(Problem(f"variant '{variant}'", f"not a variant of {profile_name}", f"use one of {sorted(profile.variants)}"))
    refs = _references(profile)
    creates_user = bool(profile.defaults.get("create_user", True))
    variables: dict[str, Any] = {
        "user_name": {"type": "string", "default": None, "description": f"IAM user name (default {profile.defaults.get('user_name', 'iam-foundry-user')})"},
        "policy_name": {"type": "string", "default": None, "description": f"Custom policy name (default {profile.defaults.get('policy_name', 'iam-foundry-policy')})"},
        "role_name": {"type": "string", "default": None, "description": f"Node role name (default {profile.defaults.get('role_name', 'iam-foundry-node-role')})"},
        "instance_profile_name": {"type": "string", "default": None, "description": "Instance profile name (default: the role name)"},
        "path": {"type": "string", "default": "/", "description": "IAM path of every resource"},
        "permissions_boundary": {"type": "string", "default": None, "description": "Managed policy ARN used as permissions boundary"},
        "tags": {"type": "map(string)", "default": {}, "description": "Tags added to every resource"},
    }
    if not creates_user:
        variables.pop("user_name")
    for name, spec in profile.parameters.items():
        variables[name] = {"type": "string", "description": spec.description, **({} if spec.required else {"default": spec.default})}
        if spec.pattern:
            variables[name]["validation"] = [{
                "condition": expr(f"var.{name} == null || can(regex({hcl_literal(f'^(?:{spec.pattern})$')}, var.{name}))"),
                "error_message": f"{name} must match {spec.pattern}.",
            }]
    for name, resource in prefix_parameters(profile).items():  # same rule as the config check (LP008)
        variables[name].setdefault("validation", []).append({
            "condition": expr(f"var.{name} == null || can(regex(\"^.{{{MIN_NAME_PREFIX},}}$\", var.{name})) && can(regex(\"[A-Za-z0-9]\", var.{name}))"),
            "error_message": f"{name} is the name prefix before '*' in {resource}: use at least {MIN_NAME_PREFIX} characters, not only punctuation.",
        })
    for name, addendum in profile.addenda.items():
        # The module always creates the node role, which an addendum by which the platform creates it refuses.
        if addendum.platform_creates_node_role:
            continue
        if not addendum.only_variants or variant in addendum.only_variants:
            variables[_toggle(name)] = {"type": "bool", "default": False, "description": addendum.description}
    if creates_user:
        variables["create_access_key"] = {"type": "bool", "default": bool(profile.defaults.get("create_access_key", False)), "description": "Create an access key (secret only in a sensitive output)"}
        variables["pgp_key"] = {"type": "string", "default": None, "description": "PGP key: state then holds only the encrypted secret"}

    locals_: dict[str, str] = {
        "user_name": _default_expression(profile, "user_name", "iam-foundry-user"),
        "policy_name": _default_expression(profile, "policy_name", "iam-foundry-policy"),
        "role_name": _default_expression(profile, "role_name", "iam-foundry-node-role"),
        "instance_profile_name": expr("coalesce(var.instance_profile_name, local.role_name)"),
        "tags": expr(f"merge({{ManagedBy = \"iam-foundry\", IamFoundryModule = {hcl_literal(profile.name)}}}, var.tags)"),
    }
    if not creates_user:
        locals_.pop("user_name")
    for key, rule in profile.derived.items():
        then = render(rule["then"], refs, profile.root / "profile.json")
        other = render(rule["else"], refs, profile.root / "profile.json")
        locals_[key] = expr(f"var.{rule['if_set']} != null && var.{rule['if_set']} != \"\" ? {hcl_literal(then)} : {hcl_literal(other)}")

    enabled = [name for name in profile.addenda if _toggle(name) in variables]
    resources: dict[str, dict[str, Any]] = {}
    outputs: dict[str, Any] = {}

    def add(rtype: str, name: str, body: dict[str, Any]) -> str:
        resources.setdefault(rtype, {})[name] = {k: v for k, v in body.items() if v is not None}
        return f"{rtype}.{name}"

    user_arns: list[str] = []
    role_arns: list[str] = []
    policy_refs: list[str] = []
    creates_roles = any(_allows_create_role(s) for spec in profile.policies(variant) for s in spec.template["Statement"])
    variables["profile_boundary"] = {"type": "bool", "default": True, "description":
                                     "Create <policy_name>-boundary (every statement this module grants, and denies on lifting it) "
                                     "and set it as permissions boundary of the user and node role; permissions_boundary replaces it"}
    if creates_roles:
        variables["require_boundary_on_created_roles"] = {"type": "bool", "default": False, "description":
                                                          "Create roles, or write or attach their policies, only with the boundary "
                                                          "(iam:PermissionsBoundary); the platform must pass it"}
    # A reference to the policy (not its ARN rebuilt), so Terraform creates it before the user and role.
    locals_["boundary_arn"] = expr("var.permissions_boundary != null ? var.permissions_boundary : one(aws_iam_policy.boundary[*].arn)")
    boundary_groups: list[tuple[str | None, list[dict[str, Any]]]] = []
    for spec in profile.policies(variant):
        base = [render(s, refs, spec.source) for s in spec.template["Statement"]]
        groups = [(None, [s for s in base])]
        toggled = []
        if spec.takes_addenda:
            for name in enabled:
                addendum = profile.addenda[name]
                if addendum.policy is not None:
                    continue  # its own policy, below
                replaced = set(addendum.replaces_sids)
                if replaced:
                    kept = [s for s in groups[0][1] if s.get("Sid") not in replaced]
                    dropped = [s for s in groups[0][1] if s.get("Sid") in replaced]
                    groups[0] = (None, kept)
                    toggled.append((f"!var.{_toggle(name)}", dropped))
                if addendum.statements:
                    toggled.append((f"var.{_toggle(name)}", [render(s, refs, addendum.source) for s in addendum.statements]))
        if spec.attach_to:
            boundary_groups += [(None, groups[0][1])] + toggled
        everything = groups[0][1] + [s for _, stmts in toggled for s in stmts]
        _check_worst_case(everything, spec.template.get("Version", "2012-10-17"), f"{profile_name}/{variant} policy '{spec.id}'")
        # Both branches of a conditional must have one type; tuples of different lengths do not, so
        # each optional group goes through a JSON string and back.
        parts = [hcl_literal(groups[0][1])] + [f"jsondecode({cond} ? jsonencode({hcl_literal(stmts)}) : \"[]\")" for cond, stmts in toggled]
        expression = expr(f"jsonencode({{Version = \"2012-10-17\", Statement = concat({', '.join(parts)})}})")
        logical = "policy" if spec.id == "main" else f"policy_{spec.id}"
        if spec.name == "{{policy_name}}":
            name_expr = expr("local.policy_name")
        else:  # a profile's second policy (e.g. Iguazio's AssignPrivateIPAddresses): its own name variable
            variables[f"{spec.id}_policy_name"] = {"type": "string", "default": None,
                                                   "description": f"Name of the {spec.id} policy (default {spec.name})"}
            name_expr = expr(f"coalesce(var.{spec.id}_policy_name, {hcl_literal(render(spec.name, refs, spec.source))})")
        ref = add("aws_iam_policy", logical, {"name": name_expr, "path": expr("var.path"), "policy": expression,
                                              "description": f"{profile.title} {spec.id} policy (iam-foundry module)", "tags": expr("local.tags")})
        policy_refs.append(ref)
        if "user" in spec.attach_to and creates_user:
            user_arns.append(expr(f"{ref}.arn"))
        if "node_role" in spec.attach_to and profile.node_role:
            role_arns.append(expr(f"{ref}.arn"))

    for name in enabled:  # the AWS managed policies addenda attach belong in the boundary too
        for arn in sorted({a for arns in profile.addenda[name].managed_policy_arns.values() for a in arns}):
            raw = managed_policy("arn:aws:iam::aws:policy/" + arn.rsplit("/", 1)[-1]).document["Statement"]
            boundary_groups.append((f"var.{_toggle(name)}", [dict(s) for s in (raw if isinstance(raw, list) else [raw])]))
    _boundary_policy(boundary_groups, add, profile, variant)
    # The guardrail denies go in a policy of their own: the profile's policies are close to the size quota.
    guard = [("var.permissions_boundary != null", [
        {"Sid": "KeepPermissionsBoundary", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"}])]
    if creates_roles:
        # Variables only: a count may not depend on the boundary policy's ARN, known after apply.
        guard.append(("var.require_boundary_on_created_roles && (var.permissions_boundary != null || var.profile_boundary)", [
            {"Sid": "RequireBoundaryOnCreatedRoles", "Effect": "Deny", "Action": ROLE_GRANTS, "Resource": "*",
             "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": expr("local.boundary_arn")}}}]))
    wanted = " || ".join(f"({condition})" for condition, _ in guard)
    guard_parts = [f"jsondecode({condition} ? jsonencode({hcl_literal(stmts)}) : \"[]\")" for condition, stmts in guard]
    guard_ref = add("aws_iam_policy", "guardrails", {
        "count": expr(f"{wanted} ? 1 : 0"), "name": expr('join("", [local.policy_name, "-guardrails"])'), "path": expr("var.path"),
        "policy": expr(f"jsonencode({{Version = \"2012-10-17\", Statement = concat({', '.join(guard_parts)})}})"),
        "description": f"{profile.title} guardrails: keep the permissions boundary (iam-foundry module)", "tags": expr("local.tags")})
    outputs["boundary_policy_arn"] = {"value": expr("one(aws_iam_policy.boundary[*].arn)"),
                                      "description": "ARN of the profile boundary (null with permissions_boundary or profile_boundary = false)"}

    # Addenda that are their own managed policy (a deployer's, a vendor role's), each switched by its toggle.
    for name in enabled:
        addendum = profile.addenda[name]
        if addendum.policy is None:
            continue
        statements = [render(s, refs, addendum.source) for s in addendum.statements]
        _check_worst_case(statements, "2012-10-17", f"{profile_name}/{variant} addendum '{name}'")
        toggle = expr(f"var.{_toggle(name)} ? 1 : 0")
        logical = f"policy_{_var(addendum.policy.id)}"
        add("aws_iam_policy", logical, {
            "count": toggle, "name": render(addendum.policy.name, refs, addendum.source), "path": expr("var.path"),
            "policy": expr(f"jsonencode({hcl_literal({'Version': '2012-10-17', 'Statement': statements})})"),
            "description": f"{profile.title} {addendum.policy.id} policy (iam-foundry module)", "tags": expr("local.tags")})
        for index, role in enumerate(addendum.policy.attach_to_roles):
            add("aws_iam_role_policy_attachment", f"{logical}_existing_role_{index}", {
                "count": toggle, "role": render(role, refs, addendum.source), "policy_arn": expr(f"aws_iam_policy.{logical}[0].arn")})
        outputs[f"{_var(addendum.policy.id)}_policy_arn"] = {
            "value": expr(f"one(aws_iam_policy.{logical}[*].arn)"),
            "description": f"ARN of the {addendum.policy.id} policy (null unless {_toggle(name)})"}

    if creates_user:
        add("aws_iam_user", "user", {"name": expr("local.user_name"), "path": expr("var.path"),
                                     "permissions_boundary": expr("local.boundary_arn"), "tags": expr("local.tags")})
        for index, arn in enumerate(user_arns):
            add("aws_iam_user_policy_attachment", f"user_policy_{index}", {"user": expr("aws_iam_user.user.name"), "policy_arn": arn})
        add("aws_iam_user_policy_attachment", "user_guardrails", {"count": expr(f"length({guard_ref})"), "user": expr("aws_iam_user.user.name"),
                                                                  "policy_arn": expr(f"{guard_ref}[0].arn")})
        add("aws_iam_access_key", "user_access_key", {"count": expr("var.create_access_key ? 1 : 0"), "user": expr("aws_iam_user.user.name"),
                                                      "pgp_key": expr("var.pgp_key")})
        outputs.update({
            "user_name": {"value": expr("aws_iam_user.user.name")}, "user_arn": {"value": expr("aws_iam_user.user.arn")},
            "access_key_id": {"value": expr("one(aws_iam_access_key.user_access_key[*].id)")},
            "access_key_secret": {"value": expr("one(aws_iam_access_key.user_access_key[*].secret)"), "sensitive": True},
        })
    if profile.node_role:
        trust = render(profile.node_role.trust_policy, refs, profile.node_role.trust_source)
        role_body: dict[str, Any] = {"name": expr("local.role_name"), "path": expr("var.path"), "assume_role_policy": json.dumps(trust, separators=(",", ":")),
                                     "permissions_boundary": expr("local.boundary_arn"), "tags": expr("local.tags")}
        if profile.account_parameter:
            role_body["lifecycle"] = {"precondition": [{
                "condition": expr(f"var.{profile.account_parameter} == null || data.aws_caller_identity.current.account_id == var.{profile.account_parameter}"),
                "error_message": f"{profile.title} needs the role in the same account as {profile.account_parameter}.",
            }]}
        add("aws_iam_role", "node_role", role_body)
        for index, arn in enumerate(role_arns + [render(a, refs, profile.root) for a in profile.node_role.managed_policy_arns]):
            add("aws_iam_role_policy_attachment", f"node_role_policy_{index}", {"role": expr("aws_iam_role.node_role.name"), "policy_arn": arn})
        add("aws_iam_role_policy_attachment", "node_role_guardrails", {"count": expr(f"length({guard_ref})"), "role": expr("aws_iam_role.node_role.name"),
                                                                       "policy_arn": expr(f"{guard_ref}[0].arn")})
        add("aws_iam_instance_profile", "instance_profile", {"name": expr("local.instance_profile_name"), "path": expr("var.path"),
                                                             "role": expr("aws_iam_role.node_role.name"), "tags": expr("local.tags")})
        outputs.update({
            "role_name": {"value": expr("aws_iam_role.node_role.name")}, "role_arn": {"value": expr("aws_iam_role.node_role.arn")},
            "instance_profile_name": {"value": expr("aws_iam_instance_profile.instance_profile.name")},
            "instance_profile_arn": {"value": expr("aws_iam_instance_profile.instance_profile.arn")},
        })
        if "compute_config_json" in profile.outputs:
            outputs["compute_config_json"] = {"value": expr("jsonencode({IamInstanceProfile = {Arn = aws_iam_instance_profile.instance_profile.arn}})")}
    # Managed policies that addenda attach, each switched by its toggle.
    for name in enabled:
        for target, arns in profile.addenda[name].managed_policy_arns.items():
            if target == "user" and not creates_user or target == "node_role" and not profile.node_role:
                continue
            for index, arn in enumerate(arns):
                logical = f"{_var(name)}_{target}_{index}"
                body = {"count": expr(f"var.{_toggle(name)} ? 1 : 0"), "policy_arn": render(arn, refs, profile.addenda[name].source)}
                if target == "user":
                    add("aws_iam_user_policy_attachment", logical, {**body, "user": expr("aws_iam_user.user.name")})
                else:
                    add("aws_iam_role_policy_attachment", logical, {**body, "role": expr("aws_iam_role.node_role.name")})
    outputs["policy_arns"] = {"value": [expr(f"{ref}.arn") for ref in policy_refs]}
    outputs["policy_names"] = {"value": [expr(f"{ref}.name") for ref in policy_refs]}
    outputs["account_id"] = {"value": expr("data.aws_caller_identity.current.account_id")}
    for name in profile.outputs:
        if name in profile.parameters:
            outputs[name] = {"value": expr(f"var.{name}")}
    outputs["iam_foundry_module_version"] = {"value": __version__, "description": "Version of iam-foundry that exported this module"}
    descriptions = {"user_name": "IAM user name", "user_arn": "IAM user ARN", "access_key_id": "Access key id (null unless create_access_key)",
                    "access_key_secret": "Secret access key (sensitive)", "role_name": "Node role name", "role_arn": "Node role ARN",
                    "instance_profile_name": "Instance profile name", "instance_profile_arn": "Instance profile ARN",
                    "compute_config_json": "Compute Config JSON for the platform", "policy_arns": "Custom policy ARNs",
                    "policy_names": "Custom policy names", "account_id": "AWS account id"}
    for name, output in outputs.items():
        output.setdefault("description", descriptions.get(name, f"Passed through from var.{name}"))

    module = {
        "//": f"Generated by iam-foundry {__version__} from policy_json/{profile_name} (variant {variant}). Do not edit: re-export.",
        "terraform": {"required_version": ">= 1.5", "required_providers": {"aws": {"source": AWS_PROVIDER_SOURCE, "version": AWS_PROVIDER_VERSION}}},
        "variable": variables,
        "locals": locals_,
        "data": {"aws_caller_identity": {"current": {}}, "aws_partition": {"current": {}}, "aws_region": {"current": {}}},
        "resource": resources,
        "output": outputs,
    }
    try:
        # Where the plan becomes Terraform JSON: profile text literal, the module's expressions live.
        outdir.mkdir(parents=True, exist_ok=True)
        (outdir / "main.tf.json").write_text(json.dumps(to_terraform(module), indent=2) + "\n")
        (outdir / "README.md").write_text(module_readme(profile, variant, module))
    except OSError as err:
        # Usually --out names an existing file: say which path is in the way, not a traceback.
        blocker = next((p for p in (outdir, *outdir.parents) if p.exists() and not p.is_dir()), None)
        raise FoundryError(Problem(str(blocker or outdir), "is a file, not a folder" if blocker else f"cannot be written: {err.strerror}",
                                   "pass --out a folder (a missing one is created)")) from None
    return outdir


def _boundary_policy(groups: list[tuple[str | None, list[dict[str, Any]]]], add: Any, profile: Profile, variant: str) -> None:
    """The profile boundary as the module's `aws_iam_policy.boundary`: every statement the module can
    grant, each group under its toggle, Sids made unique across policies, and the denies of
    documents.profile_boundary. Checked at export with every addendum on, like the policies."""
    seen: set[str] = set()
    unique: list[tuple[str | None, list[dict[str, Any]]]] = []
    for index, (condition, statements) in enumerate(groups):
        renamed = []
        for number, statement in enumerate(statements):
            base = sid = statement.get("Sid") or f"Statement{index}x{number}"
            count = 2
            while sid in seen:
                sid, count = f"{base}{count}", count + 1
            seen.add(sid)
            renamed.append({"Sid": sid, **{k: v for k, v in statement.items() if k != "Sid"}})
        unique.append((condition, renamed))
    denies = [{"Sid": "DenyPermissionsBoundaryChanges", "Effect": "Deny", "Action": BOUNDARY_CHANGES, "Resource": "*"},
              {"Sid": "DenyBoundaryPolicyChanges", "Effect": "Deny", "Action": BOUNDARY_POLICY_CHANGES, "Resource": "arn:" + expr("data.aws_partition.current.partition") + ":iam::"
               + expr("data.aws_caller_identity.current.account_id") + ":policy" + expr("var.path") + expr("local.policy_name") + BOUNDARY_SUFFIX}]
    _check_worst_case([s for _, stmts in unique for s in stmts] + denies, "2012-10-17", f"{profile.name}/{variant} profile boundary",
                      stand_in=_realistic)
    parts = [hcl_literal(stmts) if condition is None else f"jsondecode({condition} ? jsonencode({hcl_literal(stmts)}) : \"[]\")"
             for condition, stmts in unique] + [hcl_literal(denies)]
    add("aws_iam_policy", "boundary", {
        "count": expr("var.profile_boundary && var.permissions_boundary == null ? 1 : 0"),
        "name": expr(f'join("", [local.policy_name, "{BOUNDARY_SUFFIX}"])'), "path": expr("var.path"),
        "policy": expr(f"jsonencode({{Version = \"2012-10-17\", Statement = concat({', '.join(parts)})}})"),
        "description": f"{profile.title} permissions boundary: the most this module's principals may hold (iam-foundry module)",
        "tags": expr("local.tags")})


# The longest value each data source gives (aws-us-gov, ap-southeast-N): the profile boundary holds every
# statement of the module, so counting these as 64 characters too would refuse boundaries IAM accepts.
DATA_LENGTHS = {"data.aws_caller_identity.current.account_id": 12, "data.aws_partition.current.partition": 10,
                "data.aws_region.current.name": 14, "data.aws_partition.current.dns_suffix": 16}


def _realistic(match: re.Match[str]) -> str:
    return "x" * DATA_LENGTHS.get(expression_of(match.group(0)) or "", 64)


def _check_worst_case(statements: list[dict[str, Any]], version: str, where: str,
                      stand_in: str | Callable[[re.Match[str]], str] = "x" * 64) -> None:
    """With every addendum on and 64-character names, the document must still fit one managed policy
    (a module cannot split at plan time)."""
    longest = TOKEN.sub(stand_in, json.dumps(statements)) if callable(stand_in) else measured(json.dumps(statements), stand_in)
    problems = grammar_problems({"Version": version, "Statement": json.loads(longest)}, where)
    if problems:
        raise PolicyError(problems)
    size = len(json.dumps({"Version": version, "Statement": json.loads(longest)}, separators=(",", ":")))
    if size > MODULE_MAX_POLICY_CHARS:
        raise PolicyError(Problem(where, f"{size} characters with every addendum on, over IAM's {MODULE_MAX_POLICY_CHARS}",
                                  "export a variant with fewer addenda, or use the CDKTF app (it splits automatically)"))


def module_readme(profile: Profile, variant: str, module: dict[str, Any]) -> str:
    lines = [f"# iam-foundry module: {profile.name} ({variant})", "",
             f"Generated by iam-foundry {__version__} — do not edit; re-export with "
             f"`iam-foundry export-module {profile.name}" + ("" if variant == profile.default_variant else f" --variant {variant}") + "`.",
             "", profile.description, "",
             "Plain Terraform JSON: no provider and no backend inside (the caller owns both).", "",
             "```hcl", f'module "{_var(profile.name)}" {{', f'  source = "./modules-out/{module_dir_name(profile.name, variant, profile.default_variant)}"']
    for name, spec in module["variable"].items():
        if "default" not in spec:
            lines.append(f'  {name} = "..."')
    lines += ["}", "```", "", "## Inputs", "", "| name | type | default | description |", "|---|---|---|---|"]
    for name, spec in module["variable"].items():
        default = "required" if "default" not in spec else f"`{json.dumps(spec['default'])}`"
        lines.append(f"| `{name}` | `{spec['type']}` | {default} | {spec.get('description', '')} |")
    lines += ["", "## Outputs", "", "| name | description |", "|---|---|"]
    for name, spec in module["output"].items():
        lines.append(f"| `{name}` | {spec.get('description', '')}{' (sensitive)' if spec.get('sensitive') else ''} |")
    return "\n".join(lines) + "\n"


def module_dir_name(profile: str, variant: str, default_variant: str) -> str:
    return profile if variant == default_variant else f"{profile}-{variant}"


def export_all(outroot: Path) -> list[Path]:
    from .policy_templates import list_profiles

    written = []
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            written.append(export_module(name, variant, outroot / module_dir_name(name, variant, profile.default_variant)))
    return written
