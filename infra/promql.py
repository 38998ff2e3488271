"""Every PromQL expression the stack evaluates on Azure: the alert rules and the dashboard's
queries, built from the same pieces so that what the tests evaluate on a real Prometheus is what
Azure evaluates.

The alert rules are written to the committed rule file `monitoring/alerts.yml` (Prometheus
`groups:`/`rules:` format), which promtool checks and unit-tests and the Pulumi program turns
into PrometheusRuleGroup resources; a test keeps the file equal to `render_rules()`. After a
change here, regenerate it:

    .venv/bin/python -m infra.promql > monitoring/alerts.yml

Metric names are the service's (api/metrics.py). The input-drift series carry the model's name
as a prefix (`banknote_input_out_of_range_total` today), so the rules are generated from that
name rather than matched with a `{__name__=~".+_input_..."}` regex: Azure Monitor's PromQL API
requires every selector to be scoped to one metric name ("Query must be scoped to a metric",
learn.microsoft.com "Query Prometheus metrics using the API and PromQL", API limitations), and a
regex would also match any other exporter's series with that suffix. A test checks that
`DRIFT_PREFIX` is the prefix the service exposes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from infra import shipper

# The model whose drift series the rules count (the model spec's `name`).
DRIFT_PREFIX: Final = "banknote"

REQUESTS: Final = "http_requests_total"
LATENCY: Final = "http_request_duration_seconds"
PREDICTIONS: Final = "predictions_total"
# Platform probes and the shipper's own scrapes are not users' requests: a failing /predict on a
# quiet service must not be diluted by hundreds of probe answers.
USER_ROUTES: Final = 'route!~"/health|/ready|/metrics"'
PREDICT: Final = 'route="/predict", method="POST"'

# Input drift: more than 1 % of one feature's inputs outside its training range over 15 minutes
# (docs/observability.md, "Drift"), and at least 0.1 inputs/s (90 in 15 minutes), so that a few
# odd notes on a quiet day page nobody.
DRIFT_WINDOW: Final = "15m"
DRIFT_SHARE: Final = 0.01
DRIFT_MIN_RATE: Final = 0.1
# Errors: more than 1 % of users' requests answered 5xx over 5 minutes.
ERROR_WINDOW: Final = "5m"
ERROR_SHARE: Final = 0.01
# Latency: p95 of POST /predict above 50 ms. Where 50 ms comes from: `make bench` measures
# capacity as the most req/s one worker serves with p99 under 50 ms (bench/capacity.py,
# P99_BOUND_MS). One worker on one core kept p99 under it up to 128 concurrent requests; a prod
# replica has 0.5 vCPU, so about 64; the HTTP scale rule adds a replica at 32 (Pulumi.prod.yaml
# concurrentRequests = 128 x 0.5 x 0.5). While scaling keeps up, a replica sees at most ~32
# concurrent requests, where the bench measured p99 of 8.45 ms on a full core (~17 ms on half):
# a p95 over the capacity bound means more than 5 % of predictions wait longer than a replica
# loaded to its measured limit would make them wait, i.e. requests queue past what the scale
# rule allows. 50 ms is also a bucket bound of the latency histogram (api/metrics.py), so
# histogram_quantile does not interpolate at the threshold (a test checks both).
LATENCY_WINDOW: Final = "5m"
LATENCY_QUANTILE: Final = 0.95
LATENCY_P95_SECONDS: Final = 0.05
LATENCY_MIN_RATE: Final = 0.1  # 30 predictions in 5 minutes: fewer make no p95 worth paging for
# Silence: no prediction in any 5-minute window for 30 minutes while a replica answers scrapes.
SILENCE_WINDOW: Final = "5m"
SILENCE_FOR: Final = "30m"

DOCS: Final = "docs/observability.md"


def ratio(numerator: str, denominator: str, by: Sequence[str], window: str) -> str:
    """sum by (...) of one counter's rate over another's, over `window`."""
    labels = ", ".join(by)
    return (
        f"sum by ({labels}) (rate({numerator}[{window}]))\n"
        f"  / sum by ({labels}) (rate({denominator}[{window}]))"
    )


def drift_share(by: Sequence[str], prefix: str = DRIFT_PREFIX) -> str:
    """The share of inputs outside the training range, per `by` (feature at least)."""
    return ratio(
        f"{prefix}_input_out_of_range_total", f"{prefix}_input_value_count", by, DRIFT_WINDOW
    )


def error_share(by: Sequence[str]) -> str:
    """The share of users' requests answered 5xx."""
    return ratio(
        f'{REQUESTS}{{status=~"5..", {USER_ROUTES}}}',
        f"{REQUESTS}{{{USER_ROUTES}}}",
        by,
        ERROR_WINDOW,
    )


