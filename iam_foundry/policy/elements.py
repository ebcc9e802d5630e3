"""IAM policy elements (Action, Resource, condition values, ...) are a single value or a list."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    """The element as a list: IAM accepts "s3:GetObject" and ["s3:GetObject"] alike."""
    return value if isinstance(value, list) else [value]
