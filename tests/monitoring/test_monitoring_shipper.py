"""The metrics shipper's configuration, run for real: Debian's Prometheus in agent mode scrapes a
real `python -m api` with it and remote-writes to a second Prometheus that stands in for the Azure
Monitor workspace and evaluates the committed alert rules and the dashboard's queries.

What differs from Azure, and why (cut in `local_variant`, which asserts it changes nothing else):
- remote_write goes to the local receiver's /api/v1/write without `azuread`: Debian's Prometheus
  2.42 predates azuread remote write, and no Entra ID answers here. The block as Azure gets it is
  tested against the configuration reference in `test_the_remote_write_block_*` below;
- the service listens on a free port, not 8000 (other tests and servers share this machine);
- scrapes every second instead of every 15, so that rates have data within seconds;
- Prometheus 3's `--agent` is 2.42's `--enable-feature=agent`, and 2.42 expands `${VAR}` in
  external labels only with `--enable-feature=expand-external-labels` (the default in 3.x,
  docs/migration.md).
"""

from __future__ import annotations

import copy
import math
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from infra import promql, shipper
from tests.api.conftest import Server
from tests.banknote import GENUINE as GENUINE_EXAMPLE
from tests.prometheus import Prometheus, binary, promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "alerts.yml"
EXAMPLE = ROOT / "monitoring" / "shipper.yml"
FEATURES = ("variance", "skewness", "curtosis", "entropy")
REVISION = "banknote-test--m1-0a0b0c0d"
REPLICA = f"{REVISION}-6d8f9c7b5-x2x4z"
LOCAL_SCRAPE_SECONDS = 1.0
LOCAL_SCRAPE_INTERVAL = f"{LOCAL_SCRAPE_SECONDS:g}s"
# A share of two rates matches the share of the counts up to rate()'s extrapolation to the
# window's end, which differs between numerator and denominator while remote write has delivered
# the latest scrape of one and not yet of the other (separate requests): up to 1.1 scrape
# intervals (Prometheus' extrapolatedRate) over the span sampled since the first prediction. The
# span grows as the module runs, so the tolerance is derived from it (Traffic.share_tolerance),
# with a factor 2 for the delivery of the first sample, rather than fixed: a fixed 5 % was
# exceeded (5.3 %) on a slow machine where the span was about 20 s.
# Version flags of Prometheus 3 (infra/shipper.py FLAGS) as Debian's 2.42 spells them.
V2_FLAGS = {"--agent": "--enable-feature=agent,expand-external-labels"}

# The tests that run Debian's Prometheus next to a real service.
REAL = (pytest.mark.prometheus, pytest.mark.server, pytest.mark.slow)
T = TypeVar("T")


def local_variant(config: dict[str, Any], api_port: int, receiver: str) -> dict[str, Any]:
    """The shipper's config as it runs here; see the module docstring for each change."""
    local = copy.deepcopy(config)
    (job,) = local["scrape_configs"]
    (static,) = job["static_configs"]
    assert static["targets"] == [shipper.TARGET]
    static["targets"] = [f"127.0.0.1:{api_port}"]
    (remote,) = local["remote_write"]
    assert set(remote) == {"url", "azuread"}
    local["remote_write"] = [{"url": f"{receiver}/api/v1/write"}]
    local["global"]["scrape_interval"] = LOCAL_SCRAPE_INTERVAL
    local["global"]["scrape_timeout"] = LOCAL_SCRAPE_INTERVAL
    # Nothing else moved: the scrape job, path and external labels are Azure's.
    changed = _paths_that_differ(config, local)
    assert changed == {
        "scrape_configs.0.static_configs.0.targets.0",
        "remote_write.0",
        "global.scrape_interval",
        "global.scrape_timeout",
    }, changed
    return local


def _paths_that_differ(a: Any, b: Any, path: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b):
        return set().union(*(_paths_that_differ(a[k], b[k], f"{path}.{k}") for k in a))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return set().union(*(_paths_that_differ(x, y, f"{path}.{i}") for i, (x, y) in pairs))
    return set() if a == b else {path.lstrip(".")}


def v2_flags() -> list[str]:
    """The shipper's Prometheus flags, for Debian's 2.42 and with this test's paths."""
    flags = [V2_FLAGS.get(flag, flag) for flag in shipper.FLAGS]
    # Config file, storage and listen address are the Prometheus helper's and the workdir's.
    return [f for f in flags if not f.startswith(("--config.file", "--web.listen", "--storage"))]


