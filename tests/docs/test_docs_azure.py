"""The deploy pages against the Pulumi programs, their config files and the workflows."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infra import container
from infra.bootstrap.targets import targets
from tests.docs.pages import ROOT, all_pages, code, page
from tests.infra.pulumi_harness import ProgramRun
from tests.workflows.pipeline import load_actions, load_workflows, steps_of

SETUP = page("deploy/azure-setup.md")
FIRST = page("deploy/first-deploy.md")
SECURITY = page("deploy/security.md")
APP_STACK = page("deploy/app-stack.md")
PIPELINE = page("deploy/pipeline.md")

# Registered in every subscription from the start (learn.microsoft.com "Azure resource
# providers and types": Microsoft.Authorization, Microsoft.Resources and a few others are
# registered by default).
REGISTERED_BY_DEFAULT = {"Microsoft.Authorization", "Microsoft.Resources"}
# azure-native module -> resource provider namespace.
NAMESPACES = {
    "authorization": "Microsoft.Authorization",
    "resources": "Microsoft.Resources",
    "containerinstance": "Microsoft.ContainerInstance",
    "containerregistry": "Microsoft.ContainerRegistry",
    "managedidentity": "Microsoft.ManagedIdentity",
    "storage": "Microsoft.Storage",
    "keyvault": "Microsoft.KeyVault",
    "operationalinsights": "Microsoft.OperationalInsights",
    "app": "Microsoft.App",
    "monitor": "Microsoft.Insights",
    "insights": "Microsoft.Insights",
    "alertsmanagement": "Microsoft.AlertsManagement",
    "dashboard": "Microsoft.Dashboard",
    "applicationinsights": "Microsoft.Insights",  # workbooks
}
# Types whose namespace is not their module's: pulumi-azure-native puts the Azure Monitor
# workspace, Microsoft.Monitor/accounts, in its `monitor` module.
NAMESPACE_OF_TYPE = {"azure-native:monitor:AzureMonitorWorkspace": "Microsoft.Monitor"}


def test_the_registration_loop_lists_every_provider_the_programs_use(
    app_stack: Callable[..., ProgramRun],
    bootstrap_stack: Callable[..., ProgramRun],
    prod_image: str,
) -> None:
    used = set()
    # alice: a developer's stack on ACI, with monitoring and an action group; prod: Azure
    # Container Apps.
    runs = (
        app_stack("alice", monitoring="true", alertEmail="oncall@example.com"),
        app_stack("prod", image=prod_image),
        bootstrap_stack(),
    )
    for run in runs:
        assert run.error is None, run.error
        for resource in run.custom():
            provider, module, _ = resource.type.split(":")
            if provider == "azure-native":
                assert module in NAMESPACES, f"which namespace is azure-native:{module}?"
                used.add(NAMESPACE_OF_TYPE.get(resource.type, NAMESPACES[module]))
    [block] = [b for b in SETUP.code_blocks() if "az provider register" in b]
    loop = re.search(r"for ns in (.*?); do (az provider register [^;]*); done", block, re.DOTALL)
    assert loop, f"{SETUP.name}: the setup has a loop registering the providers"
    listed = set(loop[1].replace("\\", " ").split())
    assert listed == used - REGISTERED_BY_DEFAULT, f"{SETUP.name}: the registration loop"
    # Registration takes minutes; without --wait the first deploy can fail with
    # MissingSubscriptionRegistration (learn.microsoft.com "az provider register": --wait).
    assert "--wait" in loop[2].split(), f"{SETUP.name}: the loop must wait"


def workflow_variables() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / ".github").rglob("*.yml"):
        found |= set(re.findall(r"\bvars\.([A-Z_]+)", path.read_text(encoding="utf-8")))
    return found


def test_the_repository_variables_are_the_bootstrap_outputs(
    bootstrap_stack: Callable[..., ProgramRun],
) -> None:
    rows = SETUP.table("3. Set the repository variables")
    documented = {code(row["variable"])[0] for row in rows}
    outputs = set(bootstrap_stack().exports)
    assert documented == outputs, f"{SETUP.name}: the variables table vs the bootstrap's outputs"
    # ...and they are all the workflows read: nothing else to set by hand.
    assert workflow_variables() == outputs, "the workflows read exactly the bootstrap's outputs"


def pulumi_config(path: str) -> dict[str, Any]:
    project = yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))
    config: dict[str, Any] = project["config"]
    return config


def documented_default(cell: str) -> str:
    """A table's default cell: `value`, or a parenthesised note meaning "empty"."""
    spans = code(cell)
    if cell.startswith("(") or not spans:
        return ""
    return spans[0]


