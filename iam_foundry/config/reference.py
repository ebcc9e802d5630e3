"""The README's config reference, generated from the field declarations (fields.py, backends.py).

`make readme` rewrites it; tests/config/test_readme_fields.py fails when the README's copy is stale.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from iam_foundry.config.backends import BACKENDS, TYPE_FIELD
from iam_foundry.config.fields import (
    ASSUME_ROLE_FIELDS,
    DEPLOYMENT_FIELDS,
    LINT_ACCEPTANCE_FIELDS,
    LOCALSTACK_FIELDS,
    TOP_LEVEL_FIELDS,
    Field,
)

README_FIELDS_START = "<!-- generated from iam_foundry/config/fields.py and backends.py: edit there, then run `make readme` -->\n"
README_FIELDS_END = "<!-- end of generated config reference -->\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe would end the table cell


def fields_markdown(fields: Iterable[Field], owner: Mapping[str, str] | None = None) -> str:
    """One table of fields; `owner` adds a column (the backend type a field belongs to)."""
    fields = list(fields)
    if owner is None:
        rows = ["| field | default | meaning |", "|---|---|---|"]
        rows += [f"| `{f.name}` | {_cell(f.default_doc)} | {_cell(f.doc)} |" for f in fields]
    else:
        rows = ["| field | backend | default | meaning |", "|---|---|---|---|"]
        rows += [f"| `{f.name}` | {owner[f.name]} | {_cell(f.default_doc)} | {_cell(f.doc)} |" for f in fields]
    return "\n".join(rows) + "\n"


def backend_fields_markdown() -> str:
    owner = {TYPE_FIELD.name: "all"}
    fields = [TYPE_FIELD]
    for backend in BACKENDS.values():
        for declared in backend.FIELDS.values():
            if declared.name in owner:
                owner[declared.name] += f", `{backend.type}`"
            else:
                owner[declared.name] = f"`{backend.type}`"
                fields.append(declared)
    return fields_markdown(fields, owner)


def deployment_fields_markdown() -> str:
    """The deployment field table (the longest; the exported modules' variables share its docs)."""
    return fields_markdown(DEPLOYMENT_FIELDS.values())


def reference_markdown() -> str:
    """Every table of the config file, in the order a file is written."""
    return "\n".join([
        "Top level:\n", fields_markdown(TOP_LEVEL_FIELDS.values()),
        "`[localstack]`:\n", fields_markdown(LOCALSTACK_FIELDS.values()),
        "`[backend]`: `type`, then that type's fields (a field of another type is checked, then ignored):\n",
        backend_fields_markdown(),
        "`[[deployments]]` (all optional except `name` and `profile`):\n", deployment_fields_markdown(),
        "A deployment's `assume_role` table:\n", fields_markdown(ASSUME_ROLE_FIELDS.values()),
        "Each entry of a deployment's `lint_accepted`:\n", fields_markdown(LINT_ACCEPTANCE_FIELDS.values()),
    ])


def readme_with_fields(text: str) -> str:
    """The README with its generated reference replaced by the current one."""
    head, found, rest = text.partition(README_FIELDS_START)
    if not found:
        raise ValueError(f"the README has no {README_FIELDS_START.strip()} marker")
    _, _, tail = rest.partition(README_FIELDS_END)
    return head + README_FIELDS_START + reference_markdown() + README_FIELDS_END + tail
