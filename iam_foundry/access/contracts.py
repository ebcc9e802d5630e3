"""Call contracts: the API calls a platform makes with each identity, checked against the policies.

`policy_json/<profile>/contract.json` (schema: `iam_foundry/profiles/schemas/contract.schema.json`) lists
the calls each principal must be able to make ("required") and calls it never needs ("never"),
each with the vendor source that says so. For a deployment, every entry that applies to its variant
and addenda is rendered with the deployment's placeholders and evaluated against the principal's
identity policies: a required call must be allowed and a never-needed call denied.

Principals: "user", "node_role", or "policy:<id>" for a managed policy the stack emits for a
principal it does not create (a deployer, a vendor's existing role); that principal is evaluated
with that policy alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema

from iam_foundry.access.evaluate import PolicyDocument, Request, evaluate
from iam_foundry.access.principals import account_of, as_stored, boundary_of, display_path, principal_policies
from iam_foundry.config.model import Deployment, profile_of
from iam_foundry.config.load import load_config
from iam_foundry.errors import FoundryError, PolicyError, Problem
from iam_foundry.policy.documents import ROLE_GRANTS, DeploymentDocuments, build_documents, placeholder_values
from iam_foundry.profiles.load import POLICY_ROOT, read_json
from iam_foundry.policy.render import render

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "profiles" / "schemas" / "contract.schema.json"
CONTRACT_FILE = "contract.json"
REQUIRED, NEVER = "required", "never"


@dataclass(frozen=True)
class When:
    """Which deployments an entry applies to; empty fields mean "any"."""

    variants: tuple[str, ...] = ()
    addenda: tuple[str, ...] = ()          # all switched on
    without_addenda: tuple[str, ...] = ()  # none switched on

    def applies(self, variant: str, addenda: Sequence[str]) -> bool:
        chosen = set(addenda)
        return ((not self.variants or variant in self.variants) and set(self.addenda) <= chosen
                and not set(self.without_addenda) & chosen)


@dataclass(frozen=True)
class ContractEntry:
    id: str
    kind: str  # REQUIRED or NEVER
    principal: str
    action: str
    resource: str  # template with {{placeholders}}
    context: Mapping[str, str | tuple[str, ...]]
    when: When
    source: Mapping[str, str]  # {"ref": ..., "lines"/"section": ...}
    why: str

    citation: str  # the source as one line: repo@commit:path#Lx, or page § section


def _citation(source: Mapping[str, str], sources: Mapping[str, Mapping[str, str]]) -> str:
    cited = sources[source["ref"]]
    if "repo" in cited:
        text = f"{cited['repo']}@{cited['commit'][:12]}:{cited['path']}"
        return text + (f"#L{source['lines']}" if "lines" in source else "")
    return cited["page"] + (f" § {source['section']}" if "section" in source else f" ({cited['title']})")


@dataclass(frozen=True)
class Contract:
    profile: str
    path: Path
    sources: Mapping[str, Mapping[str, str]]
    entries: tuple[ContractEntry, ...]

    def applicable(self, deployment: Deployment) -> list[ContractEntry]:
        return [e for e in self.entries if e.when.applies(deployment.variant, deployment.addenda)]


@dataclass(frozen=True)
class ContractResult:
    deployment: str
    entry: ContractEntry
    resource: str  # rendered, as AWS would see it
    context: Mapping[str, Any]
    allowed: bool
    reason: str
    skipped: str = ""  # why the entry was not evaluated (the principal is not in this stack)

    @property
    def ok(self) -> bool:
        return bool(self.skipped) or self.allowed == (self.entry.kind == REQUIRED)

    def __str__(self) -> str:
        verdict = "skipped" if self.skipped else ("ok" if self.ok else "FAIL")
        expected = "allowed" if self.entry.kind == REQUIRED else "denied"
        detail = self.skipped or f"{'allowed' if self.allowed else 'denied'} ({self.reason}); must be {expected}"
        return (f"[{verdict}] {self.entry.kind} {self.entry.id}: {self.entry.principal} {self.entry.action} on {self.resource}"
                + (f" with {dict(self.context)}" if self.context else "") + f": {detail}")


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _problems(data: Any, path: Path) -> list[Problem]:
    """Schema errors, then what a schema cannot say: sources cited exist, ids are unique."""
    validator = jsonschema.Draft202012Validator(_schema())
    problems = [Problem(f"{path}: {'/'.join(str(p) for p in error.absolute_path) or '(top)'}", error.message,
                        f"see {display_path(SCHEMA_PATH)}")
                for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if problems:
        return problems
    seen: set[str] = set()
    for kind in (REQUIRED, NEVER):
        for index, entry in enumerate(data[kind]):
            where = f"{path}: {kind}/{index} ({entry['id']})"
            if entry["source"]["ref"] not in data["sources"]:
                problems.append(Problem(where, f"source '{entry['source']['ref']}' is not in 'sources'",
                                        f"use one of {sorted(data['sources'])} or add it"))
            if entry["id"] in seen:
                problems.append(Problem(where, "duplicate entry id", "give every entry its own id"))
            seen.add(entry["id"])
    return problems


def parse_contract(data: Any, path: Path, profile: str) -> Contract:
    problems = _problems(data, path)
    if not problems and data["profile"] != profile:
        problems.append(Problem(str(path), f"contract is for profile '{data['profile']}', found in '{profile}'", f"set \"profile\": \"{profile}\""))
    if problems:
        raise PolicyError(problems)
    entries = []
    for kind in (REQUIRED, NEVER):
        for raw in data[kind]:
            when = raw.get("when", {})
            context = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.get("context", {}).items()}
            entries.append(ContractEntry(
                id=raw["id"], kind=kind, principal=raw["principal"], action=raw["action"], resource=raw["resource"],
                context=context, source=dict(raw["source"]), why=raw["why"], citation=_citation(raw["source"], data["sources"]),
                when=When(tuple(when.get("variants", ())), tuple(when.get("addenda", ())), tuple(when.get("without_addenda", ())))))
    return Contract(profile=profile, path=path, sources=data["sources"], entries=tuple(entries))


def contract_path(profile: str, root: Path = POLICY_ROOT) -> Path:
    return root / profile / CONTRACT_FILE


@lru_cache(maxsize=None)
def load_contract(profile: str, root: Path = POLICY_ROOT) -> Contract | None:
    """The profile's contract, validated against the schema; None when it has none (custom profiles)."""
    path = contract_path(profile, root)
    if not path.is_file():
        return None
    return parse_contract(read_json(path), path, profile)


