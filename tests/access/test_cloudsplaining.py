"""Cross-check of `check` against cloudsplaining's privilege-escalation scan, on every built-in combination.

cloudsplaining (salesforce/cloudsplaining, BSD-3) matches action sets from Rhino Security Labs' and
pathfinding.cloud's catalogues against one policy document. It looks at action names only:

* by default it counts an action only when a statement allows it on Resource "*" with no Condition;
* with `flag_resource_arn_statements=True` it counts an action whatever its resources are.

`check` asks AWS's evaluation logic about concrete ARNs instead. The two therefore disagree in
exactly two explained ways, which this test asserts, principal by principal; any other disagreement
fails it:

1. `check` finds an admin path that cloudsplaining's default scan misses: every such path goes through
   a statement scoped to ARNs or guarded by a condition (which the default scan skips), and the
   ARN-blind scan reports the same actions.
2. The ARN-blind scan reports a PassRole method where `check` says bounded: PassRole is allowed only on
   the project's own roles, which are not admin-equivalent (e.g. nextai's user may pass only
   `nextai-role`, which carries the user's own policy), and never on another role of the account.
3. The ARN-blind scan reports a method that changes the principal's own policies where `check` says
   can-modify-own-role: cloudsplaining does not read permissions boundaries, and the principal's
   boundary (the profile boundary) caps whatever it gives itself; `check` found that path, capped.
4. The ARN-blind scan reports PutRolePolicy / AttachRolePolicy where `check` says bounded: the writes
   are allowed only on roles the config creates under a boundary of their own (AI Unlimited's engine
   role, whose boundary holds its engine policy and no path), never on another role of the account.

And where the default scan does report a method, `check` must have an admin path with its actions.
"""

from __future__ import annotations

import pytest
from cloudsplaining.scan.policy_document import PolicyDocument as CloudsplainingPolicy
from cloudsplaining.shared.constants import PRIVILEGE_ESCALATION_METHODS

from iam_foundry.access import actions
from iam_foundry.access.check import builtin_combinations, builtin_config
from iam_foundry.config.load import parse_config
from iam_foundry.access.escalation import ADMIN, ADMIN_EQUIVALENT, OWN, PROBE, Analysis, Path, PrincipalReport
from iam_foundry.access.evaluate import Request, evaluate
from iam_foundry.policy.documents import build_documents


def _acting(method_actions: list[str]) -> set[str]:
    """A method's actions minus the read/list ones (a path need not show that it looked first)."""
    kept = set()
    for action in method_actions:
        info = actions.action_info(action)
        if info is None or info.access_level not in ("Read", "List") or action == "iam:passrole":
            kept.add(action.lower())
    return kept


def _path_actions(path: Path) -> set[str]:
    return {s.action.lower() for s in path.steps}


def _scan(report: PrincipalReport, arn_blind: bool) -> set[str]:
    merged = {"Version": "2012-10-17", "Statement": [s for p in report.identity.policies for _, s in p.statements()]}
    return {e["type"] for e in CloudsplainingPolicy(merged, flag_resource_arn_statements=arn_blind).allows_privilege_escalation}


def _statement(report: PrincipalReport, policy: str, sid: str) -> dict:
    # A bounded principal's steps are decided by its policies and by its boundary's statements.
    for document in [*report.identity.policies, *(report.identity.boundary or [])]:
        for ref, statement in document.statements():
            if ref.policy == policy and ref.sid == sid:
                return dict(statement)
    raise AssertionError(f"no statement {policy}/{sid}")


def _hidden_from_default_scan(report: PrincipalReport, path: Path) -> bool:
    """Some step of the path is allowed only by statements the default scan skips (ARN-scoped or conditional)."""
    for step in path.steps:
        if not step.deciding:
            continue  # e.g. AssumeRole granted by the trust policy the principal wrote
        statements = [_statement(report, r.policy, r.sid) for r in step.deciding]
        if all(s.get("Resource") != "*" and s.get("Resource") != ["*"] or s.get("Condition") for s in statements):
            return True
    return False


def _writes_only_bounded_roles(analysis: Analysis, report: PrincipalReport, wanted: set[str]) -> bool:
    """The role-policy writes reach no role of unknown content, and every known role they reach is under
    a boundary of its own that holds no admin path (so writing '*' on it gains nothing)."""
    who = report.identity
    other_role = f"arn:{who.partition}:iam::{who.account}:role/{PROBE}-existing-role"
    if any(evaluate(who.policies, Request(action, other_role)).allowed for action in wanted):
        return False
    written = [i for i in analysis.identities.values() if i.kind != "user" and i.key != who.key
               and any(evaluate(who.policies, Request(action, i.arn), who.boundary).allowed for action in wanted)]
    return bool(written) and all(i.bounded and i.boundary_arn != who.boundary_arn and analysis.report(i.key).verdict != ADMIN_EQUIVALENT
                                 for i in written)


def _cases():
    for profile, variant, addenda in builtin_combinations():
        yield pytest.param(profile, variant, addenda, id=f"{profile}-{variant}-{'+'.join(addenda) or 'none'}")


