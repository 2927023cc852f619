"""The server's reading of a query string: a workergroup's ``search_params``.

The official client sends ``search_params`` as the string the user wrote (vastai/api/endpoints.py:
223-230), so the server parses it. Nothing documents how; modelled on the one parser Vast publishes,
the CLI's (vastai/api/query.py ``parse_query``, called with ``offers_fields``, ``offers_alias``,
``offers_mult``), and pinned to it by recorded examples (tests/data/parse_query_examples.json):

>>> parse("gpu_name=RTX_4090 num_gpus>=2 gpu_ram>=24 geolocation in [SE,NO]")
{'gpu_name': {'eq': 'RTX 4090'}, 'num_gpus': {'gte': '2'}, 'gpu_ram': {'gte': 24000.0}, \
'geolocation': {'in': ['SE', 'NO']}}

Terms are ``field op value``, separated by spaces. Operators are symbols (``= == != > >= < <=``) or
words between spaces (``eq neq noteq "not eq" gt gte lt lte in notin nin "not in"``). A value is a
``[list]``, a ``"quoted string"`` or a word. In values ``_`` means a space; a single ``true``,
``false``, ``null`` (or ``True``, ``False``, ``None``) is a JSON value and numbers stay strings;
``gpu_ram``/``cpu_ram``/``gpu_total_ram`` are given in GB and ``duration`` in days, stored in MB and
seconds; a dotted ``driver_version`` becomes a number; ``any``, ``*`` or ``?`` after ``=`` removes the
field's filter. Field names are not checked here: the caller decides what it accepts.
"""

from __future__ import annotations

from typing import Any

from vast_pulumi.emulator.matching import field_name

__all__ = ["ParseError", "parse"]


class ParseError(ValueError):
    """A query string that does not follow the grammar."""


_UNIT_FACTORS = {"gpu_ram": 1000.0, "cpu_ram": 1000.0, "gpu_total_ram": 1000.0, "duration": 86400.0}
_SYMBOLS = {"=": "eq", "==": "eq", "!=": "neq", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
# Longest first, so "not in" is not read as "not" followed by "in".
_WORDS = {
    "not in": "notin",
    "not eq": "neq",
    "notin": "notin",
    "noteq": "neq",
    "nin": "notin",
    "neq": "neq",
    "gte": "gte",
    "lte": "lte",
    "in": "in",
    "eq": "eq",
    "gt": "gt",
    "lt": "lt",
}
_FIELD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SYMBOL_CHARACTERS = frozenset("=<>!")
_REMOVES_FILTER = frozenset({"any", "*", "?"})
_CONSTANTS: dict[str, Any] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "null": None,
    "None": None,
}


def parse(text: str) -> dict[str, dict[str, Any]]:
    """``"num_gpus>=2 dph<1"`` -> ``{"num_gpus": {"gte": "2"}, "dph_total": {"lt": "1"}}``."""
    query: dict[str, dict[str, Any]] = {}
    for field, op, raw in _Scanner(text.strip()).terms():
        _add(query, field_name(field), op, raw)
    return query


class _Scanner:
    """Splits a query into ``(field, operator, raw value)`` terms, refusing text that is none."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def terms(self) -> list[tuple[str, str, str]]:
        found = []
        while self.at < len(self.text):
            field = self._run(_FIELD_CHARACTERS)
            if not field:
                raise ParseError(f"cannot read a field at {self.text[self.at :]!r}; quote values with spaces")
            op = self._operator()
            self._run(frozenset(" "))
            found.append((field, op, self._value()))
            self._run(frozenset(" "))
        return found

    def _run(self, allowed: frozenset[str]) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] in allowed:
            self.at += 1
        return self.text[start : self.at]

    def _operator(self) -> str:
        start = self.at
        self._run(frozenset(" "))
        symbols = self._run(_SYMBOL_CHARACTERS)
        if symbols:
            return symbols
        if self.at > start:  # a word operator stands between spaces
            rest = self.text[self.at :]
            for word in _WORDS:
                if rest.startswith(word + " "):
                    self.at += len(word) + 1
                    return word
        self.at = start
        return ""

    def _value(self) -> str:
        rest = self.text[self.at :]
        for opening, closing in (("[", "]"), ('"', '"')):
            end = rest.find(closing, 1)
            if rest.startswith(opening) and end > 1:
                self.at += end + 1
                return rest[: end + 1]
        word = rest.split(" ", 1)[0]
        self.at += len(word)
        return word


def _add(query: dict[str, dict[str, Any]], field: str, op: str, raw: str) -> None:
    value: Any = raw.strip(",[]")
    if field == "driver_version" and "." in value:
        value = _driver_version(value)
    name = _SYMBOLS.get(op) or _WORDS.get(op)
    if name is None:
        raise ParseError(f"{field}: unknown operator {op!r}")
    if name in ("in", "notin"):
        if not isinstance(value, str):
            raise ParseError(f"{field}: a list cannot hold dotted versions")
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not value:
        raise ParseError(f"{field}: the value is blank")
    if isinstance(value, str) and value in _REMOVES_FILTER:
        if name != "eq":
            raise ParseError(f"{field}: {value!r} only works with =")
        query.pop(field, None)
        return
    query.setdefault(field, {})[name] = _convert(field, value)


def _convert(field: str, value: Any) -> Any:
    if isinstance(value, list):
        value = [_text(item) for item in value]
    elif isinstance(value, str):
        value = _text(value)
    if field in _UNIT_FACTORS:
        if not isinstance(value, str):
            raise ParseError(f"{field}: expected one number")
        try:
            return float(value) * _UNIT_FACTORS[field]
        except ValueError:
            raise ParseError(f"{field}: {value!r} is not a number") from None
    if isinstance(value, str):
        return _CONSTANTS.get(value, value)
    return value


def _text(value: str) -> str:
    return value.replace("_", " ").strip('"')


def _driver_version(text: str) -> int:
    parts = text.split(".")
    if len(parts) != 3:
        raise ParseError(f"driver_version: {text!r} is not of the form X.Y.Z")
    try:
        return int("".join(part.zfill(3) for part in parts))
    except ValueError:
        raise ParseError(f"driver_version: {text!r} is not of the form X.Y.Z") from None
