"""The train stage's model gate, run as the workflow runs it (tests/workflows/jobrun.py): the
train job's compare step and the model-gate job's step execute .github/scripts/model_gate.py
against the stand-in gh, with real trained models and the real `python -m model compare`.

GitHub behaviour these rely on, with sources:
- Labels are read from the REST API ("Get a pull request", `labels[].name`) when the gate runs,
  not from the event payload: the payload of a run, and of its re-runs, is the one of the
  original event (docs.github.com "Re-running workflows and jobs": a re-run uses the same
  GITHUB_SHA and GITHUB_REF; github.blog changelog 2019-09-30 "deterministic re-runs": the
  original event payload is persisted and used). A label added after the run started is
  therefore seen only through the API.
- `inputs` of a run started by hand: "the inputs context" holds the workflow_dispatch inputs,
  booleans as booleans (docs.github.com "Contexts", inputs; "Workflow syntax",
  on.workflow_dispatch.inputs.<input_id>.type); the pipeline's stages get them through
  workflow_call `with:`.
- On a push to main the accepting PR is the one "List pull requests associated with a commit"
  returns for the pushed commit (docs.github.com REST "Commits": "the merged pull request that
  introduced the commit").
- Job outputs "are evaluated on the runner at the end of each job" (docs.github.com "Defining
  outputs for jobs"): the gate job reads the train job's verdict through needs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from contract import FORMAT_VERSION, METADATA_FILE
from model.figures import SIZE
from tests.contract.legacy import as_format_1, as_format_2
from tests.model.test_figures import looked_at
from tests.workflows.expressions import interpolate
from tests.workflows.jobrun import JobRun, World, pr_json, run_job
from tests.workflows.pipeline import PUSH_SHA, ROOT, dispatch, load_workflows, pull_request, push

ACCEPT = "accept-regression"
CHAMPION_RUN = 4100
FIGURE = "model-comparison.png"  # .github/scripts/model_gate.py FIGURE_FILE


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return load_workflows()


def version_of(model_dir: Path) -> str:
    return str(json.loads((model_dir / METADATA_FILE).read_text())["model_version"])


def world_with(tmp_path: Path, challenger: Path) -> World:
    return World(tmp_path / "world", model_version=version_of(challenger), model_dir=challenger)


def served_files(model_dir: Path, into: Path) -> Path:
    """What deploy-dev uploads as `champion`: the files the image serves."""
    into.mkdir(parents=True)
    for name in ("metadata.json", "model.onnx", "MODEL_CARD.md"):
        shutil.copy(model_dir / name, into / name)
    return into


def stage(
    workflows: dict[str, dict[str, Any]],
    world: World,
    event: Any,
    inputs: dict[str, Any] | None = None,
    trigger: str = "workflow_call",
) -> tuple[JobRun, JobRun]:
    """The train job, then the model-gate job with the train job's outputs."""
    train = run_job(workflows["train.yml"], "train", event, world, inputs, trigger=trigger)
    assert train.ok, train.log()
    gate = run_job(
        workflows["train.yml"], "model-gate", event, world, inputs, trigger=trigger,
        needs={"train": train},
    )  # fmt: skip
    return train, gate


def test_first_run_without_a_champion_passes_and_says_so(
    workflows: dict[str, dict[str, Any]], tmp_path: Path, artifact_dir: Path
) -> None:
    world = world_with(tmp_path, artifact_dir)
    # A champion from a fork's "main" or from a feature branch is not dev's serving model.
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c1"), 1, fork=True)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c2"), 2, branch="x")
    train, gate = stage(workflows, world, push())
    assert train.outputs["comparison-verdict"] == "no-champion"
    assert gate.ok, gate.log()
    assert "## Model gate: pass, nothing to compare with" in gate.summary
    assert "dev's first deploy" in gate.summary
    # Nothing was scored, so nothing is drawn, uploaded or linked.
    assert train.outcome("Upload the comparison figure") == "skipped"
    assert world.artifacts(FIGURE) == []
    assert FIGURE not in gate.summary


