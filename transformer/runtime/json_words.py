"""Why a text is not JSON, in words a user understands: the standard library's parser says
"Invalid control character at: line 1 column 41" for a line cut short inside a string; this says
"the line ends inside a string (column 41)". The column is always kept."""
from __future__ import annotations

import json

_CLOSERS = {"{": "}", "[": "]"}
_WITHIN = {  # the parser's message at a character inside the text -> the mistake there
    "Expecting value": "no JSON value starts here",
    "Expecting property name enclosed in double quotes": "a key must be a string in double quotes",
    "Expecting ':' delimiter": "a ':' must follow the key",
    "Expecting ',' delimiter": "a ',' must separate the items",
    "Extra data": "there is more text after the JSON value",
    "Invalid \\escape": "an invalid backslash escape",
    "Invalid control character at": "a raw control character (a tab, say) inside a string: write it as \\t or \\n",
    "Unterminated string starting at": "the string starting here never ends",
}


def json_problem(error: json.JSONDecodeError) -> str:
    """``error`` (from json.loads on one line or file) as a sentence with its line and column."""
    text = error.doc.rstrip(" \t\r\n")
    if error.pos >= len(text) or _ends_inside_string(error, text):
        return _cut_short(text, _where(text, len(text)))
    return f"{_WITHIN.get(error.msg, error.msg[:1].lower() + error.msg[1:])} ({_where(text, error.pos)})"


def _where(text: str, pos: int) -> str:
    """``column N`` (1-based, in characters), with the line when the text has more than one."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column}" if "\n" in text else f"column {column}"


def _ends_inside_string(error: json.JSONDecodeError, text: str) -> bool:
    """A string still open at the end: the parser calls the final line break a control character,
    or says the string never ends."""
    return error.msg in ("Invalid control character at", "Unterminated string starting at") and \
        _open_brackets(text)[1]


def _cut_short(text: str, where: str) -> str:
    closers, in_string = _open_brackets(text)
    noun = "text" if "\n" in text else "line"
    if not text:
        return f"the {noun} is empty: no JSON value"
    missing = ["'\"'"] if in_string else []
    missing += [repr(closer) for closer in closers]
    how = f"the {noun} ends inside a string" if in_string else f"the {noun} ends before the JSON is complete"
    return f"{how} ({where})" + (f": missing {' then '.join(missing)} at the end" if missing else "")


def _open_brackets(text: str) -> tuple[list[str], bool]:
    """The closing brackets still owed at the end of ``text``, innermost first, and whether a
    string is still open there."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif stack and char == stack[-1]:
            stack.pop()
    return stack[::-1], in_string
