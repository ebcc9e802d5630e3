"""Exported Terraform JSON modules: self-contained, versioned, documented; HCL consumers parse."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import hcl2
import pytest

from iam_foundry import __version__
from iam_foundry.emit.module import PRINCIPALS, export_all, export_module
from iam_foundry.ops.terraform import Terraform
from iam_foundry.plan import ModuleInputs, resolve
from iam_foundry.profiles.load import list_profiles, load_profile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "consumers"


@pytest.fixture(scope="module")
def modules(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("modules-out")
    return {path.name: json.loads((path / "main.tf.json").read_text()) | {"_readme": (path / "README.md").read_text()}
            for path in export_all(root)}


def test_every_profile_and_variant_is_exported(modules):
    assert sorted(modules) == sorted(p.name for p in FIXTURES.iterdir())


def test_modules_have_no_provider_or_backend(modules):
    for name, module in modules.items():
        assert "provider" not in module, name
        assert set(module["terraform"]) == {"required_version", "required_providers"}, name


def test_modules_are_versioned_and_output_every_arn(modules):
    # Which modules have a user comes from the profile data (create_user default), not the modules.
    with_user = {name if variant == load_profile(name).default_variant else f"{name}-{variant}"
                 for name in list_profiles() for variant in load_profile(name).variants
                 if load_profile(name).defaults.get("create_user", True)}
    assert with_user and with_user < set(modules)
    for name, module in modules.items():
        outputs = module["output"]
        assert outputs["iam_foundry_module_version"]["value"] == __version__
        assert {"role_arn", "instance_profile_arn", "instance_profile_name", "policy_arns"} <= set(outputs), name
        assert ("aws_iam_user" in module["resource"]) == (name in with_user), name
        if name in with_user:
            assert {"user_arn", "access_key_id", "access_key_secret"} <= set(outputs), name
            assert outputs["access_key_secret"]["sensitive"] is True, name
        else:
            assert not {"user_arn", "access_key_id", "access_key_secret"} & set(outputs), name


def test_addenda_are_variables_and_conditional(modules):
    nextai = modules["nextai"]
    addenda = load_profile("nextai").addenda
    for addendum, toggle in (("clone-disk", "enable_clone_disk"), ("open-ports", "enable_open_ports"),
                             ("s3-access", "enable_s3_access")):
        assert addenda[addendum].description
        assert nextai["variable"][toggle] == {"type": "bool", "default": False, "description": addenda[addendum].description}
    policy = nextai["resource"]["aws_iam_policy"]["policy"]["policy"]
    assert "var.enable_clone_disk ? " in policy
    # role-creation needs a node role the stack does not create; a module always creates it.
    assert "enable_role_creation" not in nextai["variable"] and "CreateNodeRole" not in json.dumps(nextai)
    attachments = nextai["resource"]["aws_iam_user_policy_attachment"]
    assert set(attachments) == {"user_policy"}
    assert '"s3_access_0" = {arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonS3FullAccess", ' \
           'on = var.enable_s3_access}' in attachments["user_policy"]["for_each"]


def test_placeholders_become_terraform_references(modules):
    text = json.dumps(modules["ai-unlimited"]["resource"])
    assert not re.search(r"\{\{\s*[A-Za-z_]+\s*\}\}", text)  # no profile placeholder left ({for ...} expressions may start "${{")
    assert "data.aws_caller_identity.current.account_id" in text and "data.aws_partition.current.partition" in text
    # The server's own secrets cover every cluster; cluster_name narrows only the engine policy.
    assert "secret:compute-engine/*" in text
    engine = json.dumps(modules["ai-unlimited-without-iam-role-permissions"]["resource"])
    assert "secret:${local.secret_scope}" in engine
    assert modules["ai-unlimited"]["locals"]["secret_scope"].startswith("${var.cluster_name != null")
    assert "ec2.${data.aws_partition.current.dns_suffix}" in text


def test_readme_is_generated_from_the_module(modules):
    for name, module in modules.items():
        readme = module["_readme"]
        for variable in module["variable"]:
            assert f"| `{variable}` |" in readme, (name, variable)
        for output in module["output"]:
            assert f"| `{output}` |" in readme, (name, output)


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir()))
def test_hcl_consumer_fixtures_parse_and_pass_the_required_inputs(modules, fixture):
    with open(FIXTURES / fixture / "main.tf") as handle:
        parsed = hcl2.load(handle)
    # python-hcl2 keeps string quotes and marks blocks with __is_block__.
    module_blocks = [{k: v for k, v in block.items() if k != "__is_block__"} for entry in parsed["module"] for block in entry.values()]
    assert len(module_blocks) == 1 and module_blocks[0]["source"].strip('"') == "./module"
    variables = modules[fixture]["variable"]
    required = {name for name, spec in variables.items() if "default" not in spec}
    assert required <= set(module_blocks[0]), required - set(module_blocks[0])
    assert set(module_blocks[0]) - {"source"} <= set(variables)
    assert "provider" not in parsed and "terraform" not in parsed, "the shared provider.tf holds those"
    with open(FIXTURES.parent / "consumer-common" / "provider.tf") as handle:
        common = hcl2.load(handle)
    assert "backend" not in common["terraform"][0], "fixtures use a local state"


def test_unknown_variant_is_an_error(tmp_path):
    from iam_foundry.errors import PolicyError
    with pytest.raises(PolicyError):
        export_module("nextai", "eks", tmp_path)


def test_modules_carry_the_profile_boundary_and_its_toggles(modules):
    for name, module in modules.items():
        variables, resources = module["variable"], module["resource"]
        assert variables["profile_boundary"]["default"] is True, name
        boundary = resources["aws_iam_policy"]["boundary"]
        assert boundary["count"] == "${var.profile_boundary && var.permissions_boundary == null ? 1 : 0}"
        assert "DenyPermissionsBoundaryChanges" in boundary["policy"] and "DenyBoundaryPolicyChanges" in boundary["policy"]
        assert resources["aws_iam_role"]["node_role"]["permissions_boundary"] == "${local.boundary_arn}"
        assert "aws_iam_policy.boundary[*].arn" in module["locals"]["boundary_arn"]
        guard = resources["aws_iam_policy"]["guardrails"]["policy"]
        assert "KeepPermissionsBoundary" in guard
        # Only profiles whose principals create roles get the opt-in.
        creates = name in ("ai-unlimited", "iguazio-eks")
        assert ("require_boundary_on_created_roles" in variables) == creates, name
        assert ("RequireBoundaryOnCreatedRoles" in guard) == creates, name
        assert variables.get("require_boundary_on_created_roles", {"default": False})["default"] is False
    # Every statement of the policies is in the boundary, addenda under their toggles.
    nextai = modules["nextai"]["resource"]["aws_iam_policy"]["boundary"]["policy"]
    assert "RunInstancesInAccount" in nextai and "var.enable_open_ports ?" in nextai and "s3:*" in nextai


def _profile_of(name: str) -> tuple[str, str]:
    for profile in list_profiles():
        spec = load_profile(profile)
        for variant in spec.variants:
            if name == (profile if variant == spec.default_variant else f"{profile}-{variant}"):
                return profile, variant
    raise AssertionError(name)


def test_attachments_are_keyed_and_moved_from_their_numbered_addresses(modules):
    """Every attachment is an instance of one for_each resource per principal (existing roles: per policy),
    keyed by policy id or managed-policy key; each older numbered address has a moved block to its key."""
    for name, module in modules.items():
        plan = resolve(ModuleInputs(load_profile(_profile_of(name)[0]), _profile_of(name)[1]))
        resources = module["resource"]
        moved = {m["from"]: m["to"] for m in module.get("moved", [])}
        assert len(moved) == len(module.get("moved", [])), name
        expected_keys: dict[str, set[str]] = {}
        for principal in PRINCIPALS.values():
            if (principal.key == "user" and not plan.creates_user) or (principal.key == "node_role" and not plan.creates_role):
                assert f"{principal.key}_policy" not in resources.get(principal.resource_type, {}), name
                continue
            attachment = resources[principal.resource_type][f"{principal.key}_policy"]
            assert attachment["policy_arn"] == "${each.value}" and "count" not in attachment, name
            keys = {p.part_keys()[0] for p in plan.policies if principal.key in p.attach_to}
            keys |= {a.key for a in plan.attachments if a.principal == principal.key} | {"guardrails"}
            for key in keys:  # every key is in the for_each map, and something moves to it
                assert f'"{key}" = {{arn = ' in attachment["for_each"], (name, key)
            expected_keys[f"{principal.resource_type}.{principal.key}_policy"] = keys
            # No numbered resource is left for this principal.
            assert not [r for r in resources[principal.resource_type] if r[-1].isdigit()], name
        for role in plan.roles:  # a variant's own roles: <role>_policy, moved from <role>_policy_<key> (one resource per key before)
            attachment = resources["aws_iam_role_policy_attachment"][f"{role.logical_id}_policy"]
            keys = {p.part_keys()[0] for p in plan.policies if role.key in p.attach_to}
            keys |= {a.key for a in plan.attachments if a.principal == role.key} | {"guardrails"}
            for key in keys:
                assert f'"{key}" = {{arn = ' in attachment["for_each"], (name, key)
                assert moved.get(f"aws_iam_role_policy_attachment.{role.logical_id}_" + ("guardrails[0]" if key == "guardrails" else f"policy_{key}")) \
                    == f'aws_iam_role_policy_attachment.{role.logical_id}_policy["{key}"]', (name, key)
            expected_keys[f"aws_iam_role_policy_attachment.{role.logical_id}_policy"] = keys
        for policy in (p for p in plan.policies if p.attach_to_roles):
            attachment = resources["aws_iam_role_policy_attachment"][f"{policy.logical_id}_existing_role"]
            assert attachment["role"] == "${each.value}", name
            expected_keys[f"aws_iam_role_policy_attachment.{policy.logical_id}_existing_role"] = set(policy.role_keys)
        targets = {f'{address}["{key}"]' for address, keys in expected_keys.items() for key in keys}
        assert set(moved.values()) == targets, name
        for old in moved:  # the names exports before keying used: <principal>_policy_<n>, <principal>_guardrails, <origin>_<principal>_<n>
            assert old.split(".")[1].split("[")[0] not in resources[old.split(".")[0]], (name, old)


def test_a_toggle_moves_no_address(tmp_path):
    """The attachments' addresses depend on the profile, never on the variables a caller sets."""
    module = json.loads((export_module("nextai", None, tmp_path) / "main.tf.json").read_text())
    for_each = module["resource"]["aws_iam_role_policy_attachment"]["node_role_policy"]["for_each"]
    # The key is a literal and the toggle filters entries out, so turning one on or off leaves the others alone.
    assert for_each.endswith(": key => attachment.arn if attachment.on}}")
    assert '"main" = {arn = aws_iam_policy.policy.arn, on = true}' in for_each


