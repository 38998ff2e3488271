"""The gate of one rollout step: the canary's own figures next to the stable revision's, over the
same window, and the verdict.

Figures come from the series every replica ships, each labelled with its `revision`
(the monitoring sidecar adds it): `http_requests_total{method,route,status}`,
`http_request_duration_seconds_bucket{method,route,le}` and `predictions_total{prediction}`.
Requests and latency count prediction routes only (`PREDICTION_ROUTES`): the platform's
liveness and readiness probes hit every replica every few seconds whatever the users do, and
would dilute the error share and the latency of what users ask for. The standard protocols'
routes are prediction routes too: Open Inference Protocol v2's `/v2/models/{name}/infer` (and
its versioned form) and MLflow's `/invocations`. The route label is the route's template, as
FastAPI matched it (api/middleware/observe.py), so `{model_name}` appears literally and `[^/]+`
matches it.

`judge` is pure: figures in, verdict out. Too little traffic is a verdict of its own
(`NO_DATA`), never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from infra.rollout.policy import GateThresholds
from infra.rollout.prometheus import Prometheus, finite

PREDICTION_ROUTES: Final = (
    r"/predict|/predict/batch|/v2/models/[^/]+(/versions/[^/]+)?/infer|/invocations"
)
QUANTILE: Final = 0.95


class Outcome(Enum):
    """What a step's judgement says."""

    ACCEPT = "pass"
    REJECT = "fail"
    NO_DATA = "too little traffic"