def predict_latency(quantile: float, by: Sequence[str]) -> str:
    """A quantile of POST /predict's duration, from the histogram's buckets."""
    labels = ", ".join([*by, "le"])
    return (
        f"histogram_quantile({quantile:g}, sum by ({labels}) "
        f"(rate({LATENCY}_bucket{{{PREDICT}}}[{LATENCY_WINDOW}])))"
    )


def request_rate(by: Sequence[str]) -> str:
    """Users' requests per second."""
    return f"sum by ({', '.join(by)}) (rate({REQUESTS}{{{USER_ROUTES}}}[5m]))"


def prediction_rate(by: Sequence[str]) -> str:
    """Notes scored per second, by predicted class and `by`."""
    return f"sum by ({', '.join([*by, 'prediction'])}) (rate({PREDICTIONS}[5m]))"


def replicas(by: Sequence[str]) -> str:
    """Replicas whose /metrics the shipper reached at its last scrape."""
    return f'count by ({", ".join(by)}) (up{{job="{shipper.JOB}"}} == 1)'


@dataclass(frozen=True)
class Alert:
    """One alerting rule as Prometheus writes it."""

    name: str
    expr: str
    for_: str
    severity: str  # critical or warning (infra/alert_rules.py maps it to Azure's 0-4)
    summary: str
    runbook: str

    def as_rule(self) -> dict[str, Any]:
        """The rule in the rule file's format."""
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "runbook": self.runbook},
        }


def model_alerts(prefix: str = DRIFT_PREFIX) -> list[Alert]:
    """What the model sees: its inputs."""
    traffic = f"sum by (feature) (rate({prefix}_input_value_count[{DRIFT_WINDOW}]))"
    return [
        Alert(
            name="InputDrift",
            expr=(
                f"({drift_share(['feature'], prefix)}) > {DRIFT_SHARE:g}\n"
                f"and ({traffic}) > {DRIFT_MIN_RATE:g}"
            ),
            for_="15m",
            severity="warning",
            summary=(
                "More than 1 % of {{ $labels.feature }} inputs were outside the model's training "
                "range over 15 minutes."
            ),
            runbook=(
                "Open the dashboard's drift panel: which feature, since when, every revision or "
                "one. Estimate the serving median, histogram_quantile(0.5, sum by (feature, le) "
                f"(rate({prefix}_input_value_bucket[1h]))), and compare it with the model card's "
                "50 % column; then ask where the notes come from (a new scanner, other units, a "
                f"client bug) before retraining. {DOCS}#input-drift"
            ),
        )
    ]


