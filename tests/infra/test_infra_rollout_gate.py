"""The stepped promotion and its gate against the real thing: Debian's Prometheus scraping two real
`python -m api` processes on 127.0.0.1, one labelled as the stable revision and one as the
canary, with real traffic sent by the test and split between them by the weights the rollout
sets in Azure (the stand-in of tests/infra/fake_containerapps.py).

The gate reads Prometheus's HTTP API exactly as it reads an Azure Monitor workspace
(infra/rollout/prometheus.py): only the base URL differs, and the token (none here). The
`revision` label comes from the static scrape config here, from the shipper's relabelling on
Azure (the monitoring stack).

The bad canary serves a model derived from a trained one: the ONNX graph's Scaler reads every
note's variance 5 lower than it is (its offset moved), which makes the model call about four
notes in five forged where the data has fewer than half, yet still classify the two example
notes the service checks at start-up (the contract's, api/predictor.py) correctly. Its sha256 is
recorded again in metadata.json, so the service loads it as it would any artifact, starts, and
answers 200 to every request; only its predictions are wrong.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import onnxruntime
import pytest

from contract.files import sha256_file
from infra.rollout import run as rollout
from infra.rollout.prometheus import Prometheus
from tests import prometheus as local
from tests.api.conftest import Server
from tests.infra.conftest import Registries
from tests.infra.rollout_world import World
from tests.infra.test_infra_rollout_script import deploy, dev_image
from tests.traffic import DATA, note

pytestmark = [pytest.mark.server, pytest.mark.slow]

SCRAPE_SECONDS = 1
# Short holds, and a minimum a few seconds of traffic reach at 10 %: the rules are the same
# as with the defaults, only the clock is faster.
FAST = {
    "rolloutSteps": "0,10,50,100",
    "rolloutHoldSeconds": "5",
    "rolloutMaxHoldSeconds": "14",
    "gateMinRequests": "25",
}


@contextmanager
def local_prometheus(workdir: Path, targets: dict[str, str]) -> Iterator[str]:
    """Prometheus scraping each target (revision -> base URL) with a `revision` label; its URL."""
    jobs = [
        {
            "targets": [url.removeprefix("http://")],
            "labels": {"revision": revision, "replica": f"{revision}-0"},
        }
        for revision, url in targets.items()
    ]
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s"},
        "scrape_configs": [{"job_name": "banknote", "static_configs": jobs}],
    }
    server = local.Prometheus(workdir, json.dumps(config))  # JSON is YAML
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()


def skewed_model(trained: Path, out: Path, shift: float = 5.0) -> Path:
    """A copy of a trained artifact that reads every note's variance `shift` lower."""
    shutil.copytree(trained, out)
    model = onnx.load(str(out / "model.onnx"))
    (scaler,) = [n for n in model.graph.node if n.op_type == "Scaler"]
    (offset,) = [a for a in scaler.attribute if a.name == "offset"]
    moved = [value + (shift if i == 0 else 0.0) for i, value in enumerate(offset.floats)]
    del offset.floats[:]
    offset.floats.extend(moved)
    onnx.save(model, str(out / "model.onnx"))
    metadata = json.loads((out / "metadata.json").read_text())
    metadata["files"]["model.onnx"] = sha256_file(out / "model.onnx")
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return out


def forged_share(model_dir: Path) -> float:
    """The share of the data's notes a model calls forged (class 1), with ONNX Runtime."""
    session = onnxruntime.InferenceSession(str(model_dir / "model.onnx"))
    rows = np.loadtxt(DATA, delimiter=",")[:, :4].astype(np.float32)
    labels = session.run(None, {session.get_inputs()[0].name: rows})[0]
    return float(np.mean(labels))