def test_a_model_as_good_as_the_champion_passes(
    workflows: dict[str, dict[str, Any]], tmp_path: Path, artifact_dir: Path
) -> None:
    world = world_with(tmp_path, artifact_dir)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c"), CHAMPION_RUN)
    world.set_pr(7, pr_json(7, labels=()))
    event = pull_request(7)
    train, gate = stage(workflows, world, event)
    assert train.outputs["comparison-verdict"] == "pass"
    assert gate.ok, gate.log()
    assert "## Model gate: pass" in gate.summary
    assert "| accuracy | 1.0000 | 1.0000 | +0.0000 |" in gate.summary
    assert f"`champion` of run {CHAMPION_RUN}" in gate.summary
    # The comparison table is in the train job's summary too.
    assert "### Champion vs challenger" in train.summary
    # The figure is uploaded as it is (archive: false), under its file name, and the gate's
    # summary links it by the artifact-url upload-artifact reports.
    (figure,) = world.artifacts(FIGURE)
    looked_at((Path(figure["path"]) / FIGURE).read_bytes(), 2 * SIZE[0], SIZE[1])
    url = train.outputs["comparison-figure-url"]
    run_id = figure["workflow_run"]["id"]
    artifact_path = f"{event.repository}/actions/runs/{run_id}/artifacts/{figure['id']}"
    assert url == f"https://github.com/{artifact_path}"
    assert f"[{FIGURE}]({url})" in gate.summary
    # GitHub cannot show the PNG inline; the Mermaid chart redraws the ROC curves in both.
    assert "```mermaid\nxychart-beta\n" in gate.summary
    assert "```mermaid\nxychart-beta\n" in train.summary


def test_the_newest_champion_of_main_is_the_one_compared(
    workflows: dict[str, dict[str, Any]],
    tmp_path: Path,
    artifact_dir: Path,
    weak_artifact_dir: Path,
) -> None:
    # The weak model served once; the strong one was deployed after it (a later deploy, or a
    # rollback): the strong one is the champion, so a weak challenger regresses.
    world = world_with(tmp_path, weak_artifact_dir)
    world.add_artifact("champion", served_files(weak_artifact_dir, tmp_path / "old"), 3)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "new"), CHAMPION_RUN)
    train, _ = stage(workflows, world, push())
    assert train.outputs["comparison-verdict"] == "regression"
    assert version_of(artifact_dir) in train.outputs["comparison-report"]


@pytest.fixture
def regression(tmp_path: Path, artifact_dir: Path, weak_artifact_dir: Path) -> World:
    """dev serves the strong model; the new one is the weak one (variance zeroed)."""
    world = world_with(tmp_path, weak_artifact_dir)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c"), CHAMPION_RUN)
    return world


def test_a_regression_fails_the_stage_and_the_pr_comment_says_how_to_accept(
    workflows: dict[str, dict[str, Any]], regression: World
) -> None:
    regression.set_pr(7, pr_json(7, labels=("preview-stack",)))
    train, gate = stage(workflows, regression, pull_request(7, labels=(ACCEPT,)))
    # The train job records the verdict; the model-gate job fails the stage on it.
    assert train.ok
    assert train.outputs["comparison-verdict"] == "regression"
    assert not gate.ok
    assert "## Model gate: regression" in gate.summary
    assert "is worse than champion" in gate.summary
    assert "(worse beyond tolerance)" in gate.summary  # compare's own Markdown table
    assert f"add the label `{ACCEPT}`" in gate.summary
    # The payload above carries the label, the API does not: the label is not there now.
    (comment,) = regression.comments(7)
    assert comment["body"].startswith("<!-- model-comparison -->\n## Model gate: regression")
    # The comment links the figure of the two models and carries the chart.
    assert f"[{FIGURE}]({train.outputs['comparison-figure-url']})" in comment["body"]
    assert "```mermaid\nxychart-beta\n" in comment["body"]


def test_the_label_accepts_a_regression_on_a_re_run_of_the_gate_alone(
    workflows: dict[str, dict[str, Any]], regression: World
) -> None:
    regression.set_pr(7, pr_json(7, labels=()))
    train, failed = stage(workflows, regression, pull_request(7))
    assert not failed.ok
    # A person adds the label and re-runs the failed job: same payload, same train outputs.
    regression.set_pr(7, pr_json(7, labels=(ACCEPT, "preview-stack")))
    rerun = run_job(
        workflows["train.yml"], "model-gate", pull_request(7), regression, needs={"train": train}
    )
    assert rerun.ok, rerun.log()
    assert "## Model gate: regression accepted on purpose" in rerun.summary
    assert f"Accepted on purpose by the label `{ACCEPT}` on PR #7." in rerun.summary
    assert "is worse than champion" in rerun.summary
    # One comment, edited: the verdict as it stands now.
    (comment,) = regression.comments(7)
    assert "regression accepted on purpose" in comment["body"]
    methods = [c for c in regression.github()["calls"] if "--method" in c]
    assert [c[c.index("--method") + 1] for c in methods] == ["POST", "PATCH"]


