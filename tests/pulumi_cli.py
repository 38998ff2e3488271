"""A stand-in `pulumi` CLI that models how the real one treats stacks and secrets managers with a
DIY (blob) backend, for tests that run the workflows' and scripts' Pulumi commands.

The real CLI cannot be installed here. What matters for these tests is modelled on its source
(pulumi/pulumi), and nothing else is:

- `stack init --secrets-provider P` records the new secrets manager in the stack's initial state
  (pkg/cmd/pulumi/stack/io.go `CreateStack`: "we'll send it off to the backend as part of the
  initial state", since v3.135.0, pulumi/pulumi#17387), and writes `secretsprovider` and
  `encryptedkey` into the local Pulumi.<stack>.yaml (pkg/secrets/cloud/manager.go
  `NewCloudSecretsManager` fills the ProjectStack, which the command saves).
- `stack select` changes nothing but the workspace's current stack.
- Every engine operation (preview, up, refresh, destroy) loads the secrets manager with
  `SecretsManagerLoader.GetSecretsManager` (pkg/cmd/pulumi/stack/secrets.go): the config file's
  cloud `secretsprovider` if set; else a passphrase manager if it has an `encryptionsalt`; else,
  when PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER is true, the manager recorded in the stack's
  state, which it then saves into the config file; else the backend's default, for DIY the
  passphrase manager (backend.go `DefaultSecretManager`), which without
  PULUMI_CONFIG_PASSPHRASE(_FILE) fails with "passphrase must be set ..."
  (pkg/secrets/passphrase/manager.go).
- An update records its secrets manager in the state (pkg/resource/stack/deployment.go
  `SerializeDeployment` writes `secrets_providers` whenever the snapshot has a manager); a
  preview writes nothing (diy `Preview` takes no lock, and `apply` persists nothing on a dry
  run); destroy empties the resources, `--remove` then removes the stack.
- A stack held by another run's lock fails with "the stack is currently locked by 1 lock(s)"
  (pkg/backend/diy/lock.go `checkForLock`).
- `config set`, `config set-all` and `config rm` change the stack's config file,
  Pulumi.<stack>.yaml, under `config:` with keys prefixed by the project name (a DIY backend
  keeps config only there). An update records the stack's outputs in its state, and
  `stack output --json` prints them (`{}` before the first update); of the app program's outputs
  the stand-in gives `registry` and `image` (the configured `image`, else a new digest per
  update, as a build would push).

Run as a program (the tests put a `pulumi` wrapper for it on PATH). The backend, which outlives
a job like the blob container does, is a directory named by FAKE_PULUMI_BACKEND; the runner's
workspace (the current stack) is PULUMI_HOME. Each engine operation is appended to
<backend>/operations.jsonl with the secrets manager it used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

PROMPT_ERROR = (
    "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
    "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
)
ENGINE_COMMANDS = ("preview", "up", "update", "refresh", "destroy")


def choose_secrets_manager(
    project_stack: dict[str, Any], state_providers: dict[str, Any] | None, fallback: bool
) -> tuple[str, bool]:
    """(manager, save): the manager GetSecretsManager picks, and whether it saves the config.

    The manager is the cloud provider URL, or "passphrase".
    """
    provider = str(project_stack.get("secretsprovider") or "")
    if provider not in ("", "default", "passphrase"):
        return provider, False
    if project_stack.get("encryptionsalt"):
        return "passphrase", False
    if fallback and state_providers:
        if state_providers.get("type") == "cloud":
            return str(state_providers["state"]["url"]), True
        return "passphrase", True
    return "passphrase", False


class Cli:
    """One invocation of the stand-in CLI."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.backend = Path(env["FAKE_PULUMI_BACKEND"])
        self.home = Path(env["PULUMI_HOME"])
        self.state_file = self.backend / "stacks.json"
        self.stacks: dict[str, dict[str, Any]] = (
            json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        )

    # -- files ---------------------------------------------------------------------------------
    def save(self) -> None:
        self.backend.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.stacks, indent=1))

    def config_path(self, stack: str) -> Path:
        return self.cwd / f"Pulumi.{stack}.yaml"

    def project_stack(self, stack: str) -> dict[str, Any]:
        path = self.config_path(stack)
        data = yaml.safe_load(path.read_text()) if path.exists() else None
        return dict(data or {})

    def write_project_stack(self, stack: str, data: dict[str, Any]) -> None:
        self.config_path(stack).write_text(yaml.safe_dump(data, sort_keys=False))

    def current(self) -> str | None:
        path = self.home / "workspace.json"
        if not path.exists():
            return None
        value = json.loads(path.read_text()).get(str(self.cwd))
        return str(value) if value else None

    def select(self, stack: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "workspace.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data[str(self.cwd)] = stack
        path.write_text(json.dumps(data))

    def record(self, entry: dict[str, Any]) -> None:
        self.backend.mkdir(parents=True, exist_ok=True)
        with (self.backend / "operations.jsonl").open("a") as log:
            log.write(json.dumps(entry) + "\n")

    # -- commands --------------------------------------------------------------------------------
    def run(self, args: list[str]) -> int:
        if not (self.cwd / "Pulumi.yaml").exists() and args[:1] not in (["login"], ["whoami"]):
            return self.fail("error: no Pulumi.yaml project file found")
        if args[:1] == ["login"]:
            return 0
        if args[:1] == ["whoami"]:
            print("ci")
            return 0
        if args[:2] == ["stack", "ls"]:
            print(json.dumps([{"name": f"organization/banknote/{s}"} for s in self.stacks]))
            return 0
        if args[:2] == ["stack", "init"]:
            return self.init(self.stack_arg(args[2:]), self.flag(args, "--secrets-provider"))
        if args[:2] == ["stack", "select"]:
            stack = self.stack_arg(args[2:])
            if stack not in self.stacks:
                if "--create" in args:
                    return self.init(stack, self.flag(args, "--secrets-provider"))
                return self.fail(f"error: no stack named '{stack}' found")
            self.select(stack)
            return 0
        if args[:2] == ["stack", "export"]:
            stack = self.stack_arg(args[2:])
            state = self.stacks[stack]
            deployment: dict[str, Any] = {"manifest": {}}
            if state["secrets_providers"]:
                deployment["secrets_providers"] = state["secrets_providers"]
            if state["resources"]:
                deployment["resources"] = [{"urn": f"r{i}"} for i in range(state["resources"])]
            print(json.dumps({"version": 3, "deployment": deployment}))
            return 0
        if args[:2] == ["stack", "rm"]:
            stack = self.stack_arg(args[2:])
            if self.stacks.get(stack, {}).get("resources") and "--force" not in args:
                return self.fail(f"error: '{stack}' still has resources; removal rejected")
            self.stacks.pop(stack, None)
            self.config_path(stack).unlink(missing_ok=True)
            self.save()
            return 0
        if args[:3] == ["stack", "output", "url"]:
            print("http://banknote.westeurope.azurecontainer.io:8000/")
            return 0
        if args[:2] == ["stack", "output"] and "--json" in args:
            stack = self.flag(args, "--stack") or self.current()
            if stack not in self.stacks:
                return self.fail(f"error: no stack named '{stack}' found")
            print(json.dumps(self.stacks[stack].get("outputs", {}), indent=2))
            return 0
        if args[:2] in (["config", "set"], ["config", "set-all"], ["config", "rm"]):
            return self.configure(args[1], args[2:])
        if args and args[0] in ENGINE_COMMANDS:
            return self.engine(args[0], args[1:])
        return self.fail(f"error: the stand-in CLI does not model `pulumi {' '.join(args)}`")

    def init(self, stack: str, provider: str | None) -> int:
        if stack in self.stacks:
            return self.fail(f"error: stack '{stack}' already exists")
        project_stack = self.project_stack(stack)
        if provider and provider.startswith("azurekeyvault://"):
            project_stack["secretsprovider"] = provider
            project_stack["encryptedkey"] = "wrapped-data-key"
            recorded: dict[str, Any] = {"type": "cloud", "state": {"url": provider}}
        elif not self.has_passphrase():
            return self.fail(PROMPT_ERROR)
        else:
            project_stack["encryptionsalt"] = "v1:salt"
            recorded = {"type": "passphrase", "state": {"salt": "v1:salt"}}
        self.stacks[stack] = {"secrets_providers": recorded, "resources": 0, "locks": 0}
        self.save()
        self.write_project_stack(stack, project_stack)
        self.select(stack)
        return 0

    def configure(self, verb: str, args: list[str]) -> int:
        stack = self.flag(args, "--stack") or self.current()
        if stack is None:
            return self.fail("error: no stack selected")
        project = yaml.safe_load((self.cwd / "Pulumi.yaml").read_text())["name"]
        values = [
            a for i, a in enumerate(args) if not a.startswith("-") and not self._is_value(args, i)
        ]
        changes: dict[str, str | None] = {}
        if verb == "set":
            changes[values[0]] = values[1]
        elif verb == "rm":
            changes[values[0]] = None
        else:  # set-all --plaintext key=value ...
            for arg in args:
                if arg.startswith("--plaintext="):
                    key, value = arg.removeprefix("--plaintext=").split("=", 1)
                    changes[key] = value
        project_stack = self.project_stack(stack)
        config = dict(project_stack.get("config") or {})
        for key, value in changes.items():
            name = key if ":" in key else f"{project}:{key}"
            if value is None:
                config.pop(name, None)
            else:
                config[name] = value
        project_stack["config"] = config
        self.write_project_stack(stack, project_stack)
        return 0

    def outputs(self, stack: str) -> dict[str, str]:
        """The app program's registry and image outputs after an update."""
        project_stack = self.project_stack(stack)
        pinned = (project_stack.get("config") or {}).get("banknote:image")
        registry = f"banknote{re.sub('[^a-z0-9]', '', stack)}0a1b2c3d.azurecr.io"
        updates = self.stacks[stack].get("updates", 0)
        built = (
            f"{registry}/banknote-api@sha256:{hashlib.sha256(str(updates).encode()).hexdigest()}"
        )
        return {"registry": registry, "image": str(pinned or built)}

    def engine(self, command: str, args: list[str]) -> int:
        stack = self.flag(args, "--stack") or self.flag(args, "-s") or self.current()
        if stack is None or stack not in self.stacks:
            return self.fail(f"error: no stack named '{stack}' found")
        state = self.stacks[stack]
        fallback = self.env.get("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER", "").lower() == "true"
        project_stack = self.project_stack(stack)
        manager, save = choose_secrets_manager(project_stack, state["secrets_providers"], fallback)
        self.record({"command": command, "stack": stack, "secrets_manager": manager})
        if manager == "passphrase" and not self.has_passphrase():
            return self.fail(PROMPT_ERROR)
        if save and manager != "passphrase":
            project_stack["secretsprovider"] = manager
            project_stack["encryptedkey"] = "wrapped-data-key"
            self.write_project_stack(stack, project_stack)
        if command != "preview" and state.get("locks"):
            state["locks"] -= 1
            self.save()
            return self.fail("error: the stack is currently locked by 1 lock(s).")
        if command in ("up", "update"):
            state["resources"] = 6
            state["secrets_providers"] = {"type": "cloud", "state": {"url": manager}}
            state["updates"] = state.get("updates", 0) + 1
            state["outputs"] = self.outputs(stack)
        elif command == "destroy":
            state["resources"] = 0
            if manager != "passphrase":
                state["secrets_providers"] = {"type": "cloud", "state": {"url": manager}}
            if "--remove" in args:
                self.stacks.pop(stack)
                self.config_path(stack).unlink(missing_ok=True)
        self.save()
        return 0

    # -- helpers --------------------------------------------------------------------------------
    def has_passphrase(self) -> bool:
        return "PULUMI_CONFIG_PASSPHRASE" in self.env or "PULUMI_CONFIG_PASSPHRASE_FILE" in self.env

    @staticmethod
    def flag(args: list[str], name: str) -> str | None:
        if name in args and args.index(name) + 1 < len(args):
            return args[args.index(name) + 1]
        return None

    def stack_arg(self, args: list[str]) -> str:
        named = self.flag(args, "--stack") or self.flag(args, "-s")
        if named:
            return named
        values = [
            a for i, a in enumerate(args) if not a.startswith("-") and not self._is_value(args, i)
        ]
        if values:
            return values[0]
        current = self.current()
        if current is None:
            raise SystemExit(self.fail("error: no stack selected"))
        return current

    @staticmethod
    def _is_value(args: list[str], index: int) -> bool:
        return index > 0 and args[index - 1] in ("--secrets-provider", "--stack", "-s")

    @staticmethod
    def fail(message: str) -> int:
        print(message, file=sys.stderr)
        return 255


def install(bin_dir: Path) -> Path:
    """Write a `pulumi` executable into bin_dir that runs this module; return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "pulumi"
    wrapper.write_text(f'#!/usr/bin/env bash\nexec "{sys.executable}" "{__file__}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def calls(backend: Path) -> list[str]:
    """Every invocation so far, as its argument line."""
    log = backend / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def operations(backend: Path) -> list[dict[str, Any]]:
    """The engine operations run so far against this backend."""
    log = backend / "operations.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def main() -> int:
    """Log the invocation (with GIT_COMMIT, which `up` reads), then run it."""
    env = dict(os.environ)
    backend = Path(env["FAKE_PULUMI_BACKEND"])
    backend.mkdir(parents=True, exist_ok=True)
    with (backend / "calls.log").open("a") as log:
        log.write(" ".join(sys.argv[1:]) + f" | GIT_COMMIT={env.get('GIT_COMMIT', '')}\n")
    return Cli(Path.cwd(), env).run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
