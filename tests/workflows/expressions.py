"""A small evaluator for GitHub Actions `if:` expressions, enough to simulate the pipeline.

Covers what job conditions use: literals, context paths (with `.*` object filters), `!`, `==`,
`!=`, `&&`, `||`, parentheses, and the functions contains, startsWith, endsWith, format and the
status checks (success, always, failure, cancelled). Semantics follow GitHub's documentation:
`&&`/`||` return an operand, string comparison ignores case, a missing property is null, and a
condition without a status function is implicitly `success() && (...)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|&&|\|\||<=|>=|[!().,\[\]*<>])|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success", "always", "failure", "cancelled")


class ExpressionError(ValueError):
    """The expression could not be parsed."""


@dataclass(frozen=True)
class Status:
    """Outcome of the needed jobs, for the status functions."""

    all_succeeded: bool = True
    any_failed: bool = False


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot parse {text[pos:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def truthy(value: Any) -> bool:
    """GitHub's truthiness: null, false, 0 and '' are false."""
    return value not in (None, False, 0, "")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: Status) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context
        self.status = status

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError("unexpected end of expression")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, got {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.unary()
        while self.peek() == "&&":
            self.take()
            right = self.unary()
            value = right if truthy(value) else value
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.comparison()

    def comparison(self) -> Any:
        left = self.primary()
        if self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.primary()
            return _equal(left, right) if op == "==" else not _equal(left, right)
        return left

    def primary(self) -> Any:
        kind, value = self.take()
        if value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value)
        if kind != "ident":
            raise ExpressionError(f"unexpected {value!r}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.peek() == "(":
            return self.call(value)
        return self.path(self.context.get(value))

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.or_())
            if self.peek() == ",":
                self.take()
        self.take(")")
        functions: dict[str, Callable[..., Any]] = {
            "success": lambda: self.status.all_succeeded,
            "always": lambda: True,
            "failure": lambda: self.status.any_failed,
            "cancelled": lambda: False,
            "contains": _contains,
            "startsWith": lambda a, b: str(a).lower().startswith(str(b).lower()),
            "endsWith": lambda a, b: str(a).lower().endswith(str(b).lower()),
            "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: str(a[int(m[1])]), f),
        }
        if name not in functions:
            raise ExpressionError(f"unknown function {name}()")
        return functions[name](*args)

    def path(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == "[":
                key = self.or_()
                self.take("]")
                value = value.get(key) if isinstance(value, Mapping) else None
                continue
            if self.peek() == "*":
                self.take()
                items = value.values() if isinstance(value, Mapping) else value or []
                value = _Filter(items)
                continue
            name = self.take()[1]
            if isinstance(value, _Filter):
                value = _Filter(item.get(name) for item in value.items if isinstance(item, Mapping))
            else:
                value = value.get(name) if isinstance(value, Mapping) else None
        return value.items if isinstance(value, _Filter) else value


class _Filter:
    """The list an object filter (`labels.*.name`) produces."""

    def __init__(self, items: Any) -> None:
        self.items = list(items)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return str(needle).lower() in str(haystack).lower()


def strip_braces(text: str) -> str:
    """`${{ x }}` -> `x`; a condition may be written either way."""
    text = text.strip()
    if text.startswith("${{") and text.endswith("}}"):
        return text[3:-2].strip()
    return text


def evaluate(text: str, context: Mapping[str, Any], status: Status = Status()) -> Any:
    """The value of an expression (without implicit success())."""
    return _Parser(strip_braces(text), context, status).parse()


def condition_holds(
    condition: str | bool | None, context: Mapping[str, Any], status: Status
) -> bool:
    """Whether a job or step `if:` lets it run, including the implicit success() rule."""
    if condition is None:
        return status.all_succeeded
    if isinstance(condition, bool):
        return condition and status.all_succeeded
    text = strip_braces(condition)
    if not uses_status_function(text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, status))


def uses_status_function(text: str) -> bool:
    """Whether a condition calls success(), always(), failure() or cancelled()."""
    return any(re.search(rf"\b{name}\s*\(", text) for name in STATUS_FUNCTIONS)
