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

from infra import artifact, config, naming
from infra.errors import ConfigError
from tests.infra.pulumi_harness import ProgramRun

AppStack = Callable[..., ProgramRun]


def parse(**raw: str) -> config.AppConfig:
    return config.parse(raw, project="banknote", stack="dev", env={})


def test_defaults_need_no_config() -> None:
    cfg = parse()
    assert (cfg.location, cfg.cpu, cfg.memory_gb, cfg.workers) == ("westeurope", 1.0, 1.5, 1)
    assert cfg.dns_label == "banknote-dev"
    assert cfg.registry_auth == "identity"
    assert cfg.model_dir == Path("artifacts/model")
    assert cfg.git_commit is None
    assert cfg.base_image is None


def test_git_commit_from_config_then_ci_then_stack_script() -> None:
    sha = "a" * 40
    env = {"GITHUB_SHA": "b" * 40, "GIT_COMMIT": "c" * 40}
    assert config.parse({"gitCommit": sha}, project="p-x", stack="s", env=env).git_commit == sha
    assert config.parse({}, project="p-x", stack="s", env=env).git_commit == "b" * 40
    only_script = {"GIT_COMMIT": "c" * 40}
    assert config.parse({}, project="p-x", stack="s", env=only_script).git_commit == "c" * 40


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
PREFIXES = st.from_regex(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", fullmatch=True)


@given(prefix=PREFIXES, stack=STACK_NAMES)
def test_any_valid_prefix_and_stack_give_a_valid_label(prefix: str, stack: str) -> None:
    label = naming.dns_label(prefix, stack)
    assert naming.DNS_LABEL.match(label)
    assert label == naming.dns_label(prefix, stack)  # stable


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
    vault = naming.key_vault_name(label, str(sub))
    assert 3 <= len(vault) <= 24
    assert vault[0].isalpha()
    assert vault[-1].isalnum()
    assert "--" not in vault
