"""The README's deployment field table and the exported modules' variables come from one declaration."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from iam_foundry.config.model import (
    DEPLOYMENT_FIELDS,
    README_FIELDS_END,
    README_FIELDS_START,
    deployment_fields_markdown,
    parse_config,
)
from iam_foundry.emit.module import export_module
from iam_foundry.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_field_reference_is_current():
    text = README.read_text()
    assert README_FIELDS_START in text and README_FIELDS_END in text
    table = text.split(README_FIELDS_START, 1)[1].split(README_FIELDS_END, 1)[0]
    assert table == deployment_fields_markdown(), "README's deployment field table is stale: run `make readme`"


def test_every_field_the_parser_reads_is_declared():
    """An undeclared key is an unknown field to the parser, so the table is the parser's whole list."""
    raw = {"region": "us-east-1", "localstack": {"enabled": False},
           "deployments": [{"name": "d", "profile": "nextai", "account_id": "123456789012", "zzz_not_a_field": 1}]}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    (problem,) = err.value.problems
    assert problem.message == "unknown field"
    assert ast.literal_eval(problem.fix.split("known fields: ", 1)[1]) == sorted(DEPLOYMENT_FIELDS)


def test_module_variables_take_the_fields_type_default_and_doc(tmp_path):
    module = json.loads((export_module("nextai", None, tmp_path) / "main.tf.json").read_text())
    for name in ("path", "permissions_boundary", "tags", "pgp_key"):
        declared = DEPLOYMENT_FIELDS[name]
        variable = {k: v for k, v in module["variable"][name].items() if k != "validation"}  # tags: tests/emit/test_module.py
        assert variable == {"type": declared.module_type, "default": declared.default, "description": declared.doc}
    assert DEPLOYMENT_FIELDS["user_name"].doc in module["variable"]["user_name"]["description"]
