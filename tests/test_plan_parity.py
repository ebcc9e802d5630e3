"""Parity: for every built-in profile x variant x addenda, the CDKTF stack and the exported module with
the same toggles give the same statements, names, attachments, outputs, permissions boundary (its
document, name, and the principals that get it) and tags on every resource.

The stack side is the deployment's plan (what stacks.py emits). The module side is the *emitted*
main.tf.json where it holds the meaning (the name locals) and the module's plan selected with the
deployment's toggles elsewhere, with the module's Terraform references replaced by the values a
plan against that deployment's account would give them. The boundary and the tags are compared
between the *synthesized* stack (cdk.tf.json) and the emitted module, resource by resource.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from iam_foundry.config.load import parse_config
from iam_foundry.emit.module import export_module, module_dir_name
from iam_foundry.emit.tfjson import to_terraform
from iam_foundry.plan import (
    ACCESS_KEY,
    PARAMETER,
    PERMISSIONS_BOUNDARY,
    PROFILE_BOUNDARY,
    REQUIRE_BOUNDARY,
    ModuleInputs,
    Plan,
    resolve,
)
from iam_foundry.policy.documents import build_documents
from iam_foundry.profiles.load import load_profile
from tests.conftest import TEST_ACCOUNT, synth_raw
from tests.profile_matrix import SAMPLE_REGION, choice_config, every_builtin_choice

CHOICES = list(every_builtin_choice())
# An addendum by which the platform creates the node role is no module toggle (a module always creates the role).
MODULE_CHOICES = [c for c in CHOICES if not any(load_profile(c[0]).addenda[a].platform_creates_node_role for a in c[2])]
# The guardrail settings each choice is compared under: the defaults, a given boundary, the opt-in.
GIVEN_BOUNDARY = "arn:aws:iam::aws:policy/PowerUserAccess"
GUARDS = {"default": {}, "given-boundary": {"permissions_boundary": GIVEN_BOUNDARY},
          "required": {"require_boundary_on_created_roles": True}}
# The caller's own tags, given to both sides in every case.
CALLER_TAGS = {"Team": "ml", "CostCenter": "42"}
REFERENCE = re.compile(r"(?<!\$)\$\{([^{}]*)\}")
CONDITIONAL = re.compile(r"var\.(\w+) != null && var\.\1 != \"\" \? ")
DATA = {"data.aws_caller_identity.current.account_id": TEST_ACCOUNT, "data.aws_partition.current.partition": "aws",
        "data.aws_partition.current.dns_suffix": "amazonaws.com", "data.aws_region.current.name": SAMPLE_REGION}


@lru_cache(maxsize=None)
def exported(profile: str, variant: str, root: str) -> dict[str, Any]:
    spec = load_profile(profile)
    path = export_module(profile, variant, Path(root) / module_dir_name(profile, variant, spec.default_variant))
    return json.loads((path / "main.tf.json").read_text())


class ModuleEvaluator:
    """Evaluates the few expression shapes the module emitter writes, with the caller's inputs."""

    def __init__(self, module: dict[str, Any], variables: dict[str, Any]):
        self.module, self.variables = module, variables

    def condition(self, expression: str) -> bool:
        """A count or toggle condition: var.x, !var.x, var.x == null, var.x != null, joined by && and ||, in parentheses."""
        python = re.sub(r"var\.(\w+)", lambda m: f"V({m.group(1)!r})", expression)
        python = python.replace("&&", " and ").replace("||", " or ").replace("null", "None")
        python = re.sub(r"!(?!=)", " not ", python)
        assert re.fullmatch(r"[\sA-Za-z0-9_()'!=]*", python), expression  # nothing else is evaluated
        return bool(eval(python, {"__builtins__": {}}, {"V": lambda name: self.reference(f"var.{name}"), "None": None}))  # noqa: S307

    def exists(self, resource: dict[str, Any]) -> bool:
        count = resource.get("count")
        if count is None:
            return True
        counted = re.fullmatch(r"\$\{(.*) \? 1 : 0\}", count, re.S)
        assert counted, count
        return self.condition(counted.group(1))

    def reference(self, expression: str) -> Any:
        if expression in DATA:
            return DATA[expression]
        tags = re.fullmatch(r"merge\(var\.tags, \{(.*)\}\)", expression, re.S)
        if tags:  # local.tags: the caller's, then the plan's {"Key" = "value", ...}
            pairs = re.findall(r'("(?:[^"\\]|\\.)*") = ("(?:[^"\\]|\\.)*")', tags.group(1))
            return {**self.reference("var.tags"), **{json.loads(k): self.text(json.loads(v)) for k, v in pairs}}
        given = re.fullmatch(r"var\.(\w+) != null \? var\.\1 : (.*)", expression, re.S)
        if given:  # local.boundary_arn: the given boundary, else the profile boundary's
            value = self.reference(f"var.{given.group(1)}")
            return value if value is not None else self.reference(given.group(2))
        created = re.fullmatch(r"one\(aws_iam_policy\.(\w+)\[\*\]\.arn\)", expression)
        if created:  # the ARN IAM gives the policy (the module's partition, account, path and name); null without it
            policy = self.module["resource"]["aws_iam_policy"][created.group(1)]
            if not self.exists(policy):
                return None
            return (f"arn:{DATA['data.aws_partition.current.partition']}:iam::{DATA['data.aws_caller_identity.current.account_id']}:policy"
                    f"{self.text(policy['path'])}{self.text(policy['name'])}")
        if expression.startswith("var."):
            name = expression[4:]
            return self.variables.get(name, self.module["variable"][name].get("default"))
        if expression.startswith("local."):
            return self.expression(self.module["locals"][expression[6:]][2:-1])
        coalesce = re.fullmatch(r"coalesce\(var\.(\w+), (.*)\)", expression, re.S)
        if coalesce:
            given = self.reference(f"var.{coalesce.group(1)}")
            return given if given else self.expression(coalesce.group(2))
        raise AssertionError(f"the parity evaluator does not know {expression!r}")

    def expression(self, expression: str) -> Any:
        conditional = CONDITIONAL.match(expression)
        if conditional:  # a derived local: var.x set ? "then" : "else"
            decoder = json.JSONDecoder()
            then, end = decoder.raw_decode(expression, conditional.end())
            other, _ = decoder.raw_decode(expression, end + len(" : "))
            return self.text(then if self.reference(f"var.{conditional.group(1)}") else other)
        if expression.startswith('"'):
            return self.text(json.loads(expression))
        return self.reference(expression)

    def value(self, text: str) -> Any:
        """An attribute's value: a lone reference as what it gives (null, a map), else a template's text."""
        whole = re.fullmatch(r"\$\{([\w.]+)\}", text)
        return self.reference(whole.group(1)) if whole else self.text(text)

    def text(self, text: str) -> str:
        """A template string: every live reference replaced by its value; escaped `$${` stays literal."""
        whole = re.fullmatch(r"\$\{(coalesce\(.*\))\}", text, re.S)  # holds a nested template
        if whole:
            return str(self.reference(whole.group(1)))
        return REFERENCE.sub(lambda m: str(self.reference(m.group(1))), text).replace("$${", "${").replace("%%{", "%{")


