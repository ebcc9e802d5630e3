"""A policy document and a reference to one of its statements (shared by the evaluator and principals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from iam_foundry.policy.elements import as_list


@dataclass(frozen=True)
class StatementRef:
    """Which statement decided: the policy's name, the statement's Sid (or its index), its source file."""

    policy: str
    sid: str
    source: str = ""

    def __str__(self) -> str:
        return f"{self.policy}/{self.sid}" + (f" ({self.source})" if self.source else "")


@dataclass(frozen=True, eq=False)
class PolicyDocument:
    """One IAM policy document as AWS stores it, with where its statements came from."""

    name: str
    document: Mapping[str, Any]
    source: str = ""                                           # file the policy came from
    sources: Mapping[str, str] = field(default_factory=dict)   # Sid -> file, when statements come from several (addenda)

    def statements(self) -> list[tuple[StatementRef, Mapping[str, Any]]]:
        raw = self.document.get("Statement", [])
        raw = as_list(raw)
        result = []
        for index, statement in enumerate(raw):
            sid = statement.get("Sid") or f"Statement[{index}]"
            result.append((StatementRef(self.name, sid, self.sources.get(sid, self.source)), statement))
        return result
