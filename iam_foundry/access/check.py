"""`iam-foundry check`: the escalation verdict of every principal, with the risks a profile accepts.

A built-in profile may declare an admin-equivalent path inherent to the vendor's published policy in
`policy_json/<profile>/risk-accepted.json`, with the source and a reason:

    [{"principal": "user", "method": "ModifyInstanceAttribute+StopInstances+StartInstances",
      "sids": ["OpenPorts", "ManageInstances"], "source": "...", "reason": "..."}]

An entry accepts a path of that principal and method (or one of a list of methods) whose deciding
statements are all among `sids` (optionally only in one `variant`). A path no entry accepts makes `check` exit 1; an entry
that accepts nothing in any built-in combination is stale (a test fails).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, Iterator, Sequence

from iam_foundry.access.escalation import ADMIN_EQUIVALENT, Analysis, Path, PrincipalReport
from iam_foundry.access.principals import OWN_ROLE
from iam_foundry.config.model import Backend, FoundryConfig
from iam_foundry.config.load import parse_config
from iam_foundry.errors import FoundryError, PolicyError, Problem
from iam_foundry.profiles.load import list_profiles, load_profile, read_json

RISK_FILE = "risk-accepted.json"
BUILTIN_ACCOUNT = "123456789012"
# Values for a built-in profile's required parameters when every combination is checked.
SAMPLE_PARAMETERS = {"cloud_id": "cld_abc123", "bucket": "my-anyscale-bucket", "cluster_role_prefix": "aiu-cluster-",
                     "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "access_role_name": "anyscale-iam-role-abc"}
BUILTIN_REGION = "us-east-1"  # explicit: region-scoped profiles refuse a config without one


@dataclass(frozen=True)
class RiskAcceptance:
    principal: str
    methods: frozenset[str]
    sids: frozenset[str]
    source: str
    reason: str
    variant: str | None = None
    file: str = ""

    def accepts(self, principal: str, variant: str, path: Path) -> bool:
        return (principal == self.principal and path.method in self.methods and path.sids <= self.sids
                and (self.variant is None or self.variant == variant))

    def as_json(self) -> dict[str, Any]:
        return {"principal": self.principal, "method": sorted(self.methods), "sids": sorted(self.sids), "variant": self.variant,
                "source": self.source, "reason": self.reason}


def risk_acceptances(profile_root: FilePath) -> list[RiskAcceptance]:
    path = profile_root / RISK_FILE
    if not path.exists():
        return []
    entries = read_json(path)
    if not isinstance(entries, list):
        raise PolicyError(Problem(str(path), "must be a JSON list of acceptances", 'write [{"principal": ..., "method": ..., ...}]'))
    result = []
    for index, entry in enumerate(entries):
        methods = entry.get("method") if isinstance(entry, dict) else None
        methods = [methods] if isinstance(methods, str) else methods
        ok = (isinstance(entry, dict) and (entry.get("principal") in ("user", "node_role") or bool(OWN_ROLE.match(str(entry.get("principal")))))
              and isinstance(methods, list) and methods and all(isinstance(m, str) and m.strip() for m in methods)
              and isinstance(entry.get("sids"), list) and entry["sids"] and all(isinstance(s, str) for s in entry["sids"])
              and str(entry.get("source", "")).strip() and str(entry.get("reason", "")).strip()
              and set(entry) <= {"principal", "method", "sids", "variant", "source", "reason"})
        if not ok:
            raise PolicyError(Problem(f"{path}[{index}]", f"bad entry {entry!r}",
                                      'each entry needs "principal" (user|node_role|a variant\'s role), "method" (one or a list), a non-empty "sids" list, '
                                      'a "source" (where the vendor publishes it) and a "reason"; optional "variant"'))
        result.append(RiskAcceptance(entry["principal"], frozenset(methods), frozenset(entry["sids"]), entry["source"], entry["reason"],
                                     entry.get("variant"), str(path)))
    return result


@dataclass
class PrincipalCheck:
    """One principal's verdict, and whether its admin-equivalent paths are all accepted."""

    report: PrincipalReport
    profile: str
    variant: str
    addenda: tuple[str, ...]
    accepted_by: list[RiskAcceptance] = field(default_factory=list)
    unaccepted: list[Path] = field(default_factory=list)       # its own admin paths nobody accepts
    unaccepted_via: list[str] = field(default_factory=list)    # admin-equivalent principals it reaches, not accepted

    @property
    def verdict(self) -> str:
        return self.report.verdict

    @property
    def fails(self) -> bool:
        return self.verdict == ADMIN_EQUIVALENT and bool(self.unaccepted or self.unaccepted_via)

    @property
    def accepted(self) -> bool:
        return self.verdict == ADMIN_EQUIVALENT and not self.fails

    def state_bucket(self) -> str:
        modes = [m for m in ("read", "write") if m in self.report.state_access]
        return "+".join(modes) if modes else "no"

    def as_json(self) -> dict[str, Any]:
        return {**self.report.as_json(), "profile": self.profile, "variant": self.variant, "addenda": list(self.addenda),
                "risk_accepted": self.accepted, "accepted_by": [a.as_json() for a in self.accepted_by],
                "unaccepted_paths": [p.as_json() for p in self.unaccepted], "unaccepted_via": self.unaccepted_via}