def test_module_variables_are_typed_described_and_defaulted(modules):
    for name, module in modules.items():
        profile = load_profile(_profile_of(name)[0])
        for variable, spec in module["variable"].items():
            assert spec.get("type") and spec.get("description"), (name, variable)
            required = variable in profile.parameters and profile.parameters[variable].required
            assert ("default" in spec) != required, (name, variable)


def test_tags_are_the_plans_and_the_callers_cannot_override_them(modules):
    for name, module in modules.items():
        # The plan's tags (ManagedBy, IamFoundryDeployment = var.name) merged over the caller's.
        assert module["locals"]["tags"] == '${merge(var.tags, {"ManagedBy" = "iam-foundry", "IamFoundryDeployment" = "${var.name}"})}', name
        for rtype, blocks in module["resource"].items():
            for block in blocks.values():
                if rtype in ("aws_iam_policy", "aws_iam_user", "aws_iam_role", "aws_iam_instance_profile"):
                    assert block["tags"] == "${local.tags}", (name, rtype)
        condition = module["variable"]["tags"]["validation"][0]["condition"]
        assert '["managedby","iamfoundrydeployment"]' in condition and 'startswith(lower(key), "aws:")' in condition, name


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform not on PATH")
def test_terraform_validates_every_module(tmp_path):
    """One root configuration calling every exported module (required inputs unknown, as at validate time)."""
    root = tmp_path / "root"
    root.mkdir()
    calls = {}
    for path in export_all(tmp_path / "modules-out"):
        variables = json.loads((path / "main.tf.json").read_text())["variable"]
        calls[path.name.replace("-", "_")] = {"source": str(path), **{k: "${var.unknown}" for k, v in variables.items() if "default" not in v}}
    (root / "main.tf.json").write_text(json.dumps({"variable": {"unknown": {"type": "string"}}, "module": calls}))
    terraform = Terraform(root)
    terraform.run("init", "-backend=false", "-input=false", "-no-color")
    assert "The configuration is valid" in terraform.run("validate", "-no-color").stdout
    # The tags variable refuses the project's own keys, whatever their case, as the config does.
    calls["refused"] = {**calls["nextai"], "tags": {"managedBy": "me"}}
    (root / "main.tf.json").write_text(json.dumps({"variable": {"unknown": {"type": "string"}}, "module": calls}))
    terraform.run("init", "-backend=false", "-input=false", "-no-color")
    refused = terraform.run("validate", "-no-color", check=False)
    assert refused.returncode != 0 and "are set by iam-foundry on every" in refused.stderr + refused.stdout