def test_the_dispatch_input_accepts_a_regression(
    workflows: dict[str, dict[str, Any]], regression: World
) -> None:
    # gh workflow run train.yml -f accept-regression=true
    _, gate = stage(
        workflows, regression, dispatch(**{ACCEPT: True}), {ACCEPT: True}, "workflow_dispatch"
    )
    assert gate.ok, gate.log()
    assert f"the `{ACCEPT}` input of a run started by hand by @octocat" in gate.summary
    # Without it, the same run fails.
    _, refused = stage(workflows, regression, dispatch(), {}, "workflow_dispatch")
    assert not refused.ok


def test_analyze_passes_the_dispatch_input_and_nothing_else_accepts(
    workflows: dict[str, dict[str, Any]],
) -> None:
    call = workflows["analyze.yml"]["jobs"]["train"]["with"][ACCEPT]
    by_hand = dispatch(**{ACCEPT: True}).context({ACCEPT: True})
    assert interpolate(call, by_hand) == "true"
    assert interpolate(call, push().context({})) == "false"
    assert interpolate(call, pull_request().context({})) == "false"


def test_on_main_the_label_of_the_merged_pr_accepts(
    workflows: dict[str, dict[str, Any]], regression: World
) -> None:
    merged = {"number": 12, "merged_at": "2026-11-26T10:00:00Z", "labels": [{"name": ACCEPT}]}
    regression.set_commit_pulls(PUSH_SHA, merged)
    _, gate = stage(workflows, regression, push())
    assert gate.ok, gate.log()
    assert f"the label `{ACCEPT}` on PR #12, merged as {PUSH_SHA[:7]}" in gate.summary
    # An open PR that happens to contain the commit accepts nothing.
    regression.set_commit_pulls(PUSH_SHA, {**merged, "merged_at": None})
    _, refused = stage(workflows, regression, push())
    assert not refused.ok
    assert regression.comments(12) == []  # no comments from a push


@pytest.mark.parametrize(("downgrade", "version"), [(as_format_1, 1), (as_format_2, 2)])
def test_a_champion_of_an_earlier_format_is_compared(
    workflows: dict[str, dict[str, Any]],
    tmp_path: Path,
    artifact_dir: Path,
    downgrade: Any,
    version: int,
) -> None:
    # The model serving before the artifact format changed is still the champion: dev serves a
    # format 2 artifact on the day the model spec arrives. Its contract is the banknote one.
    old = served_files(artifact_dir, tmp_path / "old")
    metadata = json.loads((old / METADATA_FILE).read_text())
    (old / METADATA_FILE).write_text(json.dumps(downgrade(metadata)))
    world = world_with(tmp_path, artifact_dir)
    world.add_artifact("champion", old, CHAMPION_RUN)
    train, gate = stage(workflows, world, push())
    assert train.outputs["comparison-verdict"] == "pass"
    assert f"| artifact format | {version} | {FORMAT_VERSION} | |" in gate.summary
    assert gate.ok


@pytest.fixture
def new_contract(tmp_path: Path, artifact_dir: Path, new_contract_artifact_dir: Path) -> World:
    """dev serves the banknote model; the new one takes three of its four features."""
    world = world_with(tmp_path, new_contract_artifact_dir)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c"), CHAMPION_RUN)
    return world


def test_a_new_model_contract_asks_for_acceptance_and_says_why(
    workflows: dict[str, dict[str, Any]], new_contract: World
) -> None:
    new_contract.set_pr(7, pr_json(7, labels=()))
    train, gate = stage(workflows, new_contract, pull_request(7))
    assert train.ok, train.log()
    assert train.outputs["comparison-verdict"] == "new-contract"
    assert "new model contract: no comparison possible" in train.outputs["comparison-reason"]
    assert "Traceback" not in train.log()
    assert not gate.ok
    assert "## Model gate: new model contract: no comparison possible" in gate.summary
    # compare's own table: what differs, champion against challenger.
    assert (
        "| features | variance, skewness, curtosis, entropy | variance, skewness, curtosis |"
        in (gate.summary)
    )
    assert f"add the label `{ACCEPT}`" in gate.summary
    (comment,) = new_contract.comments(7)
    assert "new model contract" in comment["body"]
    # The explicit acceptance that exists for regressions accepts it, on a re-run of the gate.
    new_contract.set_pr(7, pr_json(7, labels=(ACCEPT,)))
    rerun = run_job(
        workflows["train.yml"], "model-gate", pull_request(7), new_contract, needs={"train": train}
    )
    assert rerun.ok, rerun.log()
    assert "## Model gate: new model contract accepted on purpose" in rerun.summary
    assert f"Accepted on purpose by the label `{ACCEPT}` on PR #7." in rerun.summary


