"""The prod rollout on Azure Container Apps, outside the Pulumi program: what `scripts/rollout.py`
runs after `pulumi up` has added the new revision at 0 %.

- `policy`: the steps, the hold times and the gate's thresholds, with the reason for each
  default (read from stack config by infra/config.py).
- `prometheus`: Prometheus's HTTP query API, the same for Azure Monitor and a local server.
- `gate`: the canary's and the stable revision's figures over one window, and the verdict.
- `azure`: the Azure CLI calls that read the app and move its traffic.
- `tools`: the Pulumi and Azure CLIs for one stack, the step outputs and the job summary.
- `report`: a judged step's table for the job summary and the line the job fails with.
- `run`: the phases (import, canary, promote with its steps, rollback, status) and the CLI.
"""
