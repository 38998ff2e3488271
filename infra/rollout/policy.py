"""How a prod rollout moves: its traffic steps, how long each is held, and what the gate accepts.

Every value comes from stack config (infra/config.py parses and validates it; Pulumi.yaml
documents each key). The defaults, and why:

- Steps 0 -> 10 -> 50 -> 100 %. At 0 % only the smoke test reaches the new revision, through its
  label URL. 10 % is the first real traffic, so a broken model hurts a tenth of the requests for
  one hold. 50 % gives both revisions the same load, so latency is compared under equal
  conditions, before the canary gets everything. Flagger's and Argo Rollouts' examples step the
  same way (a few increasing weights, each analysed before the next).
- Hold 300 s before the first judgement: the Prometheus agent in every replica scrapes the
  service and remote-writes to the Azure Monitor workspace each scrape interval, and a query
  sees those samples some time after they are written; five minutes holds several of those
  cycles for every replica, so the window is not judged on its first samples only.
- At most 900 s per step: with too little traffic the step is held longer (the judgement is
  repeated every `recheck` seconds) and then stopped. Two judged steps of 15 minutes stay
  within `MAX_TOTAL_HOLD_SECONDS`, below.
- At least 100 prediction requests per revision in the window. With 100, one 5xx is 1 %, so the
  1 % rule below can be resolved at all; a canary whose true error share equals the stable's
  0.1 % shows two or more errors in 100 requests with a probability of about 0.5 %.
- The canary's 5xx share may exceed the stable's by at most 1 percentage point: the same 1 % as
  the error alert of the monitoring rules, so a canary is not promoted with an error share that,
  at 100 %, would page someone.
- p95 latency: the canary may be slower than the stable by half (x 1.5) or by 25 ms, whichever
  is more. The slack keeps sub-millisecond figures and the histogram's coarse buckets (1, 2.5, 5,
  10, 25, 50 ms ...) from failing a healthy canary; 25 ms is half the 50 ms p99 the capacity plan
  assumes per request (bench/capacity.py, docs/performance.md).
- Share of predictions per class: at most 15 percentage points apart. At 100 canary
  predictions, a share near one half has a standard error of 5 points, and the difference with
  the stable (far more predictions) about 5.3: 15 points is nearly three of those, a false alarm
  about 0.5 % of the time. A model that calls every note forged moves the forged share by about
  55 points (the data is 44 % forged).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

DEFAULT_STEPS: Final = (0, 10, 50, 100)
DEFAULT_HOLD_SECONDS: Final = 300
DEFAULT_MAX_HOLD_SECONDS: Final = 900
DEFAULT_MIN_REQUESTS: Final = 100
DEFAULT_MAX_5XX_INCREASE: Final = 0.01
DEFAULT_P95_RATIO: Final = 1.5
DEFAULT_P95_SLACK_SECONDS: Final = 0.025
DEFAULT_MAX_CLASS_SHIFT: Final = 0.15
# Every judged step's longest hold, added up. The Azure CLI's tokens come from the OIDC login
# at the start of the job: Entra access tokens live 60 to 90 minutes, and once the 5-minute
# GitHub ID token has expired no new one can be had (Azure/login#372, Azure/azure-cli#28708).
# The holds must leave room for the updates before them and the promotion after them.
MAX_TOTAL_HOLD_SECONDS: Final = 40 * 60


@dataclass(frozen=True)
class GateThresholds:
    """What the canary's figures must meet, next to the stable revision's over the same window."""

    min_requests: int = DEFAULT_MIN_REQUESTS  # prediction requests of each revision
    max_5xx_increase: float = DEFAULT_MAX_5XX_INCREASE  # canary share - stable share, at most
    p95_ratio: float = DEFAULT_P95_RATIO  # canary p95 at most this x the stable's ...
    p95_slack_seconds: float = DEFAULT_P95_SLACK_SECONDS  # ... or the stable's + this, if more
    max_class_shift: float = DEFAULT_MAX_CLASS_SHIFT  # |canary share - stable share| per class


@dataclass(frozen=True)
class RolloutPolicy:
    """The traffic steps and their holds, and the gate applied at each step below 100 %."""

    steps: tuple[int, ...] = DEFAULT_STEPS
    hold_seconds: int = DEFAULT_HOLD_SECONDS
    max_hold_seconds: int = DEFAULT_MAX_HOLD_SECONDS
    gate: GateThresholds = GateThresholds()

    @property
    def judged_steps(self) -> tuple[int, ...]:
        """The weights held and judged: every step between 0 (the smoke test) and 100."""
        return tuple(w for w in self.steps if 0 < w < 100)

    @property
    def recheck_seconds(self) -> int:
        """How often a step short of traffic is judged again: a quarter of the hold, >= 1 s."""
        return max(1, self.hold_seconds // 4)


def parse_steps(text: str) -> tuple[int, ...]:
    """`0,10,50,100` -> (0, 10, 50, 100); ValueError saying what is wrong otherwise."""
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError("expected comma-separated whole percentages, e.g. 0,10,50,100") from None
    if steps[0] != 0 or steps[-1] != 100:
        raise ValueError("the steps start at 0 (the smoke test) and end at 100 (the promotion)")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError("each step must be above the one before")
    return steps
