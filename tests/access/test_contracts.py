"""Call contracts: every entry of every built-in profile's contract.json holds for every variant x
addenda combination it applies to; the contract would catch the faults the audit found; bad
contracts are refused with the field at fault."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from iam_foundry.access.contracts import (
    NEVER,
    REQUIRED,
    contract_results,
    evaluate_contract,
    format_results,
    load_contract,
    main,
    parse_contract,
    summarize,
)
from iam_foundry.config.load import parse_config
from iam_foundry.errors import PolicyError
from iam_foundry.policy.documents import build_documents, placeholder_values, profile_boundary
from iam_foundry.profiles.load import list_profiles, load_profile
from tests.profile_matrix import choice_config, every_builtin_choice

PROJECT = Path(__file__).resolve().parents[2]
CHOICES = list(every_builtin_choice())


def choice_id(value):
    return value if isinstance(value, str) else "+".join(value) if isinstance(value, list) else None


@pytest.mark.parametrize(("profile", "variant", "addenda", "parameters"), CHOICES, ids=choice_id)
def test_every_contract_entry_holds(profile, variant, addenda, parameters):
    deployment = parse_config(choice_config(profile, variant, addenda, parameters)).deployments[0]
    results = contract_results(deployment)
    assert results, f"{profile} has no contract entry for {variant} {addenda}"
    summary = summarize(deployment.name, results)
    assert summary.ok, format_results(deployment.name, results)


def test_every_builtin_profile_has_a_contract_with_sources():
    for profile in list_profiles():
        contract = load_contract(profile)
        assert contract is not None, f"policy_json/{profile}/contract.json is missing"
        kinds = {entry.kind for entry in contract.entries}
        assert kinds == {REQUIRED, NEVER}, profile
        for entry in contract.entries:
            assert entry.citation and (entry.citation.startswith(("http", "shared/seeds/")) or "@" in entry.citation), entry.id
        assert (PROJECT / "policy_json" / profile / "SOURCES.md").is_file(), f"{profile}: SOURCES.md missing"


def test_every_entry_applies_to_some_combination():
    """An entry no combination reaches is dead weight (e.g. a misspelt addendum in "when")."""
    reached: dict[str, set[str]] = {}
    for profile, variant, addenda, _ in CHOICES:
        contract = load_contract(profile)
        reached.setdefault(profile, set()).update(
            e.id for e in contract.entries if e.when.applies(variant, addenda))
    for profile in list_profiles():
        assert {e.id for e in load_contract(profile).entries} == reached[profile]


def test_sources_md_names_every_contract_entry_and_statement():
    for profile in list_profiles():
        text = (PROJECT / "policy_json" / profile / "SOURCES.md").read_text()
        missing = [e.id for e in load_contract(profile).entries if f"`{e.id}`" not in text]
        assert not missing, f"{profile}/SOURCES.md does not list {missing}"
        loaded = load_profile(profile)
        sids = {s["Sid"] for v in loaded.variants for spec in loaded.policies(v) for s in spec.template["Statement"]}
        sids |= {s["Sid"] for a in loaded.addenda.values() for s in a.statements}
        missing = sorted(sid for sid in sids if f"`{sid}`" not in text)
        assert not missing, f"{profile}/SOURCES.md does not say where statements {missing} come from"


# --- the contract catches the audited faults ----------------------------------------------------

def _documents(profile: str, variant: str, addenda: list[str] | None = None, **fields):
    params = dict(next(p for n, v, a, p in CHOICES if n == profile and v == variant and a == (addenda or [])))
    return build_documents(parse_config(choice_config(profile, variant, addenda or [], params, **fields)).deployments[0])


def _with_statement(documents, sid: str, change):
    """The same deployment with one statement of its policies changed (None drops it)."""
    policies = []
    for policy in documents.policies:
        parts = []
        for part in policy.parts:
            part = copy.deepcopy(part)
            statements = []
            for statement in part["Statement"]:
                if statement.get("Sid") == sid:
                    statement = change(statement)
                if statement is not None:
                    statements.append(statement)
            parts.append({**part, "Statement": statements})
        policies.append(dataclasses.replace(policy, parts=parts))
    changed = dataclasses.replace(documents, policies=policies)
    # The profile boundary is made from the policies: with the fault in them, it holds the fault too.
    values = placeholder_values(documents.deployment, documents.profile)
    return dataclasses.replace(changed, boundary=profile_boundary(changed, values) if documents.boundary else None)


def _failed(documents, profile: str) -> set[str]:
    return {r.entry.id for r in evaluate_contract(documents, load_contract(profile)) if not r.ok}


@pytest.mark.parametrize(("profile", "variant", "addenda", "sid", "change", "caught"), [
    # The with-variant could not read its own role.
    ("ai-unlimited", "with-iam-role-permissions", [], "ReadOwnRole", lambda s: None,
     {"read-own-role", "read-own-role-policy", "list-own-role-policies", "list-own-attached-policies"}),
    # cluster_name scoping on the server's EngineSecrets broke a second cluster.
    ("ai-unlimited", "with-iam-role-permissions", [], "EngineSecrets",
     lambda s: {**s, "Resource": s["Resource"].replace("compute-engine/*", "compute-engine/analytics/*")}, {"create-second-cluster-secret"}),
    # Public SSM parameters have no account in their ARN.
    ("ai-unlimited", "without-iam-role-permissions", [], "PublicParameters", lambda s: None, {"read-public-ami-parameter"}),
    # The vendor's ListInstanceProfiles on ARNs never matches.
    ("iguazio", "eks", [], "ListInstanceProfiles",
     lambda s: {**s, "Resource": "arn:aws:iam::123456789012:instance-profile/eksctl-*"}, {"eks-list-instance-profiles"}),
    # The node role passed to EKS (managed node group), not only EC2.
    ("iguazio", "eks", [], "PassNodeRole",
     lambda s: {**s, "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}, {"eks-pass-node-role-to-eks"}),
    # Iguazio's node role moves the IP in the deployment's region.
    ("iguazio", "vanilla", [], "MoveSecondaryPrivateIp",
     lambda s: {**s, "Resource": s["Resource"].replace("eu-west-1", "us-east-1")}, {"node-assign-secondary-ip", "node-unassign-secondary-ip"}),
    # PassRole without PassedToService would let the node role go to any service.
    ("nextai", "default", [], "PassNodeRole", lambda s: {k: v for k, v in s.items() if k != "Condition"}, {"pass-node-role-elsewhere"}),
    # role-creation with AttachRolePolicy on any policy ARN.
    ("nextai", "default", ["role-creation"], "AttachNodeRolePolicies", lambda s: {k: v for k, v in s.items() if k != "Condition"},
     {"attach-admin-to-node-role"}),
    # The deployer's Route 53 access on every zone.
    ("ai-unlimited", "with-iam-role-permissions", ["load-balancer"], "HostedZoneRecords", lambda s: {**s, "Resource": "*"}, {"deployer-other-zone"}),
])
def test_contract_catches_the_audited_fault(profile, variant, addenda, sid, change, caught):
    documents = _documents(profile, variant, addenda)
    assert not _failed(documents, profile)
    assert _failed(_with_statement(documents, sid, change), profile) == caught


def test_node_role_s3_is_switched_separately_from_the_user():
    """NextAI's s3-access attaches AmazonS3FullAccess to the user only (the page says users)."""
    documents = _documents("nextai", "default", ["s3-access"])
    results = {r.entry.id: r for r in evaluate_contract(documents, load_contract("nextai"))}
    assert results["user-s3-read"].allowed and not results["node-s3-without-toggle"].allowed