def check_documents(documents: Sequence[Any], backend: Backend | None = None) -> list[PrincipalCheck]:
    """Analyse the deployments together (they may pass each other's roles) and apply acceptances."""
    bucket = backend.state_bucket() if backend is not None else None  # state in S3: who can read it is checked too
    keys = {d.deployment.name: place[1] for d in documents
            if backend is not None and (place := backend.state_object(d.deployment.name))}
    state_bucket = bucket.bucket if bucket else None
    analysis = Analysis(documents, state_bucket, keys)
    meta = {d.deployment.name: d for d in documents}
    checks: dict[str, PrincipalCheck] = {}
    for report in analysis.reports():
        docs = meta[report.identity.deployment]
        acceptances = [] if docs.profile.name == "custom" else risk_acceptances(docs.profile.root)
        variant = docs.deployment.variant
        check = PrincipalCheck(report, docs.profile.name, variant, tuple(sorted(docs.deployment.addenda)))
        for path in report.admin_paths:
            matches = [a for a in acceptances if a.accepts(report.identity.kind, variant, path)]
            if matches:
                check.accepted_by += [m for m in matches if m not in check.accepted_by]
            else:
                check.unaccepted.append(path)
        checks[report.identity.key] = check
    # A principal that reaches another admin-equivalent principal shares that principal's acceptance.
    for key, check in checks.items():
        for other in _reachable(analysis, key):
            if other != key and checks[other].verdict == ADMIN_EQUIVALENT and checks[other].unaccepted:
                check.unaccepted_via.append(other)
    return list(checks.values())


def _reachable(analysis: Analysis, key: str) -> set[str]:
    seen, todo = {key}, [key]
    while todo:
        for path in analysis.paths.get(todo.pop(), []):
            if path.target in analysis.paths and path.target not in seen:
                seen.add(path.target)
                todo.append(path.target)
    return seen


def check_config(config: FoundryConfig) -> list[PrincipalCheck]:
    from iam_foundry.policy.documents import build_documents

    return check_documents([build_documents(d) for d in config.deployments], config.backend)


# -- every built-in combination ----------------------------------------------------------------------

def builtin_combinations() -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """Every profile × variant × set of addenda allowed with it, from the profile data."""
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            allowed = sorted(a for a, spec in profile.addenda.items() if not spec.only_variants or variant in spec.only_variants)
            for count in range(len(allowed) + 1):
                for chosen in itertools.combinations(allowed, count):
                    if not any(other in chosen for a in chosen for other in profile.addenda[a].conflicts_with):
                        yield name, variant, chosen


