"""Runs the Pulumi programs under Pulumi's unit-test mocks and records what they declare.

No Pulumi CLI, no Azure, no Docker engine: `RecordingMocks` answers for the engine and the
providers (a registry gets a login server, the image a digest, the container group an FQDN),
and `run_program` drives one whole program run for one project/stack/config, in-process, with
the runtime state reset before each run so stacks cannot leak into each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.parse
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockMonitor

from tests.infra.fake_containerapps import FakeContainerApps

ROOT = Path(__file__).resolve().parents[2]
ORGANIZATION = "organization"
# The working directory the Pulumi CLI gives each program, and every provider plugin: the
# project's `main` when it is a directory (pulumi/pulumi pkg/engine/project.go `getPwdMain`;
# the Python host chdirs there, sdk/python/cmd/pulumi-language-python-exec), else the
# directory of Pulumi.yaml.
APP_PWD = ROOT / "infra"  # Pulumi.yaml: main: infra/
BOOTSTRAP_PWD = ROOT / "infra" / "bootstrap"  # infra/bootstrap/Pulumi.yaml has no main
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
TENANT_ID = "99999999-8888-7777-6666-555555555555"
DEPLOYER_OBJECT_ID = "12121212-3434-5656-7878-909090909090"
MODEL_VERSION = "20261126T041500Z-3856aec"
MODEL_NAME = "banknote"

# Types the programs declare, as the engine spells them.
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
REGISTRY = "azure-native:containerregistry:Registry"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
CONTAINER_GROUP = "azure-native:containerinstance:ContainerGroup"
IMAGE = "docker:index/image:Image"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
WORKSPACE = "azure-native:operationalinsights:Workspace"
MANAGED_ENVIRONMENT = "azure-native:app:ManagedEnvironment"
CONTAINER_APP = "azure-native:app:ContainerApp"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
MONITOR_WORKSPACE = "azure-native:monitor:AzureMonitorWorkspace"
COLLECTION_ENDPOINT = "azure-native:monitor:DataCollectionEndpoint"
COLLECTION_RULE = "azure-native:monitor:DataCollectionRule"
RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
WORKBOOK = "azure-native:applicationinsights:Workbook"
CACHE_RULE = "azure-native:containerregistry:CacheRule"
# What monitoring adds to a stack (infra/managed_prometheus.py) without an action group: one
# rule group per group of monitoring/alerts.yml, and the publisher's role assignment.
MONITORING_TYPES = [
    MONITOR_WORKSPACE,
    COLLECTION_ENDPOINT,
    COLLECTION_RULE,
    ROLE_ASSIGNMENT,
    CACHE_RULE,
    RULE_GROUP,
    RULE_GROUP,
    WORKBOOK,
]

# Invokes the programs make, as the engine spells them.
OWN_OUTPUTS = "pulumi:pulumi:readStackOutputs"  # the engine's built-in provider
GET_CONTAINER_APP = "azure-native:app:getContainerApp"
CLIENT_CONFIG = "azure-native:authorization:getClientConfig"
CLIENT_TOKEN = "azure-native:authorization:getClientToken"  # noqa: S105 - a function token
LIST_CREDENTIALS = "azure-native:containerregistry:listRegistryCredentials"
SHARED_KEYS = "azure-native:operationalinsights:getSharedKeys"

ADMIN_USER = "registryadmin"
ADMIN_PASSWORD = "admin-password-from-azure"  # noqa: S105 - a mock value
ACR_REFRESH_TOKEN = "acr-refresh-token"  # noqa: S105 - a mock value
WORKSPACE_KEY = "workspace-shared-key"  # a mock value
# What Azure gives an environment: <unique name>.<region>.azurecontainerapps.io.
DEFAULT_DOMAIN = "kindpond-1a2b3c4d.{location}.azurecontainerapps.io"


# The key under which the runtime marks a secret value (pulumi.runtime.rpc._special_sig_key).
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - not a password


def is_secret(value: Any) -> bool:
    """Whether a recorded input value was a Pulumi secret."""
    return isinstance(value, dict) and SECRET_SIG in value


def plain(value: Any) -> Any:
    """A recorded input value with every secret wrapper removed."""
    if is_secret(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass
class Declared:
    """One resource the program declared: its type, logical name, inputs and mocked state."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]


@dataclass
class Node:
    """How the engine saw one registration: parent, dependencies and error hooks (by URN)."""

    type: str
    name: str
    parent: str
    dependencies: list[str]
    error_hooks: list[str]


