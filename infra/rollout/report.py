"""What a judged step reports: the figures table for the job summary, and the one line the job
fails with (the step, the metric, both revisions' values and the threshold)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.rollout import gate


@dataclass
class StepResult:
    """One judged step: where it stood, what the gate saw and said."""

    index: int
    weight: int
    min_requests: int
    window_seconds: int
    canary: gate.Figures
    stable: gate.Figures
    verdict: gate.Verdict


def failure(result: StepResult, count: int) -> str:
    """Why a step failed: the step, the metric, both revisions' values and the threshold."""
    step = f"step {result.index} of {count} ({result.weight} %)"
    canary, stable = result.canary.revision, result.stable.revision
    if result.verdict.outcome is gate.Outcome.NO_DATA:
        return f"{step}: {result.verdict.reason} after {result.window_seconds} s; never promoted"
    checks = "; ".join(gate.describe(c, canary, stable) for c in result.verdict.failed)
    return f"{step} failed the gate: {checks}"


def step_markdown(result: StepResult, count: int) -> str:
    """The figures of one judged step as a Markdown table for the job summary."""
    canary, stable = result.canary, result.stable
    enough = "ok" if result.verdict.outcome is not gate.Outcome.NO_DATA else "too few"
    lines = [
        f"### Step {result.index} of {count}: {result.weight} % to the canary, judged over "
        f"{result.window_seconds} s",
        "",
        f"| metric | canary `{canary.revision}` | stable `{stable.revision}` | threshold | |",
        "| --- | --- | --- | --- | --- |",
        f"| prediction requests | {canary.requests:.0f} | {stable.requests:.0f} | "
        f"at least {result.min_requests} each | {enough} |",
    ]
    for check in result.verdict.checks:
        bound = (
            f"difference at most {check.threshold * 100:g} points"
            if check.metric.startswith("share of predictions")
            else f"{gate.show(check, check.threshold)} ({check.rule})"
        )
        lines.append(
            f"| {check.metric} | {gate.show(check, check.canary)} | "
            f"{gate.show(check, check.stable)} | {bound} | {'ok' if check.passed else 'FAILED'} |"
        )
    verdict = result.verdict.outcome.value + (
        f": {result.verdict.reason}" if result.verdict.reason else ""
    )
    lines += ["", f"Verdict: **{verdict}**", ""]
    return "\n".join(lines)