def builtin_config(profile: str, variant: str, addenda: Sequence[str], require_boundary: bool = False) -> FoundryConfig:
    spec = load_profile(profile)
    needed = {k for k, p in spec.parameters.items() if p.required} | {k for a in addenda for k in spec.addenda[a].requires_parameters}
    parameters = {k: SAMPLE_PARAMETERS.get(k, "sample") for k in sorted(needed)}
    return parse_config({"region": BUILTIN_REGION, "localstack": {"enabled": False}, "deployments": [
        {"name": profile, "profile": profile, "variant": variant, "addenda": list(addenda), "account_id": BUILTIN_ACCOUNT,
         # A profile whose installer needs the user's key (Iguazio) creates one; its secret is not analysed.
         "parameters": parameters, "allow_plaintext_secret_in_state": True,
         # An addendum with which the platform creates the node role itself is refused with the stack's own role.
         "create_node_role": not any(spec.addenda[a].platform_creates_node_role for a in addenda),
         "require_boundary_on_created_roles": require_boundary}]})


def check_builtin(profile: str, variant: str, addenda: Sequence[str], require_boundary: bool = False) -> list[PrincipalCheck]:
    return check_config(builtin_config(profile, variant, addenda, require_boundary))


def creates_roles(profile: str, variant: str, addenda: Sequence[str]) -> bool:
    """Does require_boundary_on_created_roles apply (the principals may create roles)?"""
    try:
        builtin_config(profile, variant, addenda, require_boundary=True)
    except FoundryError:
        return False
    return True


# -- output ------------------------------------------------------------------------------------------

def principal_label(kind: str) -> str:
    """How tables name a principal kind: user, node role, engine role."""
    return kind.replace("_", " ")


def verdict_text(check: PrincipalCheck) -> str:
    if check.accepted:
        return f"{ADMIN_EQUIVALENT} (risk accepted)"
    return check.verdict


def route_text(check: PrincipalCheck) -> str:
    route = check.report.admin_route
    if not route:
        own = [p for p in check.report.paths if p.target == "own-permissions"]
        return "; ".join(f"{p.method}: {p.summary}" for p in own) or "-"
    return " → ".join(f"{p.method} [{', '.join(sorted(p.sids))}]" + ("" if p.target == "ADMIN" else f" (as {p.target})") for p in route)


def as_json(checks: Sequence[PrincipalCheck]) -> str:
    return json.dumps([c.as_json() for c in checks], indent=2)


def markdown_table() -> str:
    """The README's risk table: each profile and variant with no addendum, each addendum alone, and all of them."""
    lines = ["| profile | variant | addenda | user | node role | variant's own roles | reads state bucket | admin path (first found) |",
             "|---|---|---|---|---|---|---|---|"]
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    for profile, variant, addenda in builtin_combinations():
        every = tuple(sorted(a for a in load_profile(profile).addenda
                             if not load_profile(profile).addenda[a].only_variants or variant in load_profile(profile).addenda[a].only_variants))
        if len(addenda) > 1 and addenda != every or (profile, variant, addenda) in seen:
            continue
        seen.add((profile, variant, addenda))
        label = "all: " + ", ".join(addenda) if len(addenda) > 1 else (addenda[0] if addenda else "none")
        # Where the principals create roles, also the opt-in that makes them create roles with the boundary.
        for require in (False, True) if creates_roles(profile, variant, addenda) else (False,):
            checks = {c.report.identity.kind: c for c in check_builtin(profile, variant, addenda, require)}
            kinds = list(checks)  # user, node role, then the variant's own roles (AI Unlimited's engine role)
            cells = [verdict_text(checks[k]) if k in checks else "—" for k in ("user", "node_role")]
            own = ", ".join(f"{principal_label(k)}: {verdict_text(checks[k])}" for k in kinds if k not in ("user", "node_role")) or "—"
            reads = ", ".join(principal_label(k) for k in kinds if checks[k].state_bucket() != "no") or "no"
            route = next((route_text(checks[k]) for k in kinds if checks[k].report.admin_route), "—")
            shown = label + (" + `require_boundary_on_created_roles`" if require else "")
            lines.append(f"| {profile} | {variant} | {shown} | {cells[0]} | {cells[1]} | {own} | {reads} | {route} |")
    return "\n".join(lines) + "\n"