def emitted_statements(policy_value: str, evaluate: ModuleEvaluator) -> list[dict[str, Any]]:
    """The statements an emitted aws_iam_policy's `policy` gives with the caller's toggles:
    ${jsonencode({Version = "...", Statement = concat([...], jsondecode(<toggles> ? jsonencode([...]) : "[]"), ...)})}"""
    decoder = json.JSONDecoder()
    head = re.match(r'\$\{jsonencode\(\{Version = "[0-9-]+", Statement = concat\(', policy_value)
    assert head, policy_value[:80]
    position, statements = head.end(), []
    while policy_value[position] != ")":
        if policy_value.startswith("jsondecode(", position):
            question = policy_value.index(" ? jsonencode(", position)
            condition = policy_value[position + len("jsondecode("):question]
            run, end = decoder.raw_decode(policy_value, question + len(" ? jsonencode("))
            assert policy_value.startswith(') : "[]")', end)
            position = end + len(') : "[]")')
            on = evaluate.condition(condition)
        else:
            run, position = decoder.raw_decode(policy_value, position)
            on = True
        statements += run if on else []
        position += len(", ") if policy_value.startswith(", ", position) else 0
    return json.loads(evaluate.text(json.dumps(statements)))


def concrete(value: Any, evaluate: ModuleEvaluator | None) -> Any:
    """A plan value as Terraform would see it: tokens resolved (module side) or written (stack side)."""
    written = to_terraform(value)
    if evaluate is None:
        return json.loads(json.dumps(written).replace("$${", "${").replace("%%{", "%{"))
    return json.loads(json.dumps(_walk(written, evaluate)))


