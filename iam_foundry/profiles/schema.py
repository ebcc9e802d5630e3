"""JSON Schema checks of profile data (iam_foundry/profiles/schemas/*.schema.json), as Problems.

Every error of a file is reported at once, one Problem each, naming the file and the JSON path
(`$.node_role.trust_policy`), so a typo deep in a profile is a clear message instead of a KeyError
or a silently ignored key.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from iam_foundry.errors import Problem

SCHEMAS = ("profile", "addendum")
ARTICLES = {"object": "an object", "array": "an array", "string": "a string", "boolean": "a boolean",
            "integer": "an integer", "number": "a number"}
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
              float: "a number", type(None): "null"}


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    """The validator of iam_foundry/profiles/schemas/<kind>.schema.json (read as package data, so it works installed)."""
    text = resources.files("iam_foundry.profiles").joinpath("schemas", f"{kind}.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    # format_checker: "format": "regex" then rejects a parameter pattern Python cannot compile.
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problems(kind: str, data: Any, source: Path | str) -> list[Problem]:
    """Every way `data` breaks the `kind` schema, in document order, one Problem per error."""
    errors = sorted(validator(kind).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    # A misspelt required key is reported once, as the unknown key with its did-you-mean, not again as missing.
    misspelt = {(json_path(e.absolute_path), close) for e in errors if e.validator == "additionalProperties"
                for close in _close_keys(e)}
    problems: list[Problem] = []
    for error in errors:
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [k for k in error.validator_value if k not in error.instance]
            if all((json_path(error.absolute_path), k) in misspelt for k in missing):
                continue
        for problem in _explain(error, source, kind):
            if problem not in problems:
                problems.append(problem)
    return problems


def json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _close_keys(error: ValidationError) -> list[str]:
    """For an unknown-key error: the known keys the unknown ones look like typos of."""
    known = sorted(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    extra = set(error.instance) - set(known) if isinstance(error.instance, dict) else set()
    return [match for key in extra for match in difflib.get_close_matches(key, known, n=1)]


def _kind_of(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def _explain(error: ValidationError, source: Path | str, kind: str) -> list[Problem]:
    path = list(error.absolute_path)
    where = f"{source} at {json_path(path)}"
    schema = error.schema if isinstance(error.schema, dict) else {}
    custom = schema.get("x-messages", {}).get(error.validator)
    if custom:  # the schema words this rule itself, e.g. "the addendum adds nothing"
        return [Problem(where, custom["message"], custom.get("fix", ""))]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(schema.get("properties", {}))
        problems = []
        for key in sorted(set(error.instance) - set(known)):
            close = difflib.get_close_matches(key, known, n=1)
            fix = f"did you mean '{close[0]}'?" if close else (f"use only {known}" if known else "remove it")
            problems.append(Problem(f"{source} at {json_path(path + [key])}", "unknown key", fix))
        return problems
    if error.validator == "required" and isinstance(error.instance, dict):
        return [Problem(where, f"missing required key '{key}'", f"add \"{key}\": ...")
                for key in error.validator_value if key not in error.instance]
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted_text = " or ".join(ARTICLES.get(w, w) for w in wanted)
        return [Problem(where, f"must be {wanted_text}, got {_kind_of(error.instance)} {json.dumps(error.instance)[:60]}",
                        f"write it as {wanted_text}")]
    if error.validator == "enum":
        return [Problem(where, f"{json.dumps(error.instance)} is not allowed", f"use one of {error.validator_value}")]
    if error.validator == "pattern" and "propertyNames" in error.schema_path:  # a key of the object, not a value
        return [Problem(f"{source} at {json_path(path + [error.instance])}", f"key {json.dumps(error.instance)} does not match {error.validator_value}",
                        "rename it")]
    if error.validator == "pattern":
        return [Problem(where, f"{json.dumps(error.instance)} does not match {error.validator_value}", "fix the value")]
    if error.validator == "format" and error.validator_value == "regex":
        return [Problem(where, f"{json.dumps(error.instance)} is not a valid regular expression", "fix the pattern")]
    if error.validator in ("minItems", "minProperties", "minLength"):
        return [Problem(where, "must not be empty", "give it a value or remove the key")]
    if error.validator == "uniqueItems":
        return [Problem(where, "lists an item twice", "list each item once")]
    return [Problem(where, error.message, f"see iam_foundry/profiles/schemas/{kind}.schema.json")]