class Ingress:
    """Sends notes to the two services in the proportion Azure's traffic list says, as the
    Container Apps ingress does, until stopped. Each service gets the same notes in the same
    order, so both see the same mix of genuine and forged notes."""

    def __init__(self, world: World, urls: dict[str, str]) -> None:
        self.world = world
        self.urls = urls
        rows = np.loadtxt(DATA, delimiter=",")[:, :4].tolist()
        random.Random(11).shuffle(rows)
        self.notes = {revision: cycle(rows) for revision in urls}
        self.sent = dict.fromkeys(urls, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pick = random.Random(5)
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                split = [(r, w) for r, w, _ in self.world.split() if w > 0 and r in self.urls]
                if not split:
                    time.sleep(0.01)
                    continue
                revision = pick.choices([r for r, _ in split], [w for _, w in split])[0]
                answer = client.post(
                    f"{self.urls[revision]}/predict", json=note(next(self.notes[revision]))
                )
                assert answer.status_code == 200, answer.text
                self.sent[revision] += 1
                time.sleep(0.002)

    def __enter__(self) -> Ingress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    with ExitStack() as servers:
        yield World(Registries(servers))


@pytest.fixture(scope="module")
def bad_model(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bad = skewed_model(artifact_dir, tmp_path_factory.mktemp("bad") / "model")
    assert forged_share(artifact_dir) < 0.5 < 0.75 < forged_share(bad)
    return bad


def two_revisions(world: World) -> tuple[str, str]:
    """prod serving a first release, and a second one as the canary at 0 %."""
    first = deploy(world, dev_image(world, 1), "run-1")
    checkout = world.checkout()
    checkout.config.update(FAST)
    rollout.Rollout("prod", checkout).promote()
    canary = deploy(world, dev_image(world, 2), "run-2")
    return first.outputs_written["revision"], canary.outputs_written["revision"]


@contextmanager
def services(
    tmp_path: Path, artifact_dir: Path, canary_model: Path, stable: str, canary: str
) -> Iterator[tuple[dict[str, str], str]]:
    """Both revisions running, Prometheus scraping them, and the step-0 smoke traffic sent."""
    local.binary("prometheus")  # skip before two services start for nothing
    stable_dir = tmp_path / "stable" / "model"
    shutil.copytree(artifact_dir, stable_dir)
    running = {stable: Server(stable_dir), canary: Server(canary_model)}
    try:
        for server in running.values():
            server.wait_ready()
        urls = {revision: server.url for revision, server in running.items()}
        with local_prometheus(tmp_path / "prometheus", urls) as prometheus:
            # Step 0's smoke test reaches both (the canary by its label URL): every series the
            # gate reads exists before the first step's window starts.
            for url in urls.values():
                rows = np.loadtxt(DATA, delimiter=",")[:, :4].tolist()
                for row in (rows[0], rows[1], rows[-1], rows[-2]):  # genuine and forged
                    assert httpx.post(f"{url}/predict", json=note(row)).status_code == 200
            time.sleep(3 * SCRAPE_SECONDS)
            yield urls, prometheus
    finally:
        for server in running.values():
            server.stop()


def promote(world: World, prometheus: str, summary: Path, monkeypatch: Any) -> rollout.Rollout:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    checkout = world.checkout()
    checkout.config.update(FAST)
    steps = rollout.Rollout("prod", checkout, metrics=lambda outputs, apps: Prometheus(prometheus))
    steps.promote()
    return steps


def test_a_good_canary_is_promoted_step_by_step_with_its_figures_in_the_summary(
    world: World,
    artifact_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stable, canary = two_revisions(world)
    same_model = tmp_path / "canary" / "model"
    shutil.copytree(artifact_dir, same_model)
    summary = tmp_path / "summary.md"
    with (
        services(tmp_path, artifact_dir, same_model, stable, canary) as (urls, prometheus),
        Ingress(world, urls) as ingress,
    ):
        promote(world, prometheus, summary, monkeypatch)
    assert world.split() == [(canary, 100, "stable")]
    assert world.active() == {canary}
    assert ingress.sent[canary] > 0
    assert ingress.sent[stable] > 0
    text = summary.read_text()
    assert "### Step 1 of 2: 10 % to the canary" in text
    assert "### Step 2 of 2: 50 % to the canary" in text
    assert text.count("Verdict: **pass**") == 2
    for metric in ("prediction requests", "5xx share", "p95 latency", "'forged'", "'genuine'"):
        assert text.count(f"| {metric}") + text.count(f"predictions {metric}") >= 2, metric
    assert f"canary `{canary}`" in text
    assert f"stable `{stable}`" in text
    assert f"**Promoted** `{canary}` to 100 %" in text


def test_a_canary_that_calls_far_more_notes_forged_is_rolled_back_at_the_first_step(
    world: World,
    artifact_dir: Path,
    bad_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stable, canary = two_revisions(world)
    summary = tmp_path / "summary.md"
    with (
        services(tmp_path, artifact_dir, bad_model, stable, canary) as (urls, prometheus),
        Ingress(world, urls),
        pytest.raises(rollout.RolloutError) as failed,
    ):
        promote(world, prometheus, summary, monkeypatch)
    message = str(failed.value)
    # The step, the metric, both revisions' values and the threshold.
    assert message.startswith("step 1 of 2 (10 %) failed the gate: share of predictions")
    forged = message[message.index("share of predictions 'forged'") :].split(";")[0]
    canary_share = float(forged.split(f"canary {canary} ")[1].split("%")[0])
    stable_share = float(forged.split(f"stable {stable} ")[1].split("%")[0])
    assert 30 < stable_share < 60  # the data's mix, give or take the window's sample
    assert canary_share - stable_share > 15
    assert "allowed difference 15 points" in forged
    assert f"{stable} has 100 % of the traffic, {canary} has no traffic, no label" in message
    assert world.split() == [(stable, 100, "stable")]
    assert world.active() == {stable}
    text = summary.read_text()
    assert "### Step 1 of 2: 10 % to the canary" in text
    assert "Verdict: **fail**" in text
    assert "| share of predictions 'forged' |" in text
    assert "FAILED" in text
    assert "**Rolled back**" in text
    assert "Step 2 of 2" not in text


def test_too_little_traffic_is_never_promoted(
    world: World, artifact_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nobody sends a request: the step is held, judged again, and stopped at its limit.
    stable, canary = two_revisions(world)
    same_model = tmp_path / "canary" / "model"
    shutil.copytree(artifact_dir, same_model)
    summary = tmp_path / "summary.md"
    started = time.monotonic()
    with (
        services(tmp_path, artifact_dir, same_model, stable, canary) as (_, prometheus),
        pytest.raises(rollout.RolloutError) as failed,
    ):
        promote(world, prometheus, summary, monkeypatch)
    assert time.monotonic() - started >= int(FAST["rolloutMaxHoldSeconds"])
    message = str(failed.value)
    assert message.startswith("step 1 of 2 (10 %): fewer than 25 prediction requests")
    assert "never promoted" in message
    assert world.split() == [(stable, 100, "stable")]
    assert "Verdict: **too little traffic" in summary.read_text()