@pytest.mark.parametrize(("profile", "variant", "addenda"), list(_cases()))
def test_check_agrees_with_cloudsplaining(profile, variant, addenda):
    config = builtin_config(profile, variant, addenda)
    analysis = Analysis([build_documents(d) for d in config.deployments])
    unexplained: list[str] = []
    for report in analysis.reports():
        who = report.identity.key
        admin_paths = report.admin_paths
        default, arn_blind = _scan(report, arn_blind=False), _scan(report, arn_blind=True)

        # Whatever the default scan reports, check has an admin path doing it.
        for method in default:
            wanted = _acting(PRIVILEGE_ESCALATION_METHODS[method])
            if not any(wanted <= _path_actions(p) for p in admin_paths):
                unexplained.append(f"{who}: cloudsplaining reports {method}, check has no admin path with {sorted(wanted)}")

        # Disagreement 1: check's admin paths that the default scan does not report.
        if report.verdict == ADMIN_EQUIVALENT and not default:
            for path in report.admin_route[-1:] + admin_paths:
                if path.target != ADMIN:
                    continue
                if not _hidden_from_default_scan(report, path):
                    unexplained.append(f"{who}: {path.method} uses only unscoped statements, yet cloudsplaining's default scan misses it")
                if not any(_acting(PRIVILEGE_ESCALATION_METHODS[m]) <= _path_actions(path) for m in arn_blind):
                    unexplained.append(f"{who}: {path.method} is not reported even by the ARN-blind scan ({sorted(arn_blind)})")

        # Disagreement 2: the ARN-blind scan reports a method where check says not admin-equivalent.
        if report.verdict != ADMIN_EQUIVALENT:
            for method in arn_blind:
                wanted = _acting(PRIVILEGE_ESCALATION_METHODS[method])
                if report.identity.bounded and any(wanted <= _path_actions(p) for p in report.paths if p.target == OWN):
                    continue  # disagreement 3: the same path, capped by the boundary
                if wanted <= {"iam:putrolepolicy", "iam:attachrolepolicy"} and _writes_only_bounded_roles(analysis, report, wanted):
                    continue  # disagreement 4
                if "iam:passrole" not in PRIVILEGE_ESCALATION_METHODS[method]:
                    unexplained.append(f"{who}: ARN-blind cloudsplaining reports {method}, check says {report.verdict}")
                    continue
                other_role = f"arn:{report.identity.partition}:iam::{report.identity.account}:role/{PROBE}-existing-role"
                if evaluate(report.identity.policies, Request("iam:PassRole", other_role)).allowed:
                    unexplained.append(f"{who}: may pass any role, yet check says {report.verdict}")
                passed = [p.target for p in analysis.paths[who] if p.method.startswith("PassRole") and p.target != ADMIN]
                if any(analysis.report(t).verdict == ADMIN_EQUIVALENT for t in passed):
                    unexplained.append(f"{who}: passes an admin-equivalent role, yet check says {report.verdict}")
    assert not unexplained, "\n".join(unexplained)


def test_the_known_disagreements_do_occur(tmp_path):
    """The explanations above are not vacuous: both kinds of disagreement happen on today's profiles."""
    nextai = Analysis([build_documents(d) for d in builtin_config("nextai", "default", ()).deployments]).report("nextai:user")
    assert nextai.verdict != ADMIN_EQUIVALENT and "CreateEC2WithExistingIP" in _scan(nextai, arn_blind=True)
    ai = Analysis([build_documents(d) for d in builtin_config("ai-unlimited", "with-iam-role-permissions", ()).deployments])
    role = ai.report("ai-unlimited:node_role")
    assert role.verdict == ADMIN_EQUIVALENT and not _scan(role, arn_blind=False) and "PutRolePolicy" in _scan(role, arn_blind=True)
    # Disagreement 3: a principal that may write its own policy, within its profile boundary (a custom profile).
    custom = Analysis([build_documents(d) for d in parse_config({"region": "us-east-1", "localstack": {"enabled": False}, "deployments": [
        {"name": "own", "profile": "custom", "policy_file": str(_write_own_policy(tmp_path)), "profile_boundary": True, "create_user": False,
         "account_id": "123456789012"}]}).deployments])
    capped = custom.report("own:node_role")
    assert capped.verdict != ADMIN_EQUIVALENT and "PutRolePolicy" in _scan(capped, arn_blind=True)
    assert any(p.target == OWN for p in capped.paths)
    # Disagreement 4: AI Unlimited's restricted variant writes the policy of its engine role, under the engine role's own boundary.
    engine = Analysis([build_documents(d) for d in builtin_config("ai-unlimited", "without-iam-role-permissions", ()).deployments])
    server = engine.report("ai-unlimited:node_role")
    assert server.verdict != ADMIN_EQUIVALENT and "PutRolePolicy" in _scan(server, arn_blind=True)
    assert _writes_only_bounded_roles(engine, server, {"iam:putrolepolicy"})


def _write_own_policy(folder):
    """A policy that writes its own role's inline policy (what AI Unlimited's restricted variant did before its engine role)."""
    import json
    path = folder / "own.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOwnRole", "Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "arn:aws:iam::123456789012:role/own-node-role"}]}))
    return path