def _check_references(contract: Contract, documents: DeploymentDocuments) -> None:
    """A contract that names a variant, addendum or policy the profile does not have is stale."""
    profile = documents.profile
    policy_ids = {a.policy.id for a in profile.addenda.values() if a.policy}
    problems = []
    for entry in contract.entries:
        where = f"{contract.path}: {entry.kind} {entry.id}"
        unknown_variants = set(entry.when.variants) - set(profile.variants)
        unknown_addenda = (set(entry.when.addenda) | set(entry.when.without_addenda)) - set(profile.addenda)
        if unknown_variants:
            problems.append(Problem(where, f"unknown variants {sorted(unknown_variants)}", f"use {sorted(profile.variants)}"))
        if unknown_addenda:
            problems.append(Problem(where, f"unknown addenda {sorted(unknown_addenda)}", f"use {sorted(profile.addenda)}"))
        if entry.principal.startswith("policy:") and entry.principal[7:] not in policy_ids:
            problems.append(Problem(where, f"no addendum emits policy '{entry.principal[7:]}'", f"use one of {sorted(policy_ids)}"))
    if problems:
        raise PolicyError(problems)


def _policies_of(documents: DeploymentDocuments, principal: str) -> list[PolicyDocument] | None:
    """The identity policies a principal holds in this deployment; None when the stack does not
    hold that principal (no user, node role shared from another deployment, addendum off)."""
    if principal.startswith("policy:"):
        account = account_of(documents)
        for policy in documents.policies:
            if policy.id == principal[len("policy:"):]:
                return [PolicyDocument(policy.name if i == 0 else f"{policy.name}-{i + 1}", as_stored(part, account))
                        for i, part in enumerate(policy.parts)]
        return None
    if principal == "user" and not documents.deployment.create_user:
        return None
    if principal == "node_role" and not documents.creates_role:
        return None
    return principal_policies(documents, principal) or None  # a variant's own role the deployment does not have