@dataclass(frozen=True)
class Figures:
    """One revision's numbers over the window (counts are Prometheus increases: fractional)."""

    revision: str
    requests: float = 0.0  # prediction requests answered
    errors: float = 0.0  # of which 5xx
    p95_seconds: float | None = None  # None: no latency observed
    predictions: dict[str, float] = field(default_factory=dict)  # by class

    @property
    def error_share(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def class_share(self, name: str) -> float:
        total = sum(self.predictions.values())
        return self.predictions.get(name, 0.0) / total if total else 0.0


@dataclass(frozen=True)
class Check:
    """One metric compared: both revisions' values, the bound the canary's must meet."""

    metric: str
    canary: float
    stable: float
    threshold: float
    rule: str  # how the threshold follows from the stable's value and the config
    passed: bool
    unit: str = "share"  # share (shown as %) or seconds


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one window."""

    outcome: Outcome
    checks: tuple[Check, ...] = ()
    reason: str = ""

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)


def selector(revisions: Sequence[str], routes: bool = True) -> str:
    """A label matcher for these revisions (their names are letters, digits and '-' only)."""
    matchers = [f'revision=~"{"|".join(revisions)}"']
    if routes:
        matchers.append(f'route=~"{PREDICTION_ROUTES}"')
    return ",".join(matchers)


def queries(canary: str, stable: str, window_seconds: int) -> dict[str, str]:
    """The PromQL for each figure, both revisions at once, grouped by revision."""
    pair = (canary, stable)
    window = f"[{window_seconds}s]"
    requests = f"http_requests_total{{{selector(pair)}}}"
    errors = f'http_requests_total{{{selector(pair)},status=~"5.."}}'
    buckets = f"http_request_duration_seconds_bucket{{{selector(pair)}}}"
    predictions = f"predictions_total{{{selector(pair, routes=False)}}}"
    return {
        "requests": f"sum by (revision) (increase({requests}{window}))",
        "errors": f"sum by (revision) (increase({errors}{window}))",
        "p95": (
            f"histogram_quantile({QUANTILE}, sum by (revision, le) (increase({buckets}{window})))"
        ),
        "predictions": f"sum by (revision, prediction) (increase({predictions}{window}))",
    }


def measure(
    source: Prometheus, canary: str, stable: str, window_seconds: int, at: float
) -> tuple[Figures, Figures]:
    """Both revisions' figures over the `window_seconds` before `at`."""
    pair = (canary, stable)
    found = {
        name: source.query(promql, at) for name, promql in queries(*pair, window_seconds).items()
    }

    def value(name: str, revision: str) -> float | None:
        values = [s.value for s in found[name] if s.labels.get("revision") == revision]
        return values[0] if values else None

    def figures(revision: str) -> Figures:
        p95 = value("p95", revision)
        return Figures(
            revision=revision,
            requests=value("requests", revision) or 0.0,
            errors=value("errors", revision) or 0.0,
            p95_seconds=None if p95 is None else finite(p95),
            predictions={
                s.labels.get("prediction", ""): s.value
                for s in found["predictions"]
                if s.labels.get("revision") == revision
            },
        )

    return figures(canary), figures(stable)


def judge(canary: Figures, stable: Figures, limits: GateThresholds) -> Verdict:
    """Pass, fail or too little traffic, with every check's figures."""
    short = [f for f in (canary, stable) if f.requests < limits.min_requests]
    if short:
        counts = ", ".join(f"{f.revision} {f.requests:.0f}" for f in (canary, stable))
        return Verdict(
            Outcome.NO_DATA,
            reason=(
                f"fewer than {limits.min_requests} prediction requests in the window ({counts})"
            ),
        )
    checks = [_errors(canary, stable, limits), _latency(canary, stable, limits)]
    classes = sorted(set(canary.predictions) | set(stable.predictions))
    checks += [_class_share(name, canary, stable, limits) for name in classes]
    outcome = Outcome.ACCEPT if all(c.passed for c in checks) else Outcome.REJECT
    return Verdict(outcome, tuple(checks))


def _errors(canary: Figures, stable: Figures, limits: GateThresholds) -> Check:
    threshold = stable.error_share + limits.max_5xx_increase
    return Check(
        "5xx share",
        canary.error_share,
        stable.error_share,
        threshold,
        f"at most the stable's + {limits.max_5xx_increase:.2%}",
        canary.error_share <= threshold,
    )


def _latency(canary: Figures, stable: Figures, limits: GateThresholds) -> Check:
    rule = (
        f"at most the stable's x {limits.p95_ratio:g} or + {limits.p95_slack_seconds * 1000:g} ms"
    )
    if canary.p95_seconds is None or stable.p95_seconds is None:
        # Requests were counted, so their latencies were too: a missing quantile means the
        # histogram did not reach the workspace, and nothing is promoted on a missing figure.
        return Check("p95 latency", _nan(canary.p95_seconds), _nan(stable.p95_seconds), 0.0,
                     rule + " (no latency figures)", False, "seconds")  # fmt: skip
    threshold = max(
        stable.p95_seconds * limits.p95_ratio, stable.p95_seconds + limits.p95_slack_seconds
    )
    return Check("p95 latency", canary.p95_seconds, stable.p95_seconds, threshold, rule,
                 canary.p95_seconds <= threshold, "seconds")  # fmt: skip


def _class_share(name: str, canary: Figures, stable: Figures, limits: GateThresholds) -> Check:
    ours, theirs = canary.class_share(name), stable.class_share(name)
    return Check(
        f"share of predictions {name!r}",
        ours,
        theirs,
        limits.max_class_shift,
        f"within {limits.max_class_shift * 100:g} points of the stable's share",
        abs(ours - theirs) <= limits.max_class_shift,
    )


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def show(check: Check, value: float) -> str:
    """A figure as people read it: a share in %, a latency in ms."""
    if value != value:  # NaN
        return "none"
    if check.unit == "seconds":
        return f"{value * 1000:.1f} ms"
    return f"{value:.2%}"


def describe(check: Check, canary: str, stable: str) -> str:
    """One line naming the metric, both revisions' values and the threshold."""
    if check.metric.startswith("share of predictions"):
        bound = f"allowed difference {check.threshold * 100:g} points"
    else:
        bound = f"threshold {show(check, check.threshold)}"
    return (
        f"{check.metric}: canary {canary} {show(check, check.canary)}, "
        f"stable {stable} {show(check, check.stable)}, {bound}"
    )