def _walk(value: Any, evaluate: ModuleEvaluator) -> Any:
    if isinstance(value, str):
        return evaluate.text(value)
    if isinstance(value, dict):
        return {k: _walk(v, evaluate) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, evaluate) for v in value]
    return value


def view(plan: Plan, on: frozenset[str], evaluate: ModuleEvaluator | None) -> dict[str, Any]:
    selected = plan.select(on)
    return {
        "policies": {concrete(name, evaluate): concrete(statements, evaluate) for name, statements in selected["policies"].items()},
        "attach_to": sorted((concrete(p.name, evaluate), p.attach_to, tuple(concrete(list(p.attach_to_roles), evaluate)))
                            for p in plan.policies if p.when is None or p.when in on),
        "attachments": sorted(concrete(list(pair), evaluate) for pair in selected["attachments"]),
        # A module names the existing role by its variable, a stack by its value.
        "outputs": {name: description.split(" (attached to ")[0] for name, description in selected["outputs"].items()},
        "trust_policy": concrete(selected["trust_policy"], evaluate),
        "guardrails": concrete(selected["guardrails"], evaluate),
        "boundary": None if selected["boundary"] is None else concrete({k: selected["boundary"][k] for k in ("name", "arn")}, evaluate),
        # A variant's own roles (AI Unlimited's engine role): names, trust, and their own boundary's name and ARN.
        "roles": {key: concrete({**{k: role[k] for k in ("name", "instance_profile_name", "trust_policy")},
                                 "boundary": None if role["boundary"] is None else {k: role["boundary"][k] for k in ("name", "arn")}}, evaluate)
                  for key, role in selected["roles"].items()},
    }


TAGGED = ("aws_iam_policy", "aws_iam_user", "aws_iam_role", "aws_iam_instance_profile")
PRINCIPAL_TYPES = ("aws_iam_user", "aws_iam_role")


def stack_facts(stack: dict[str, Any]) -> dict[str, Any]:
    """What a synthesized stack gives every resource: its tags, each principal's boundary, the boundary policy."""
    resources = stack["resource"]
    policies = resources.get("aws_iam_policy", {})
    boundary = policies.get("boundary")

    def arn_of(name: str) -> str:  # the ARN IAM gives a policy of the stack
        return f"arn:aws:iam::{TEST_ACCOUNT}:policy{policies[name]['path']}{policies[name]['name']}"

    def bounded_by(value: str | None) -> str | None:
        created = re.fullmatch(r"\$\{aws_iam_policy\.(\w+)\.arn\}", value or "")
        return arn_of(created.group(1)) if created else value

    arn = arn_of("boundary") if boundary else None
    return {
        "tags": {rtype: sorted({json.dumps(block.get("tags"), sort_keys=True) for block in resources.get(rtype, {}).values()})
                 for rtype in TAGGED if resources.get(rtype)},
        "bounded": {f"{rtype}.{name}": bounded_by(block.get("permissions_boundary"))
                    for rtype in PRINCIPAL_TYPES for name, block in resources.get(rtype, {}).items()},
        "boundary": None if boundary is None else {"name": boundary["name"], "arn": arn, "statements": json.loads(boundary["policy"])["Statement"]},
    }


def module_facts(module: dict[str, Any], evaluate: ModuleEvaluator) -> dict[str, Any]:
    """The same, from the emitted module: resources whose count is 0 left out, references evaluated."""
    resources = {rtype: {name: block for name, block in blocks.items() if evaluate.exists(block)}
                 for rtype, blocks in module["resource"].items()}
    boundary = resources["aws_iam_policy"].get("boundary")
    arn = evaluate.reference("one(aws_iam_policy.boundary[*].arn)")
    return {
        "tags": {rtype: sorted({json.dumps(evaluate.value(block["tags"]) if "tags" in block else None, sort_keys=True)
                                for block in resources.get(rtype, {}).values()})
                 for rtype in TAGGED if resources.get(rtype)},
        "bounded": {f"{rtype}.{name}": evaluate.value(block["permissions_boundary"]) if "permissions_boundary" in block else None
                    for rtype in PRINCIPAL_TYPES for name, block in resources.get(rtype, {}).items()},
        "boundary": None if boundary is None else {"name": evaluate.text(boundary["name"]), "arn": arn,
                                                   "statements": emitted_statements(boundary["policy"], evaluate)},
    }


