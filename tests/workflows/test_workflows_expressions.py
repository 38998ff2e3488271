"""The expression evaluator the pipeline simulation relies on agrees with GitHub's rules."""

from __future__ import annotations

import pytest

from tests.workflows.expressions import ExpressionError, Status, condition_holds, evaluate

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
