"""Where plan values become Terraform JSON: user text reaches Terraform literally.

Terraform evaluates every JSON string as a template, so a tag value `${file("notes.txt")}` or a
policy variable `${aws:username}` would be interpolated. Plan values therefore stay plain text, and
the project's own expressions (references such as `aws_iam_user.user.arn`, the caller's account id)
are handed around as tokens made by `expr()`. `to_terraform()` is applied once, where blocks are
written: it escapes `${` and `%{` in all text and turns each token back into a live `${...}`.

A token carries a per-process random nonce, so no user input can forge one, and only ASCII letters,
digits and `${#}`, so it survives `json.dumps` (policy documents are JSON inside JSON) unchanged.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

_NONCE = secrets.token_hex(6)
# Token -> expression; the same expression always gets the same token.
_EXPRESSIONS: dict[str, str] = {}
_TOKENS: dict[str, str] = {}
TOKEN = re.compile(r"\$\{tf" + _NONCE + r"#(\d+)\}")
_HCL_ESCAPES = {"b": "\\u0008", "f": "\\u000c"}


def expr(expression: str) -> str:
    """A live Terraform expression (without `${ }`), as a token that may be embedded in any text."""
    token = _TOKENS.get(expression)
    if token is None:
        token = f"${{tf{_NONCE}#{len(_EXPRESSIONS)}}}"
        _TOKENS[expression] = token
        _EXPRESSIONS[token] = expression
    return token


def escape(text: str) -> str:
    """Literal text for a Terraform template: `${` and `%{` are doubled so Terraform passes them through."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _template(text: str) -> str:
    """Escape the text around tokens; turn each token into its live `${expression}`."""
    pieces: list[str] = []
    last = 0
    for match in TOKEN.finditer(text):
        pieces.append(escape(text[last:match.start()]))
        pieces.append("${" + _EXPRESSIONS[match.group(0)] + "}")
        last = match.end()
    pieces.append(escape(text[last:]))
    return "".join(pieces)


def to_terraform(value: Any) -> Any:
    """A plan value (dicts, lists, strings, scalars) as Terraform JSON; keys are the project's own names."""
    if isinstance(value, str):
        return _template(value)
    if isinstance(value, dict):
        return {key: to_terraform(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_terraform(item) for item in value]
    return value


def hcl_literal(value: Any) -> str:
    """A value written into the source of a Terraform expression (e.g. inside jsonencode(...)): JSON
    syntax, which HCL accepts, with strings as templates holding escaped text and live tokens."""
    text = json.dumps(value, separators=(",", ":"))
    # JSON's \b and \f are not HCL escapes; each `\x` pair is consumed left to right, so `\\b` stays.
    text = re.sub(r"\\(.)", lambda m: _HCL_ESCAPES.get(m.group(1), m.group(0)), text)
    return _template(text)


def readable(text: str) -> str:
    """Tokens shown as the `${expression}` they stand for (for messages to the user)."""
    return TOKEN.sub(lambda m: "${" + _EXPRESSIONS[m.group(0)] + "}", text)


def expression_of(token: str) -> str | None:
    """The Terraform expression a token stands for (None for text that is no token)."""
    return _EXPRESSIONS.get(token)


def measured(text: str, stand_in: str) -> str:
    """Text with every token replaced by a stand-in (for measuring sizes IAM will see)."""
    return TOKEN.sub(stand_in, text)


def readable_expression(token: str) -> str:
    """The expression a whole token stands for (to build a larger expression around it)."""
    match = TOKEN.fullmatch(token)
    if match is None:
        raise ValueError(f"not an expression token: {token!r}")
    return _EXPRESSIONS[match.group(0)]