def evaluate_contract(documents: DeploymentDocuments, contract: Contract) -> list[ContractResult]:
    _check_references(contract, documents)
    deployment = documents.deployment
    values = placeholder_values(deployment, documents.profile)
    account = account_of(documents)
    results = []
    for entry in contract.applicable(deployment):
        resource = as_stored(render(entry.resource, values, contract.path), account)
        context = as_stored(render({k: list(v) if isinstance(v, tuple) else v for k, v in entry.context.items()},
                                   values, contract.path), account)
        if deployment.require_boundary_on_created_roles and entry.action in ROLE_GRANTS and documents.boundary_arn:
            # The platform is configured to create its roles with the boundary (the option's premise), so its calls name it.
            context = {"iam:PermissionsBoundary": as_stored(documents.boundary_arn, account), **context}
        policies = _policies_of(documents, entry.principal)
        if policies is None:
            results.append(ContractResult(deployment.name, entry, resource, context, False, "",
                                          skipped=f"{entry.principal} is not created by this deployment"))
            continue
        # The stack's principals hold their boundary too: a boundary that cut a required call would break the platform.
        boundary = None if entry.principal.startswith("policy:") else boundary_of(documents, entry.principal).documents
        decision = evaluate(policies, Request(entry.action, resource, context), boundary)
        results.append(ContractResult(deployment.name, entry, resource, context, decision.allowed, decision.reason))
    return results


def contract_results(deployment: Deployment) -> list[ContractResult]:
    """Every applicable contract entry of a deployment, evaluated; [] for a profile without a contract."""
    contract = load_contract(profile_of(deployment).name) if deployment.profile != "custom" else None
    if contract is None:
        return []
    return evaluate_contract(build_documents(deployment), contract)


@dataclass(frozen=True)
class Summary:
    deployment: str
    required: int = 0
    required_allowed: int = 0
    never: int = 0
    never_denied: int = 0
    failures: list[ContractResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def summarize(deployment: str, results: Sequence[ContractResult]) -> Summary:
    evaluated = [r for r in results if not r.skipped]
    required = [r for r in evaluated if r.entry.kind == REQUIRED]
    never = [r for r in evaluated if r.entry.kind == NEVER]
    return Summary(deployment, len(required), sum(r.allowed for r in required), len(never),
                   sum(not r.allowed for r in never), [r for r in evaluated if not r.ok])


def format_results(deployment: str, results: Sequence[ContractResult], verbose: bool = False) -> str:
    """`<deployment>: N/N required calls allowed, M/M never-needed calls denied`, then each failure
    (every entry with verbose) and its source."""
    if not results:
        return f"{deployment}: no call contract for this profile"
    summary = summarize(deployment, results)
    lines = [f"{deployment}: {summary.required_allowed}/{summary.required} required calls allowed, "
             f"{summary.never_denied}/{summary.never} never-needed calls denied"]
    for result in results if verbose else summary.failures:
        lines.append(f"  {result}\n      source: {result.entry.citation}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m iam_foundry.access.contracts [--config FILE] [-s NAME] [-v]`: exit 1 on any miss."""
    parser = argparse.ArgumentParser(prog="python -m iam_foundry.access.contracts", description=main.__doc__)
    parser.add_argument("--config", default=None)
    parser.add_argument("-s", "--stack", action="append", default=None, help="deployment name (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every entry, not only failures")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        chosen = [config.deployment(name) for name in args.stack] if args.stack else list(config.deployments)
        failed = False
        for deployment in chosen:
            results = contract_results(deployment)
            print(format_results(deployment.name, results, args.verbose))
            failed |= not summarize(deployment.name, results).ok
    except FoundryError as err:
        print("iam-foundry: failed", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
