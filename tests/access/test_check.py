"""`iam-foundry check` and `can`: every built-in combination, risk acceptances, the README table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from iam_foundry.access.check import RiskAcceptance, builtin_combinations, check_builtin, markdown_table, risk_acceptances
from iam_foundry.cli.app import cli
from iam_foundry.errors import PolicyError
from iam_foundry.profiles.load import POLICY_ROOT, list_profiles, load_profile
from tests.conftest import TEST_ACCOUNT

README = Path(__file__).resolve().parents[2] / "README.md"
COMBINATIONS = list(builtin_combinations())


def test_combinations_come_from_the_profile_data():
    # nextai's 4 addenda give 16 sets, ai-unlimited 2 variants × 4, iguazio 2 variants, anyscale 1.
    expected = sum(2 ** len([a for a, s in load_profile(p).addenda.items() if not s.only_variants or v in s.only_variants])
                   for p in list_profiles() for v in load_profile(p).variants)
    assert len(COMBINATIONS) == expected and len({c for c in COMBINATIONS}) == expected


@pytest.mark.parametrize(("profile", "variant", "addenda"), COMBINATIONS, ids=lambda v: "+".join(v) if isinstance(v, tuple) else v)
def test_builtin_combination_has_no_unaccepted_admin_path(profile, variant, addenda):
    checks = check_builtin(profile, variant, addenda)
    failing = {c.report.identity.key: [str(p) for p in c.unaccepted] + c.unaccepted_via for c in checks if c.fails}
    assert not failing, failing


def test_every_risk_acceptance_is_still_needed():
    """An acceptance (or one of its methods) that accepts no path in any built-in combination is stale."""
    used: set[tuple[str, int, str]] = set()
    for profile, variant, addenda in COMBINATIONS:
        entries = risk_acceptances(load_profile(profile).root)
        for check in check_builtin(profile, variant, addenda):
            for path in check.report.admin_paths:
                used.update((profile, i, path.method) for i, e in enumerate(entries) if e.accepts(check.report.identity.kind, variant, path))
    for profile in list_profiles():
        for i, entry in enumerate(risk_acceptances(load_profile(profile).root)):
            for method in entry.methods:
                assert (profile, i, method) in used, f"{profile}: stale risk acceptance {method} in {entry.as_json()}"


def test_every_acceptance_names_a_source_and_statements_that_exist():
    for profile in list_profiles():
        spec = load_profile(profile)
        sids = {s.get("Sid") for v in spec.variants for p in spec.policies(v) for s in p.template["Statement"]}
        sids |= {s.get("Sid") for a in spec.addenda.values() for s in a.statements}
        for entry in risk_acceptances(spec.root):
            assert entry.sids <= sids, f"{profile}: {entry.sids - sids} are not Sids of the profile"
            assert len(entry.source) > 20 and len(entry.reason) > 40


def test_bad_acceptance_entry_is_a_problem(tmp_path):
    (tmp_path / "risk-accepted.json").write_text(json.dumps([{"principal": "user", "method": "X", "sids": ["A"], "reason": "no source"}]))
    with pytest.raises(PolicyError) as err:
        risk_acceptances(tmp_path)
    assert "source" in err.value.problems[0].fix


def test_acceptance_matches_principal_method_and_statements():
    from iam_foundry.access.escalation import Path as EscalationPath
    from iam_foundry.access.escalation import Step
    from iam_foundry.access.evaluate import StatementRef

    path = EscalationPath("PutRolePolicy(self)", "ADMIN", (Step("iam:PutRolePolicy", "arn", (StatementRef("p", "A"),)),), "")
    entry = RiskAcceptance("node_role", frozenset({"PutRolePolicy(self)"}), frozenset({"A", "B"}), "src", "why")
    assert entry.accepts("node_role", "v", path)
    assert not entry.accepts("user", "v", path)
    assert not RiskAcceptance("node_role", frozenset({"PutRolePolicy(self)"}), frozenset({"B"}), "src", "why").accepts("node_role", "v", path)
    assert not RiskAcceptance("node_role", frozenset({"PutRolePolicy(self)"}), frozenset({"A"}), "src", "why", variant="w").accepts("node_role", "v", path)
    assert not RiskAcceptance("node_role", frozenset({"AttachRolePolicy(self)"}), frozenset({"A"}), "src", "why").accepts("node_role", "v", path)


def test_readme_risk_table_is_generated():
    text = README.read_text()
    match = re.search(r"<!-- risk-table:start[^>]*-->\n(.*?)<!-- risk-table:end -->", text, re.S)
    assert match, "README.md lacks the risk-table markers"
    assert match.group(1) == markdown_table(), "README risk table is stale: run `iam-foundry check --markdown` and paste it"


# -- the commands -------------------------------------------------------------------------------------

def write_config(tmp_path: Path, deployments: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'region = "us-east-1"\n[localstack]\nenabled = false\n{deployments}')
    return path


NEXTAI = f'[[deployments]]\nname = "nextai"\nprofile = "nextai"\naccount_id = "{TEST_ACCOUNT}"\naddenda = ["open-ports"]\n'


def test_check_passes_on_accepted_risks_and_prints_json(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, NEXTAI)), "check", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {d["principal"]: d["verdict"] for d in data} == {"nextai:user": "admin-equivalent", "nextai:node_role": "admin-equivalent"}
    assert all(d["risk_accepted"] and d["accepted_by"][0]["source"] for d in data)


def test_check_fails_on_an_unaccepted_admin_path(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeysForAll", "Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": f"arn:aws:iam::{TEST_ACCOUNT}:user/*"}]}))
    config = write_config(tmp_path, f'[[deployments]]\nname = "c"\nprofile = "custom"\npolicy_file = "{policy}"\n'
                                    f'account_id = "{TEST_ACCOUNT}"\ncreate_node_role = false\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 1
    assert "CreateAccessKey(other user)" in result.output and "KeysForAll" in result.output


def test_check_markdown_prints_the_table(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, NEXTAI)), "check", "--markdown"])
    assert result.exit_code == 0 and result.stdout == markdown_table()


def test_can_allowed_and_denied(tmp_path):
    config = str(write_config(tmp_path, NEXTAI))
    allowed = CliRunner().invoke(cli, ["--config", config, "can", "nextai:user", "ec2:RunInstances",
                                       f"arn:aws:ec2:us-east-1:{TEST_ACCOUNT}:instance/i-1"])
    assert allowed.exit_code == 0 and "ALLOWED" in allowed.stdout
    assert "RunInstancesInAccount" in allowed.stdout and "policy_json/nextai/user-policy.json" in allowed.stdout
    denied = CliRunner().invoke(cli, ["--config", config, "can", "nextai:role", "iam:PassRole", f"arn:aws:iam::{TEST_ACCOUNT}:role/admin"])
    assert denied.exit_code == 1 and "DENIED" in denied.stdout and "no statement allows" in denied.stdout


def test_can_json_with_context_and_addendum_source(tmp_path):
    config = str(write_config(tmp_path, NEXTAI))
    result = CliRunner().invoke(cli, ["--config", config, "can", "nextai:user", "ec2:ModifyInstanceAttribute",
                                      f"arn:aws:ec2:eu-west-1:{TEST_ACCOUNT}:instance/i-1", "--context", "ec2:Attribute=userData", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["allowed"] and data["context"]["ec2:Attribute"] == "userData"
    # The statement that allows it, and the profile boundary's copy of it (the user is bounded by the profile boundary).
    assert data["deciding"] == [{"policy": "nextai-policy", "sid": "OpenPorts", "source": "policy_json/nextai/addenda/open-ports.json"},
                                {"policy": "nextai-policy-boundary", "sid": "OpenPorts",
                                 "source": "profile boundary (iam_foundry/policy/documents.py profile_boundary)"}]


@pytest.mark.parametrize(("args", "words"), [
    (["nextai:user", "ec2:RunInstance"], ["no such AWS action", "ec2:RunInstances"]),
    (["nextai:user", "iam:PassRole", "arn:aws:s3:::bucket"], ["not a resource type iam:PassRole takes"]),
    (["nextai:admin", "ec2:RunInstances"], ["unknown principal"]),
    (["other:user", "ec2:RunInstances"], ["no deployment of that name"]),
    (["nextai:user", "ec2:RunInstances", "--context", "novalue"], ["not KEY=VALUE"]),
])
def test_can_explains_bad_input(tmp_path, args, words):
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, NEXTAI)), "can", *args])
    assert result.exit_code == 1
    for word in words:
        assert word in result.output, result.output


def test_risk_files_are_only_in_profiles():
    assert {p.parent.name for p in POLICY_ROOT.glob("*/risk-accepted.json")} <= set(list_profiles())


@pytest.mark.parametrize("command", ["can", "check"])
def test_access_commands_explain_themselves(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_can_costs_well_under_a_second_of_cpu(tmp_path):
    """Wall time depends on the machine's load; CPU time of the whole process does not (measured: ~0.2 s)."""
    import os
    import resource
    import subprocess
    import sys

    config = write_config(tmp_path, NEXTAI)
    args = [sys.executable, "-m", "iam_foundry", "--config", str(config), "can", "nextai:user", "iam:PassRole",
            f"arn:aws:iam::{TEST_ACCOUNT}:role/nextai-role", "--context", "iam:PassedToService=ec2.amazonaws.com"]
    subprocess.run(args, cwd=README.parent, capture_output=True, env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(args, cwd=README.parent, capture_output=True, text=True,
                            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0 and "ALLOWED" in result.stdout, result.stderr
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 1.0, f"can used {cpu:.2f} s of CPU"


AI_WITHOUT = ('[[deployments]]\nname = "ai"\nprofile = "ai-unlimited"\nvariant = "without-iam-role-permissions"\n'
              f'account_id = "{TEST_ACCOUNT}"\nparameters = {{ cluster_role_prefix = "aiu-cluster-" }}\n')


def test_can_asks_about_a_variant_s_own_role(tmp_path):
    """`can ai:engine_role ...`: the engine role holds the engine policy under its own boundary, nothing else."""
    config = str(write_config(tmp_path, AI_WITHOUT))
    secret = f"arn:aws:secretsmanager:us-east-1:{TEST_ACCOUNT}:secret:compute-engine/analytics/admin-AbCdEf"
    allowed = CliRunner().invoke(cli, ["--config", config, "can", "ai:engine_role", "secretsmanager:GetSecretValue", secret, "--json"])
    data = json.loads(allowed.stdout)
    assert allowed.exit_code == 0 and data["principal"] == f"arn:aws:iam::{TEST_ACCOUNT}:role/ai-unlimited-engine"
    assert [(d["policy"], d["sid"]) for d in data["deciding"]] == [("ai-unlimited-engine", "ReadEngineSecrets"),
                                                                  ("ai-unlimited-engine-boundary", "ReadEngineSecrets")]
    denied = CliRunner().invoke(cli, ["--config", config, "can", "ai:engine_role", "ec2:RunInstances",
                                      f"arn:aws:ec2:us-east-1:{TEST_ACCOUNT}:instance/i-1"])
    assert denied.exit_code == 1 and "DENIED" in denied.stdout
    # The server passes the engine role to EC2, and no longer its own role.
    engine = CliRunner().invoke(cli, ["--config", config, "can", "ai:role", "iam:PassRole", f"arn:aws:iam::{TEST_ACCOUNT}:role/ai-unlimited-engine",
                                      "--context", "iam:PassedToService=ec2.amazonaws.com"])
    own = CliRunner().invoke(cli, ["--config", config, "can", "ai:role", "iam:PassRole", f"arn:aws:iam::{TEST_ACCOUNT}:role/ai-unlimited",
                                   "--context", "iam:PassedToService=ec2.amazonaws.com"])
    assert (engine.exit_code, own.exit_code) == (0, 1)
    # A deployment without that role says so.
    nextai = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, NEXTAI)), "can", "nextai:engine_role", "ec2:RunInstances"])
    assert nextai.exit_code == 1 and "creates no engine role" in nextai.output


def test_check_names_the_variant_s_own_role(tmp_path):
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, AI_WITHOUT)), "check", "--json"])
    verdicts = {c["principal"]: c["verdict"] for c in json.loads(result.stdout)}
    assert result.exit_code == 0 and verdicts == {"ai:node_role": "bounded", "ai:engine_role": "bounded"}
    table = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, AI_WITHOUT)), "check"], terminal_width=200)
    assert "engine role" in table.stdout and "can-modify-own-role" not in table.stdout
