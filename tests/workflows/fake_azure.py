"""Stand-ins for `az` (the ACR commands the workflows run) and `docker` (reading an image's files),
sharing one registry state (FAKE_AZURE_STATE) that outlives a runner, as a registry does.

Modelled on what the scripts rely on, and no kinder:
- `az acr manifest list-metadata --registry NAME --name REPO [--orderby time_desc]` answers the
  repository's manifests as ACR's `/acr/v1/<repo>/_manifests` lists them (Azure/azure-cli
  acr/manifest.py `acr_manifest_metadata_list` returns that list as it is): `digest`,
  `createdTime`, and `tags` only on tagged manifests; newest first with time_desc. An unknown
  registry or repository is an error.
- `az acr login --name NAME` logs the Docker CLI in to that registry; `docker create` of an image
  in a registry it is not logged in to fails ("unauthorized: authentication required"), as does
  an unknown digest ("manifest unknown").
- `docker container inspect --format '{{json .Config.Env}}'`, `docker cp CONTAINER:PATH DEST` and
  `docker rm` work on the created container; an image's files are the model directory the test
  gave it, at the MODEL_DIR of the service image's environment.

Run as `python fake_azure.py az ...` or `python fake_azure.py docker ...` (the runner puts `az`
and `docker` wrappers for it on PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

MODEL_DIR = "/app/artifacts/model"  # the service image's MODEL_DIR (Dockerfile ENV)


def _flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _az(state: dict[str, Any], args: list[str]) -> tuple[int, str]:
    registries = state["registries"]
    if args[:3] == ["acr", "manifest", "list-metadata"]:
        name, repository = _flag(args, "--registry"), _flag(args, "--name")
        if name not in registries:
            return 1, (
                f"ERROR: The resource with name '{name}' and type "
                "'Microsoft.ContainerRegistry/registries' could not be found in subscription."
            )
        manifests = registries[name]["repositories"].get(repository)
        if manifests is None:
            return 1, f"ERROR: repository {repository} is not found. NAME_UNKNOWN"
        listed = [{k: v for k, v in m.items() if k not in ("files", "version")} for m in manifests]
        for entry in listed:
            if not entry.get("tags"):
                entry.pop("tags", None)
        if _flag(args, "--orderby") == "time_desc":
            listed.sort(key=lambda m: m["createdTime"], reverse=True)
        return 0, json.dumps(listed, indent=2)
    if args[:2] == ["acr", "login"]:
        name = _flag(args, "--name")
        if name not in registries:
            return 1, f"ERROR: The resource with name '{name}' could not be found."
        state["docker_logins"].append(registries[name]["login_server"])
        return 0, "Login Succeeded"
    return 1, f"ERROR: the stand-in az does not model `az {' '.join(args)}`"


def _image(state: dict[str, Any], reference: str) -> tuple[dict[str, Any] | None, str]:
    server, _, rest = reference.partition("/")
    repository, _, digest = rest.partition("@")
    for registry in state["registries"].values():
        if registry["login_server"] != server:
            continue
        if server not in state["docker_logins"]:
            url = f"https://{server}/v2/{repository}/manifests/{digest}"
            problem = "unauthorized: authentication required"
            return None, f'Error response from daemon: Head "{url}": {problem}'
        for manifest in registry["repositories"].get(repository, []):
            if manifest["digest"] == digest:
                return manifest, ""
    return None, f"Error response from daemon: manifest for {reference} not found: manifest unknown"


def _docker(state: dict[str, Any], args: list[str]) -> tuple[int, str]:
    containers = state["containers"]
    if args[:1] == ["create"]:
        name = _flag(args, "--name") or "x"
        manifest, error = _image(state, args[-1])
        if manifest is None:
            return 1, error
        containers[name] = manifest["files"]
        return 0, f"{name}-id"
    if args[:2] == ["container", "inspect"]:
        if args[-1] not in containers:
            return 1, f"Error: No such container: {args[-1]}"
        return 0, json.dumps(["PATH=/opt/venv/bin:/usr/bin", f"MODEL_DIR={MODEL_DIR}", "PORT=8000"])
    if args[:1] == ["cp"]:
        source, dest = args[1], args[2]
        name, _, path = source.partition(":")
        if name not in containers:
            return 1, f"Error: No such container:path: {source}"
        inside = path.startswith(MODEL_DIR + "/")
        file = Path(containers[name]) / path.removeprefix(MODEL_DIR + "/")
        if not inside or not file.is_file():
            return (
                1,
                f"Error response from daemon: Could not find the file {path} in container {name}",
            )
        shutil.copy(file, dest)
        return 0, ""
    if args[:1] == ["rm"]:
        containers.pop(args[-1], None)
        return 0, args[-1]
    return 1, f"the stand-in docker does not model `docker {' '.join(args)}`"


def main() -> int:
    """Answer one `az` or `docker` invocation from the state file."""
    state_file = Path(os.environ["FAKE_AZURE_STATE"])
    state: dict[str, Any] = json.loads(state_file.read_text())
    tool, args = sys.argv[1], sys.argv[2:]
    state["calls"].append([tool, *args])
    code, out = (_az if tool == "az" else _docker)(state, args)
    state_file.write_text(json.dumps(state))
    (sys.stdout if code == 0 else sys.stderr).write(out + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