@pytest.mark.parametrize(
    ("project", "doc", "heading"),
    [
        ("Pulumi.yaml", APP_STACK, "Config"),
        ("infra/bootstrap/Pulumi.yaml", SETUP, "Bootstrap config"),
    ],
)
def test_every_config_key_is_documented_with_its_default(
    project: str, doc: Any, heading: str
) -> None:
    config = pulumi_config(project)
    rows = {code(row["key"])[0]: row for row in doc.table(heading)}
    assert set(rows) == set(config), f"{doc.name}, {heading}: the keys of {project}"
    for key, spec in config.items():
        default = str(spec.get("default", ""))
        shown = documented_default(rows[key]["default"])
        assert shown == default, f"{doc.name}: {key} defaults to {default!r} in {project}"


def test_the_documented_outputs_are_what_the_program_exports(
    app_stack: Callable[..., ProgramRun], prod_image: str
) -> None:
    documented = {name for row in APP_STACK.table("Outputs") for name in code(row["output"])}
    exported = set(app_stack("alice").exports) | set(app_stack("prod", image=prod_image).exports)
    assert documented == exported, f"{APP_STACK.name}: the outputs table"


def test_the_pull_retries_are_as_documented() -> None:
    delays = APP_STACK.section("Permission delays")
    stated = re.search(r"up to (\d+) times, (\d+) s apart", delays)
    assert stated, f"{APP_STACK.name}: say how often and how far apart the pull is retried"
    assert int(stated[1]) == container.PULL_RETRY_ATTEMPTS, APP_STACK.name
    assert float(stated[2]) == container.PULL_RETRY_DELAY_SECONDS, APP_STACK.name


def test_the_identities_table_is_the_bootstrap_targets() -> None:
    rows = SECURITY.table("The three identities")
    columns = [c for c in rows[0] if c]
    ci = targets("banknote", "o/r", "main", "dev")
    assert len(columns) == len(ci), f"{SECURITY.name}: one column per identity"
    intro = SECURITY.text.split("\n## ")[0]
    count = ["no", "one", "two", "three", "four"][len(ci)]
    assert re.search(rf"\b{count}\b", intro), f"{SECURITY.name}: how many identities"
    by_row = {row[""]: row for row in rows}
    for column, target in zip(columns, ci, strict=True):
        assert code(column) == [target.variable], f"{SECURITY.name}: column {column}"
        assert code(by_row["Azure name"][column]) == [f"id-banknote-{target.key}"], column
        assert code(by_row["changes Azure resources in"][column]) == [target.group], column
        subjects = {s.split(":", 2)[2] for s in target.subjects.values()}
        shown = set(code(by_row["trusted token subjects"][column]))
        assert shown == subjects, f"{SECURITY.name}: subjects of {target.variable}"


def job_environments() -> dict[str, str]:
    """environment name -> the job that names it, across every workflow."""
    found = {}
    for file, workflow in load_workflows().items():
        for job in workflow["jobs"].values():
            env = job.get("environment")
            if env:
                found[env["name"] if isinstance(env, dict) else env] = job.get("name", file)
    return found


def test_every_environment_a_job_names_is_set_up_and_restricted_to_main() -> None:
    table = SETUP.table("4. Create the GitHub environments")
    rows = {code(row["environment"])[0]: row for row in table}
    used = job_environments()
    assert set(rows) == set(used), f"{SETUP.name}: the environments table vs the workflows"
    for name, job in used.items():
        assert rows[name]["used by"].strip('"') == job, f"{SETUP.name}: {name} is used by {job}"
        assert "main" in code(rows[name]["restrict to"]), f"{SETUP.name}: restrict {name} to main"


def test_the_documented_timeouts_are_the_workflows() -> None:
    workflows = load_workflows()
    for row in PIPELINE.table("Timeouts and recovery"):
        [file] = code(row["workflow"])
        jobs = {
            job.get("name", key).replace("${{ github.event.pull_request.number }}", "<number>"): job
            for key, job in workflows[file]["jobs"].items()
        }
        assert row["job"] in jobs, f"{PIPELINE.name}: {file} has no job {row['job']!r}"
        timeout = jobs[row["job"]]["timeout-minutes"]
        assert int(row["stops after (minutes)"]) == timeout, f"{PIPELINE.name}: {row['job']}"
    # Every job that runs Pulumi is in the table.
    documented = {row["job"] for row in PIPELINE.table("Timeouts and recovery")}
    actions = load_actions()
    for workflow in workflows.values():
        for key, job in workflow["jobs"].items():
            runs = " ".join(s.get("run", "") + s.get("uses", "") for s in steps_of(job, actions))
            if "pulumi_stack.py" in runs or "pulumi/actions" in runs or "rollout.py" in runs:
                name = job.get("name", key).replace(
                    "${{ github.event.pull_request.number }}", "<number>"
                )
                assert name in documented, f"{PIPELINE.name}: no timeout row for {name!r}"