def service_alerts() -> list[Alert]:
    """What the users see: errors, slow answers, and no answers asked for at all."""
    by_revision = ["revision"]
    latency_traffic = f"sum by (revision) (rate({LATENCY}_count{{{PREDICT}}}[{LATENCY_WINDOW}]))"
    predictions = f"sum(rate({PREDICTIONS}[{SILENCE_WINDOW}]))"
    return [
        Alert(
            name="ServerErrors",
            expr=f"({error_share(by_revision)}) > {ERROR_SHARE:g}",
            for_="5m",
            severity="critical",
            summary=(
                "More than 1 % of requests to revision {{ $labels.revision }} were answered "
                "with a 5xx status over 5 minutes."
            ),
            runbook=(
                "Read the revision's error log lines (Log Analytics, ContainerAppConsoleLogs "
                "where RevisionName is the revision; each carries its request_id). If the "
                "revision is a rollout's canary, roll it back (scripts/rollout.py rollback prod); "
                f"if it serves everything, redeploy the previous model version. {DOCS}#errors"
            ),
        ),
        Alert(
            name="SlowPredictions",
            expr=(
                f"({predict_latency(LATENCY_QUANTILE, by_revision)}) > {LATENCY_P95_SECONDS:g}\n"
                f"and ({latency_traffic}) > {LATENCY_MIN_RATE:g}"
            ),
            for_="10m",
            severity="warning",
            summary=(
                "p95 of POST /predict on revision {{ $labels.revision }} has been over 50 ms "
                "for 10 minutes."
            ),
            runbook=(
                "Compare the dashboard's replicas and requests panels: is the revision at "
                "maxReplicas, or did load jump faster than the scale rule adds replicas? One "
                "replica serves about 1,650 req/s (docs/performance.md); large /predict/batch "
                "bodies share its worker. Then raise maxReplicas or lower concurrentRequests. "
                f"{DOCS}#latency"
            ),
        ),
        Alert(
            name="NoPredictions",
            expr=(
                f"(({predictions}) or on() vector(0)) == 0\n"
                f'and on() (sum(up{{job="{shipper.JOB}"}}) > 0)'
            ),
            for_=SILENCE_FOR,
            severity="warning",
            summary="No note has been scored for 30 minutes, although replicas are running.",
            runbook=(
                "The replicas answer, so look in front of them: does the app's URL answer the "
                "greeting, did DNS or a client's configuration change, do the callers' logs show "
                f"errors? {DOCS}#silence"
            ),
        ),
    ]


def rule_groups(prefix: str = DRIFT_PREFIX) -> dict[str, Any]:
    """The rule file's content: one group per audience."""
    return {
        "groups": [
            {"name": "service", "rules": [a.as_rule() for a in service_alerts()]},
            {"name": "model-inputs", "rules": [a.as_rule() for a in model_alerts(prefix)]},
        ]
    }


HEADER: Final = (
    "# Alert rules of the service, evaluated by Azure Monitor managed Prometheus (one\n"
    "# PrometheusRuleGroup per group, infra/alert_rules.py) and tested with promtool\n"
    "# (monitoring/alerts.test.yml). Generated by infra/promql.py; edit there, then run\n"
    "#   .venv/bin/python -m infra.promql > monitoring/alerts.yml\n"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, one clause a line, as people write them."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_rules(prefix: str = DRIFT_PREFIX) -> str:
    """The committed rule file's text."""
    body = yaml.dump(rule_groups(prefix), Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER + body


@dataclass(frozen=True)
class Panel:
    """One chart of the dashboard."""

    name: str
    title: str
    query: str


def dashboard_panels(prefix: str = DRIFT_PREFIX) -> list[Panel]:
    """The dashboard, per revision: what an operator looks at first, top to bottom."""
    rev = ["revision"]
    return [
        Panel("requests", "Requests per second (users' routes)", request_rate(rev)),
        Panel("errors", "Share of requests answered 5xx", error_share(rev)),
        Panel("p50", "p50 of POST /predict (s)", predict_latency(0.5, rev)),
        Panel("p95", "p95 of POST /predict (s)", predict_latency(LATENCY_QUANTILE, rev)),
        Panel("predictions", "Predictions per second by class", prediction_rate(rev)),
        Panel(
            "drift",
            "Share of inputs outside the training range, per feature",
            drift_share([*rev, "feature"], prefix),
        ),
        Panel("replicas", "Replicas answering scrapes", replicas(rev)),
    ]


if __name__ == "__main__":
    sys.stdout.write(render_rules())
