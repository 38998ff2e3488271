"""Concurrent /predict notes are scored together, and each answer is what it would be alone."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api.coalescer import Coalescer, Row
from api.lifespan import load_predictor
from api.predictor import Predictor
from tests.event_loop import run_on_own_loop

REPO = Path(__file__).resolve().parents[2]
ROWS: list[Row] = [
    (r[0], r[1], r[2], r[3])
    for r in np.loadtxt(REPO / "data" / "data_banknote_authentication.txt", delimiter=",")[
        :, :4
    ].tolist()
]


@pytest.fixture(scope="module")
def predictor(artifact_dir: Path) -> Predictor:
    return load_predictor(artifact_dir, 1)


class CountingPredictor:
    """The real predictor, recording the size of every model call it makes."""

    def __init__(self, real: Predictor) -> None:
        self.real = real
        self.calls: list[int] = []

    def predict_one(self, row: tuple[float, ...]) -> tuple[int, float]:
        self.calls.append(1)
        return self.real.predict_one(row)

    def predict_many(self, features: Any) -> tuple[list[int], list[float]]:
        self.calls.append(len(features))
        return self.real.predict_many(features)


async def _score_together(coalescer: Coalescer, rows: list[Row]) -> list[tuple[int, float]]:
    # Like requests handled in one loop iteration: every note is queued before any awaits.
    futures = [coalescer.score(row) for row in rows]
    return list(await asyncio.gather(*futures))


def test_notes_queued_together_make_one_model_call(predictor: Predictor) -> None:
    counting = CountingPredictor(predictor)
    coalescer = Coalescer(counting, max_rows=256)  # type: ignore[arg-type]
    rows = ROWS[:40]
    answers = run_on_own_loop(_score_together(coalescer, rows))
    assert counting.calls == [40]
    assert answers == [predictor.predict_one(row) for row in rows]


def test_an_answer_does_not_depend_on_its_company(predictor: Predictor) -> None:
    # Bit for bit: the same note gives the same float whatever it was batched with.
    alone = [predictor.predict_one(row) for row in ROWS]
    rng = random.Random(7)
    coalescer = Coalescer(predictor, max_rows=256)
    for _ in range(50):
        picked = rng.sample(range(len(ROWS)), rng.randint(2, 64))
        answers = run_on_own_loop(_score_together(coalescer, [ROWS[i] for i in picked]))
        assert answers == [alone[i] for i in picked]


def test_max_rows_bounds_each_call(predictor: Predictor) -> None:
    counting = CountingPredictor(predictor)
    run_on_own_loop(_score_together(Coalescer(counting, max_rows=4), ROWS[:10]))  # type: ignore[arg-type]
    assert sorted(counting.calls, reverse=True) == [4, 4, 2]


def test_max_rows_one_is_one_call_per_note(predictor: Predictor) -> None:
    counting = CountingPredictor(predictor)
    run_on_own_loop(_score_together(Coalescer(counting, max_rows=1), ROWS[:5]))  # type: ignore[arg-type]
    assert counting.calls == [1, 1, 1, 1, 1]


def test_a_lone_note_waits_for_nothing_but_its_own_call(predictor: Predictor) -> None:
    counting = CountingPredictor(predictor)
    coalescer = Coalescer(counting, max_rows=256)  # type: ignore[arg-type]

    async def one_after_another() -> list[tuple[int, float]]:
        return [await coalescer.score(row) for row in ROWS[:3]]

    assert run_on_own_loop(one_after_another()) == [predictor.predict_one(r) for r in ROWS[:3]]
    assert counting.calls == [1, 1, 1]


def test_a_failing_model_call_fails_every_waiting_note(predictor: Predictor) -> None:
    class Broken(CountingPredictor):
        def predict_many(self, features: Any) -> tuple[list[int], list[float]]:
            raise RuntimeError("model call failed")

    coalescer = Coalescer(Broken(predictor), max_rows=256)  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        futures = [coalescer.score(row) for row in ROWS[:3]]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    results = run_on_own_loop(scenario())
    assert [str(r) for r in results] == ["model call failed"] * 3


def test_a_cancelled_request_does_not_break_the_others(predictor: Predictor) -> None:
    coalescer = Coalescer(predictor, max_rows=256)

    async def scenario() -> list[tuple[int, float]]:
        futures = [coalescer.score(row) for row in ROWS[:3]]
        futures[1].cancel()  # its client went away before the model call
        return [await futures[0], await futures[2]]

    assert run_on_own_loop(scenario()) == [
        predictor.predict_one(ROWS[0]),
        predictor.predict_one(ROWS[2]),
    ]


@pytest.mark.server
def test_concurrent_requests_get_their_own_answers(server: Any, predictor: Predictor) -> None:
    # 32 clients at once against the real server: each answer is its own note's.
    rows = ROWS[::10][:128]
    names = ("variance", "skewness", "curtosis", "entropy")

    # One client shared by the threads (httpx clients are thread-safe; making one per thread
    # races on os.environ inside httpx), with a connection per thread.
    with httpx.Client(base_url=server.url, limits=httpx.Limits(max_connections=32)) as client:

        def ask(row: Row) -> tuple[str, float]:
            body = client.post("/predict", json=dict(zip(names, row, strict=True))).json()
            return body["prediction"], body["probability_forged"]

        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(ask, rows))
    expected = []
    for row in rows:
        value, probability = predictor.predict_one(row)
        expected.append((predictor.class_names[value], probability))
    assert answers == expected
