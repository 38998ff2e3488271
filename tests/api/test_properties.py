"""Property-based tests: any finite input is answered, and batch equals single."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-30, max_value=30),  # where the real notes live
    st.integers(min_value=-(10**15), max_value=10**15),
)
notes = st.fixed_dictionaries(
    {"variance": finite, "skewness": finite, "curtosis": finite, "entropy": finite}
)

common = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(note=notes)
def test_any_finite_note_gets_a_probability(client: TestClient, note: dict[str, Any]) -> None:
    response = client.post("/predict", json=note)
    assert response.status_code == 200
    body = response.json()
    assert 0.0 <= body["probability_forged"] <= 1.0
    assert body["prediction"] in {"genuine", "forged"}
    assert (
        body["label"]
        == {"genuine": "Goed bankbiljet", "forged": "Vals bankbiljet"}[body["prediction"]]
    )
    assert math.isfinite(body["probability_forged"])


@common
@given(batch=st.lists(notes, min_size=1, max_size=20))
def test_batch_equals_singles(client: TestClient, batch: list[dict[str, Any]]) -> None:
    response = client.post("/predict/batch", json=batch)
    assert response.status_code == 200
    items = response.json()["predictions"]
    assert len(items) == len(batch)
    for note, item in zip(batch, items, strict=True):
        single = client.post("/predict", json=note).json()
        assert item["prediction"] == single["prediction"]
        assert item["probability_forged"] == pytest.approx(single["probability_forged"], abs=1e-6)


@common
@given(
    note=notes,
    field=st.sampled_from(["variance", "skewness", "curtosis", "entropy"]),
    bad=st.one_of(st.text(), st.booleans(), st.none(), st.lists(st.integers()), st.just({})),
)
def test_any_non_number_is_a_422_naming_the_field(
    client: TestClient, note: dict[str, Any], field: str, bad: Any
) -> None:
    response = client.post("/predict", json={**note, field: bad})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
