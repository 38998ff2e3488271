"""The metrics shipper: Prometheus in agent mode, run beside the service in every replica, scraping
its /metrics on localhost and remote-writing to the stack's Azure Monitor workspace.

Why a sidecar: Azure Monitor's own Prometheus collector runs in AKS and Arc-enabled Kubernetes
only, and Container Apps' managed OpenTelemetry agent sends no metrics to Azure Monitor; a scrape
through the ingress reaches one replica of many. Containers of one replica (Container Apps) or
one group (Container Instances) share localhost, so each replica's shipper sees exactly its own
service (learn.microsoft.com "Containers in Azure Container Apps", multiple containers).

Why Prometheus in agent mode: remote write authenticates with a managed identity
(`remote_write.azuread.managed_identity.client_id`, Prometheus configuration reference, v3.5
docs/configuration/configuration.md, `azuread`), which Microsoft documents for Prometheus later
than 2.45 ("Send Prometheus metrics from virtual machines, scale sets, or Kubernetes clusters to
an Azure Monitor workspace"): no key, password or connection string exists. The identity is the
app's user-assigned one; Prometheus asks azidentity's ManagedIdentityCredential for the token
(storage/remote/azuread/azuread.go), which uses the identity endpoint Container Apps gives every
container (IDENTITY_ENDPOINT and IDENTITY_HEADER, as on App Service: learn.microsoft.com "Managed
identities in Azure Container Apps"), or the instance metadata service on Container Instances.

Every series gets three labels here, as external labels: `revision` and `replica`, which Container
Apps sets in every container as CONTAINER_APP_REVISION and CONTAINER_APP_REPLICA_NAME
(learn.microsoft.com "Manage environment variables on Azure Container Apps", built-in
variables), and `model_version`, which the program passes. Prometheus 3 expands `${VAR}` in
external label values (docs/migration.md: `expand-external-labels` is the default in v3); Debian's
2.42 in the tests needs `--enable-feature=expand-external-labels`.

How the config reaches the container: the official image is busybox-based (its Dockerfile: `FROM
quay.io/prometheus/busybox-...`, `USER nobody`, /etc/prometheus owned by nobody), so a shell
writes the config from an environment variable and execs Prometheus. No volume, no secret: the
config holds an endpoint URL and a client id, neither of which is secret.

`python -m infra.shipper > monitoring/shipper.yml` writes the committed example (with example
values for the two per-stack settings); a test keeps it equal to `agent_config`, and the tests run
it, remote_write cut to a local receiver, on Debian's Prometheus.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi
import yaml

from infra.config import SHIPPER_CPU, SHIPPER_MEMORY_GB
from infra.container import PORT
from infra.sidecar import Sidecar

JOB: Final = "api"  # the scrape job: the container named api (infra/container.py CONTAINER_NAME)
CONTAINER_NAME: Final = "metrics-shipper"
# 15 s is Prometheus' documented example interval; at it, 2 replicas x ~290 series cost about
# $1.2 a month of ingestion (docs/observability.md, "Cost"); rate windows of 5 minutes then hold
# 20 samples.
SCRAPE_INTERVAL: Final = "15s"
SCRAPE_TIMEOUT: Final = "10s"
TARGET: Final = f"127.0.0.1:{PORT}"
# Prometheus v3.5, the long-term-support release (prometheus/prometheus RELEASE.md: "v3.5 LTS"),
# pinned by the digest of its multi-platform index, the same under quay.io/prometheus/prometheus
# and docker.io/prom/prometheus. ACR's artifact cache pulls it from Quay without credentials (Docker
# Hub would need a credential set, i.e. a stored password: learn.microsoft.com "Optimize image
# pulls with artifact cache in Azure Container Registry", upstream support).
IMAGE_VERSION: Final = "v3.5.0"
IMAGE_DIGEST: Final = "sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"
UPSTREAM_REPOSITORY: Final = "quay.io/prometheus/prometheus"
REPOSITORY: Final = "prometheus"  # where the stack's registry caches it
# Env variables of the container (the platform sets the first two on Container Apps).
REVISION_ENV: Final = "CONTAINER_APP_REVISION"
REPLICA_ENV: Final = "CONTAINER_APP_REPLICA_NAME"
MODEL_VERSION_ENV: Final = "MODEL_VERSION"
CONFIG_ENV: Final = "PROMETHEUS_CONFIG"
EXTERNAL_LABELS: Final = {
    "revision": f"${{{REVISION_ENV}}}",
    "replica": f"${{{REPLICA_ENV}}}",
    "model_version": f"${{{MODEL_VERSION_ENV}}}",
}
CONFIG_FILE: Final = "/etc/prometheus/prometheus.yml"  # nobody may write it (the image's chown)
STORAGE: Final = "/prometheus"  # the image's data directory, also nobody's
# Agent mode keeps only a write-ahead log until the samples are sent; its web server (health,
# its own /metrics) listens on loopback only.
FLAGS: Final = (
    "--agent",
    f"--config.file={CONFIG_FILE}",
    f"--storage.agent.path={STORAGE}",
    "--web.listen-address=127.0.0.1:9090",
)
# Resources next to the service's own (infra/config.py SHIPPER_CPU: Container Apps needs the sum
# of a replica's containers to be an allowed pair). An agent scraping ~290 series every 15 s uses
# a fraction of either.
CPU: Final = SHIPPER_CPU
MEMORY_GB: Final = SHIPPER_MEMORY_GB
# Azure Monitor's ingestion endpoint for Prometheus remote write, per data collection rule
# (Azure/prometheus-collector and Azure/ARO-HCP compose it the same way from the DCE's
# metricsIngestion.endpoint and the DCR's immutableId).
WRITE_PATH: Final = "/dataCollectionRules/{dcr}/streams/Microsoft-PrometheusMetrics/api/v1/write"
WRITE_API_VERSION: Final = "2023-04-24"
# The committed example's values for the two settings only a deployed stack knows.
EXAMPLE_WRITE_URL: Final = (
    "https://dce-banknote-prod-a1b2.westeurope-1.metrics.ingest.monitor.azure.com"
    + WRITE_PATH.format(dcr="dcr-00000000000000000000000000000000")
    + f"?api-version={WRITE_API_VERSION}"
)
EXAMPLE_CLIENT_ID: Final = "00000000-0000-0000-0000-000000000000"


def write_url(metrics_ingestion_endpoint: str, dcr_immutable_id: str) -> str:
    """The remote-write URL of one data collection rule."""
    path = WRITE_PATH.format(dcr=dcr_immutable_id)
    return f"{metrics_ingestion_endpoint.rstrip('/')}{path}?api-version={WRITE_API_VERSION}"


def agent_config(remote_write_url: str, client_id: str) -> dict[str, Any]:
    """The shipper's whole Prometheus configuration."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_TIMEOUT,
            "external_labels": dict(EXTERNAL_LABELS),
        },
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [TARGET]}],
            }
        ],
        "remote_write": [
            {
                "url": remote_write_url,
                "azuread": {
                    "cloud": "AzurePublic",
                    "managed_identity": {"client_id": client_id},
                },
            }
        ],
    }


