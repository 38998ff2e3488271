"""The Open Inference Protocol codec on its own: requests made by tritonclient's own encoder
(`InferenceServerClient.generate_request_body`) and by hand, answers read back by tritonclient's
own parser (`InferenceServerClient.parse_response_body`). No server, no model."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton

from api.scoring import Scores
from api.v2_codec import (
    BINARY_MEDIA_TYPE,
    HEADER_LENGTH,
    JSON_MEDIA_TYPE,
    InferRequest,
    ModelView,
    Requested,
    V2Error,
    encode_infer,
    encode_one,
    header_length,
    parse_infer,
)

MODEL = ModelView(name="banknote", n_features=4, class_values=(0, 1))
ROWS = np.array([[3.6216, 8.6661, -2.8073, -0.44699], [-1.3971, 3.3191, -1.3927, -1.9948]])
Client = triton.InferenceServerClient


def client_body(rows: np.ndarray, binary: bool = True, **kwargs: Any) -> tuple[bytes, int | None]:
    """What tritonclient sends for `rows` (its defaults: binary input, binary outputs)."""
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows.astype(np.float32), binary_data=binary)
    body, length = Client.generate_request_body([tensor], **kwargs)
    return body, length


def parse(body: bytes, length: int | None = None, max_rows: int = 100) -> InferRequest:
    return parse_infer(body, length, MODEL, max_rows)


def refusal(body: bytes | dict[str, Any], length: int | None = None) -> str:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    with pytest.raises(V2Error) as caught:
        parse(raw, length)
    assert caught.value.status == 400
    assert json.loads(caught.value.body()) == {"error": caught.value.message}
    return caught.value.message


def request(data: Any, shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    tensor = {"name": "features", "shape": shape or [2, 4], "datatype": "FP32", "data": data}
    return {"inputs": [tensor], **extra}


def test_tritonclient_defaults_binary_in_binary_out() -> None:
    body, length = client_body(ROWS)
    assert length is not None
    assert len(body) == length + ROWS.size * 4
    parsed = parse(body, length)
    assert parsed.features.dtype == np.float32
    np.testing.assert_array_equal(parsed.features, ROWS.astype(np.float32))
    # No outputs named: tritonclient asks for every output as binary data.
    assert parsed.outputs == (Requested("label", True), Requested("probabilities", True))


def test_tritonclient_json_tensors() -> None:
    body, length = client_body(ROWS, binary=False, request_id="42")
    assert length is None
    parsed = parse(body)
    np.testing.assert_array_equal(parsed.features, ROWS.astype(np.float32).astype(np.float64))
    assert parsed.id == "42"


def test_nested_and_flat_data_are_the_same_rows() -> None:
    nested = parse(json.dumps(request(ROWS.tolist())).encode())
    flat = parse(json.dumps(request(ROWS.reshape(-1).tolist())).encode())
    np.testing.assert_array_equal(nested.features, ROWS)
    np.testing.assert_array_equal(flat.features, ROWS)
    assert nested.outputs == (Requested("label", False), Requested("probabilities", False))


def test_outputs_are_chosen_and_ordered_by_the_request() -> None:
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=False)]
    body, length = client_body(ROWS, outputs=outputs)
    assert parse(body, length).outputs == (Requested("probabilities", False),)
    mixed = request(
        ROWS.tolist(),
        parameters={"binary_data_output": True},
        outputs=[
            {"name": "probabilities"},
            {"name": "label", "parameters": {"binary_data": False}},
        ],
    )
    assert parse(json.dumps(mixed).encode()).outputs == (
        Requested("probabilities", True),
        Requested("label", False),
    )


def tensor(**fields: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "features", "shape": [2, 4], "datatype": "FP32", **fields}]}


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"inputs": []}, "expected one input named 'features', got 0"),
    ({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": []}]}, "'features'"),
    (tensor(datatype="FP64", data=[0] * 8), "datatype 'FP64'"),
    (request(ROWS.tolist(), shape=[2, 3]), "has shape [2, 3]: the model takes [rows, 4]"),
    (request(ROWS.tolist(), shape=[8]), "has shape [8]"),
    (request(ROWS.reshape(-1).tolist()[:7]), "holds 8 values, data has 7"),
    (request([[1, 2, 3, 4], [1, 2, 3]]), "data does not have shape [2, 4]"),
    (request([1, 2, 3, "4", 1, 2, 3, 4]), "data 3: Input should be a valid number"),
    (request([1, 2, 3, True, 1, 2, 3, 4]), "Input should be a valid number"),
    (request([[1, 2, 3, 4], [1, 2, 3, None]]), "Input should be a valid number"),
    (request([], shape=[0, 4]), "at least one row"),
    (tensor(), "neither data nor binary_data_size"),
    (tensor(parameters={"shared_memory_region": "r"}), "shared memory"),
    (request(ROWS.tolist(), outputs=[{"name": "prediction"}]), "unknown output 'prediction'"),
    (request(ROWS.tolist(), outputs=[{"name": "label"}] * 2), "requested twice"),
    (
        request(ROWS.tolist(), outputs=[{"name": "label", "parameters": {"classification": 2}}]),
        "classification extension",
    ),
    (
        request(ROWS.tolist(), outputs=[{"name": "label", "parameters": {"binary_data": "y"}}]),
        "binary_data must be true or false",
    ),
    (
        request(ROWS.tolist(), parameters={"binary_data_output": 1}),
        "binary_data_output must be true or false",
    ),
    (request(ROWS.tolist(), id=42), "id: Input should be a valid string"),
    ({"input": []}, "inputs: Field required"),
    (request(ROWS.tolist(), parameters={"x": {}}), "parameters.x"),
    (request(ROWS.tolist(), parameters={"x": None}), "parameters.x"),
    (tensor(data=[0] * 8, parameters={"x": [1]}), "inputs.0.parameters.x"),
    (request(ROWS.tolist(), outputs=[{"name": "label", "parameters": {"x": {}}}]), "outputs.0"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_REQUESTS)
def test_bad_requests_are_400_naming_the_problem(body: dict[str, Any], expected: str) -> None:
    assert expected in refusal(body)


def test_too_many_rows_is_400() -> None:
    body = json.dumps(request(np.zeros((101, 4)).tolist(), shape=[101, 4])).encode()
    with pytest.raises(V2Error, match="101 rows is more than the limit of 100"):
        parse(body)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_json_values_are_400(text: str) -> None:
    body = json.dumps(request([0] * 8)).encode().replace(b"[0, ", f"[{text}, ".encode(), 1)
    assert "finite number" in refusal(body)


def test_non_finite_binary_values_are_400() -> None:
    rows = ROWS.astype(np.float32)
    rows[1, 2] = np.nan
    body, length = client_body(rows)
    assert "row 1, feature 2: nan is not a finite number" in refusal(body, length)


def test_byte_sizes_that_do_not_add_up_are_400() -> None:
    body, length = client_body(ROWS)
    assert length is not None
    assert "but 28 bytes follow" in refusal(body[:-4], length)
    assert "but 36 bytes follow" in refusal(body + b"\0" * 4, length)
    header = json.loads(body[:length])
    header["inputs"][0]["parameters"]["binary_data_size"] = 24
    head = json.dumps(header).encode()
    assert "shape [2, 4] of FP32 takes 32 bytes" in refusal(head + body[length:], len(head))


def test_binary_framing_errors_are_400() -> None:
    body, length = client_body(ROWS)
    assert length is not None
    assert "no Inference-Header-Content-Length" in refusal(body[:length])
    # Binary data after the JSON object, but no input says it is there.
    json_body, _ = client_body(ROWS, binary=False)
    assert "no input has a binary_data_size" in refusal(json_body + b"\0" * 4, len(json_body))
    both = json.loads(body[:length])
    both["inputs"][0]["data"] = ROWS.reshape(-1).tolist()
    head = json.dumps(both).encode()
    assert "both data and binary_data_size" in refusal(head + body[length:], len(head))
    assert "not a JSON object" in refusal(body, length - 1)


@pytest.mark.parametrize("value", ["", "abc", "-5", "0", "999999", "1.5"])
def test_header_length_must_fit_the_body(value: str) -> None:
    with pytest.raises(V2Error, match="Inference-Header-Content-Length"):
        header_length(value, 500)


def test_header_length_absent_or_valid() -> None:
    assert header_length(None, 10) is None
    assert header_length("10", 10) == 10


def scores(indexes: list[int], probabilities: list[list[float]]) -> Scores:
    return Scores(np.array(indexes), np.array(probabilities, dtype=np.float32))


def test_binary_answer_reads_back_in_tritonclient() -> None:
    answer = scores([0, 1], [[0.9, 0.1], [0.25, 0.75]])
    parsed = InferRequest("7", ROWS, (Requested("label", True), Requested("probabilities", True)))
    body, headers = encode_infer(MODEL, "v1", parsed, answer)
    assert headers["content-type"] == BINARY_MEDIA_TYPE
    result = Client.parse_response_body(body, header_length=int(headers[HEADER_LENGTH]))
    np.testing.assert_array_equal(result.as_numpy("label"), np.array([0, 1], dtype=np.int64))
    np.testing.assert_array_equal(result.as_numpy("probabilities"), answer.probabilities)
    assert result.get_response()["model_version"] == "v1"
    assert result.get_response()["id"] == "7"


def test_json_answer_reads_back_in_tritonclient() -> None:
    answer = scores([1, 0], [[0.2, 0.8], [0.6, 0.4]])
    parsed = InferRequest(
        None, ROWS, (Requested("probabilities", False), Requested("label", False))
    )
    body, headers = encode_infer(MODEL, "v1", parsed, answer)
    assert headers == {"content-type": JSON_MEDIA_TYPE}
    result = Client.parse_response_body(body)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probabilities", "label"]
    assert "id" not in result.get_response()
    np.testing.assert_array_equal(result.as_numpy("probabilities"), answer.probabilities)
    assert result.as_numpy("label").tolist() == [1, 0]


def test_label_answers_class_values_not_indexes() -> None:
    # A model whose classes are 3 and 7: index 1 answers 7.
    odd = ModelView(name="m", n_features=4, class_values=(3, 7))
    parsed = InferRequest(None, ROWS, (Requested("label", True),))
    body, headers = encode_infer(odd, "v1", parsed, scores([1, 0], [[0.1, 0.9], [0.8, 0.2]]))
    head = int(headers[HEADER_LENGTH])
    assert struct.unpack("<2q", body[head:]) == (7, 3)


def test_unknown_model_or_version_is_404() -> None:
    MODEL.check("banknote", None, "v1")
    MODEL.check("banknote", "v1", "v1")
    for name, version in (("other", None), ("banknote", "v0")):
        with pytest.raises(V2Error) as caught:
            MODEL.check(name, version, "v1")
        assert caught.value.status == 404


def test_one_json_row_stays_a_tuple_and_encodes_like_many() -> None:
    for data in (ROWS[:1].tolist(), ROWS[0].tolist()):
        parsed = parse(json.dumps(request(data, shape=[1, 4])).encode())
        assert parsed.features is None
        assert parsed.row == tuple(ROWS[0])
        np.testing.assert_array_equal(parsed.rows(), ROWS[:1])
    for binary in (True, False):
        outputs = (Requested("probabilities", binary), Requested("label", binary))
        parsed = InferRequest("x", None, outputs, tuple(ROWS[0]))
        probabilities = np.array([0.25, 0.75], dtype=np.float32)
        one = encode_one(MODEL, "v1", parsed, 1, probabilities.tolist())
        many = encode_infer(MODEL, "v1", parsed, Scores(np.array([1]), probabilities[None, :]))
        assert one == many
