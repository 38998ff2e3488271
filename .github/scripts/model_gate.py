"""The train stage's model gate: is the new model at least as good as the one dev serves?

    python .github/scripts/model_gate.py compare --repository OWNER/REPO --challenger DIR
    python .github/scripts/model_gate.py gate --repository OWNER/REPO

`compare` (train job) finds the champion, the model dev serves: the newest `champion` artifact of
a run on main of this repository. The deploy job uploads one after each successful deploy of dev,
with the files dev really serves (also after a rollback, copied out of the deployed image), so
a deploy that failed, or a model trained but never deployed, is never the champion. It downloads
it (`gh run download`) and runs `python -m model compare --champion ... --challenger DIR`, which
verifies both artifacts through the contract (format 1 champions included) and scores both on the
same holdout rows, and draws both models' ROC and calibration curves (FIGURE_FILE in the work
directory; the workflow uploads it unzipped). It records the verdict as step outputs (`verdict`,
`reason`, `report`, `figure`) and in the job summary, and fails only when it cannot do its job
(GitHub's API unreachable):

  verdict       when                                                    the gate then
  pass          the challenger is not worse beyond tolerance            passes
  regression    it is worse (compare's exit code 4)                     fails, unless accepted
  new-contract  its contract (name, features or classes) is not the     fails, unless accepted
                champion's (compare's exit code 5): a new model, whose
                scores cannot be set against the old one's rows
  no-champion   no `champion` artifact exists: dev was never deployed   passes, and says so
                since this gate exists (its first deploy)
  unavailable   the newest champion expired (90 days without a deploy   fails, unless accepted
                of dev), cannot be downloaded, or fails verification

An unusable champion fails: the gate exists to stop a model worse than the serving one, and
without the serving model's files it cannot tell. It is a state a person can end either way:
redeploy dev's serving version (deploy.yml with model-version), which records it afresh, or
accept the model without a comparison.

`gate` (a job of its own, so "Re-run failed jobs" after adding the label re-decides without
retraining) decides whether a person accepted a failing verdict: the dispatch input
accept-regression; on a pull request, the label `accept-regression` as the GitHub API reports it
now (the event payload, and a re-run's, is as old as the run: docs.github.com "Re-running
workflows and jobs", and the 2019-09-30 changelog "deterministic re-runs" keeps the original
payload); on a push to main, that label on the pull request merged as the pushed commit
("List pull requests associated with a commit"). It writes the job summary, updates one
comment on the PR (with --comment-on), and exits 1 when a failing verdict is not accepted.
Both carry the comparison report (its Markdown redraws the ROC curves as a Mermaid chart) and a
link to the uploaded figure (FIGURE_URL, upload-artifact's `artifact-url`).

What GitHub shows of a picture, and why this is the way: Markdown in a job summary or a comment
drops `data:` image URIs (Lullabot/playwright-drupal#121 removed its base64 screenshots from
$GITHUB_STEP_SUMMARY for that reason), so a PNG cannot be inlined; an artifact's URL "only works
for requests Authenticated with GitHub" (actions/upload-artifact v7.0.0 action.yml,
`artifact-url`), which an image proxy is not, so it cannot be an <img> source either. It is a
link: with `archive: false` (v7.0.0, "Support direct file uploads", #764) the artifact is the PNG
itself, not a zip (actions/toolkit#2256 made single files uploadable unzipped so that a browser
can show a png as it is). What is drawn inline is a Mermaid chart: GitHub renders Mermaid code
blocks in comments (docs.github.com "Creating diagrams") and in job summaries
(haidaraM/ansible-playbook-grapher writes its graphs to $GITHUB_STEP_SUMMARY as Mermaid,
tests/job-summary.md.j2).

Plain Python 3 and `gh`; `compare` needs the project's virtualenv for `python -m model`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CHAMPION_ARTIFACT = "champion"  # uploaded by deploy.yml's deploy-dev job
ACCEPT_LABEL = "accept-regression"
COMMENT_MARKER = "<!-- model-comparison -->"
FIGURE_FILE = "model-comparison.png"  # train.yml uploads it from the work directory
REGRESSION_EXIT = 4  # python -m model compare: the challenger is worse beyond tolerance
NEW_CONTRACT_EXIT = 5  # python -m model compare: other name, features or classes
PASSING = ("pass", "no-champion")
FAILING = ("regression", "new-contract", "unavailable")
PAGE = 100


class GateError(Exception):
    """The gate cannot do its job (GitHub's API failed); one line on stderr."""


# -- GitHub -------------------------------------------------------------------------------------
def gh(*args: str) -> str:
    """Run `gh` and return its stdout; a failure becomes a GateError with gh's last line."""
    result = subprocess.run(  # noqa: S603 - fixed program, arguments from this script
        ["gh", *args],  # noqa: S607 - gh from PATH is the point
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise GateError(f"gh {' '.join(args[:2])}: {lines[-1] if lines else 'failed'}")
    return result.stdout


def gh_json(path: str) -> Any:
    """GET a REST API path as JSON."""
    text = gh("api", path)
    try:
        return json.loads(text)
    except ValueError:
        raise GateError(f"gh api {path}: the answer is not JSON") from None


def newest_champion(repository: str, branch: str) -> dict[str, Any] | None:
    """The newest `champion` artifact of a run on `branch` of this repository (expired or not).

    A fork's branch of the same name has another head repository ("List artifacts for a
    repository": each artifact's workflow_run has head_branch, repository_id and
    head_repository_id); pull request runs never upload one (deploy-dev does not run on them).
    """
    answer = gh_json(
        f"repos/{repository}/actions/artifacts?name={CHAMPION_ARTIFACT}&per_page={PAGE}"
    )
    candidates = [
        artifact
        for artifact in answer.get("artifacts") or []
        if (run := artifact.get("workflow_run") or {}).get("head_branch") == branch
        and run.get("head_repository_id") == run.get("repository_id")
    ]
    candidates.sort(key=lambda artifact: str(artifact.get("created_at", "")), reverse=True)
    return candidates[0] if candidates else None


# -- outputs ------------------------------------------------------------------------------------
def set_output(name: str, value: str) -> None:
    """A step output; multi-line values with a random delimiter (docs.github.com "Workflow
    commands": GITHUB_OUTPUT multiline strings), so no line of the value can end it."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        if "\n" in value:
            delimiter = f"EOF_{secrets.token_hex(16)}"
            out.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.write(f"{name}={value}\n")


def append_summary(text: str) -> None:
    """Add Markdown to the job summary."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(text if text.endswith("\n") else text + "\n")


# -- compare ------------------------------------------------------------------------------------
def compare(
    repository: str, challenger: Path, workdir: Path, python: str, branch: str
) -> tuple[str, str, str]:
    """(verdict, reason, report Markdown) for the challenger against dev's serving model.

    When both models were scored, FIGURE_FILE in `workdir` draws them.
    """
    artifact = newest_champion(repository, branch)
    if artifact is None:
        reason = (
            f"no model recorded as serving on dev yet (no `{CHAMPION_ARTIFACT}` artifact from "
            f"{branch}): dev's first deploy, or its first since this gate exists"
        )
        return "no-champion", reason, ""
    run_id = str((artifact.get("workflow_run") or {}).get("id", ""))
    created = str(artifact.get("created_at", "?"))
    where = f"`{CHAMPION_ARTIFACT}` of run {run_id}, uploaded {created}"
    if artifact.get("expired"):
        reason = (
            f"the record of dev's serving model ({where}) has expired: dev was not deployed "
            "within the artifact retention"
        )
        return "unavailable", reason, ""
    champion = workdir / "champion"
    try:
        gh(
            "run",
            "download",
            run_id,
            "-n",
            CHAMPION_ARTIFACT,
            "-D",
            str(champion),
            "-R",
            repository,
        )
    except GateError as error:
        return (
            "unavailable",
            f"the record of dev's serving model ({where}) cannot be downloaded: {error}",
            "",
        )
    markdown = workdir / "comparison.md"
    result = subprocess.run(  # noqa: S603 - this repository's own module
        [
            python,
            "-m",
            "model",
            "compare",
            "--champion",
            str(champion),
            "--challenger",
            str(challenger),
            "--json",
            str(workdir / "comparison.json"),
            "--markdown",
            str(markdown),
            "--figure",
            str(workdir / FIGURE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    errors = [line for line in result.stderr.strip().splitlines() if line.strip()]
    last = errors[-1].removeprefix("error: ") if errors else f"exit code {result.returncode}"
    if result.returncode == 0:
        return "pass", f"not worse than dev's serving model ({where})", markdown.read_text()
    if result.returncode == REGRESSION_EXIT:
        return "regression", last, markdown.read_text()
    if result.returncode == NEW_CONTRACT_EXIT:
        return "new-contract", last, markdown.read_text()
    return "unavailable", f"dev's serving model ({where}) cannot be compared: {last}", ""


# -- gate ---------------------------------------------------------------------------------------
def acceptance(
    repository: str, event: str, accept_input: str, pr_number: str, sha: str, actor: str
) -> str | None:
    """Who accepted a failing verdict on purpose, or None."""
    if accept_input.strip().lower() == "true":
        return f"the `{ACCEPT_LABEL}` input of a run started by hand by @{actor}"
    if event == "pull_request" and pr_number:
        pull = gh_json(f"repos/{repository}/pulls/{pr_number}")
        if ACCEPT_LABEL in {label.get("name") for label in pull.get("labels") or []}:
            return f"the label `{ACCEPT_LABEL}` on PR #{pr_number}"
    if event == "push" and sha:
        for pull in gh_json(f"repos/{repository}/commits/{sha}/pulls"):
            labels = {label.get("name") for label in pull.get("labels") or []}
            if pull.get("merged_at") and ACCEPT_LABEL in labels:
                return (
                    f"the label `{ACCEPT_LABEL}` on PR #{pull.get('number')}, merged as {sha[:7]}"
                )
    return None


def render(
    verdict: str, reason: str, report: str, accepted_by: str | None, figure_url: str = ""
) -> tuple[str, bool]:
    """(Markdown for the summary and the PR comment, whether the gate passes)."""
    how_to_accept = (
        f"To deploy it anyway, on purpose: add the label `{ACCEPT_LABEL}` to the pull request "
        f"and re-run this job, or start the pipeline by hand with the `{ACCEPT_LABEL}` input."
    )
    if verdict == "pass":
        title, text, ok = "pass", f"The new model is {reason}.", True
    elif verdict == "no-champion":
        title = "pass, nothing to compare with"
        text = f"No champion: {reason}. The absolute quality gate applied; this one passes."
        ok = True
    elif accepted_by is not None:
        what = {
            "regression": "regression",
            "new-contract": "new model contract",
        }.get(verdict, "model without a comparison")
        title = f"{what} accepted on purpose"
        text = f"{reason}.\n\n**Accepted on purpose by {accepted_by}.**"
        ok = True
    elif verdict == "regression":
        title, text, ok = "regression", f"{reason}.\n\n{how_to_accept}", False
    elif verdict == "new-contract":
        title = "new model contract: no comparison possible"
        text = (
            f"{reason}.\n\nThe new model takes or answers other things than the one dev "
            "serves (other features, classes or name), so the two cannot be scored on the same "
            "rows, and the API's clients will see the new contract: deploy it once they are "
            f"ready. {how_to_accept}"
        )
        ok = False
    else:
        title = "no usable champion"
        text = (
            f"{reason}.\n\nRecord dev's serving model again by deploying its version "
            "(`gh workflow run deploy.yml --ref main -f model-version=<the version dev's /model "
            f"reports>`), then re-run this job. {how_to_accept}"
        )
        ok = False
    body = f"## Model gate: {title}\n\n{text}\n"
    if report:
        body += f"\n{report}"
    if figure_url:
        body += (
            f"\nBoth models' ROC and calibration curves on these rows: [{FIGURE_FILE}]"
            f"({figure_url}) (a PNG artifact of this run; it opens for people signed in to "
            "GitHub who can see this repository).\n"
        )
    return body, ok


def post_comment(repository: str, number: str, body: str) -> None:
    """Create or update this gate's one comment on the pull request."""
    text = f"{COMMENT_MARKER}\n{body}"
    page = 1
    while True:
        comments = gh_json(
            f"repos/{repository}/issues/{number}/comments?per_page={PAGE}&page={page}"
        )
        for comment in comments:
            if str(comment.get("body", "")).startswith(COMMENT_MARKER):
                path = f"repos/{repository}/issues/comments/{comment['id']}"
                gh("api", "--method", "PATCH", path, "-f", f"body={text}")
                return
        if len(comments) < PAGE:
            break
        page += 1
    gh(
        "api",
        "--method",
        "POST",
        f"repos/{repository}/issues/{number}/comments",
        "-f",
        f"body={text}",
    )


def gate(repository: str, env: Mapping[str, str]) -> int:
    """Decide, report, and return the exit code (1 when a failing verdict is not accepted)."""
    verdict = env.get("VERDICT", "")
    if verdict not in (*PASSING, *FAILING):
        raise GateError(f"no comparison verdict from the train job (got {verdict!r})")
    accepted_by = None
    if verdict in FAILING:
        accepted_by = acceptance(
            repository,
            env.get("GITHUB_EVENT_NAME", ""),
            env.get("ACCEPT_INPUT", ""),
            env.get("PR_NUMBER", ""),
            env.get("HEAD_SHA", ""),
            env.get("GITHUB_ACTOR", "?"),
        )
    body, ok = render(
        verdict,
        env.get("REASON", ""),
        env.get("REPORT", ""),
        accepted_by,
        env.get("FIGURE_URL", ""),
    )
    append_summary(body)
    if env.get("COMMENT_ON"):
        post_comment(repository, env["COMMENT_ON"], body)
    if not ok:
        print(
            f"::error::model gate: {body.splitlines()[0].removeprefix('## Model gate: ')}: "
            f"{env.get('REASON', '')}"
        )
        return 1
    print(f"::notice::model gate: {body.splitlines()[0].removeprefix('## Model gate: ')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("compare", help="compare with dev's serving model")
    run.add_argument("--repository", required=True, help="OWNER/REPO")
    run.add_argument("--challenger", type=Path, required=True)
    run.add_argument("--workdir", type=Path, default=Path("model-gate"))
    run.add_argument("--python", default=sys.executable, help="with the project installed")
    run.add_argument("--branch", default="main", help="whose deploys record the champion")
    decide = commands.add_parser("gate", help="accepted? summary, PR comment, exit code")
    decide.add_argument("--repository", required=True, help="OWNER/REPO")
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            args.workdir.mkdir(parents=True, exist_ok=True)
            verdict, reason, report = compare(
                args.repository, args.challenger, args.workdir, args.python, args.branch
            )
            set_output("verdict", verdict)
            set_output("reason", reason)
            set_output("report", report)
            figure = args.workdir / FIGURE_FILE
            set_output("figure", FIGURE_FILE if figure.is_file() else "")
            append_summary(
                f"## Comparison with dev's serving model: {verdict}\n\n{reason}.\n\n{report}"
            )
            print(f"model gate: {verdict}: {reason}")
            return 0
        return gate(args.repository, os.environ)
    except GateError as error:
        print(f"model_gate: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
