"""Instant queries against Prometheus's HTTP API, the same for Azure Monitor and a local server.

`POST <base>/api/v1/query` with the form fields `query` and `time` (prometheus.io "HTTP API",
instant queries: "You can URL-encode these parameters directly in the request body by using the
POST method and Content-Type: application/x-www-form-urlencoded header"). An Azure Monitor
workspace answers the same API at its query endpoint, with a Microsoft Entra token for the
resource `https://prometheus.monitor.azure.com` as a bearer token, for an identity that holds
"Monitoring Data Reader" on the workspace (learn.microsoft.com "Query Prometheus metrics using
the API and PromQL"). Only the base URL and the token differ; a local Prometheus takes none.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

# The audience of the tokens Azure Monitor's query endpoint accepts (learn.microsoft.com "Query
# Prometheus metrics using the API and PromQL", "Request a token": resource=...).
AZURE_MONITOR_AUDIENCE: Final = "https://prometheus.monitor.azure.com"
TIMEOUT_SECONDS: Final = 30.0


class PrometheusError(Exception):
    """The query endpoint refused or failed a query; the message says which and why."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and its value at the query's time."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Prometheus:
    """A Prometheus HTTP API at `base_url`, queried with `token` as a bearer token if given."""

    base_url: str
    token: str | None = None
    timeout: float = TIMEOUT_SECONDS

    def query(self, promql: str, at: float) -> list[Sample]:
        """The instant vector `promql` evaluates to at the Unix time `at`."""
        body = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - https, or http on a local test server
            self.base_url.rstrip("/") + "/api/v1/query",
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            hint = (
                " (does the identity hold Monitoring Data Reader on the workspace?)"
                if error.code in (401, 403)
                else ""
            )
            raise PrometheusError(
                f"{self.base_url} answered {error.code} to a query{hint}: {detail}"
            ) from None
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
            raise PrometheusError(f"cannot query {self.base_url}: {error}") from None
        return _vector(payload, promql)


def _vector(payload: dict[str, Any], promql: str) -> list[Sample]:
    """The samples of a successful instant-vector answer."""
    if payload.get("status") != "success":
        raise PrometheusError(f"query {promql!r} failed: {payload.get('error', payload)}")
    data = payload.get("data") or {}
    if data.get("resultType") != "vector":
        raise PrometheusError(f"query {promql!r} gave a {data.get('resultType')}, not a vector")
    samples = []
    for series in data.get("result") or []:
        _, text = series["value"]
        value = float(text)  # Prometheus spells NaN and infinities as "NaN", "+Inf", "-Inf"
        samples.append(Sample(dict(series.get("metric") or {}), value))
    return samples


def finite(value: float) -> float | None:
    """`value`, or None when it is NaN or infinite (a quantile of no observations is NaN)."""
    return value if math.isfinite(value) else None
