"""What each platform's installer asks for, from a stack's outputs, as a JSON file.

Secrets are left out unless explicitly requested, and even then only go to the file (mode 0600),
never to the console.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from iam_foundry.config.model import FoundryConfig, profile_of
from iam_foundry.errors import FoundryError
from iam_foundry.files import read_json

SECRET_OUTPUTS = ("access_key_secret", "access_key_encrypted_secret")


def handoff_entry(config: FoundryConfig, stack: str, outputs: dict[str, Any], secrets: dict[str, str] | None = None) -> dict[str, Any]:
    deployment = config.deployment(stack)
    profile = profile_of(deployment)
    fields: dict[str, Any] = {}
    for label, source in profile.handoff.items():
        if source.startswith("="):
            fields[label] = source[1:]  # a literal the installer wants, e.g. IamRole = Existing
        elif source in outputs:
            fields[label] = outputs[source]
    for role in profile.roles(deployment.variant):  # a variant's own role, where the platform is told of it
        if role.handoff:
            for suffix, output in (("", "name"), (" ARN", "arn"), (" instance profile", "instance_profile_name")):
                if f"{role.key}_{output}" in outputs:
                    fields[f"{role.handoff}{suffix}"] = outputs[f"{role.key}_{output}"]
    entry = {"profile": profile.name, "variant": deployment.variant, "for the installer": fields,
             "outputs": {k: v for k, v in outputs.items() if k not in SECRET_OUTPUTS}}
    if secrets:
        entry["secrets"] = secrets
    return entry


def write_handoff(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Merge these stacks' entries into the handoff file (other stacks' entries are kept)."""
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            existing = read_json(path)
        except FoundryError:  # a broken earlier file is replaced, not merged
            existing = {}
    existing.update(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(existing, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(path, 0o600)