def _creates_roles(profile: str, variant: str) -> bool:
    return any('"iam:createrole"' in json.dumps(s).lower() for p in load_profile(profile).policies(variant) for s in p.template["Statement"])


# require_boundary_on_created_roles only where the variant's own policies create roles: elsewhere the
# config refuses it and a module does not offer it.
PARITY_CASES = [(*c, guard) for c in MODULE_CHOICES for guard in GUARDS if guard != "required" or _creates_roles(c[0], c[1])]


@pytest.mark.parametrize("profile, variant, addenda, parameters, guard", PARITY_CASES,
                         ids=[f"{c[0]}/{c[1]}/{'+'.join(c[2]) or 'base'}/{c[4]}" for c in PARITY_CASES])
def test_stack_and_module_agree(tmp_path_factory, tmp_path, profile, variant, addenda, parameters, guard):
    fields = {**GUARDS[guard], "tags": CALLER_TAGS}
    spec = load_profile(profile)
    deployment = parse_config(choice_config(profile, variant, addenda, parameters, **fields)).deployments[0]
    stack_plan = build_documents(deployment).plan
    module = exported(profile, variant, str(tmp_path_factory.getbasetemp() / "parity-modules"))
    module_plan = resolve(ModuleInputs(spec, variant))
    on = frozenset(addenda) | ({ACCESS_KEY} if deployment.create_access_key else set()) | {f"{PARAMETER}{k}" for k in parameters}
    on |= {name for name, value in ((PROFILE_BOUNDARY, deployment.profile_boundary), (PERMISSIONS_BOUNDARY, deployment.permissions_boundary),
                                    (REQUIRE_BOUNDARY, deployment.require_boundary_on_created_roles)) if value}
    evaluate = ModuleEvaluator(module, {"name": deployment.name, **parameters, **{f"enable_{a.replace('-', '_')}": True for a in addenda},
                                        ACCESS_KEY: deployment.create_access_key, **fields})

    # Names: the module's emitted locals against the config's defaults.
    for key, name in stack_plan.names.items():
        assert evaluate.reference(f"local.{key}") == name, key
    assert view(stack_plan, stack_plan.on, None) == view(module_plan, on, evaluate)
    # The emitted documents, evaluated with the deployment's toggles, hold the stack's statements.
    stack_policies = view(stack_plan, stack_plan.on, None)["policies"]
    for planned in module_plan.policies:
        if planned.when is None or planned.when in on:
            resource = module["resource"]["aws_iam_policy"][planned.logical_id]
            assert emitted_statements(resource["policy"], evaluate) == stack_policies[evaluate.text(resource["name"])]
    # A variant's own roles: the emitted role, instance profile, attachments and boundary document are the stack's.
    assert [r.key for r in module_plan.roles] == [r.key for r in stack_plan.roles]
    for mine, theirs in zip(module_plan.roles, stack_plan.roles):
        role = module["resource"]["aws_iam_role"][mine.logical_id]
        assert evaluate.text(role["name"]) == theirs.name
        assert evaluate.text(module["resource"]["aws_iam_instance_profile"][mine.instance_profile_logical_id]["name"]) == theirs.instance_profile_name
        bounded_by = theirs.boundary.arn if theirs.boundary is not None else deployment.permissions_boundary
        assert (evaluate.text(role["permissions_boundary"]) if role.get("permissions_boundary") else None) == bounded_by
        attachment = module["resource"]["aws_iam_role_policy_attachment"][f"{mine.logical_id}_policy"]  # for_each by policy id
        assert attachment["role"] == f"${{aws_iam_role.{mine.logical_id}.name}}"
        attached = sorted(evaluate.text(module["resource"]["aws_iam_policy"][name]["name"])
                          for name in re.findall(r"arn = aws_iam_policy\.(\w+)\.arn, on = true", attachment["for_each"]))
        assert attached == sorted(p.name for p in stack_plan.policies if theirs.key in p.attach_to)
        if theirs.boundary is not None:
            resource = module["resource"]["aws_iam_policy"][mine.boundary.logical_id]
            assert emitted_statements(resource["policy"], evaluate) == concrete(theirs.boundary.document()["Statement"], None)
    # Every planned output is emitted, described as planned.
    for output in module_plan.outputs:
        assert module["output"][output.name]["description"].startswith(output.description)
    # The synthesized stack and the emitted module: tags on every resource, who is bounded by what, the boundary.
    stack = synth_raw(choice_config(profile, variant, addenda, parameters, **fields), tmp_path)["d"]
    expected, emitted = stack_facts(stack), module_facts(module, evaluate)
    assert emitted["tags"] == expected["tags"]
    assert emitted["bounded"] == expected["bounded"]
    assert emitted["boundary"] == expected["boundary"]


