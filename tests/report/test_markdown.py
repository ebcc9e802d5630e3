"""The Markdown report of every built-in combination: its Mermaid graph names every path `check`
finds (source, method and where it leads), and its sections come from the evaluator and the data."""

from __future__ import annotations

import dataclasses
import re

import pytest

from iam_foundry.access.check import builtin_combinations, builtin_config, check_builtin
from iam_foundry.access.escalation import ADMIN
from iam_foundry.report.graph import node_id
from iam_foundry.report.markdown import mermaid_text, render_markdown
from iam_foundry.report.model import build_report

COMBINATIONS = list(builtin_combinations())
EDGE = re.compile(r'^\s*(\S+) (?:-->|==>)\|"(.*)"\| (\S+)$')


def mermaid_edges(markdown: str) -> list[tuple[str, str, str]]:
    blocks = re.findall(r"```mermaid\n(.*?)```", markdown, re.S)
    assert len(blocks) == 1, "exactly one Mermaid block"
    return [m.groups() for line in blocks[0].splitlines() if (m := EDGE.match(line))]  # type: ignore[misc]


def reaches(edges: list[tuple[str, str, str]], start: str, goal: str, method: str) -> bool:
    """Is goal reachable from start along edges labelled with this method?"""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for source, label, target in edges:
            if source == node and mermaid_text(method) in label and target not in seen:
                if target == goal:
                    return True
                seen.add(target)
                todo.append(target)
    return False


@pytest.mark.parametrize("profile,variant,addenda", COMBINATIONS, ids=[f"{p}-{v}-{'+'.join(a) or 'none'}" for p, v, a in COMBINATIONS])
def test_mermaid_names_every_edge_check_found(profile: str, variant: str, addenda: tuple[str, ...]) -> None:
    config = builtin_config(profile, variant, addenda)
    markdown = render_markdown(build_report(config, config.deployments[0]))
    edges = mermaid_edges(markdown)
    checks = check_builtin(profile, variant, addenda)
    for check in checks:
        source = node_id(check.report.identity.key)
        assert f"{source}" in markdown, f"{check.report.identity.key} is in the graph"
        for path in check.report.paths:
            if path.target == "own-permissions":
                goal = source
                assert any(s == source == t and mermaid_text(path.method) in label for s, label, t in edges), str(path)
                continue
            goal = "n_ADMIN" if path.target == ADMIN else node_id(path.target)
            assert reaches(edges, source, goal, path.method), f"{check.report.identity.key}: {path} not drawn"
    # Every principal's verdict, as `check` gives it, is in the summary.
    for check in checks:
        assert f"`{check.report.identity.key}`" in markdown
        assert check.verdict in markdown


def test_escalation_edges_are_highlighted() -> None:
    config = builtin_config("nextai", "default", ("open-ports",))
    markdown = render_markdown(build_report(config, config.deployments[0]))
    edges = mermaid_edges(markdown)
    admin_edges = [i for i, (_, _, target) in enumerate(edges) if target == "n_ADMIN"]
    assert admin_edges
    style = re.search(r"linkStyle ([\d,]+) stroke:#c62828", markdown)
    assert style and set(admin_edges) <= {int(i) for i in style.group(1).split(",")}
    assert "==>" in markdown


def test_bounded_profile_has_no_admin_node() -> None:
    config = builtin_config("anyscale", "default", ())
    markdown = render_markdown(build_report(config, config.deployments[0]))
    assert "n_ADMIN" not in markdown and "**bounded**" in markdown


def test_actions_grouped_by_policy_sentry_access_level() -> None:
    config = builtin_config("nextai", "default", ())
    report = build_report(config, config.deployments[0])
    user = next(p for p in report.principals if p.principal.endswith(":user"))
    levels = {(r.service, r.level, a) for r in user.rows for a in r.actions}
    assert ("ec2", "Tagging", "ec2:CreateTags") in levels
    assert ("iam", "Permissions management", "iam:PassRole") in levels
    assert ("ec2", "List", "ec2:Describe*") in levels


def test_contract_and_acceptances_come_from_profile_data() -> None:
    config = builtin_config("nextai", "default", ("open-ports",))
    markdown = render_markdown(build_report(config, config.deployments[0]))
    assert re.search(r"\d+/\d+ required calls allowed", markdown)
    assert "| risk | IAM user: ModifyInstanceAttribute+StopInstances+StartInstances" in markdown
    assert "✗" not in markdown.split("## Call contract")[1].split("## Vendor diff")[0]


def test_policies_for_principals_the_stack_does_not_create_are_shown() -> None:
    config = builtin_config("anyscale", "default", ("access-role",))
    report = build_report(config, config.deployments[0])
    policy = next(p for p in report.principals if p.principal.startswith("policy "))
    assert policy.arn == f"attached to existing role {config.deployments[0].parameters['access_role_name']}"
    assert {(r.sid, r.source) for r in policy.rows} == {("PassNodeRoleToEc2", "policy_json/anyscale/addenda/access-role.json"),
                                                        ("GetNodeInstanceProfile", "policy_json/anyscale/addenda/access-role.json")}


def test_a_variant_s_own_role_is_a_principal_of_the_page() -> None:
    """AI Unlimited without role permissions: the engine role has its verdict, its actions, its instance profile and
    trust in the graph, and the server's one edge to it is passing it to EC2."""
    config = builtin_config("ai-unlimited", "without-iam-role-permissions", ())
    markdown = render_markdown(build_report(config, config.deployments[0]))
    assert "| `ai-unlimited:engine_role` | `arn:aws:iam::123456789012:role/ai-unlimited-engine` | **bounded** |" in markdown
    assert "### `ai-unlimited:engine_role`" in markdown and "ReadEngineSecrets (ai-unlimited-engine" in markdown
    edges = mermaid_edges(markdown)
    server, engine = node_id("ai-unlimited:node_role"), node_id("ai-unlimited:engine_role")
    assert [(label, target) for source, label, target in edges if source == server] == [("can pass: PassRole+RunInstances", engine)]
    assert any(label == "holds" and target == engine for _, label, target in edges)


@pytest.mark.parametrize("profile,variant,addenda", COMBINATIONS[:1] + [c for c in COMBINATIONS if c[1] == "without-iam-role-permissions"][:1],
                         ids=lambda value: str(value))
def test_every_verdict_says_which_boundary_it_counted(profile: str, variant: str, addenda: tuple[str, ...]) -> None:
    """Each principal's row names its permissions boundary (the profile's, or a variant role's own), since
    a `bounded` verdict rests on it; a boundary whose text the project lacks is said to be unevaluated."""
    config = builtin_config(profile, variant, addenda)
    report = build_report(config, config.deployments[0])
    markdown = render_markdown(report)
    assert report.verdicts
    for verdict in report.verdicts:
        assert verdict.boundary.startswith("arn:aws:iam::123456789012:policy/") and verdict.boundary.endswith("-boundary"), verdict
        assert f"| {verdict.boundary} |" in markdown

    deployment = config.deployments[0]
    given = "arn:aws:iam::123456789012:policy/team-boundary"
    custom = dataclasses.replace(config, deployments=[dataclasses.replace(deployment, permissions_boundary=given)])
    user_or_node = [v for v in build_report(custom, custom.deployments[0]).verdicts if v.kind in ("user", "node_role")]
    assert user_or_node and all(v.boundary == f"{given} (not evaluated: its text is not in the project)" for v in user_or_node)
