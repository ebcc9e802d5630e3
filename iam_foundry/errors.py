"""Errors a user can act on: each names the input at fault and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from iam_foundry.emit.tfjson import readable


@dataclass(frozen=True)
class Problem:
    """One bad input: where it is, what is wrong, how to fix it."""

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        # Rendered documents hold expression tokens; show them as the ${...} they stand for.
        return readable(f"{text} (fix: {self.fix})" if self.fix else text)


class FoundryError(Exception):
    """A failure the user can fix; carries one or more problems."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems = [p if isinstance(p, Problem) else Problem("iam-foundry", p) for p in problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(FoundryError):
    """The config file is wrong."""


class PolicyError(FoundryError):
    """A policy template, addendum or rendered document is wrong."""
