"""The committed alert rules: promtool checks them and runs their unit tests (each rule firing
and not firing), and they are exactly what infra/promql.py generates for the service's metrics."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

import bench.capacity
from api import metrics
from infra import alert_rules, promql
from infra.errors import ConfigError
from tests.banknote import SPEC
from tests.prometheus import promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "alerts.yml"
RULE_TESTS = ROOT / "monitoring" / "alerts.test.yml"
REQUIRED_ALERTS = {"InputDrift", "ServerErrors", "SlowPredictions", "NoPredictions"}

pytestmark = pytest.mark.prometheus


def test_promtool_checks_the_rule_file() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(REQUIRED_ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_fire_and_stay_quiet_as_written() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_has_a_case_that_fires_and_one_that_does_not() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == REQUIRED_ALERTS
    assert quiet == REQUIRED_ALERTS


def test_a_broken_threshold_fails_the_unit_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests can fail: with the drift threshold at 10 % instead of 1 %, the firing case breaks.
    monkeypatch.setattr(promql, "DRIFT_SHARE", 0.1)
    (tmp_path / "alerts.yml").write_text(promql.render_rules(), encoding="utf-8")
    (tmp_path / "alerts.test.yml").write_text(RULE_TESTS.read_text(encoding="utf-8"))
    result = promtool("test", "rules", "alerts.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    failed = result.stdout + result.stderr
    assert "alertname: InputDrift" in failed
    assert "alertname: ServerErrors" not in failed


def test_the_committed_file_is_what_infra_generates() -> None:
    assert RULES.read_text(encoding="utf-8") == promql.render_rules(), (
        "monitoring/alerts.yml is stale: .venv/bin/python -m infra.promql > monitoring/alerts.yml"
    )


def test_the_rules_count_the_drift_series_the_service_exposes() -> None:
    # The service names them after the model its spec names (api/metrics.py); the rules must
    # use that name: a new default model means a new DRIFT_PREFIX (docs/observability.md).
    assert SPEC.name == promql.DRIFT_PREFIX, (
        f"infra/promql.py DRIFT_PREFIX is {promql.DRIFT_PREFIX!r}, the default model is "
        f"{SPEC.name!r}: change it and regenerate monitoring/alerts.yml"
    )
    out_of_range = metrics.OUT_OF_RANGE.format(model=SPEC.name)
    input_value = metrics.INPUT_VALUE.format(model=SPEC.name)
    text = RULES.read_text(encoding="utf-8")
    names = set(re.findall(r"\b([a-z_]+_input_[a-z_]+)\b", text))
    assert names == {
        f"{out_of_range}_total",
        f"{input_value}_count",
        f"{input_value}_bucket",  # in the drift runbook's median query
    }


def test_the_latency_threshold_is_the_capacity_bound_and_a_bucket_bound() -> None:
    # bench/capacity.py measures capacity as req/s with p99 under P99_BOUND_MS; the alert uses
    # the same bound (infra/promql.py says why), and it is a bucket bound of the histogram, so
    # histogram_quantile does not interpolate at the threshold.
    assert promql.LATENCY_P95_SECONDS * 1000 == bench.capacity.P99_BOUND_MS
    assert promql.LATENCY_P95_SECONDS in metrics.LATENCY_BUCKETS
    default = _argparse_default(ROOT / "bench" / "capacity.py", "--p99-ms")
    assert default == "P99_BOUND_MS"


def _argparse_default(path: Path, flag: str) -> str:
    """The source text of `default=` in the add_argument call for `flag`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == flag
        ):
            (default,) = [k.value for k in node.keywords if k.arg == "default"]
            return ast.unparse(default)
    raise AssertionError(f"{path} has no {flag}")


def test_every_rule_tells_the_operator_what_to_look_at_first() -> None:
    for group in alert_rules.load():
        for rule in group.rules:
            annotations = rule["annotations"]
            assert len(annotations["summary"]) > 30, rule["alert"]
            assert len(annotations["runbook"]) > 80, rule["alert"]
            assert "docs/observability.md#" in annotations["runbook"], rule["alert"]


def test_the_runbook_anchors_exist_in_the_observability_page() -> None:
    page = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    anchors = {_anchor(line) for line in page.splitlines() if line.startswith("#")}
    for group in alert_rules.load():
        for rule in group.rules:
            runbook = rule["annotations"]["runbook"]
            (anchor,) = re.findall(r"docs/observability\.md#([a-z0-9-]+)", runbook)
            assert anchor in anchors, (rule["alert"], anchor)


def _anchor(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading: lower case, punctuation
    dropped, spaces to '-'."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text)).strip("-")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("15m", "PT15M"),
        ("30m", "PT30M"),
        ("1h", "PT1H"),
        ("1h30m", "PT1H30M"),
        ("2d", "P2D"),
        ("90s", "PT90S"),
        ("1d12h", "P1DT12H"),
    ],
)
def test_durations_become_iso_8601(text: str, iso: str) -> None:
    assert alert_rules.iso_duration(text) == iso


@pytest.mark.parametrize("text", ["", "15", "1w", "5ms", "m15", "1.5h"])
def test_durations_azure_cannot_take_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="duration"):
        alert_rules.iso_duration(text)


def test_a_rule_without_a_runbook_is_refused(tmp_path: Path) -> None:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    del document["groups"][0]["rules"][0]["annotations"]["runbook"]
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError, match="summary and runbook"):
        alert_rules.load(path)