@dataclass
class ProgramRun:
    """Everything one program run produced."""

    resources: list[Declared] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    secret_exports: set[str] = field(default_factory=set)
    token_exchanges: list[dict[str, str]] = field(default_factory=list)
    graph: dict[str, Node] = field(default_factory=dict)
    error: BaseException | None = None

    def of_type(self, typ: str) -> list[Declared]:
        """Declared resources of one type."""
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Declared:
        """The single resource of a type (fails if there is not exactly one)."""
        found = self.of_type(typ)
        assert len(found) == 1, f"expected exactly one {typ}, got {[r.name for r in found]}"
        return found[0]

    def urn(self, typ: str, name: str) -> str:
        """The URN the engine gave a resource."""
        found = [u for u, n in self.graph.items() if n.type == typ and n.name == name]
        assert len(found) == 1, f"no single {typ} named {name}"
        return found[0]

    def depends_on(self, typ: str, name: str, dep_type: str, dep_name: str) -> bool:
        """Whether one resource was registered with a dependency on another."""
        node = self.graph[self.urn(typ, name)]
        return self.urn(dep_type, dep_name) in node.dependencies

    def custom(self) -> list[Declared]:
        """Provider resources (not components)."""
        return [r for r in self.resources if r.type.split(":")[0] in {"azure-native", "docker"}]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like Azure and Docker would, and records every declaration and invoke.

    `azure` holds the Container Apps the program reads (`getContainerApp`) and, unless this is
    a preview, changes (its PUT); `stack_outputs` are what the backend holds as this stack's
    outputs from its last update, served to the built-in `readStackOutputs` invoke as the
    engine does (pulumi/pulumi pkg/resource/deploy/builtins.go: `readStackReference`, the
    backend's GetStackOutputs of the named stack; an update writes its outputs only at its end,
    pulumi/pulumi#14752).
    """

    def __init__(
        self,
        run: ProgramRun,
        azure: FakeContainerApps,
        stack_outputs: Mapping[str, Any],
        own_name: str,
        preview: bool,
    ) -> None:
        self.run = run
        self.azure = azure
        self.stack_outputs = dict(stack_outputs)
        self.own_name = own_name
        self.preview = preview

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        rid = _resource_id(args.typ, args.name, state)
        if args.typ == REGISTRY:
            state["loginServer"] = f"{state['registryName']}.azurecr.io"
        elif args.typ == IDENTITY:
            digest = hashlib.sha256(args.name.encode()).hexdigest()
            state["principalId"] = f"{digest[:8]}-0000-4000-8000-{digest[8:20]}"
            state["clientId"] = f"{digest[20:28]}-0000-4000-8000-{digest[28:40]}"
            state["tenantId"] = TENANT_ID
        elif args.typ == CONTAINER_GROUP:
            ip = dict(state["ipAddress"])
            ip["fqdn"] = f"{ip['dnsNameLabel']}.h4sh.{state['location']}.azurecontainer.io"
            state["ipAddress"] = ip
            # Azure answers with a map of identity id -> details (the input is a list of ids).
            ids = state["identity"]["userAssignedIdentities"]
            state["identity"] = {
                **state["identity"],
                "userAssignedIdentities": {i: {} for i in ids},
            }
        elif args.typ == IMAGE:
            repository = state["imageName"].rsplit(":", 1)[0]
            digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
            state["repoDigest"] = f"{repository}@sha256:{digest}"
        elif args.typ == VAULT:
            state["properties"] = {
                **state["properties"],
                "vaultUri": f"https://{state['vaultName']}.vault.azure.net/",
            }
        elif args.typ == RESOURCE_GROUP:
            state.setdefault("name", state.get("resourceGroupName", args.name))
        elif args.typ == WORKSPACE:
            state["customerId"] = f"{hashlib.sha256(args.name.encode()).hexdigest()[:8]}-cust"
        elif args.typ == MANAGED_ENVIRONMENT:
            state["defaultDomain"] = DEFAULT_DOMAIN.format(location=state["location"])
        elif args.typ == MONITOR_WORKSPACE:
            # Azure's answer: the workspace's PromQL endpoint (Microsoft.Monitor/accounts
            # properties.metrics.prometheusQueryEndpoint).
            host = f"{state['azureMonitorWorkspaceName']}-a1b2c3d4.{state['location']}"
            state["metrics"] = {
                "prometheusQueryEndpoint": f"https://{host}.prometheus.monitor.azure.com",
                "internalId": f"mac_{hashlib.sha256(args.name.encode()).hexdigest()[:8]}",
            }
        elif args.typ == COLLECTION_ENDPOINT:
            host = f"{state['dataCollectionEndpointName']}-e5f6.{state['location']}-1"
            state["metricsIngestion"] = {
                "endpoint": f"https://{host}.metrics.ingest.monitor.azure.com"
            }
        elif args.typ == COLLECTION_RULE:
            digest = hashlib.sha256(state["dataCollectionRuleName"].encode()).hexdigest()
            state["immutableId"] = f"dcr-{digest[:32]}"
        elif args.typ == CONTAINER_APP:
            if self.preview:
                # A preview sends nothing; the engine shows the revision the template names.
                suffix = state["template"]["revisionSuffix"]
                state["latestRevisionName"] = f"{state['containerAppName']}--{suffix}"
            else:
                sent = self.azure.put(plain(state))
                state["latestRevisionName"] = sent.latest_revision
                rid = sent.id
            ids = state["identity"]["userAssignedIdentities"]
            state["identity"] = {
                **state["identity"],
                "userAssignedIdentities": {i: {} for i in ids},
            }
        state.setdefault("name", _name_of(args.typ, args.name, state))
        self.run.resources.append(Declared(args.typ, args.name, rid, dict(args.inputs), state))
        return rid, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token
        self.run.calls.append((token, dict(args.args)))
        if token == CLIENT_CONFIG:
            return {
                "clientId": "deployer-client-id",
                "objectId": DEPLOYER_OBJECT_ID,
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        if token == CLIENT_TOKEN:
            return {"token": "entra-access-token"}, []
        if token == OWN_OUTPUTS:
            assert args.args["name"] == self.own_name, args.args  # this stack, fully qualified
            return {"name": self.own_name, "outputs": self.stack_outputs}, []
        if token == GET_CONTAINER_APP:
            shown = self.azure.invoke(args.args["resourceGroupName"], args.args["containerAppName"])
            return shown, []
        if token == SHARED_KEYS:
            return {"primarySharedKey": WORKSPACE_KEY, "secondarySharedKey": "second"}, []
        if token == LIST_CREDENTIALS:
            return {
                "username": ADMIN_USER,
                "passwords": [{"name": "password", "value": ADMIN_PASSWORD}],
            }, []
        raise AssertionError(f"unexpected invoke {token}")


class RecordingMonitor(MockMonitor):
    """The stock mock monitor, also recording parents, dependencies and error hooks."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.run = mocks.run

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        hooks = list(request.hooks.on_error) if request.HasField("hooks") else []
        self.run.graph[response.urn] = Node(
            request.type, request.name, request.parent, list(request.dependencies), hooks
        )
        return response


def _name_of(typ: str, logical: str, state: dict[str, Any]) -> str:
    for key in (
        "registryName",
        "resourceName",
        "containerGroupName",
        "accountName",
        "containerName",
        "vaultName",
        "keyName",
        "workspaceName",
        "environmentName",
        "containerAppName",
        "azureMonitorWorkspaceName",
        "dataCollectionEndpointName",
        "dataCollectionRuleName",
        "ruleGroupName",
        "actionGroupName",
        "cacheRuleName",
    ):
        if key in state and isinstance(state[key], str):
            return str(state[key])
    return logical


def _resource_id(typ: str, logical: str, state: dict[str, Any]) -> str:
    if typ == RESOURCE_GROUP:
        return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{state['resourceGroupName']}"
    if typ == KEY:
        return (
            f"/subscriptions/{SUBSCRIPTION_ID}/vaults/{state['vaultName']}/keys/{state['keyName']}"
        )
    provider = typ.split(":")[1] if ":" in typ else "component"
    return f"/subscriptions/{SUBSCRIPTION_ID}/mock/{provider}/{_name_of(typ, logical, state)}"


def run_program(
    main: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    cwd: Path,
    preview: bool = False,
    azure: FakeContainerApps | None = None,
    stack_outputs: Mapping[str, Any] | None = None,
) -> ProgramRun:
    """Run one Pulumi program to completion under mocks, in `cwd` as the CLI would, and return
    what it declared. `azure` and `stack_outputs`: see `RecordingMocks` (default: nothing
    deployed yet)."""
    run = ProgramRun()
    # The mocks create their root stack's futures on the thread's event loop, and an
    # asyncio.run() elsewhere in the session (tests/infra/test_infra_parts.py) leaves none set.
    _ensure_event_loop()
    # A fresh root stack resource, settings and config for every run.
    pulumi_settings.ROOT.set(None)
    # A DIY backend's stacks are all in the organization named "organization" (pulumi.com docs,
    # "Stacks": "For DIY backend, the orgName portion of the stack name must always be the
    # constant value organization").
    own_name = f"{ORGANIZATION}/{project}/{stack}"
    mocks = RecordingMocks(
        run, azure or FakeContainerApps(), stack_outputs or {}, own_name, preview
    )
    pulumi.runtime.set_mocks(
        mocks,
        project=project,
        stack=stack,
        preview=preview,
        monitor=RecordingMonitor(mocks),
        organization=ORGANIZATION,
    )
    pulumi.runtime.set_all_config({f"{project}:{key}": value for key, value in config.items()})

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        main()
        root = pulumi_settings.get_root_resource()
        outputs: dict[str, Any] = dict(getattr(root, "outputs", {}))
        names = sorted(outputs)
        values = [pulumi.Output.from_input(outputs[name]) for name in names]

        async def secret_flags() -> list[bool]:
            return [await value.is_secret() for value in values]

        def record(resolved: list[Any]) -> None:
            run.exports.update(zip(names, resolved, strict=True))

        flags = pulumi.Output.from_input(secret_flags())
        flags.apply(
            lambda fs: run.secret_exports.update(n for n, f in zip(names, fs, strict=True) if f)
        )
        return pulumi.Output.all(flags, pulumi.Output.unsecret(pulumi.Output.all(*values))).apply(
            lambda pair: record(pair[1])
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        try:
            program()
        except Exception as exc:  # the test inspects it
            run.error = exc
    return run


def _ensure_event_loop() -> None:
    """Set an event loop for this thread if there is none, or only a closed one (kept for the
    session, like the one the first run gets implicitly)."""
    # With no loop set, Python 3.12 and 3.13 make one implicitly with a DeprecationWarning
    # ("There is no current event loop"; CPython Lib/asyncio/events.py,
    # BaseDefaultEventLoopPolicy.get_event_loop) and 3.14 raises RuntimeError. Either way: set one.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            if not asyncio.get_event_loop_policy().get_event_loop().is_closed():
                return
        except (RuntimeError, DeprecationWarning):
            pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_app(
    stack: str,
    config: dict[str, str],
    env: dict[str, str] | None = None,
    registries: Mapping[str, str] | None = None,
    preview: bool = False,
    azure: FakeContainerApps | None = None,
    stack_outputs: Mapping[str, Any] | None = None,
) -> ProgramRun:
    """Run the app program. The ACR token exchange for the image push is replaced and recorded;
    requests to a registry in `registries` (login server -> base URL of a tests/infra
    fake_registry on 127.0.0.1) go there over real HTTP, as DNS and TLS would route them.
    `azure` and `stack_outputs`: the Container Apps and the stack's last outputs the program
    finds (default: a stack never deployed)."""
    from infra import acr_token, registry_read
    from infra.app import main

    routes = dict(registries or {})
    posted: list[dict[str, str]] = []
    real_post, real_get = acr_token.post_form, registry_read._get

    def routed(url: str) -> str | None:
        host = urllib.parse.urlsplit(url).netloc
        return url.replace(f"https://{host}", routes[host], 1) if host in routes else None

    def fake_post(url: str, fields: Mapping[str, str]) -> Mapping[str, Any]:
        posted.append({"url": url, **fields})
        local = routed(url)
        if local is not None:
            return real_post(local, fields)
        return {"refresh_token": ACR_REFRESH_TOKEN}

    def fake_get(url: str, headers: Mapping[str, str]) -> tuple[bytes, str]:
        local = routed(url)
        if local is None:
            raise AssertionError(f"the program read {url}, which no test registry serves")
        return real_get(local, headers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(acr_token, "post_form", fake_post)
        patch.setattr(registry_read, "_get", fake_get)
        for name in ("GITHUB_SHA", "GIT_COMMIT"):
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        run = run_program(
            main,
            project="banknote",
            stack=stack,
            config=config,
            cwd=APP_PWD,
            preview=preview,
            azure=azure,
            stack_outputs=stack_outputs,
        )
    run.token_exchanges = posted
    return run
