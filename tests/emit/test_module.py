"""Exported Terraform JSON modules: self-contained, versioned, documented; HCL consumers parse."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest

from iam_foundry import __version__
from iam_foundry.emit.module import export_all, export_module
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
    assert attachments["s3_access_user_0"]["count"] == "${var.enable_s3_access ? 1 : 0}"


def test_placeholders_become_terraform_references(modules):
    text = json.dumps(modules["ai-unlimited"]["resource"])
    assert "{{" not in text
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
                attached = [a for a in resources["aws_iam_role_policy_attachment"].values() if a["role"] == f"${{aws_iam_role.{role.key}.name}}"]
                expected = {f"${{aws_iam_policy.{'policy' if p.id == 'main' else 'policy_' + p.id.replace('-', '_')}.arn}}"
                            for p in profile.policies(variant) if role.key in p.attach_to}
                assert {a["policy_arn"] for a in attached if "count" not in a} == expected
                assert {f"{role.key}_name", f"{role.key}_arn", f"{role.key}_instance_profile_name", f"{role.key}_instance_profile_arn",
                        f"{role.key}_boundary_policy_arn"} <= set(module["output"])
                # The node role's boundary no longer holds what only this role is given.
                for policy in (p for p in profile.policies(variant) if p.attach_to == (role.key,)):
                    for statement in policy.template["Statement"]:
                        assert statement["Sid"] in boundary["policy"] and statement["Sid"] not in resources["aws_iam_policy"]["boundary"]["policy"]
    assert found, "a built-in variant declares its own role (AI Unlimited without-iam-role-permissions)"