def until(read: Callable[[], T], ok: Callable[[T], bool], what: str, timeout: float = 90.0) -> T:
    """`read()` until `ok` holds on its value; fail saying `what` with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {timeout:g}s, last {value!r}")
        time.sleep(0.5)


# -- the configuration as Azure gets it ----------------------------------------------------------
def test_the_committed_example_is_what_infra_generates() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == shipper.example(), (
        "monitoring/shipper.yml is stale: "
        ".venv/bin/python -m infra.shipper > monitoring/shipper.yml"
    )


def test_the_remote_write_block_follows_the_configuration_reference() -> None:
    # Prometheus v3.5 docs/configuration/configuration.md, <remote_write> and its `azuread`
    # section: cloud is AzurePublic, AzureChina or AzureGovernment; exactly one of
    # managed_identity, oauth and sdk (storage/remote/azuread/azuread.go `Validate`), and a
    # managed identity's client_id must parse as a UUID (ibid., uuid.Parse). Only the managed
    # identity is used here: oauth would need a client secret.
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    (remote,) = config["remote_write"]
    assert set(remote) == {"url", "azuread"}
    azuread = remote["azuread"]
    assert set(azuread) == {"cloud", "managed_identity"}
    assert azuread["cloud"] in ("AzurePublic", "AzureChina", "AzureGovernment")
    assert set(azuread["managed_identity"]) == {"client_id"}
    uuid.UUID(azuread["managed_identity"]["client_id"])
    # Azure's ingestion URL for one data collection rule (its DCE's metricsIngestion endpoint,
    # the rule's immutable id, the Prometheus stream).
    assert remote["url"] == shipper.write_url(
        remote["url"].split("/dataCollectionRules/")[0], "dcr-00000000000000000000000000000000"
    )
    assert "/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=" in remote["url"]
    text = EXAMPLE.read_text(encoding="utf-8")
    for credential in ("client_secret", "password", "basic_auth", "authorization", "bearer"):
        assert credential not in text


def test_the_labels_come_from_the_platforms_variables() -> None:
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert config["global"]["external_labels"] == {
        "revision": "${CONTAINER_APP_REVISION}",
        "replica": "${CONTAINER_APP_REPLICA_NAME}",
        "model_version": "${MODEL_VERSION}",
    }
    (job,) = config["scrape_configs"]
    assert job["job_name"] == shipper.JOB
    assert job["static_configs"] == [{"targets": ["127.0.0.1:8000"]}]


def test_the_container_writes_the_config_and_execs_prometheus_in_agent_mode() -> None:
    sh, flag, script = shipper.command()
    assert (sh, flag) == ("/bin/sh", "-c")
    write = f"printf '%s\\n' \"${shipper.CONFIG_ENV}\" > {shipper.CONFIG_FILE}"
    assert script.startswith(f"{write} && exec ")
    assert "--agent" in script.split()
    assert "--web.listen-address=127.0.0.1:9090" in script.split()


def test_the_shell_step_writes_the_config_byte_for_byte(tmp_path: Path) -> None:
    # The same `sh -c` line the container runs (only the path differs), with the config in the
    # environment: what Prometheus then reads is exactly the rendered config.
    script = (
        shipper.command()[2]
        .split(" && exec ")[0]
        .replace(shipper.CONFIG_FILE, str(tmp_path / "prometheus.yml"))
    )
    config = shipper.render(
        shipper.agent_config(shipper.EXAMPLE_WRITE_URL, shipper.EXAMPLE_CLIENT_ID)
    )
    sh = shutil.which("sh")
    assert sh is not None
    subprocess.run([sh, "-c", script], env={shipper.CONFIG_ENV: config}, check=True)
    assert (tmp_path / "prometheus.yml").read_text(encoding="utf-8") == config + "\n"


@pytest.mark.prometheus
def test_promtool_accepts_the_local_variant(tmp_path: Path) -> None:
    config = shipper.agent_config(shipper.EXAMPLE_WRITE_URL, shipper.EXAMPLE_CLIENT_ID)
    path = tmp_path / "shipper.yml"
    path.write_text(shipper.render(local_variant(config, 8123, "http://127.0.0.1:9")))
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# -- the real thing -------------------------------------------------------------------------------
def real(test: Callable[..., None]) -> Callable[..., None]:
    """Mark a test that runs the pipeline below."""
    for mark in REAL:
        test = mark(test)
    return test


@dataclass
class Pipeline:
    """The service, the shipper next to it and the workspace's stand-in."""

    api: Server
    agent: Prometheus
    workspace: Prometheus
    model_version: str


