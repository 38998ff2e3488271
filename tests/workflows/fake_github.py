"""A stand-in `gh` for the workflow tests: the REST API calls and `gh run download` the workflows'
scripts make, answered from a JSON state file (FAKE_GH_STATE) that outlives a runner, as GitHub
does. Every invocation is recorded under "calls".

Modelled on, and no kinder than, what the scripts rely on:
- "Get a pull request" answers the PR as it is now (`state`, `labels[].name`, `head.sha`); a list
  of answers is given out in order, the last one repeating; an unknown PR is "Not Found (HTTP
  404)". An answer may also be a failure: {"http_status": N, "message": M} is an HTTP error as
  `gh api` reports one (cli/cli pkg/cmd/api/api.go processResponse: the body on stdout,
  "gh: M (HTTP N)" on stderr, or "gh: HTTP N" without a message; exit code 1), and
  {"gh_exit": N, "gh_stderr": S} a failure before any HTTP status (no network: "error
  connecting to <host>", internal/ghcmd/cmd.go printError; no credentials: exit code 4).
- "List artifacts for a repository" (`?name=` filters by name) answers `{total_count,
  artifacts}`, each with `id`, `name`, `expired`, `created_at` and `workflow_run` {`id`,
  `repository_id`, `head_repository_id`, `head_branch`, `head_sha`}; expired artifacts stay
  listed.
- `gh run download RUN -n NAME -D DIR` extracts that run's artifact into DIR itself (one name:
  no sub-directory, cli/cli pkg/cmd/run/download `isolateArtifacts`); expired artifacts are
  skipped, and with nothing left it fails with "no valid artifacts found to download".
- "List pull requests associated with a commit" answers the PRs recorded for that commit.
- Issue comments: list (`per_page`, `page`), create (POST), update (PATCH) with `-f body=`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any


def _flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _api(state: dict[str, Any], args: list[str]) -> tuple[int, str]:
    method = (_flag(args, "--method") or "GET").upper()
    values = {"--method", "-f", "-F", "--jq", "-H"}
    positional = [
        a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] not in values
    ]
    parsed = urllib.parse.urlsplit(positional[0])
    path, query = parsed.path, dict(urllib.parse.parse_qsl(parsed.query))
    parts = path.split("/")
    body = (_flag(args, "-f") or "").removeprefix("body=")
    if "/actions/artifacts" in path:
        found = [a for a in state["artifacts"] if a["name"] == query.get("name", a["name"])]
        public = [{k: v for k, v in a.items() if k != "path"} for a in found]
        return 0, json.dumps({"total_count": len(public), "artifacts": public})
    if len(parts) == 5 and parts[3] == "pulls":  # repos/OWNER/REPO/pulls/N
        answers = state["prs"].get(parts[4])
        if not answers:
            return _http_error(404, "Not Found")
        answer = answers[0]
        if len(answers) > 1:
            answers.pop(0)
        if "http_status" in answer:
            return _http_error(answer["http_status"], answer.get("message"))
        if "gh_exit" in answer:
            return answer["gh_exit"], answer["gh_stderr"]
        return 0, json.dumps(answer)
    if len(parts) == 6 and parts[3] == "commits" and parts[5] == "pulls":
        return 0, json.dumps(state["commit_pulls"].get(parts[4], []))
    if len(parts) == 6 and parts[3] == "issues" and parts[5] == "comments":
        comments = state["comments"].setdefault(parts[4], [])
        if method == "POST":
            comment = {"id": state["next_comment_id"], "body": body}
            state["next_comment_id"] += 1
            comments.append(comment)
            return 0, json.dumps(comment)
        per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
        return 0, json.dumps(comments[(page - 1) * per_page : page * per_page])
    if len(parts) == 6 and parts[3:5] == ["issues", "comments"] and method == "PATCH":
        for comments in state["comments"].values():
            for comment in comments:
                if str(comment["id"]) == parts[5]:
                    comment["body"] = body
                    return 0, json.dumps(comment)
        return 1, "gh: Not Found (HTTP 404)"
    return 0, "[]"


def _http_error(status: int, message: str | None) -> tuple[int, str]:
    """`gh api` meeting an HTTP error: the body on stdout (written here), the line for stderr."""
    if message is None:
        sys.stdout.write("<html><body>upstream error</body></html>\n")
        return 1, f"gh: HTTP {status}"
    body = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }
    sys.stdout.write(json.dumps(body) + "\n")
    return 1, f"gh: {message} (HTTP {status})"


def _download(state: dict[str, Any], args: list[str]) -> tuple[int, str]:
    run_id, name, dest = args[2], _flag(args, "-n"), Path(_flag(args, "-D") or ".")
    found = [
        a for a in state["artifacts"]
        if str(a["workflow_run"]["id"]) == run_id and a["name"] == name and not a["expired"]
    ]  # fmt: skip
    if not found:
        return 1, "no valid artifacts found to download"
    shutil.copytree(found[0]["path"], dest, dirs_exist_ok=True)
    return 0, ""


def main() -> int:
    """Answer one `gh` invocation from the state file."""
    state_file = Path(os.environ["FAKE_GH_STATE"])
    state: dict[str, Any] = json.loads(state_file.read_text())
    args = sys.argv[1:]
    state.setdefault("calls", []).append(args)
    if args[:1] == ["api"]:
        code, out = _api(state, args[1:])
    elif args[:2] == ["run", "download"]:
        code, out = _download(state, args)
    else:
        code, out = 1, f"the stand-in gh does not model `gh {' '.join(args)}`"
    state_file.write_text(json.dumps(state))
    (sys.stdout if code == 0 else sys.stderr).write(out + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
