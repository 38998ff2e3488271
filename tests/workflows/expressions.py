"""A small evaluator for GitHub Actions `if:` expressions, enough to simulate the pipeline.

Covers what job conditions use: literals, context paths (with `.*` object filters), `!`, `==`,
`!=`, `&&`, `||`, parentheses, and the functions contains, startsWith, endsWith, format and the
status checks (success, always, failure, cancelled). Semantics follow GitHub's documentation
("Evaluate expressions in workflows and actions"): `&&`/`||` return an operand, `==` is loose
(strings ignore case, other types are coerced to numbers: `null == false`), a missing property
is null, format() takes `{{`/`}}` as literal braces, and a condition without a status function
is implicitly `success() && (...)`.
"""

from __future__ import annotations

import math
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
    """Outcome of the needed jobs (or of the job's earlier steps), for the status functions.

    docs.github.com "Evaluate expressions in workflows and actions", status check functions:
    success() is true when nothing before failed and the run was not cancelled; failure() when
    something before failed; cancelled() when the workflow was cancelled; always() always.
    """

    all_succeeded: bool = True
    any_failed: bool = False
    cancelled: bool = False


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


def _number(value: Any) -> float:
    """GitHub's coercion to a number: null 0, false 0, true 1, a string parsed (else NaN)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan  # arrays and objects


def _equal(left: Any, right: Any) -> bool:
    """Loose equality (docs.github.com "Evaluate expressions", Operators): strings compare
    ignoring case; values of different types are both coerced to numbers first, so that
    `null == false` and `'' == 0` hold, and NaN equals nothing."""
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) and not isinstance(left, int | float):
        return bool(left == right)
    a, b = _number(left), _number(right)
    return not math.isnan(a) and not math.isnan(b) and a == b


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
            "success": lambda: self.status.all_succeeded and not self.status.cancelled,
            "always": lambda: True,
            "failure": lambda: self.status.any_failed,
            "cancelled": lambda: self.status.cancelled,
            "contains": _contains,
            "startsWith": lambda a, b: str(a).lower().startswith(str(b).lower()),
            "endsWith": lambda a, b: str(a).lower().endswith(str(b).lower()),
            "format": _format,
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


def _format(template: str, *args: Any) -> str:
    """format(): `{N}` is the N-th argument as a string, `{{` and `}}` are literal braces."""
    return re.sub(
        r"\{\{|\}\}|\{(\d+)\}",
        lambda m: to_string(args[int(m[1])]) if m[1] else m[0][0],
        template,
    )


def to_string(value: Any) -> str:
    """How GitHub turns a value into a string: null '', booleans 'true'/'false'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
        return status.all_succeeded and not status.cancelled
    if isinstance(condition, bool):
        return condition and status.all_succeeded and not status.cancelled
    text = strip_braces(condition)
    if not uses_status_function(text):
        text = f"success() && ({text})"
    return truthy(evaluate(text, context, status))


def uses_status_function(text: str) -> bool:
    """Whether a condition calls success(), always(), failure() or cancelled()."""
    return any(re.search(rf"\b{name}\s*\(", text) for name in STATUS_FUNCTIONS)


def interpolate(text: str, context: Mapping[str, Any], status: Status = Status()) -> str:
    """A string with every `${{ expression }}` replaced by its value, as in `env:` and `with:`.

    An expression ends at the first `}}` outside a string literal, so literals may hold braces.
    """
    out, pos = [], 0
    while (start := text.find("${{", pos)) != -1:
        out.append(text[pos:start])
        index, quoted = start + 3, False
        while index < len(text):
            if text[index] == "'":
                quoted = not quoted  # '' inside a literal toggles twice: still quoted
            elif not quoted and text.startswith("}}", index):
                break
            index += 1
        else:
            raise ExpressionError(f"unterminated expression in {text!r}")
        out.append(to_string(_Parser(text[start + 3 : index], context, status).parse()))
        pos = index + 2
    out.append(text[pos:])
    return "".join(out)
