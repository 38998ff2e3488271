"""Config validation, naming rules and the artifact read: pure functions, plus the guarantee
that bad config stops the app program before it declares anything."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra import artifact, config, naming, paths
from infra.errors import ConfigError
from tests.infra.pulumi_harness import ROOT, ProgramRun

AppStack = Callable[..., ProgramRun]


def parse(**raw: str) -> config.AppConfig:
    return config.parse(raw, project="banknote", stack="dev", env={})


def test_defaults_need_no_config() -> None:
    cfg = parse()
    assert (cfg.location, cfg.cpu, cfg.memory_gb, cfg.workers) == ("westeurope", 1.0, 1.5, 1)
    assert cfg.dns_label == "banknote-dev"
    assert cfg.registry_auth == "identity"
    assert cfg.registry_sku == "Premium"
    # From the project root, never the working directory: the CLI runs the program in infra/.
    assert cfg.model_dir == ROOT / "artifacts" / "model"
    assert cfg.git_commit is None
    assert cfg.base_image is None
    assert cfg.resource_group is None  # the stack creates rg-<label>


def test_model_dir_is_taken_from_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT / "infra")
    assert parse(modelDir="artifacts/model").model_dir == ROOT / "artifacts" / "model"
    assert parse(modelDir=str(tmp_path)).model_dir == tmp_path
    other = config.parse({"modelDir": "m"}, project="banknote", stack="s", env={}, root=tmp_path)
    assert other.model_dir == tmp_path / "m"
    assert paths.from_root("x/y") == ROOT / "x" / "y"
    assert paths.PROJECT_ROOT / "Pulumi.yaml" == ROOT / "Pulumi.yaml"


def test_resource_group_names_an_existing_group() -> None:
    assert parse(resourceGroup="rg-banknote_pr").resource_group == "rg-banknote_pr"
    for bad in ("rg banknote", "ends.", "x" * 91):
        with pytest.raises(ConfigError, match=r"^config resourceGroup="):
            parse(resourceGroup=bad)


def test_git_commit_from_config_then_git_commit_then_github_sha() -> None:
    # On a pull request GITHUB_SHA is GitHub's test merge commit, new on every run (docs.github
    # .com "Events that trigger workflows", pull_request); the workflows set GIT_COMMIT to the
    # PR's head, and it wins, as in model/metadata.py.
    sha, merge, head = "a" * 40, "b" * 40, "c" * 40
    env = {"GITHUB_SHA": merge, "GIT_COMMIT": head}
    assert config.parse({"gitCommit": sha}, project="p-x", stack="s", env=env).git_commit == sha
    assert config.parse({}, project="p-x", stack="s", env=env).git_commit == head
    only_ci = {"GITHUB_SHA": merge}
    assert config.parse({}, project="p-x", stack="s", env=only_ci).git_commit == merge


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"location": "West Europe"}, "location"),
        ({"location": "west-europe"}, "location"),
        ({"cpu": "0"}, "cpu"),
        ({"cpu": "4.5"}, "cpu"),
        ({"cpu": "many"}, "cpu"),
        ({"cpu": "nan"}, "cpu"),
        ({"memoryGb": "16.5"}, "memoryGb"),
        ({"memoryGb": "1.25"}, "memoryGb"),
        ({"dnsLabelPrefix": "9lives"}, "dnsLabelPrefix"),
        ({"dnsLabelPrefix": "Banknote"}, "dnsLabelPrefix"),
        ({"dnsLabelPrefix": "bank_note"}, "dnsLabelPrefix"),
        ({"dnsLabelPrefix": "banknote-"}, "dnsLabelPrefix"),
        # Container group names: "Consecutive hyphens aren't allowed" (learn.microsoft.com
        # "Naming rules and restrictions for Azure resources", Microsoft.ContainerInstance).
        ({"dnsLabelPrefix": "bank--note"}, "dnsLabelPrefix"),
        ({"dnsLabelPrefix": "b" * 41}, "dnsLabelPrefix"),
        ({"dnsReuseScope": "NoReuse"}, "dnsReuseScope"),
        ({"registrySku": "Free"}, "registrySku"),
        ({"registryAuth": "password"}, "registryAuth"),
        ({"workers": "0"}, "workers"),
        ({"workers": "2.5"}, "workers"),
        ({"logLevel": "verbose"}, "logLevel"),
        ({"imageName": "Banknote API"}, "imageName"),
        ({"gitCommit": "HEAD"}, "gitCommit"),
    ],
)
def test_invalid_values_name_the_key(raw: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^config {key}=.* is invalid: "):
        parse(**raw)


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown config key"):
        parse(cpus="2")


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"location": "West Europe"}, "location='West Europe' is invalid"),
        ({"cpu": "8"}, "cpu='8' is invalid: Azure Container Instances allows 0.1 to 4 vCPU"),
        ({"memoryGb": "32"}, "memoryGb='32' is invalid: Azure Container Instances allows"),
        ({"dnsLabelPrefix": "-bank"}, "dnsLabelPrefix='-bank' is invalid"),
    ],
)
def test_invalid_config_fails_before_any_resource(
    app_stack: AppStack, raw: dict[str, str], needle: str
) -> None:
    run = app_stack("dev", **raw)
    assert isinstance(run.error, ConfigError)
    assert needle in str(run.error)
    assert run.resources == []
    assert run.calls == []  # not even an Azure lookup


def test_missing_artifact_fails_before_any_resource(app_stack: AppStack, tmp_path: Path) -> None:
    run = app_stack("dev", modelDir=str(tmp_path / "nowhere"))
    assert isinstance(run.error, ConfigError)
    assert "model artifact not found" in str(run.error)
    assert "make train" in str(run.error)
    assert run.resources == []


def test_artifact_without_a_usable_version_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps({"model_version": "a b"}))
    with pytest.raises(ConfigError, match="no usable 'model_version'"):
        artifact.read_model_version(tmp_path)
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        artifact.read_model_version(tmp_path)


def test_reads_the_version_from_a_real_trained_artifact(artifact_dir: Path) -> None:
    metadata = json.loads((artifact_dir / "metadata.json").read_text())
    assert artifact.read_model_version(artifact_dir) == metadata["model_version"]


STACK_NAMES = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=100
)
# Valid prefixes: no "--" (container group names allow no consecutive hyphens).
PREFIXES = st.from_regex(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", fullmatch=True).filter(
    lambda p: "--" not in p
)


@given(prefix=PREFIXES, stack=STACK_NAMES)
def test_any_valid_prefix_and_stack_give_a_valid_label(prefix: str, stack: str) -> None:
    label = naming.dns_label(prefix, stack)
    assert naming.DNS_LABEL.match(label)
    assert "--" not in label  # no consecutive hyphens in a container group name
    assert label == naming.dns_label(prefix, stack)  # stable


def test_stack_names_with_runs_of_punctuation_give_single_hyphens() -> None:
    assert naming.dns_label("banknote", "feat--x__y..z") == "banknote-feat-x-y-z"
    assert naming.dns_label("banknote", "-lead") == "banknote-lead"
    assert not naming.DNS_LABEL.match("banknote--dev")


@given(prefix=PREFIXES, a=STACK_NAMES, b=STACK_NAMES)
def test_different_stacks_get_different_labels(prefix: str, a: str, b: str) -> None:
    # Stack names that differ only in case or punctuation share a label (documented).
    norm = [re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or s for s in (a, b)]
    if norm[0] != norm[1]:
        assert naming.dns_label(prefix, a) != naming.dns_label(prefix, b)


def test_long_stack_names_are_cut_with_a_distinguishing_hash() -> None:
    a = naming.dns_label("banknote", "feature-" + "x" * 80)
    b = naming.dns_label("banknote", "feature-" + "x" * 79 + "y")
    assert len(a) == len(b) == 63
    assert a != b


@given(label=st.from_regex(r"[a-z][a-z0-9-]{2,62}", fullmatch=True), sub=st.uuids())
def test_global_names_follow_azure_rules(label: str, sub: object) -> None:
    registry = naming.registry_name(label, str(sub))
    assert registry.isalnum()
    assert registry.islower()
    assert 5 <= len(registry) <= 50
    account = naming.storage_account_name(label, str(sub))
    assert account.isalnum()
    assert account.islower()
    assert 3 <= len(account) <= 24
    for generation in (1, 2, 99):
        vault = naming.key_vault_name(label, str(sub), generation)
        assert 3 <= len(vault) <= 24
        assert vault[0].isalpha()
        assert vault[-1].isalnum()
        assert "--" not in vault
    # Generation 1 keeps the name every earlier bootstrap used; another gives a new one.
    assert naming.key_vault_name(label, str(sub)) == naming.key_vault_name(label, str(sub), 1)
    assert naming.key_vault_name(label, str(sub), 2) != naming.key_vault_name(label, str(sub))