HEADER: Final = (
    "# The metrics shipper's Prometheus configuration (agent mode), as infra/shipper.py makes it\n"
    "# for every replica. On Azure the remote_write url and client_id are the stack's data\n"
    "# collection rule and the app's identity; the values here are examples. Generated; run\n"
    "#   .venv/bin/python -m infra.shipper > monitoring/shipper.yml\n"
)


def render(config: dict[str, Any]) -> str:
    """A configuration as the YAML text Prometheus reads."""
    return yaml.safe_dump(config, sort_keys=False, width=100)


def example() -> str:
    """The committed example file's text."""
    return HEADER + render(agent_config(EXAMPLE_WRITE_URL, EXAMPLE_CLIENT_ID))


def command() -> list[str]:
    """The container's command: write the config from the environment, then run Prometheus."""
    script = (
        f"printf '%s\\n' \"${CONFIG_ENV}\" > {CONFIG_FILE} && exec /bin/prometheus "
        + " ".join(FLAGS)
    )
    return ["/bin/sh", "-c", script]


def image(login_server: str) -> str:
    """The shipper's image in the stack's own registry, by digest."""
    return f"{login_server}/{REPOSITORY}@{IMAGE_DIGEST}"


def sidecar(
    login_server: pulumi.Input[str],
    remote_write_url: pulumi.Input[str],
    client_id: pulumi.Input[str],
    model_version: str,
    depends_on: Sequence[pulumi.Resource],
    platform_env: Mapping[str, str] | None = None,
) -> Sidecar:
    """The shipper as a container of the service's replica.

    `platform_env` gives the revision and replica variables where the platform sets none
    (Container Instances); Container Apps sets them in every container itself.
    """
    config = pulumi.Output.all(remote_write_url, client_id).apply(
        lambda pair: render(agent_config(pair[0], pair[1]))
    )
    env: dict[str, pulumi.Input[str]] = {
        CONFIG_ENV: config,
        MODEL_VERSION_ENV: model_version,
        **(platform_env or {}),
    }
    return Sidecar(
        name=CONTAINER_NAME,
        image=pulumi.Output.from_input(login_server).apply(image),
        command=command(),
        env=env,
        cpu=CPU,
        memory_gb=MEMORY_GB,
        depends_on=tuple(depends_on),
    )


if __name__ == "__main__":
    sys.stdout.write(example())
