"""Everything the review page of one deployment shows, as plain data.

Built only from the rendered documents (the plan), the evaluator's escalation analysis (`check`),
the call contract and the profile's own data (risk and lint acceptances, vendor mapping): the
renderers (markdown.py, html.py) add layout, never content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from iam_foundry.access import actions
from iam_foundry.access.check import PrincipalCheck, check_documents, route_text, verdict_text
from iam_foundry.access.contracts import ContractResult, contract_results
from iam_foundry.access.policy import PolicyDocument
from iam_foundry.access.principals import STAND_IN_ACCOUNT, account_of, as_stored, boundary_of, display_path, principal_policies
from iam_foundry.config.model import CUSTOM_PROFILE, Backend, Deployment, FoundryConfig
from iam_foundry.policy.documents import DeploymentDocuments, build_documents, lint_findings
from iam_foundry.policy.elements import as_list
from iam_foundry.policy.lint import accepted_findings
from iam_foundry.report.graph import Graph, build_graph
from iam_foundry.report.vendor import VendorDiff, deployment_vendor_diff

ACCESS_LEVELS = ("List", "Read", "Write", "Tagging", "Permissions management")
PRINCIPAL_LABELS = {"user": "IAM user", "node_role": "node role"}


@dataclass(frozen=True)
class Verdict:
    principal: str        # "<deployment>:user" / "<deployment>:node_role"
    kind: str
    arn: str
    verdict: str          # as `check` prints it, "(risk accepted)" included
    route: str            # the admin path (or own-permission paths), as `check` prints it
    state_bucket: str     # "no", "read", "read+write"
    fails: bool
    boundary: str = "none"  # the permissions boundary's ARN; "(not evaluated)" when its text is unknown


@dataclass(frozen=True)
class Acceptance:
    kind: str             # "risk" or "lint"
    what: str             # the method or rule, and the statements
    source: str
    reason: str


@dataclass(frozen=True)
class ActionRow:
    """Actions of one statement that share a service and access level."""

    service: str
    level: str
    actions: tuple[str, ...]      # as written (a pattern keeps its *), expanded count beside it
    expanded: int
    resources: tuple[str, ...]
    effect: str
    sid: str
    policy: str
    source: str
    condition: str


@dataclass(frozen=True)
class PrincipalActions:
    principal: str        # "<deployment>:user", "<deployment>:node_role" or "policy <name>"
    arn: str               # its ARN, or for a policy whom it is for
    rows: tuple[ActionRow, ...]


@dataclass(frozen=True)
class ContractRow:
    kind: str             # "required" / "never"
    ok: bool
    principal: str
    action: str
    resource: str
    context: str
    outcome: str          # "allowed" / "denied" / "skipped: ..."
    citation: str
    why: str


@dataclass
class Report:
    deployment: str
    profile: str
    profile_title: str
    variant: str
    addenda: tuple[str, ...]
    account: str
    region: str
    partition: str
    verdicts: list[Verdict]
    graph: Graph
    principals: list[PrincipalActions]
    contract: list[ContractRow]
    acceptances: list[Acceptance]
    vendor: VendorDiff | None
    notes: list[str] = field(default_factory=list)


def _condition_text(condition: Any) -> str:
    if not condition:
        return ""
    parts = []
    for operator, pairs in condition.items():
        for key, values in pairs.items():
            parts.append(f"{operator} {key} = {', '.join(str(v) for v in as_list(values))}")
    return "; ".join(parts)


def principal_actions(documents: DeploymentDocuments, kind: str, arn: str) -> PrincipalActions:
    """Every statement of the principal's policies, split by service and policy_sentry access level."""
    return PrincipalActions(f"{documents.deployment.name}:{kind}", arn, _rows(principal_policies(documents, kind)))


def unattached_policies(documents: DeploymentDocuments) -> list[PrincipalActions]:
    """Policies an addendum emits for a principal the stack does not create (a deployer, a vendor's
    existing role): shown with whom they are for, since the reviewer approves them too."""
    account = account_of(documents)
    result = []
    for policy in documents.policies:
        if policy.attach_to:
            continue
        source = next((display_path(a.source) for a in documents.profile.addenda.values() if a.policy and a.policy.id == policy.id), "")
        parts = [PolicyDocument(policy.name if i == 0 else f"{policy.name}-{i + 1}", as_stored(part, account), source)
                 for i, part in enumerate(policy.parts)]
        whom = f"attached to existing role {', '.join(policy.attach_to_roles)}" if policy.attach_to_roles else "attached to no principal (for a deployer)"
        result.append(PrincipalActions(f"policy {policy.name}", whom, _rows(parts)))
    return result