def pulumi_job_env() -> set[str]:
    """The PULUMI_* variables deploy.yml sets for all its jobs."""
    deploy = load_workflows()["deploy.yml"]
    names = {k for k in deploy.get("env", {}) if k.startswith("PULUMI_")}
    assert names, "deploy.yml sets the Pulumi environment for every job"
    return names


@pytest.mark.parametrize(
    ("doc", "heading"), [(PIPELINE, "Timeouts and recovery"), (FIRST, "Who can")]
)
def test_commands_run_by_hand_get_the_environment_the_jobs_have(doc: Any, heading: str) -> None:
    exported = set()
    for block in doc.code_blocks(heading):
        exported |= set(re.findall(r"\b(PULUMI_[A-Z_]+)=", block))
    assert pulumi_job_env() <= exported, f"{doc.name}, {heading}: export what the jobs set"


def test_the_pulumi_cli_version_is_the_lock_s() -> None:
    # One place for it: the lock. A page that names a version must name that one.
    # Every Python's lock pins the same versions (tests/tooling/test_locks.py); CI uses 3.11's.
    lock = (ROOT / "requirements" / "dev-3.11.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^pulumi==([\d.]+)", lock, re.MULTILINE)
    assert pinned
    for doc in all_pages():
        for version in re.findall(r"Pulumi CLI (\d+\.\d+\.\d+)", doc.text):
            assert version == pinned[1], f"{doc.name}: Pulumi CLI {version}, not {pinned[1]}"


def messages_in_code() -> str:
    sources = [
        *ROOT.glob("scripts/*.py"),
        *ROOT.glob("scripts/*.sh"),
        *ROOT.glob("infra/rollout/*.py"),
        *ROOT.glob(".github/**/*.yml"),
    ]
    return "\n".join(path.read_text(encoding="utf-8") for path in sources)


def test_the_troubleshooting_table_quotes_messages_the_code_prints() -> None:
    # Azure's and Pulumi's own messages (AADSTS..., AuthorizationFailed, ...) cannot be checked
    # here; the project's own must exist as quoted, or the row helps nobody.
    ours = messages_in_code()
    rows = FIRST.table("If it fails, check first")
    own = [
        "repository variables not set",
        "cannot log in to",
        "No prod stack here: the repository variable AZURE_PROD_CLIENT_ID is not set",
        "az acr import of",
    ]
    for message in own:
        assert any(message in row["you see"] for row in rows), f"{FIRST.name}: {message!r}"
        assert message in ours, f"{FIRST.name} quotes {message!r}, which nothing prints"


def test_the_scale_threshold_is_derived_as_the_prod_page_says() -> None:
    prod_page = page("deploy/prod.md")
    prod = {
        k.removeprefix("banknote:"): v
        for k, v in yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"].items()
    }
    derivation = re.search(
        r"`concurrentRequests` = (\d+) \u00d7 ([\d.]+) \u00d7 ([\d.]+) = \*\*(\d+)\*\*",
        prod_page.text,
    )
    assert derivation, f"{prod_page.name}: derive concurrentRequests from the bench figure"
    measured, cpu, headroom, result = derivation.groups()
    assert float(cpu) == float(prod["cpu"]), f"{prod_page.name}: prod's cpu"
    assert int(float(measured) * float(cpu) * float(headroom)) == int(result), prod_page.name
    assert int(result) == int(prod["concurrentRequests"]), f"{prod_page.name} vs Pulumi.prod.yaml"


def test_the_tear_down_removes_what_the_bootstrap_protects() -> None:
    # The delete lock and the purge-protected vault are what make a tear-down surprising; the
    # page must deal with each one the bootstrap declares.
    program = (ROOT / "infra" / "bootstrap" / "program.py").read_text(encoding="utf-8")
    state = (ROOT / "infra" / "bootstrap" / "state.py").read_text(encoding="utf-8")
    tree = ast.parse(state)
    calls = {
        kw.arg: ast.literal_eval(kw.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg in {"enable_purge_protection", "soft_delete_retention_in_days"}
    }
    tear_down = FIRST.section("Tear down")
    if "ManagementLockAtResourceGroupLevel" in program:
        assert "delete lock" in tear_down, f"{FIRST.name}: the tear-down must remove the lock"
    if calls.get("enable_purge_protection"):
        days = calls["soft_delete_retention_in_days"]
        assert f"{days} days" in tear_down, f"{FIRST.name}: the vault's name is kept {days} days"
        assert "keyVaultGeneration" in tear_down, f"{FIRST.name}: how to start afresh"
    # Every stack kind is removed before the bootstrap.
    for stack in ("prod", "dev", "pr-"):
        assert f"pulumi_stack.py destroy {stack}" in tear_down, f"{FIRST.name}: remove {stack}"
    assert tear_down.index("destroy dev") < tear_down.index("pulumi destroy"), FIRST.name
