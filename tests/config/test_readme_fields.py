"""The README's config reference, the parser and the exported modules' variables come from one declaration."""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest

from iam_foundry.config import fields as fields_module
from iam_foundry.config.backends import BACKENDS, backend_fields
from iam_foundry.config.fields import (
    ASSUME_ROLE_FIELDS,
    DEPLOYMENT_FIELDS,
    LINT_ACCEPTANCE_FIELDS,
    LOCALSTACK_FIELDS,
    TOP_LEVEL_FIELDS,
)
from iam_foundry.config.load import parse_config
from iam_foundry.config.reference import README_FIELDS_END, README_FIELDS_START, readme_with_fields, reference_markdown
from iam_foundry.emit.module import export_module
from iam_foundry.errors import ConfigError
from tests.conftest import BASE_CONFIG

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_config_reference_is_current():
    text = README.read_text()
    assert README_FIELDS_START in text and README_FIELDS_END in text
    reference = text.split(README_FIELDS_START, 1)[1].split(README_FIELDS_END, 1)[0]
    assert reference == reference_markdown(), "README's config reference is stale: run `make readme`"
    assert readme_with_fields(text) == text


def test_a_changed_declaration_makes_the_readme_stale(monkeypatch):
    """The check above can fail: a doc edited in fields.py no longer matches the README's copy."""
    text = README.read_text()
    changed = replace(TOP_LEVEL_FIELDS["region"], doc="a doc the README does not have")
    monkeypatch.setitem(fields_module.TOP_LEVEL_FIELDS, "region", changed)
    assert reference_markdown() not in text
    assert "a doc the README does not have" in readme_with_fields(text)


def _with_unknown(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        table: Any = raw
        for key in path:
            table = table[key]
        table["zzz_not_a_field"] = 1
    return mutate


# (where a table sits in BASE_CONFIG, its declarations): every table the config file has
TABLES = [
    ((), TOP_LEVEL_FIELDS),
    (("localstack",), LOCALSTACK_FIELDS),
    (("backend",), backend_fields("s3")),
    (("deployments", 0), DEPLOYMENT_FIELDS),
    (("deployments", 0, "assume_role"), ASSUME_ROLE_FIELDS),
]


@pytest.mark.parametrize(("path", "declared"), TABLES, ids=[".".join(map(str, p)) or "top" for p, _ in TABLES])
def test_every_field_the_parser_reads_is_declared(path, declared):
    """An undeclared key is an unknown field to the parser, so each table's declarations are the parser's whole list."""
    raw = copy.deepcopy(BASE_CONFIG)
    raw["deployments"][0]["assume_role"] = {"role_arn": "arn:aws:iam::123456789012:role/deployer"}
    _with_unknown(path)(raw)
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    (problem,) = err.value.problems
    assert problem.message == "unknown field"
    assert ast.literal_eval(problem.fix.split("known fields: ", 1)[1]) == sorted(declared)


def test_a_lint_acceptance_entry_is_read_from_its_declarations():
    """A list entry gets one problem naming everything wrong with it, each field checked as declared."""
    raw = copy.deepcopy(BASE_CONFIG)
    raw["deployments"][0]["lint_accepted"] = [{"rule": "LP003", "sid": 7, "zzz_not_a_field": 1}]
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    (problem,) = err.value.problems
    assert problem.where.startswith("deployments[0].lint_accepted[0]")
    assert problem.message == "sid must be str, got 7; no reason; unknown key 'zzz_not_a_field'"
    assert set(LINT_ACCEPTANCE_FIELDS) == {"rule", "sid", "reason"}


def test_every_declared_field_is_in_the_readme():
    text = README.read_text().split(README_FIELDS_START, 1)[1].split(README_FIELDS_END, 1)[0]
    tables = [TOP_LEVEL_FIELDS, LOCALSTACK_FIELDS, backend_fields(), DEPLOYMENT_FIELDS, ASSUME_ROLE_FIELDS, LINT_ACCEPTANCE_FIELDS]
    for declared in tables:
        for field in declared.values():
            assert f"| `{field.name}` |" in text and field.doc.replace("|", "\\|") in text, field.name
    for backend in BACKENDS:
        assert f"`{backend}`" in text


def test_module_variables_take_the_fields_type_default_and_doc(tmp_path):
    module = json.loads((export_module("nextai", None, tmp_path) / "main.tf.json").read_text())
    for name in ("path", "permissions_boundary", "tags", "pgp_key"):
        declared = DEPLOYMENT_FIELDS[name]
        variable = {k: v for k, v in module["variable"][name].items() if k != "validation"}  # tags: tests/emit/test_module.py
        assert variable == {"type": declared.module_type, "default": declared.default, "description": declared.doc}
    assert DEPLOYMENT_FIELDS["user_name"].doc in module["variable"]["user_name"]["description"]
