"""AI Unlimited, Iguazio, Anyscale, custom, and many deployments in one config.

Snapshots per profile and variant (update with `make snapshots`), plus the scoping rules checked on
the parsed IAM documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from iam_foundry.config.load import load_config, parse_config
from iam_foundry.errors import ConfigError
from iam_foundry.ops.synth import synth
from iam_foundry.policy.render import rendered_size
from tests.conftest import TEST_ACCOUNT, resources, synth_raw

PROJECT = Path(__file__).resolve().parents[2]
NODE_ROLE_ARN = f"arn:aws:iam::{TEST_ACCOUNT}:role/"
AIU_PREFIX = {"cluster_role_prefix": "aiu-cluster-"}

CASES = {
    "ai-unlimited-with-iam-role-permissions": {"profile": "ai-unlimited", "parameters": {"cluster_role_prefix": "aiu-cluster-"}},
    "ai-unlimited-with-iam-role-permissions-all-addenda": {
        "profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"],
        "parameters": {"cluster_name": "analytics", "key_pair_name": "ops-ssh", "cluster_role_prefix": "aiu-cluster-",
                       "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}},
    "ai-unlimited-without-iam-role-permissions": {"profile": "ai-unlimited", "variant": "without-iam-role-permissions",
                                                  "parameters": {"cluster_name": "analytics", "cluster_role_prefix": "aiu-cluster-"}},
    "iguazio-vanilla": {"profile": "iguazio", "create_access_key": True, "allow_plaintext_secret_in_state": True},
    "iguazio-eks": {"profile": "iguazio", "variant": "eks", "allow_plaintext_secret_in_state": True},
    "anyscale": {"profile": "anyscale", "parameters": {"cloud_id": "cld_abc123", "bucket": "anyscale-data"}},
}


def deployment_config(name: str = "d", **fields) -> dict:
    return {"region": "us-east-1", "localstack": {"enabled": False},
            "backend": {"type": "s3", "bucket": "acme-terraform-state", "key_prefix": "iam"},
            "deployments": [{"name": name, "account_id": TEST_ACCOUNT, **fields}]}


def synth_one(tmp_path: Path, **fields) -> dict:
    return synth_raw(deployment_config(**fields), tmp_path)["d"]


def all_statements(stack: dict) -> list[dict]:
    """Statements of the identity policies (the profile boundary repeats them)."""
    return [s for key, p in resources(stack, "aws_iam_policy").items() if key != "boundary" for s in json.loads(p["policy"])["Statement"]]


def actions_of(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def resources_of(statement: dict) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else resource


def statements_with(stack: dict, prefix: str) -> list[dict]:
    return [s for s in all_statements(stack) if any(a.startswith(prefix) for a in actions_of(s))]


def policy_by_name(stack: dict, name: str) -> dict:
    for policy in resources(stack, "aws_iam_policy").values():
        if policy["name"] == name:
            return json.loads(policy["policy"])
    raise AssertionError(f"no policy {name}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_snapshot_per_profile_and_variant(tmp_path, snapshot, case):
    assert synth_one(tmp_path, **CASES[case]) == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_policy_fits_the_quota_and_has_no_placeholder_left(tmp_path, case):
    stack = synth_one(tmp_path, **CASES[case])
    for policy in resources(stack, "aws_iam_policy").values():
        assert rendered_size(json.loads(policy["policy"])) <= 6144
        assert "{{" not in policy["policy"] and "<" not in policy["policy"] and "$AWS" not in policy["policy"]


# --- AI Unlimited -------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["with-iam-role-permissions", "without-iam-role-permissions"])
@pytest.mark.parametrize(("parameters", "scope"), [({"cluster_name": "analytics"}, "compute-engine/analytics/*"),
                                                   ({}, "compute-engine/*")])
def test_ai_unlimited_secrets_are_scoped_never_star(tmp_path, variant, parameters, scope):
    stack = synth_one(tmp_path, profile="ai-unlimited", variant=variant, parameters={**parameters, **AIU_PREFIX})
    # The server manages the secrets of every cluster it deploys: compute-engine/*, whatever cluster_name says.
    server = [s for s in policy_by_name(stack, "ai-unlimited-workspaces")["Statement"]
              if any(a.startswith("secretsmanager:") for a in actions_of(s))]
    assert server and all(resources_of(s) == [f"arn:aws:secretsmanager:us-east-1:{TEST_ACCOUNT}:secret:compute-engine/*"]
                          for s in server)
    # cluster_name narrows only the engine (per-cluster) policy.
    if variant == "without-iam-role-permissions":
        engine = policy_by_name(stack, "ai-unlimited-engine")["Statement"][0]
        assert resources_of(engine) == [f"arn:aws:secretsmanager:us-east-1:{TEST_ACCOUNT}:secret:{scope}"]


@pytest.mark.parametrize(("variant", "passed"), [("with-iam-role-permissions", "aiu-server"), ("without-iam-role-permissions", "aiu-server-engine")])
def test_ai_unlimited_passes_one_named_role_by_arn(tmp_path, variant, passed):
    """With role permissions the server passes its own role (and the cluster roles); without, only the engine role."""
    stack = synth_one(tmp_path, profile="ai-unlimited", variant=variant, role_name="aiu-server", parameters=AIU_PREFIX)
    pass_role = [s for s in all_statements(stack) if "iam:PassRole" in actions_of(s)]
    assert len(pass_role) == 1
    targets = resources_of(pass_role[0])
    assert f"{NODE_ROLE_ARN}{passed}" in targets and "*" not in targets
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_ai_unlimited_without_role_permissions_never_names_the_server_s_own_role(tmp_path):
    """Issue #12: no statement of the server's policy targets its own role or instance profile; the engine role holds
    engine.json alone, with EC2 trust, its own instance profile and its own boundary."""
    stack = synth_one(tmp_path, profile="ai-unlimited", variant="without-iam-role-permissions", role_name="aiu-server",
                      parameters=AIU_PREFIX)
    server = policy_by_name(stack, "ai-unlimited-workspaces")
    own = {f"{NODE_ROLE_ARN}aiu-server", f"arn:aws:iam::{TEST_ACCOUNT}:instance-profile/aiu-server"}
    assert not [s["Sid"] for s in server["Statement"] if own & set(resources_of(s))]
    roles = resources(stack, "aws_iam_role")
    assert roles["engine_role"]["name"] == "aiu-server-engine"
    assert roles["engine_role"]["permissions_boundary"] == "${aws_iam_policy.engine_role_boundary.arn}"
    assert resources(stack, "aws_iam_instance_profile")["engine_role_instance_profile"]["role"] == "${aws_iam_role.engine_role.name}"
    attached = {(a["role"], a["policy_arn"]) for a in resources(stack, "aws_iam_role_policy_attachment").values()}
    assert attached == {("${aws_iam_role.node_role.name}", "${aws_iam_policy.policy.arn}"),
                        ("${aws_iam_role.engine_role.name}", "${aws_iam_policy.policy_engine.arn}")}
    boundary = json.loads(resources(stack, "aws_iam_policy")["engine_role_boundary"]["policy"])
    assert [s["Sid"] for s in boundary["Statement"]] == ["ReadEngineSecrets", "DenyPermissionsBoundaryChanges", "DenyBoundaryPolicyChanges"]
    # The server's boundary no longer holds the engine policy's statement (it has its own EngineSecrets).
    server_boundary = json.loads(resources(stack, "aws_iam_policy")["boundary"]["policy"])
    assert "ReadEngineSecrets" not in {s["Sid"] for s in server_boundary["Statement"]}
    outputs = stack["output"]
    assert {"engine_role_name", "engine_role_arn", "engine_role_instance_profile_name", "engine_role_instance_profile_arn",
            "engine_role_boundary_policy_arn"} <= set(outputs)
    assert outputs["engine_role_arn"]["description"] == "Engine role ARN"


def test_ai_unlimited_variants_differ_in_role_creation(tmp_path):
    with_roles = synth_one(tmp_path / "a", profile="ai-unlimited", parameters=AIU_PREFIX)
    without = synth_one(tmp_path / "b", profile="ai-unlimited", variant="without-iam-role-permissions", parameters=AIU_PREFIX)
    created = {a for s in all_statements(with_roles) for a in actions_of(s)}
    restricted = {a for s in all_statements(without) for a in actions_of(s)}
    assert {"iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy"} <= created
    assert not {"iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy"} & restricted
    # The restricted variant carries the engine policy, attached to the engine role (not the server's).
    engine = policy_by_name(without, "ai-unlimited-engine")
    assert engine["Statement"][0]["Action"] == "secretsmanager:GetSecretValue"
    role_arns = {a["policy_arn"] for a in resources(without, "aws_iam_role_policy_attachment").values()
                 if a["role"] == "${aws_iam_role.node_role.name}"}
    assert role_arns == {"${aws_iam_policy.policy.arn}"}
    # Role management is limited to the cluster role name pattern.
    manage = next(s for s in all_statements(with_roles) if "iam:CreateRole" in actions_of(s))
    assert resources_of(manage) == [f"{NODE_ROLE_ARN}aiu-cluster-*"]


def test_ai_unlimited_has_no_user_and_outputs_the_role_name_and_key_pair(tmp_path):
    stack = synth_one(tmp_path, **CASES["ai-unlimited-with-iam-role-permissions-all-addenda"])
    assert "aws_iam_user" not in stack["resource"]
    assert stack["output"]["role_name"]["value"] == "${aws_iam_role.node_role.name}"
    assert stack["output"]["key_pair_name"]["value"] == "ops-ssh"
    sids = [s.get("Sid") for s in all_statements(stack)]
    assert {"SessionManagerAgent", "RequestCertificate", "HostedZoneRecords"} <= set(sids)
    # The load balancer's certificate and DNS record are the stack creator's: a separate policy, on no role,
    # and Route 53 only on the given hosted zone.
    deployer = policy_by_name(stack, "ai-unlimited-deployer")
    zone = next(s for s in deployer["Statement"] if s["Sid"] == "HostedZoneRecords")
    assert resources_of(zone) == ["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]
    attached = {a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values()}
    assert "${aws_iam_policy.policy_deployer.arn}" not in attached


def test_ai_unlimited_addenda_are_absent_unless_switched_on(tmp_path):
    sids = {s.get("Sid") for s in all_statements(synth_one(tmp_path, profile="ai-unlimited", parameters=AIU_PREFIX))}
    assert not sids & {"SessionManagerAgent", "RequestCertificate", "HostedZoneRecords"}


# --- Iguazio ------------------------------------------------------------------------------------

def test_iguazio_user_policy_and_high_availability_role(tmp_path):
    stack = synth_one(tmp_path, profile="iguazio", create_access_key=True, allow_plaintext_secret_in_state=True)
    assert resources(stack, "aws_iam_user")["user"]["name"] == "Provazio"
    assert "aws_iam_user_login_profile" not in stack["resource"]
    assert resources(stack, "aws_iam_role")["node_role"]["name"] == "IguazioDataScienceNode"
    assert resources(stack, "aws_iam_instance_profile")["instance_profile"]["name"] == "IguazioDataScienceNode"
    user_arns = {a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values()}
    role_arns = {a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values()}
    assert user_arns == {"${aws_iam_policy.policy.arn}"} and role_arns == {"${aws_iam_policy.policy_node.arn}"}
    # Named after the role, so a second deployment (another role) does not clash on the policy name.
    ha = policy_by_name(stack, "IguazioDataScienceNode-AssignPrivateIPAddresses")["Statement"]
    move = next(s for s in ha if "ec2:AssignPrivateIpAddresses" in actions_of(s))
    assert set(actions_of(move)) == {"ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
    assert move["Resource"] == f"arn:aws:ec2:us-east-1:{TEST_ACCOUNT}:network-interface/*"
    assert "instance_profile_name" in stack["output"] and "access_key_id" in stack["output"]


def test_iguazio_pass_role_is_the_node_role_not_any_account(tmp_path):
    for variant in ("vanilla", "eks"):
        stack = synth_one(tmp_path / variant, profile="iguazio", variant=variant, allow_plaintext_secret_in_state=True)
        pass_role = [s for s in all_statements(stack) if "iam:PassRole" in actions_of(s) and "iam:CreateRole" not in actions_of(s)]
        assert [resources_of(s) for s in pass_role] == [[f"{NODE_ROLE_ARN}IguazioDataScienceNode"]]
        assert "arn:aws:iam::*:" not in json.dumps(all_statements(stack))


def test_iguazio_eks_fills_the_account_id(tmp_path):
    text = json.dumps(all_statements(synth_one(tmp_path, profile="iguazio", variant="eks", allow_plaintext_secret_in_state=True)))
    assert f"arn:aws:iam::{TEST_ACCOUNT}:role/eksctl-*" in text and "$AWS_ACCOUNT_ID" not in text


# --- Anyscale -----------------------------------------------------------------------------------

def test_anyscale_role_bucket_access_and_compute_config(tmp_path):
    stack = synth_one(tmp_path, **CASES["anyscale"])
    assert "aws_iam_user" not in stack["resource"]
    role = resources(stack, "aws_iam_role")["node_role"]
    # Not <cloud_id>-cluster_node_role: a Managed-Resources cloud already has that role (EntityAlreadyExists).
    assert role["name"] == "anyscale-cluster-node-cld_abc123"
    trust = json.loads(role["assume_role_policy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    statement = policy_by_name(stack, "cld_abc123-cluster_node_s3_access")["Statement"][0]
    assert statement["Resource"] == ["arn:aws:s3:::anyscale-data", "arn:aws:s3:::anyscale-data/*"]
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket"} <= set(statement["Action"])
    # Declared as data in profile.json (outputs[].json), rendered to HCL's JSON syntax inside jsonencode.
    assert stack["output"]["compute_config_json"]["value"] == \
        '${jsonencode({"IamInstanceProfile":{"Arn":"${aws_iam_instance_profile.instance_profile.arn}"}})}'
    assert "role_arn" in stack["output"]


def test_anyscale_requires_cloud_id_and_bucket():
    with pytest.raises(ConfigError) as err:
        parse_config(deployment_config(profile="anyscale"))
    wheres = sorted(p.where for p in err.value.problems)
    assert wheres == ['deployments[0].parameters.bucket (deployment "d")', 'deployments[0].parameters.cloud_id (deployment "d")']


def test_anyscale_refuses_a_role_in_another_account_than_the_cloud():
    with pytest.raises(ConfigError) as err:
        parse_config(deployment_config(profile="anyscale", parameters={
            "cloud_id": "cld_abc123", "bucket": "anyscale-data", "cloud_account_id": "999999999999"}))
    assert "deployments[0].parameters.cloud_account_id" in str(err.value) and "same account" in str(err.value)


def test_anyscale_checks_the_account_at_plan_time_when_not_known_at_synth(tmp_path):
    raw = deployment_config(profile="anyscale", parameters={"cloud_id": "cld_abc123", "bucket": "anyscale-data",
                                                            "cloud_account_id": "999999999999"})
    raw["deployments"][0].pop("account_id")
    stack = synth_raw(raw, tmp_path)["d"]
    precondition = resources(stack, "aws_iam_role")["node_role"]["lifecycle"]["precondition"][0]
    assert precondition["condition"] == '${data.aws_caller_identity.current.account_id == "999999999999"}'


# --- custom and many deployments ----------------------------------------------------------------

def test_custom_profile_from_the_users_files(tmp_path):
    config = load_config(PROJECT / "examples" / "platforms.toml")
    custom = config.deployment("my-platform")
    assert custom.addenda == ("read-own-logs",)
    names = synth(config, tmp_path, stacks=["my-platform"])
    stack = json.loads((tmp_path / "stacks" / names[0] / "cdk.tf.json").read_text())
    sids = [s["Sid"] for s in all_statements(stack)]
    assert sids == ["DescribeCompute", "PassNodeRole", "ReadPlatformLogs"]
    logs = all_statements(stack)[2]
    assert logs["Resource"] == "arn:aws:logs:us-east-1:${data.aws_caller_identity.current.account_id}:log-group:/my-platform/*"


def test_custom_profile_needs_its_policy_file():
    with pytest.raises(ConfigError) as err:
        parse_config(deployment_config(profile="custom"))
    assert "deployments[0].policy_file" in str(err.value)


def test_custom_profile_reports_malformed_json_with_file_and_line(tmp_path):
    (tmp_path / "p.json").write_text('{\n  "Version": "2012-10-17",\n  "Statement": [\n}\n')
    with pytest.raises(ConfigError) as err:
        parse_config(deployment_config(profile="custom", policy_file=str(tmp_path / "p.json")))
    assert f"{tmp_path / 'p.json'}:4:" in str(err.value)


def test_many_deployments_one_stack_and_state_key_each(tmp_path):
    config = load_config(PROJECT / "examples" / "platforms.toml")
    names = synth(config, tmp_path)
    assert names == sorted(d.name for d in config.deployments)
    keys = set()
    for name in names:
        stack = json.loads((tmp_path / "stacks" / name / "cdk.tf.json").read_text())
        keys.add(stack["terraform"]["backend"]["s3"]["key"])
    assert keys == {f"platforms/{name}.tfstate" for name in names}


def test_name_clash_across_deployments_names_both_entries():
    raw = deployment_config(profile="iguazio")
    raw["deployments"].append({"name": "e", "profile": "iguazio", "account_id": TEST_ACCOUNT, "user_name": "Other",
                               "policy_name": "Other"})
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    text = str(err.value)
    assert "role 'IguazioDataScienceNode'" in text and "deployments[1]" in text and "deployments[0]" in text


def test_unknown_variant_is_refused_naming_the_known_ones():
    # An addendum limited to other variants (only_variants) is tested in tests/policy/test_documents.py.
    with pytest.raises(ConfigError) as err:
        parse_config(deployment_config(profile="ai-unlimited", variant="nope"))
    assert "deployments[0].variant" in str(err.value) and "with-iam-role-permissions" in str(err.value)


def test_oversized_policy_is_split_into_stable_attached_parts(tmp_path):
    from tests.split_fixture import write_oversized_policy

    policy = write_oversized_policy(tmp_path / "big.json")
    stack = synth_one(tmp_path / "out", profile="custom", policy_file=str(policy), policy_name="big")
    policies = resources(stack, "aws_iam_policy")
    assert list(policies) == ["policy", "policy_2", "policy_3"]
    assert [p["name"] for p in policies.values()] == ["big", "big-2", "big-3"]
    sids = [s["Sid"] for p in policies.values() for s in json.loads(p["policy"])["Statement"]]
    assert sids == [f"ReadBucket{i:02d}" for i in range(45)]  # order kept across parts
    assert all(rendered_size(json.loads(p["policy"])) <= 6144 for p in policies.values())
    user_arns = [a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values()]
    role_arns = [a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values()]
    expected = ["${aws_iam_policy.policy.arn}", "${aws_iam_policy.policy_2.arn}", "${aws_iam_policy.policy_3.arn}"]
    assert user_arns == expected and role_arns == expected
    assert synth_one(tmp_path / "again", profile="custom", policy_file=str(policy), policy_name="big") == stack