def test_the_evaluator_sees_a_drift(tmp_path):
    """The comparison fails when one side's defaults differ (as `iam-foundry-user` once did)."""
    profile, variant, addenda, parameters = next(c for c in CHOICES if c[0] == "nextai")
    deployment = parse_config(choice_config(profile, variant, addenda, parameters)).deployments[0]
    module = json.loads((export_module(profile, variant, tmp_path) / "main.tf.json").read_text())
    module["locals"]["user_name"] = '${coalesce(var.user_name, "iam-foundry-user")}'
    evaluate = ModuleEvaluator(module, {"name": deployment.name})
    assert evaluate.reference("local.user_name") != build_documents(deployment).plan.names["user_name"]


def test_the_synthesized_comparison_sees_a_drift(tmp_path):
    """Tags, boundary statements and who is bounded: each comparison fails when the module drifts."""
    profile, variant, addenda, parameters = next(c for c in MODULE_CHOICES if c[0] == "nextai" and c[2])
    fields = {"tags": CALLER_TAGS}
    deployment = parse_config(choice_config(profile, variant, addenda, parameters, **fields)).deployments[0]
    module = json.loads((export_module(profile, variant, tmp_path / "m") / "main.tf.json").read_text())
    variables = {"name": deployment.name, **parameters, **{f"enable_{a.replace('-', '_')}": True for a in addenda}, **fields}
    expected = stack_facts(synth_raw(choice_config(profile, variant, addenda, parameters, **fields), tmp_path / "s")["d"])
    assert module_facts(module, ModuleEvaluator(module, variables)) == expected
    drifts = {
        "tags": lambda m: m["locals"].__setitem__("tags", m["locals"]["tags"].replace('"IamFoundryDeployment"', '"IamFoundryModule"')),
        "boundary": lambda m: m["resource"]["aws_iam_policy"]["boundary"].__setitem__(
            "policy", m["resource"]["aws_iam_policy"]["boundary"]["policy"].replace('"DenyBoundaryPolicyChanges"', '"Other"')),
        "bounded": lambda m: m["resource"]["aws_iam_user"]["user"].__setitem__("permissions_boundary", "${var.permissions_boundary}"),
    }
    for key, drift in drifts.items():
        changed = json.loads(json.dumps(module))
        drift(changed)
        assert module_facts(changed, ModuleEvaluator(changed, variables))[key] != expected[key], key


def test_given_names_of_a_variant_s_own_role_agree(tmp_path_factory):
    """role_names in the config and the module's <role>_name / <role>_instance_profile_name variables name the same role."""
    checked = 0
    for profile, variant, addenda, parameters in MODULE_CHOICES:
        roles = load_profile(profile).roles(variant)
        if addenda or not roles:
            continue
        given = {r.key: f"given-{r.key}".replace("_", "-") for r in roles} | {f"{r.key}_instance_profile": f"ip-{r.key}".replace("_", "-")
                                                                              for r in roles}
        deployment = parse_config(choice_config(profile, variant, [], parameters, role_names=given)).deployments[0]
        stack_plan = build_documents(deployment).plan
        module = exported(profile, variant, str(tmp_path_factory.getbasetemp() / "parity-modules"))
        evaluate = ModuleEvaluator(module, {"name": deployment.name, **parameters,
                                            **{r.name_key: given[r.key] for r in roles},
                                            **{r.instance_profile_key: given[f"{r.key}_instance_profile"] for r in roles}})
        for role in roles:
            checked += 1
            for key in (role.name_key, role.instance_profile_key):
                assert evaluate.reference(f"local.{key}") == stack_plan.names[key]
            assert stack_plan.names[role.name_key] == given[role.key]
    assert checked