def _rows(policies: Sequence[PolicyDocument]) -> tuple[ActionRow, ...]:
    rows: list[ActionRow] = []
    for policy in policies:
        for ref, statement in policy.statements():
            resources = tuple(str(r) for r in as_list(statement.get("Resource", statement.get("NotResource", "*"))))
            if "NotResource" in statement:
                resources = tuple(f"everything except {r}" for r in resources)
            patterns = as_list(statement.get("Action", []))
            negated = "NotAction" in statement
            if negated:
                patterns = as_list(statement["NotAction"])
            grouped: dict[tuple[str, str], tuple[list[str], int]] = {}
            for pattern in patterns:
                expanded = actions.expand(pattern) if not negated else []
                levels: dict[str, int] = {}
                for action in expanded:
                    info = actions.action_info(action)
                    if info is not None:
                        levels[info.access_level] = levels.get(info.access_level, 0) + 1
                service = pattern.split(":", 1)[0].lower() if ":" in pattern else "*"
                if negated or not levels:
                    levels = {"every action except these" if negated else "unknown": 0}
                for level, count in levels.items():
                    names, total = grouped.get((service, level), ([], 0))
                    names.append(pattern)
                    grouped[(service, level)] = (names, total + count)
            for (service, level), (names, total) in grouped.items():
                rows.append(ActionRow(service, level, tuple(names), total, resources, statement.get("Effect", "Allow"), ref.sid,
                                      policy.name, ref.source, _condition_text(statement.get("Condition"))))
    order = {level: i for i, level in enumerate(ACCESS_LEVELS)}
    rows.sort(key=lambda r: (r.service, order.get(r.level, len(order)), r.sid))
    return tuple(rows)


def _contract_row(result: ContractResult) -> ContractRow:
    context = ", ".join(f"{k}={v}" for k, v in result.context.items())
    outcome = f"skipped: {result.skipped}" if result.skipped else ("allowed" if result.allowed else "denied")
    return ContractRow(result.entry.kind, result.ok, result.entry.principal, result.entry.action, result.resource, context, outcome,
                       result.entry.citation, result.entry.why)


def _acceptances(documents: DeploymentDocuments, checks: Sequence[PrincipalCheck]) -> list[Acceptance]:
    result: list[Acceptance] = []
    seen: set[tuple[str, str]] = set()
    for check in checks:
        for acceptance in check.accepted_by:
            what = f"{PRINCIPAL_LABELS.get(acceptance.principal, acceptance.principal.replace('_', ' '))}: {' / '.join(sorted(acceptance.methods))} [{', '.join(sorted(acceptance.sids))}]"
            if ("risk", what) not in seen:
                seen.add(("risk", what))
                result.append(Acceptance("risk", what, acceptance.source, acceptance.reason))
    if documents.profile.name != CUSTOM_PROFILE:
        found = {(f.rule, f.sid) for f in lint_findings(documents)}
        for entry in accepted_findings(documents.profile.root):
            if (entry["rule"], entry["sid"]) in found:
                result.append(Acceptance("lint", f"{entry['rule']} on {entry['sid']}", "lint-accepted.json", entry["reason"]))
    for entry in documents.deployment.lint_accepted:
        if (entry.rule, entry.sid) in {(f.rule, f.sid) for f in lint_findings(documents)}:
            result.append(Acceptance("lint", f"{entry.rule} on {entry.sid}", f"deployment '{documents.deployment.name}' lint_accepted", entry.reason))
    return result


def _boundary_text(documents: DeploymentDocuments, kind: str) -> str:
    """What caps the principal: the reviewer must see whether the verdict counted a boundary."""
    boundary = boundary_of(documents, kind)
    if boundary.arn is None:
        return "none"
    return boundary.arn + (" (not evaluated: its text is not in the project)" if boundary.documents is None else "")


def build_report(config: FoundryConfig, deployment: Deployment) -> Report:
    """The report of one deployment; the escalation analysis sees every deployment of the config,
    since one may pass or modify another's roles."""
    all_documents = [build_documents(d) for d in config.deployments]
    documents = next(d for d in all_documents if d.deployment.name == deployment.name)
    return report_from(documents, all_documents, config.backend)


def report_from(documents: DeploymentDocuments, all_documents: Sequence[DeploymentDocuments], backend: Backend | None) -> Report:
    deployment = documents.deployment
    checks = check_documents(all_documents, backend)
    own = [c for c in checks if c.report.identity.deployment == deployment.name]
    verdicts = [Verdict(c.report.identity.key, c.report.identity.kind, c.report.identity.arn, verdict_text(c), route_text(c),
                        c.state_bucket(), c.fails, _boundary_text(documents, c.report.identity.kind)) for c in own]
    principals = [principal_actions(documents, c.report.identity.kind, c.report.identity.arn) for c in own] + unattached_policies(documents)
    notes = [n for c in own for n in c.report.notes]
    if deployment.account_id is None:
        notes.append(f"the config gives no account_id (read at plan time): ARNs show the stand-in account {STAND_IN_ACCOUNT}")
    return Report(
        deployment=deployment.name, profile=documents.profile.name, profile_title=documents.profile.title,
        variant=deployment.variant or "default", addenda=tuple(sorted(deployment.addenda)),
        account=deployment.account_id or f"read at plan time (stand-in {STAND_IN_ACCOUNT})", region=deployment.region,
        partition=deployment.partition, verdicts=verdicts, graph=build_graph(documents, checks),
        principals=principals, contract=[_contract_row(r) for r in contract_results(deployment)],
        acceptances=_acceptances(documents, own), vendor=deployment_vendor_diff(documents), notes=notes)
