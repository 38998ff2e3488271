"""The expression evaluator the pipeline simulation relies on agrees with GitHub's rules."""

from __future__ import annotations

import pytest

from tests.workflows.expressions import (
    ExpressionError,
    Status,
    condition_holds,
    evaluate,
    interpolate,
)

CONTEXT = {
    "github": {
        "event_name": "pull_request",
        "ref": "refs/pull/7/merge",
        "repository": "owner/repo",
        "event": {
            "action": "labeled",
            "label": {"name": "preview-stack"},
            "pull_request": {
                "number": 7,
                "labels": [{"name": "bug"}, {"name": "Preview-Stack"}],
                "head": {"repo": {"full_name": "owner/repo"}},
            },
        },
    },
    "inputs": {"run-id": ""},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("github.event_name == 'pull_request'", True),
        ("github.event_name != 'pull_request'", False),
        ("github.event.pull_request.head.repo.full_name == github.repository", True),
        ("contains(github.event.pull_request.labels.*.name, 'preview-stack')", True),
        ("contains(github.event.pull_request.labels.*.name, 'deploy')", False),
        ("github.event.missing.deeper == 'x'", False),
        ("!github.event.missing", True),
        ("inputs.run-id || github.ref", "refs/pull/7/merge"),
        ("github.ref && 'yes'", "yes"),
        ("(false || true) && !(1 == 2)", True),
        ("startsWith(github.ref, 'refs/pull/')", True),
        ("format('pr-{0}', github.event.pull_request.number)", "pr-7"),
        ("${{ github.event.action == 'LABELED' }}", True),
        ("'it''s'", "it's"),
        # docs.github.com "Evaluate expressions", format: "Escape curly braces using double
        # braces", e.g. format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat').
        ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "{Hello Mona the Octocat!}"),
        ("format('{{a: {{v: {0}}}}}', 'x')", "{a: {v: x}}"),
        # Loose equality: "If the types do not match, GitHub coerces the type to a number"
        # (null 0, false 0, true 1, '' 0, other strings parsed or NaN).
        ("null == false", True),
        ("'' == 0", True),
        ("'1' == 1", True),
        ("true == 1", True),
        ("'abc' == 0", False),
        ("inputs.missing != false", False),
        ("!inputs.missing", True),
    ],
)
def test_evaluate(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXT) == expected


def test_conditions_without_a_status_function_need_success() -> None:
    failed = Status(all_succeeded=False, any_failed=True)
    assert condition_holds("github.event_name == 'pull_request'", CONTEXT, Status())
    assert not condition_holds("github.event_name == 'pull_request'", CONTEXT, failed)
    assert not condition_holds(None, CONTEXT, failed)
    assert condition_holds("always() && github.event_name == 'pull_request'", CONTEXT, failed)
    assert condition_holds("failure()", CONTEXT, failed)
    assert not condition_holds("failure()", CONTEXT, Status())


def test_malformed_expressions_are_rejected() -> None:
    for text in ("github.ref ==", "(true", "unknown_fn(1)", "a ; b"):
        with pytest.raises(ExpressionError):
            evaluate(text, CONTEXT)


def test_interpolation_turns_values_into_strings_like_github() -> None:
    context = {**CONTEXT, "vars": {}}
    assert interpolate("pr-${{ github.event.pull_request.number }}", context) == "pr-7"
    assert interpolate("${{ vars.NOT_SET }}|${{ true }}|${{ 1 == 2 }}", context) == "|true|false"
