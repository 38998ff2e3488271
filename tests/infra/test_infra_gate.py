"""The gate's rules on their own (infra/rollout/gate.py, policy.py, prometheus.py): figures in,
verdict out; the PromQL it sends; the HTTP API client's answers to errors. The same code against
a real Prometheus and two real services: tests/infra/test_infra_rollout_gate.py."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra import config
from infra.rollout import gate, policy
from infra.rollout.gate import Figures, Outcome
from infra.rollout.policy import GateThresholds
from infra.rollout.prometheus import Prometheus, PrometheusError

LIMITS = GateThresholds()


def figures(
    revision: str,
    requests: float = 1000,
    errors: float = 0,
    p95: float | None = 0.004,
    forged: float = 440,
    genuine: float = 560,
) -> Figures:
    return Figures(revision, requests, errors, p95, {"forged": forged, "genuine": genuine})


def check(verdict: gate.Verdict, metric: str) -> gate.Check:
    (found,) = [c for c in verdict.checks if c.metric == metric]
    return found


def test_a_canary_like_the_stable_passes_every_check() -> None:
    verdict = gate.judge(figures("c", 120, forged=54, genuine=66), figures("s"), LIMITS)
    assert verdict.outcome is Outcome.ACCEPT
    assert [c.metric for c in verdict.checks] == [
        "5xx share",
        "p95 latency",
        "share of predictions 'forged'",
        "share of predictions 'genuine'",
    ]
    assert all(c.passed for c in verdict.checks)


def test_the_5xx_share_may_exceed_the_stables_by_one_point() -> None:
    stable = figures("s", errors=5)  # 0.5 %
    ok = gate.judge(figures("c", 1000, errors=15), stable, LIMITS)  # 1.5 %: at the bound
    assert check(ok, "5xx share").passed
    bad = gate.judge(figures("c", 1000, errors=16), stable, LIMITS)
    errors = check(bad, "5xx share")
    assert bad.outcome is Outcome.REJECT
    assert (errors.canary, errors.stable, errors.threshold) == (0.016, 0.005, 0.015)
    assert gate.describe(errors, "rev-c", "rev-s") == (
        "5xx share: canary rev-c 1.60%, stable rev-s 0.50%, threshold 1.50%"
    )


def test_p95_allows_half_as_slow_again_or_25_ms_whichever_is_more() -> None:
    # Sub-millisecond figures: twice as slow, but within the 25 ms slack.
    fast = gate.judge(figures("c", p95=0.0016), figures("s", p95=0.0008), LIMITS)
    latency = check(fast, "p95 latency")
    assert latency.passed
    assert latency.threshold == pytest.approx(0.0258)
    # Slow figures: the ratio is the larger bound.
    slow = gate.judge(figures("c", p95=0.160), figures("s", p95=0.100), LIMITS)
    assert check(slow, "p95 latency").threshold == pytest.approx(0.150)
    assert not check(slow, "p95 latency").passed
    assert "p95 latency: canary c 160.0 ms, stable s 100.0 ms, threshold 150.0 ms" in (
        gate.describe(check(slow, "p95 latency"), "c", "s")
    )


def test_a_missing_latency_figure_is_a_failure_not_a_pass() -> None:
    verdict = gate.judge(figures("c", p95=None), figures("s"), LIMITS)
    assert verdict.outcome is Outcome.REJECT
    assert "no latency figures" in check(verdict, "p95 latency").rule


@pytest.mark.parametrize(("forged", "passed"), [(580, True), (600, False), (990, False)])
def test_class_shares_may_move_15_points(forged: float, passed: bool) -> None:
    # The stable calls 44 % forged; the canary 58 % (14 points), 60 % (16) or 99 %.
    canary = figures("c", forged=forged, genuine=1000 - forged)
    verdict = gate.judge(canary, figures("s"), LIMITS)
    assert check(verdict, "share of predictions 'forged'").passed is passed
    assert check(verdict, "share of predictions 'genuine'").passed is passed
    assert (verdict.outcome is Outcome.ACCEPT) is passed


def test_a_class_only_one_revision_predicts_counts_as_zero_for_the_other() -> None:
    canary = Figures("c", 1000, 0, 0.004, {"forged": 1000})
    verdict = gate.judge(canary, figures("s"), LIMITS)
    genuine = check(verdict, "share of predictions 'genuine'")
    assert (genuine.canary, genuine.stable, genuine.passed) == (0.0, 0.56, False)


@pytest.mark.parametrize(
    ("canary", "stable"),
    [(99, 1000), (1000, 99), (0, 0)],
)
def test_too_little_traffic_is_a_verdict_of_its_own(canary: float, stable: float) -> None:
    verdict = gate.judge(figures("c", canary), figures("s", stable), LIMITS)
    assert verdict.outcome is Outcome.NO_DATA
    assert verdict.checks == ()
    assert verdict.reason == (
        f"fewer than 100 prediction requests in the window (c {canary:.0f}, s {stable:.0f})"
    )


# -- the queries --------------------------------------------------------------------------------
def test_each_query_names_one_metric_and_both_revisions() -> None:
    # Azure Monitor's PromQL API refuses a query not scoped to a metric name (learn.microsoft.com
    # "Query Prometheus metrics using the API and PromQL", API limitations).
    queries = gate.queries("app--canary-1", "app--stable-0", 300)
    assert set(queries) == {"requests", "errors", "p95", "predictions"}
    for promql in queries.values():
        names = re.findall(r"([a-z_]+)\{", promql)
        assert len(names) == 1, promql
        assert 'revision=~"app--canary-1|app--stable-0"' in promql
        assert "[300s]" in promql
    assert "histogram_quantile(0.95, sum by (revision, le)" in queries["p95"]
    assert 'status=~"5.."' in queries["errors"]
    assert "route" not in queries["predictions"]  # counted per note, whatever the route


@pytest.mark.parametrize(
    ("route", "judged"),
    [
        ("/predict", True),
        ("/predict/batch", True),
        ("/v2/models/{model_name}/infer", True),  # the route template, as the label carries it
        ("/v2/models/banknote/versions/3/infer", True),
        ("/invocations", True),
        ("/health", False),
        ("/ready", False),
        ("/metrics", False),
        ("/model", False),
        ("/v2/models/banknote/ready", False),
        ("/predictions", False),
    ],
)
def test_prediction_routes_are_the_ones_users_score_notes_on(route: str, judged: bool) -> None:
    # PromQL regex matchers are fully anchored RE2 (prometheus.io "Querying basics": "Regex
    # matches are fully anchored"), as Python's fullmatch is for this pattern.
    assert (re.fullmatch(gate.PREDICTION_ROUTES, route) is not None) is judged


# -- the HTTP API client -----------------------------------------------------------------------
@contextmanager
def answering(status: int, body: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server on 127.0.0.1 that answers every POST with `status` and `body`."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            seen.append(
                {
                    "path": self.path,
                    "body": self.rfile.read(length).decode(),
                    "authorization": self.headers.get("Authorization", ""),
                    "content-type": self.headers.get("Content-Type", ""),
                }
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_is_a_form_post_with_the_bearer_token() -> None:
    answer = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"revision": "a"}, "value": [1.0, "12.5"]},
                {"metric": {"revision": "b"}, "value": [1.0, "NaN"]},
            ],
        },
    }
    with answering(200, answer) as (url, seen):
        samples = Prometheus(url + "/", token="entra-token").query("up", at=1700000000.5)  # noqa: S106
    assert [(s.labels, s.value) for s in samples[:1]] == [({"revision": "a"}, 12.5)]
    assert samples[1].value != samples[1].value  # NaN, as Prometheus spells it
    (request,) = seen
    assert request["path"] == "/api/v1/query"
    assert request["body"] == "query=up&time=1700000000.500"
    assert request["authorization"] == "Bearer entra-token"
    assert request["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, {"error": "forbidden"}, "answered 403 to a query (does the identity hold Monitoring"),
        (400, {"status": "error", "error": "parse error"}, "answered 400 to a query"),
        (200, {"status": "error", "error": "bad query"}, "failed: bad query"),
        (200, {"status": "success", "data": {"resultType": "matrix"}}, "gave a matrix"),
    ],
)
def test_errors_are_named(status: int, body: dict[str, Any], message: str) -> None:
    with (
        answering(status, body) as (url, _),
        pytest.raises(PrometheusError, match=re.escape(message)),
    ):
        Prometheus(url).query("up", at=0)


def test_an_unreachable_endpoint_is_an_error_not_a_hang() -> None:
    with pytest.raises(PrometheusError, match="cannot query"):
        Prometheus("http://127.0.0.1:9", timeout=2).query("up", at=0)


# -- the policy ---------------------------------------------------------------------------------
def test_the_defaults_and_what_the_steps_mean() -> None:
    rules = policy.RolloutPolicy()
    assert rules.steps == (0, 10, 50, 100)
    assert rules.judged_steps == (10, 50)
    assert rules.recheck_seconds == 75
    # The longest two judged steps may hold fit the job's tokens.
    assert len(rules.judged_steps) * rules.max_hold_seconds <= policy.MAX_TOTAL_HOLD_SECONDS
    # The same defaults through the stack config (Pulumi.yaml documents them).
    assert config.rollout_policy(lambda key: config.DEFAULTS[key]) == rules


@pytest.mark.parametrize(
    ("text", "steps"),
    [("0,100", (0, 100)), ("0, 5, 25, 100", (0, 5, 25, 100))],
)
def test_steps_parse(text: str, steps: tuple[int, ...]) -> None:
    assert policy.parse_steps(text) == steps
