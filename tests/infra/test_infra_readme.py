"""The README's Azure instructions say what the programs and workflows need, no more and no
less: the resource providers to register (and to wait for), the settings GitHub needs, and how
to recover from a cut-off Pulumi run."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.infra.pulumi_harness import ROOT, ProgramRun

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Registered in every subscription from the start (learn.microsoft.com "Azure resource
# providers and types": Microsoft.Authorization, Microsoft.Resources and a few others are
# registered by default).
REGISTERED_BY_DEFAULT = {"Microsoft.Authorization", "Microsoft.Resources"}
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
}


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_every_provider_the_programs_use_is_registered_and_waited_for(
    app_stack: Callable[..., ProgramRun], bootstrap_stack: Callable[..., ProgramRun]
) -> None:
    used = set()
    # alice: a developer's stack on ACI; prod: Azure Container Apps.
    for run in (app_stack("alice"), app_stack("prod"), bootstrap_stack()):
        for resource in run.custom():
            provider, module, _ = resource.type.split(":")
            if provider == "azure-native":
                used.add(NAMESPACES[module])
    setup = section("Set up Azure once")
    loop = re.search(r"for ns in (.*?); do (az provider register [^;]*); done", setup, re.DOTALL)
    assert loop, "the setup has a loop registering the providers"
    listed = set(loop[1].replace("\\", " ").split())
    assert listed == used - REGISTERED_BY_DEFAULT
    # Registration takes minutes; without --wait the first deploy can fail with
    # MissingSubscriptionRegistration (learn.microsoft.com "az provider register": --wait).
    assert "--wait" in loop[2].split()


def test_the_dev_environment_is_restricted_to_main() -> None:
    setup = section("Set up Azure once")
    assert "create the environment `dev` and restrict it to `main`" in setup
    assert "Deployment branches and tags" in setup


def test_recovery_from_a_cut_off_run_is_documented() -> None:
    pipeline = section("Pipeline")
    assert "pulumi cancel --stack" in pipeline
    assert "pulumi refresh --stack" in pipeline
    assert "--clear-pending-creates" in pipeline
    assert "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true" in pipeline


def test_the_first_deploy_checklist_exists() -> None:
    first = section("First deploy")
    assert "gh workflow run analyze.yml --ref main" in first
    assert "If it fails, check first" in first


def test_the_readme_states_what_the_rbac_condition_allows() -> None:
    azure = section("Azure as code")
    assert "any in the tenant qualifies" in azure
    assert "to managed identities and nothing else" not in README


def test_the_container_apps_section_covers_choice_rollout_capacity_and_cost() -> None:
    scale = section("Scale out: Azure Container Apps")
    assert "**When to choose it.**" in scale
    assert "https://banknote-prod---canary.<domain>/" in scale  # the diagram and the smoke test
    for command in ("import-image prod", "canary prod", "promote prod", "rollback prod"):
        assert f"scripts/rollout.py {command}" in scale, command
    # The capacity figure and the threshold derived from it, as committed in Pulumi.prod.yaml.
    assert "req/s at p99 < 50 ms" in scale
    assert "`concurrentRequests` = 128 \u00d7 0.5 \u00d7 0.5 = **32**" in scale
    prod = (ROOT / "Pulumi.prod.yaml").read_text()
    assert 'banknote:concurrentRequests: "32"' in prod
    for note in ("Free grant", "180,000 vCPU-seconds", "`minReplicas` is the floor of the bill"):
        assert note in scale, note
