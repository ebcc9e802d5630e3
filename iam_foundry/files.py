"""Reading the files a user or a profile gives: text, JSON and HCL, one Problem per fault, never a traceback.

Every JSON file the project reads goes through `read_json`, which refuses duplicate keys: Python's
json keeps the last value, so `"Effect": "Deny"` followed by `"Effect": "Allow"` would silently
become Allow.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_foundry.errors import FoundryError, PolicyError, Problem


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read_text(path: Path, error: type[FoundryError] = PolicyError, what: str = "file",
              missing_fix: str = "check the path") -> str:
    """A UTF-8 text file's content; a BOM (as some Windows editors write) is dropped."""
    if path.is_dir():
        raise error(Problem(str(path), f"is a directory, not a {what}", f"give the path of the {what} itself"))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(Problem(str(path), f"{what} not found", missing_fix)) from None
    except OSError as err:
        raise error(Problem(str(path), f"cannot be read: {err.strerror}", "check the path and its permissions")) from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # what Windows PowerShell's ">" writes
        raise error(Problem(str(path), "UTF-16 text, not UTF-8", f"save the {what} as UTF-8"))
    if b"\x00" in data:  # UTF-8 text never holds NUL; this is an image, archive, ...
        line, column = _position(data.decode("latin-1"), data.index(b"\x00"))
        raise error(Problem(f"{path}:{line}:{column}", f"a binary file, not a {what}", f"give the path of the {what} (UTF-8 text)"))
    data = data.removeprefix(b"\xef\xbb\xbf")  # positions below then count from the first character
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[:err.start].decode("utf-8", "replace")
        line, column = _position(before, len(before))
        raise error(Problem(f"{path}:{line}:{column}", f"not UTF-8 text (byte 0x{data[err.start]:02x})",
                            f"save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name}")) from None


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise _DuplicateKey
    return dict(pairs)


@dataclass(frozen=True)
class _Duplicate:
    key: str
    index: int  # where the repeated key starts
    first: int  # where its first occurrence starts


def _find_duplicates(text: str) -> list[_Duplicate]:
    """Parse again with the pure-Python scanner, which lets us see where each key starts."""
    found: list[_Duplicate] = []
    whitespace = json.decoder.WHITESPACE

    def parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, object_hook: Any,
                     object_pairs_hook: Any, memo: Any = None) -> tuple[dict[str, Any], int]:
        s, start = s_and_end
        value_ends: list[int] = []

        def scan_value(string: str, index: int) -> tuple[Any, int]:
            value, end = scan_once(string, index)
            value_ends.append(end)
            return value, end

        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_value, None, lambda p: p, memo)
        seen: dict[str, int] = {}
        for number, (key, _) in enumerate(pairs):
            # A key starts after "{" or after the previous value and its comma.
            index = whitespace.match(s, start if number == 0 else value_ends[number - 1]).end()
            if number:
                index = whitespace.match(s, index + 1).end()
            if key in seen:
                found.append(_Duplicate(key, index, seen[key]))
            else:
                seen[key] = index
        return dict(pairs), end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    decoder.decode(text)
    return sorted(found, key=lambda d: d.index)


def parse_json(text: str, where: str) -> Any:
    """JSON from text; a syntax error or a duplicate key names where:line:column."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as err:
        raise PolicyError(
            Problem(f"{where}:{err.lineno}:{err.colno}", f"malformed JSON: {err.msg}", "fix the JSON syntax at that line")
        ) from None
    except _DuplicateKey:
        pass
    problems = []
    for duplicate in _find_duplicates(text):
        line, column = _position(text, duplicate.index)
        first_line, _ = _position(text, duplicate.first)
        problems.append(Problem(f"{where}:{line}:{column}",
                                f"duplicate key '{duplicate.key}' (also on line {first_line}); JSON readers keep only one of them",
                                f"keep a single '{duplicate.key}' in that object"))
    raise PolicyError(problems)


def read_json(path: Path) -> Any:
    """Parse a JSON file; any fault names the file, line and column."""
    return parse_json(read_text(path, what="JSON file"), str(path))


# HCL brackets, strings, comments and heredocs, for finding the bracket that is never closed.
_HCL_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"?|#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z)|<<-?\s*([A-Za-z_]\w*)\n|[{}\[\]()]', re.S)
_CLOSING = {"}": "{", "]": "[", ")": "("}


def unbalanced_bracket(text: str) -> tuple[int, int, str] | None:
    """(line, column, message) of the bracket that breaks an HCL file's balance, or None if balanced.

    A parser reports such a fault where it gives up (often the end of the file); the bracket itself
    is what the user must fix. A closing bracket that is indented unlike its opener's line points
    at an opener that was probably left open inside it.
    """
    stack: list[int] = []
    suspect: int | None = None  # opener whose closer is indented unlike its line: probably left open
    lines = text.split("\n")

    def indent(index: int) -> int:
        line = lines[_position(text, index)[0] - 1]
        return len(line) - len(line.lstrip())

    index = 0
    while True:
        match = _HCL_TOKEN.search(text, index)
        if not match:
            break
        token, index = match.group(0), match.end()
        if match.group(1):  # heredoc: skip to its closing marker
            end = re.compile(rf"^\s*{re.escape(match.group(1))}\s*$", re.M).search(text, index)
            index = end.end() if end else len(text)
        elif token in "{[(":
            stack.append(match.start())
        elif token in _CLOSING:
            if not stack or text[stack[-1]] != _CLOSING[token]:
                opener = suspect if suspect is not None else (stack[-1] if stack else None)
                if opener is None:
                    line, column = _position(text, match.start())
                    return line, column, f"'{token}' closes nothing"
                line, column = _position(text, opener)
                return line, column, f"'{text[opener]}' is not closed (a '{token}' comes first at line {_position(text, match.start())[0]})"
            opener = stack.pop()
            closer_line = lines[_position(text, match.start())[0] - 1]
            first_on_line = closer_line.strip().startswith(token)
            if (suspect is None and first_on_line and _position(text, opener)[0] != _position(text, match.start())[0]
                    and indent(opener) > indent(match.start())):
                suspect = opener
    if not stack:
        return None
    opener = suspect if suspect is not None else stack[-1]
    line, column = _position(text, opener)
    return line, column, f"'{text[opener]}' is never closed"