def test_existing_role_keys_come_from_the_templates_and_stay_unique():
    from iam_foundry.plan import role_keys

    assert role_keys(("{{access_role_name}}",)) == ("access_role_name",)
    assert role_keys(("{{a}}-x", "{{a}}_x", "{{b}}")) == ("a_x", "a_x_2", "b")
    # Adding a role after the others leaves their keys alone.
    assert role_keys(("{{a}}", "{{b}}"))[:1] == role_keys(("{{a}}",))


def test_readme_module_addresses_are_the_exported_ones(modules):
    """The addresses the README's module section names, keyed and numbered, are moved-block ends of real exports."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### 4. A Terraform module for your own HCL")[1].split("\n### ")[0]
    moved = [m for module in modules.values() for m in module.get("moved", [])]
    keyed = {m["to"].split(".", 1)[1] for m in moved}
    keys = {to.split("[", 1)[1] for to in keyed}
    numbered = {m["from"].split(".", 1)[1] for m in moved}
    cited_keyed = re.findall(r'`(\w*\["\w+"\])`', section)
    cited_numbered = re.findall(r"`(\w+_\d+(?:\[0\])?|\w+_guardrails\[0\])`", section)
    assert len(cited_keyed) >= 4 and len(cited_numbered) >= 4, (cited_keyed, cited_numbered)
    for address in cited_keyed:
        assert (address in keyed) if not address.startswith("[") else (address[1:] in keys), address
    for address in cited_numbered:
        assert address in numbered, address


def test_a_variant_s_own_roles_are_in_its_module(modules):
    """Each role a variant declares (AI Unlimited's engine role) is a role of the module: name variables and
    locals, EC2 trust, instance profile, its policies only, its own boundary under the same toggles, outputs."""
    found = 0
    for profile_name in list_profiles():
        profile = load_profile(profile_name)
        for variant in profile.variants:
            module = modules[profile_name if variant == profile.default_variant else f"{profile_name}-{variant}"]
            resources, roles = module["resource"], profile.roles(variant)
            assert set(resources["aws_iam_role"]) == {"node_role", *(r.key for r in roles)}
            for role in roles:
                found += 1
                assert module["variable"][role.name_key]["default"] is None
                assert module["variable"][role.instance_profile_key]["default"] is None
                assert module["locals"][role.name_key].startswith(f"${{coalesce(var.{role.name_key}, ")
                emitted = resources["aws_iam_role"][role.key]
                assert emitted["name"] == f"${{local.{role.name_key}}}"
                assert emitted["permissions_boundary"] == f"${{local.{role.key}_boundary_arn}}"
                assert json.loads(emitted["assume_role_policy"])["Statement"][0]["Principal"] == {
                    "Service": "ec2.${data.aws_partition.current.dns_suffix}"}
                assert resources["aws_iam_instance_profile"][f"{role.key}_instance_profile"]["role"] == f"${{aws_iam_role.{role.key}.name}}"
                boundary = resources["aws_iam_policy"][f"{role.key}_boundary"]
                assert boundary["count"] == resources["aws_iam_policy"]["boundary"]["count"]
                assert boundary["name"] == f"${{local.{role.name_key}}}-boundary"
                # Its attachments: one for_each resource, keyed by policy id like the others.
                attached = resources["aws_iam_role_policy_attachment"][f"{role.key}_policy"]
                assert attached["role"] == f"${{aws_iam_role.{role.key}.name}}"
                for p in (p for p in profile.policies(variant) if role.key in p.attach_to):
                    arn = f"aws_iam_policy.{'policy' if p.id == 'main' else 'policy_' + p.id.replace('-', '_')}.arn"
                    assert f'"{p.id.replace("-", "_")}" = {{arn = {arn}, on = true}}' in attached["for_each"], p.id
                others = [a for a in resources["aws_iam_role_policy_attachment"].values() if a is not attached]
                assert not [a for a in others if a["role"] == f"${{aws_iam_role.{role.key}.name}}"]
                assert {f"{role.key}_name", f"{role.key}_arn", f"{role.key}_instance_profile_name", f"{role.key}_instance_profile_arn",
                        f"{role.key}_boundary_policy_arn"} <= set(module["output"])
                # The node role's boundary no longer holds what only this role is given.
                for policy in (p for p in profile.policies(variant) if p.attach_to == (role.key,)):
                    for statement in policy.template["Statement"]:
                        assert statement["Sid"] in boundary["policy"] and statement["Sid"] not in resources["aws_iam_policy"]["boundary"]["policy"]
    assert found, "a built-in variant declares its own role (AI Unlimited without-iam-role-permissions)"