def test_the_dispatch_input_accepts_a_new_model_contract(
    workflows: dict[str, dict[str, Any]], new_contract: World
) -> None:
    _, gate = stage(
        workflows, new_contract, dispatch(**{ACCEPT: True}), {ACCEPT: True}, "workflow_dispatch"
    )
    assert gate.ok, gate.log()
    assert "new model contract accepted on purpose" in gate.summary


def test_an_expired_champion_fails_until_recorded_again_or_accepted(
    workflows: dict[str, dict[str, Any]], tmp_path: Path, artifact_dir: Path
) -> None:
    world = world_with(tmp_path, artifact_dir)
    world.add_artifact("champion", served_files(artifact_dir, tmp_path / "c"), 8, expired=True)
    world.set_pr(7, pr_json(7, labels=()))
    train, gate = stage(workflows, world, pull_request(7))
    assert train.outputs["comparison-verdict"] == "unavailable"
    assert not gate.ok
    assert "## Model gate: no usable champion" in gate.summary
    assert "has expired" in gate.summary
    assert "gh workflow run deploy.yml --ref main -f model-version=" in gate.summary
    world.set_pr(7, pr_json(7, labels=(ACCEPT,)))
    rerun = run_job(
        workflows["train.yml"], "model-gate", pull_request(7), world, needs={"train": train}
    )
    assert rerun.ok
    assert "## Model gate: model without a comparison accepted on purpose" in rerun.summary


def test_a_champion_that_fails_verification_is_refused_with_its_reason(
    workflows: dict[str, dict[str, Any]], tmp_path: Path, artifact_dir: Path
) -> None:
    tampered = served_files(artifact_dir, tmp_path / "c")
    (tampered / "model.onnx").write_bytes((tampered / "model.onnx").read_bytes() + b"\0")
    world = world_with(tmp_path, artifact_dir)
    world.add_artifact("champion", tampered, CHAMPION_RUN)
    train, gate = stage(workflows, world, push())
    assert train.outputs["comparison-verdict"] == "unavailable"
    reason = train.outputs["comparison-reason"]
    assert "sha256 does not match metadata.json" in reason
    assert "Traceback" not in train.log()
    assert not gate.ok


def test_the_gate_never_comments_from_forks_or_dependabot(
    workflows: dict[str, dict[str, Any]],
) -> None:
    step = workflows["train.yml"]["jobs"]["model-gate"]["steps"][-1]
    for event, expected in (
        (pull_request(7), "7"),
        (pull_request(7, fork=True), ""),
        (pull_request(7, author="dependabot[bot]"), ""),
        (push(), ""),
    ):
        assert interpolate(step["env"]["COMMENT_ON"], event.context({})).strip() == expected


def test_the_champion_is_the_artifact_deploy_dev_uploads(
    workflows: dict[str, dict[str, Any]],
) -> None:
    text = (ROOT / ".github" / "scripts" / "model_gate.py").read_text()
    assert 'CHAMPION_ARTIFACT = "champion"' in text
    (upload,) = [
        s
        for s in workflows["deploy.yml"]["jobs"]["deploy-dev"]["steps"]
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert upload["with"]["name"] == "champion"
    assert upload["with"]["if-no-files-found"] == "error"
    # Only the dev deploy records it: a preview or a PR stack serves no one on main.
    for job in ("preview", "pr-stack"):
        steps = workflows["deploy.yml"]["jobs"][job]["steps"]
        assert not [s for s in steps if "upload-artifact" in str(s.get("uses", ""))], job


def test_the_figure_the_gate_links_is_the_one_its_script_draws_and_the_page_names() -> None:
    script = (ROOT / ".github" / "scripts" / "model_gate.py").read_text()
    assert f'FIGURE_FILE = "{FIGURE}"' in script
    train = (ROOT / ".github" / "workflows" / "train.yml").read_text()
    assert f"path: model-gate/{FIGURE}" in train
    page = (ROOT / "docs" / "lifecycle.md").read_text()
    assert f"`{FIGURE}`" in page