@pytest.fixture(scope="module")
def pipeline(
    artifact_dir: Path, artifact_metadata: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    work = tmp_path_factory.mktemp("shipper")
    model_dir = work / "model"
    shutil.copytree(artifact_dir, model_dir)
    # Skip before starting anything: a service started here and left running by the skip would
    # be collected later as a ResourceWarning, which filterwarnings=error turns into an error
    # of whatever test is running then.
    binary("prometheus")
    api = Server(model_dir)
    started: list[Prometheus] = []  # stopped in reverse: the agent, then the workspace
    try:
        workspace = Prometheus(
            work / "workspace",
            yaml.safe_dump({"global": {"evaluation_interval": "1s"}, "rule_files": [str(RULES)]}),
            f"--storage.tsdb.path={work / 'workspace' / 'data'}",
            "--web.enable-remote-write-receiver",
        )
        started.append(workspace)
        api.wait_ready()
        workspace.wait_ready()
        config = local_variant(
            shipper.agent_config(shipper.EXAMPLE_WRITE_URL, shipper.EXAMPLE_CLIENT_ID),
            api.port,
            workspace.url,
        )
        version = str(artifact_metadata["model_version"])
        agent = Prometheus(
            work / "agent",
            shipper.render(config),
            *v2_flags(),
            f"--storage.agent.path={work / 'agent' / 'wal'}",
            env={
                shipper.REVISION_ENV: REVISION,
                shipper.REPLICA_ENV: REPLICA,
                shipper.MODEL_VERSION_ENV: version,
            },
        )
        started.append(agent)
        agent.wait_ready()
        # Remote write starts once the agent has replayed its write-ahead log (seconds after it
        # is ready); samples from before then never leave. Traffic waits for a few shipped
        # scrapes, so that every counter has samples before and after it moves.
        until(
            lambda: workspace.query(f'count_over_time(up{{job="{shipper.JOB}"}}[1m])'),
            lambda result: bool(result) and float(result[0]["value"][1]) >= 3,
            "the agent's scrapes arriving in the workspace",
        )
        yield Pipeline(api, agent, workspace, version)
    finally:
        for process in reversed(started):
            process.stop()
        api.stop()


@dataclass(frozen=True)
class Traffic:
    """What was sent: inputs per feature, and how many of each were out of range."""

    inputs: int
    out_of_range: dict[str, int]
    predictions: int
    first_counted: float  # time.monotonic() when the workspace first held a prediction

    def share_tolerance(self) -> float:
        """The relative tolerance of a share of two rates, now (see LOCAL_SCRAPE_SECONDS)."""
        span = time.monotonic() - self.first_counted
        return 2 * 1.1 * LOCAL_SCRAPE_SECONDS / span


def send_traffic(url: str, stats: dict[str, Any], baseline: Callable[[], None]) -> Traffic:
    """Predictions in range on /predict, batches with every 10th variance above the training
    maximum on /predict/batch, and a few refused requests (422).

    One prediction goes first, and `baseline` waits until the workspace holds it: a counter
    series appears at its first increment, and rate() takes its first sample as the baseline,
    so predictions counted before that sample would not show as a rate at all.
    """

    def in_range(i: int) -> dict[str, float]:
        levels = ("0.25", "0.5", "0.75")
        return {f: float(stats[f]["quantiles"][levels[i % 3]]) for f in FEATURES}

    singles = [in_range(i) for i in range(200)]
    batches = []
    drifted = 0
    for b in range(8):
        rows = [in_range(b + i) for i in range(100)]
        for row in rows[::10]:
            row["variance"] = float(stats["variance"]["max"]) + 1.0
            drifted += 1
        batches.append(rows)
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/predict", json=singles[0]).status_code == 200
        baseline()
        first_counted = time.monotonic()
        for body in singles[1:]:
            assert client.post("/predict", json=body).status_code == 200
        for rows in batches:
            assert client.post("/predict/batch", json=rows).status_code == 200
        for _ in range(5):
            bad = {**GENUINE_EXAMPLE, "variance": "not a number"}
            assert client.post("/predict", json=bad).status_code == 422
    inputs = len(singles) + sum(len(rows) for rows in batches)
    out = dict.fromkeys(FEATURES, 0)
    out["variance"] = drifted
    return Traffic(inputs=inputs, out_of_range=out, predictions=inputs, first_counted=first_counted)


@pytest.fixture(scope="module")
def traffic(pipeline: Pipeline, artifact_metadata: dict[str, Any]) -> Traffic:
    """The traffic, once it has reached the workspace whole (every input of every feature)."""

    def baseline() -> None:
        until(
            lambda: pipeline.workspace.query(promql.PREDICTIONS),
            lambda result: bool(result),
            "the first prediction in the workspace",
        )

    sent = send_traffic(pipeline.api.url, artifact_metadata["feature_stats"]["features"], baseline)

    def counted() -> list[dict[str, Any]]:
        return pipeline.workspace.query(f"{promql.DRIFT_PREFIX}_input_value_count")

    until(
        counted,
        lambda result: (
            len(result) == len(FEATURES)
            and all(float(r["value"][1]) == sent.inputs for r in result)
        ),
        "every input counted in the workspace",
    )
    until(
        lambda: pipeline.workspace.query(f"sum({promql.PREDICTIONS})"),
        lambda result: bool(result) and float(result[0]["value"][1]) == sent.predictions,
        "every prediction counted in the workspace",
    )
    return sent


@real
def test_every_series_carries_revision_replica_and_model_version(
    pipeline: Pipeline, traffic: Traffic
) -> None:
    series = pipeline.workspace.api("series", **{"match[]": f'{{job="{shipper.JOB}"}}'})
    names = {s["__name__"] for s in series}
    for expected in (
        "http_requests_total",
        "predictions_total",
        "model_info",
        "up",
        f"{promql.DRIFT_PREFIX}_input_out_of_range_total",
    ):
        assert expected in names, expected
    for labels in series:
        assert labels["revision"] == REVISION, labels
        assert labels["replica"] == REPLICA, labels
        assert labels["model_version"] == pipeline.model_version, labels


@real
def test_drift_fires_for_the_drifted_feature_only(pipeline: Pipeline, traffic: Traffic) -> None:
    (drift,) = promql.model_alerts()
    tolerance = traffic.share_tolerance()
    result = pipeline.workspace.query(drift.expr)
    assert [r["metric"] for r in result] == [{"feature": "variance"}]
    share = float(result[0]["value"][1])
    assert math.isclose(share, traffic.out_of_range["variance"] / traffic.inputs, rel_tol=tolerance)
    # And the workspace's own rule evaluation holds it pending (for: 15m), for that feature.
    alerts = until(
        lambda: pipeline.workspace.api("alerts")["alerts"],
        lambda found: any(a["labels"]["alertname"] == drift.name for a in found),
        "InputDrift pending in the workspace",
    )
    (pending,) = [a for a in alerts if a["labels"]["alertname"] == drift.name]
    assert pending["state"] == "pending"
    assert pending["labels"]["feature"] == "variance"


@real
def test_errors_and_silence_do_not_fire_and_every_rule_evaluates(
    pipeline: Pipeline, traffic: Traffic
) -> None:
    alerts = {a.name: a for a in promql.service_alerts()}
    # 422s are the client's: no 5xx, no error share.
    assert pipeline.workspace.query(alerts["ServerErrors"].expr) == []
    assert pipeline.workspace.query(alerts["NoPredictions"].expr) == []
    # p95 of /predict depends on this machine's load: it must evaluate, whatever it says.
    pipeline.workspace.query(alerts["SlowPredictions"].expr)
    groups = until(
        lambda: pipeline.workspace.api("rules")["groups"],
        lambda found: (
            all(r["health"] == "ok" for g in found for r in g["rules"])
            and sum(len(g["rules"]) for g in found) == 4
        ),
        "every rule of monitoring/alerts.yml evaluated without error",
    )
    assert {r["name"] for g in groups for r in g["rules"]} == {
        "InputDrift",
        "ServerErrors",
        "SlowPredictions",
        "NoPredictions",
    }


@real
def test_every_dashboard_query_answers_per_revision(pipeline: Pipeline, traffic: Traffic) -> None:
    for panel in promql.dashboard_panels():
        result = pipeline.workspace.query_range(panel.query, seconds=60)
        if panel.name == "errors":
            assert result == [], panel.name  # no 5xx was answered
            continue
        assert result, panel.name
        for series in result:
            assert series["metric"]["revision"] == REVISION, panel.name
    tolerance = traffic.share_tolerance()
    drift = {
        r["metric"]["feature"]: float(r["value"][1])
        for r in pipeline.workspace.query(
            next(p.query for p in promql.dashboard_panels() if p.name == "drift")
        )
    }
    assert drift == {
        feature: pytest.approx(count / traffic.inputs, rel=tolerance)
        for feature, count in traffic.out_of_range.items()
    }
    predictions = pipeline.workspace.query(
        next(p.query for p in promql.dashboard_panels() if p.name == "predictions")
    )
    assert {r["metric"]["prediction"] for r in predictions} <= {"genuine", "forged"}
    replicas = pipeline.workspace.query(
        next(p.query for p in promql.dashboard_panels() if p.name == "replicas")
    )
    assert [float(r["value"][1]) for r in replicas] == [1.0]