def test_entries_for_a_principal_the_stack_does_not_create_are_skipped_not_passed():
    deployment = parse_config(choice_config("nextai", "default", [], {}, create_node_role=False)).deployments[0]
    results = contract_results(deployment)
    node = [r for r in results if r.entry.principal == "node_role"]
    assert node and all(r.skipped for r in node)
    assert all(not r.skipped for r in results if r.entry.principal == "user")


# --- loading --------------------------------------------------------------------------------------

def _raw(profile: str = "anyscale") -> dict:
    return json.loads((PROJECT / "policy_json" / profile / "contract.json").read_text())


@pytest.mark.parametrize(("mutate", "where", "words"), [
    (lambda d: d["required"][0].pop("source"), "required/0", "'source' is a required property"),
    (lambda d: d["required"][0].update(principal="admin"), "required/0/principal", "does not match"),
    (lambda d: d["sources"]["s3-tmpl"].update(commit="main"), "sources/s3-tmpl", "is not valid"),
    (lambda d: d["never"][0]["source"].update(ref="nowhere"), "never/0", "source 'nowhere' is not in 'sources'"),
    (lambda d: d["never"].append(copy.deepcopy(d["never"][0])), "never/6", "duplicate entry id"),
    (lambda d: d.update(never=[]), "never", "should be non-empty"),
])
def test_a_bad_contract_is_refused_naming_the_field(mutate, where, words):
    data = _raw()
    mutate(data)
    with pytest.raises(PolicyError) as err:
        parse_contract(data, Path("policy_json/anyscale/contract.json"), "anyscale")
    assert any(where in p.where and words in p.message for p in err.value.problems), err.value.problems


def test_a_contract_naming_an_unknown_addendum_is_refused():
    data = _raw()
    data["required"][0]["when"] = {"addenda": ["ecr-readonly"]}
    contract = parse_contract(data, Path("contract.json"), "anyscale")
    documents = _documents("anyscale", "default")
    with pytest.raises(PolicyError) as err:
        evaluate_contract(documents, contract)
    assert "unknown addenda ['ecr-readonly']" in str(err.value)


def test_module_entry_point_prints_one_line_per_deployment(capsys):
    assert main(["--config", str(PROJECT / "examples" / "platforms.toml")]) == 0
    out = capsys.readouterr().out
    for name in ("nextai", "ai-unlimited", "iguazio", "anyscale"):
        line = next(line for line in out.splitlines() if line.startswith(f"{name}:"))
        required, never = line.split(": ", 1)[1].split(", ")
        done, total = required.split(" ")[0].split("/")
        assert done == total and int(total) > 0 and "required calls allowed" in required
        assert "never-needed calls denied" in never
    assert "my-platform: no call contract for this profile" in out


# --- hooked into `iam-foundry check` ----------------------------------------------------------------

def test_check_command_prints_each_deployments_contract_and_fails_on_a_miss(monkeypatch):
    from click.testing import CliRunner

    from iam_foundry.access import contracts
    from iam_foundry.cli.app import cli

    config = str(PROJECT / "examples" / "platforms.toml")
    result = CliRunner().invoke(cli, ["--config", config, "check"])
    assert result.exit_code == 0, result.output
    assert "ai-unlimited: 21/21 required calls allowed" in result.output

    real = contracts.contract_results

    def one_miss(deployment):
        results = real(deployment)
        if deployment.name != "iguazio":
            return results
        first = next(r for r in results if r.entry.kind == REQUIRED)
        return [dataclasses.replace(first, allowed=False, reason="no statement allows")] + results[1:]

    monkeypatch.setattr(contracts, "contract_results", one_miss)
    failed = CliRunner().invoke(cli, ["--config", config, "check"])
    assert failed.exit_code == 1
    assert "iguazio: 7/8 required calls allowed" in failed.output and "[FAIL] required" in failed.output
