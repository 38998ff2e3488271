"""MLflow's scoring protocol codec on its own: requests made by MLflow's own encoder
(`mlflow.utils.proto_json_utils.dump_input_data`, what ScoringServerClient sends) and by hand,
CSV as pandas writes it. No server, no model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.utils.proto_json_utils import dump_input_data

from api.mlflow_codec import MlflowError, encode_predictions, parse_invocation

FEATURES = ("variance", "skewness", "curtosis", "entropy")
ROWS = np.array([[3.6216, 8.6661, -2.8073, -0.44699], [-1.3971, 3.3191, -1.3927, -1.9948]])
FRAME = pd.DataFrame(ROWS, columns=list(FEATURES))
JSON = "application/json"


def parse(body: bytes | str, content_type: str | None = JSON, max_rows: int = 100) -> np.ndarray:
    raw = body.encode() if isinstance(body, str) else body
    return parse_invocation(raw, content_type, FEATURES, max_rows)


def refusal(body: bytes | str | dict[str, Any], content_type: str | None = JSON) -> MlflowError:
    raw = json.dumps(body) if isinstance(body, dict) else body
    with pytest.raises(MlflowError) as caught:
        parse(raw, content_type)
    return caught.value


def test_what_scoring_server_client_sends() -> None:
    # ScoringServerClient.invoke(data) posts dump_input_data(data) as application/json.
    shuffled = FRAME[["entropy", "variance", "curtosis", "skewness"]]
    for data in (FRAME, shuffled, ROWS, {name: FRAME[name].to_numpy() for name in FEATURES}):
        np.testing.assert_array_equal(parse(dump_input_data(data)), ROWS)
    with_params = dump_input_data(FRAME, params={"threshold": 0.5})
    np.testing.assert_array_equal(parse(with_params), ROWS)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_records": FRAME.to_dict(orient="records")},
        {"instances": FRAME.to_dict(orient="records")},
        {"instances": ROWS.tolist()},
        {"inputs": ROWS.tolist()},
        {"inputs": FRAME.to_dict(orient="list")},
        {"instances": FRAME.to_dict(orient="list")},
        {"dataframe_split": {"columns": list(FEATURES), "data": ROWS.tolist()}},
    ],
)
def test_every_json_format(body: dict[str, Any]) -> None:
    np.testing.assert_array_equal(parse(json.dumps(body)), ROWS)


def test_inputs_of_scalars_is_one_row() -> None:
    one = dict(zip(FEATURES, ROWS[0].tolist(), strict=True))
    np.testing.assert_array_equal(parse(json.dumps({"inputs": one})), ROWS[:1])


def test_csv_with_a_header_row_as_pandas_writes_it() -> None:
    shuffled = FRAME[["curtosis", "entropy", "skewness", "variance"]]
    for frame in (FRAME, shuffled):
        np.testing.assert_array_equal(parse(frame.to_csv(index=False), "text/csv"), ROWS)
    text = FRAME.to_csv(index=False)
    np.testing.assert_array_equal(parse("\ufeff" + text, "text/csv; charset=utf-8"), ROWS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"dataframe_split": {"columns": ["variance", "skewness"], "data": [[1, 2]]}},
            "missing inputs ['curtosis', 'entropy']",
        ),
        (
            {"dataframe_split": {"columns": [*FEATURES, "x"], "data": [[1, 2, 3, 4, 5]]}},
            "unexpected inputs ['x']",
        ),
        (
            {"dataframe_split": {"columns": [*FEATURES, "variance"], "data": [[1, 2, 3, 4, 5]]}},
            "repeated inputs ['variance']",
        ),
        ({"dataframe_split": {"data": ROWS.tolist()}}, "'columns' must name the model's inputs"),
        (
            {"dataframe_split": {"columns": list(FEATURES), "data": [[1, 2, 3]]}},
            "row 0 has 3 values for 4 columns",
        ),
        (
            {"dataframe_split": {"columns": list(FEATURES), "data": [[1, 2, 3, "4"]]}},
            "Input should be a valid number",
        ),
        (
            {"dataframe_split": {"columns": list(FEATURES), "data": [], "x": 1}},
            "must have a 'data' field",
        ),
        ({"dataframe_split": {"columns": list(FEATURES), "data": []}}, "at least one row"),
        (
            {"dataframe_records": [dict.fromkeys(FEATURES[:3], 1.0)]},
            "record 0: missing inputs ['entropy']",
        ),
        (
            {"dataframe_records": [{**dict.fromkeys(FEATURES, 1.0), "x": 2}]},
            "unexpected inputs ['x']",
        ),
        ({"dataframe_records": {"variance": 1}}, "must be a list of records"),
        ({"dataframe_records": [dict.fromkeys(FEATURES, True)]}, "Input should be a valid number"),
        ({"instances": [[1, 2, 3]]}, "row 0 has 3 values"),
        (
            {"inputs": {"variance": [1, 2], "skewness": [1], "curtosis": [1], "entropy": [1]}},
            "same number of values",
        ),
        ({"inputs": "1,2,3,4"}, "must be a list of rows or records"),
        ({"instances": ROWS.tolist(), "inputs": ROWS.tolist()}, "exactly one of the input fields"),
        ({"data": ROWS.tolist()}, "exactly one of the input fields"),
        ({"inputs": ROWS.tolist(), "colums": 1}, "exactly one of the input fields"),
    ],
)
def test_bad_json_is_400_naming_the_problem(body: dict[str, Any], expected: str) -> None:
    error = refusal(body)
    assert error.status == 400
    assert expected in error.message
    content, media_type = error.body()
    assert media_type == JSON
    assert json.loads(content) == {"error_code": "BAD_REQUEST", "message": error.message}


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_values_are_400(text: str) -> None:
    body = '{"inputs": [[' + text + ", 1, 2, 3]]}"
    assert "finite number" in refusal(body).message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "needs a header row"),
        ("variance,skewness,curtosis\n1,2,3\n", "missing inputs ['entropy']"),
        ("variance,skewness,curtosis,entropy\n1,2,3\n", "line 2 has 3 cells for 4 columns"),
        ("variance,skewness,curtosis,entropy\n1,2,3,x\n", "line 2: 'x' is not a number"),
        ("variance,skewness,curtosis,entropy\n1,2,3,nan\n", "not a finite number"),
        ("variance,skewness,curtosis,entropy\n", "at least one row"),
        (b"\xff\xfe", "valid UTF-8"),
    ],
)
def test_bad_csv_is_400(body: str | bytes, expected: str) -> None:
    error = refusal(body, "text/csv")
    assert error.status == 400
    assert expected in error.message


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/parquet",
        "application/json; charset=latin-1",
        "application/json; format=pandas-split",
        "application/x-www-form-urlencoded",
    ],
)
def test_other_content_types_are_415_in_plain_text(content_type: str | None) -> None:
    error = refusal(json.dumps({"inputs": ROWS.tolist()}), content_type)
    assert error.status == 415
    content, media_type = error.body()
    assert media_type.startswith("text/plain")
    assert content.decode() == error.message


def test_broken_json_and_non_objects_are_400() -> None:
    assert "valid JSON" in refusal("{").message
    assert "Received list" in refusal("[1, 2]").message


def test_row_limit() -> None:
    body = json.dumps({"inputs": np.zeros((101, 4)).tolist()})
    with pytest.raises(MlflowError, match="101 rows is more than the limit of 100"):
        parse(body)


def test_predictions_are_class_values() -> None:
    assert json.loads(encode_predictions([0, 1, 1])) == {"predictions": [0, 1, 1]}
