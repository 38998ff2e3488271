"""MLflow's scoring protocol (what `mlflow models serve` answers), parsed and encoded (no HTTP,
no model here).

Source: mlflow 3.18, mlflow/pyfunc/scoring_server/__init__.py (`invocations`,
`infer_and_parse_data`, `parse_csv_input`, `predictions_to_json`, `init`) and
mlflow/utils/proto_json_utils.py (`dataframe_from_parsed_json`, `parse_tf_serving_input`):
- POST /invocations takes `application/json` holding exactly one of `dataframe_split`
  (`{"columns", "data", "index"?}`), `dataframe_records` (a list of records), `instances` or
  `inputs` (TF-serving style), plus an optional `params`; or `text/csv` with a header row.
  A `charset` other than utf-8, any other content-type parameter, or another content type is
  answered 415 in plain text.
- A scikit-learn classifier's pyfunc calls `predict` (mlflow/sklearn/__init__.py,
  `_SklearnModelWrapper.predict`), so the answer is `{"predictions": [<class value>, ...]}`, one
  class value per row in request order.
- Errors are `{"error_code": "BAD_REQUEST", "message": ...}` with status 400
  (`MlflowException.serialize_as_json`, `ERROR_CODE_TO_HTTP_STATUS`).

Where this service is stricter than MLflow, and why: MLflow ignores extra columns (with a
warning) and answers a missing column with 500 (an MlflowException without an error code);
here both are 400 naming the columns, as the feature contract is exact. Top-level keys other than
the format and `params` are refused rather than ignored. Values must be JSON numbers (or CSV
cells that read as numbers), finite, as on /predict. Parquet is not accepted: reading it needs
pandas and pyarrow, which the serving image leaves out. A list of rows without column names
(`instances` or `inputs` as a list of lists, what `ScoringServerClient.invoke` sends for a numpy
array) is read in the model's feature order, as MLflow reads it for a model without a named
signature.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

from api.scoring import RowsError, check_rows

JSON_MEDIA_TYPE = "application/json"
CSV_MEDIA_TYPE = "text/csv"
PLAIN_MEDIA_TYPE = "text/plain; charset=utf-8"
DATAFRAME_SPLIT = "dataframe_split"
DATAFRAME_RECORDS = "dataframe_records"
INSTANCES = "instances"
INPUTS = "inputs"
FORMATS = (DATAFRAME_SPLIT, DATAFRAME_RECORDS, INSTANCES, INPUTS)
PARAMS = "params"
BAD_REQUEST = "BAD_REQUEST"

_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Rows = TypeAdapter(list[list[_Finite]])
_Records = TypeAdapter(list[dict[str, _Finite]])
_Columns = TypeAdapter(dict[str, list[_Finite]])
_Scalars = TypeAdapter(dict[str, _Finite])
_Names = TypeAdapter(list[Annotated[str, Field(strict=True)]])


class MlflowError(Exception):
    """A request MLflow's protocol refuses: the status and the message to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        """400 answers MLflow's JSON error; 415 answers plain text, as MLflow does."""
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> tuple[bytes, str]:
        """The answer's body and media type."""
        if self.status == 415:
            return self.message.encode(), PLAIN_MEDIA_TYPE
        return error_body(self.message), JSON_MEDIA_TYPE


def error_body(message: str, code: str = BAD_REQUEST) -> bytes:
    """MLflow's error object."""
    return to_json({"error_code": code, "message": message})


def parse_invocation(
    body: bytes, content_type: str | None, features: Sequence[str], max_rows: int
) -> NDArray[np.float64]:
    """The request's rows as an [N, features] array in the order of `features`."""
    media_type = _media_type(content_type)
    parse = _csv_rows if media_type == CSV_MEDIA_TYPE else _json_rows
    rows = parse(body, features)
    try:
        # JSON values were checked finite as they were read; CSV cells were not.
        check_rows(rows, len(features), max_rows, finite=media_type != CSV_MEDIA_TYPE)
    except RowsError as exc:
        raise MlflowError(str(exc)) from None
    return rows


def encode_predictions(values: Sequence[int]) -> bytes:
    """`{"predictions": [...]}`, one class value per row."""
    return to_json({"predictions": list(values)})


def _media_type(content_type: str | None) -> str:
    if content_type is None:
        raise MlflowError(
            f"This predictor only supports the following content types: "
            f"{[CSV_MEDIA_TYPE, JSON_MEDIA_TYPE]}. Got no Content-Type.",
            415,
        )
    parts = [part.strip() for part in content_type.split(";")]
    media_type = parts[0].lower()
    parameters = dict(part.partition("=")[::2] for part in parts[1:] if part)
    charset = parameters.pop("charset", "utf-8").strip('"').lower()
    if charset != "utf-8":
        raise MlflowError("The scoring server only supports UTF-8", 415)
    if parameters:
        raise MlflowError(
            f"Unrecognized content type parameters: {', '.join(sorted(parameters))}.", 415
        )
    if media_type not in (JSON_MEDIA_TYPE, CSV_MEDIA_TYPE):
        raise MlflowError(
            f"This predictor only supports the following content types: "
            f"{[CSV_MEDIA_TYPE, JSON_MEDIA_TYPE]}. Got '{content_type[:100]}'.",
            415,
        )
    return media_type


def _json_rows(body: bytes, features: Sequence[str]) -> NDArray[np.float64]:
    try:
        document = from_json(body, allow_inf_nan=True)
    except ValueError as exc:
        raise MlflowError(
            f"Ensure that input is a valid JSON formatted string. Error: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise MlflowError(
            f"The input must be a JSON dictionary with exactly one of the input fields "
            f"{list(FORMATS)}. Received {type(document).__name__}."
        )
    given = [key for key in FORMATS if key in document]
    other = sorted(set(document) - set(FORMATS) - {PARAMS})
    if len(given) != 1 or other:
        raise MlflowError(
            f"The input must be a JSON dictionary with exactly one of the input fields "
            f"{list(FORMATS)} (and optionally {PARAMS!r}). Received dictionary with input "
            f"fields: {sorted(document)}."
        )
    if not isinstance(document.get(PARAMS, {}), dict):
        raise MlflowError(f"{PARAMS}: must be a dictionary")
    key = given[0]
    data = document[key]
    try:
        if key == DATAFRAME_SPLIT:
            return _split(data, features)
        if key == DATAFRAME_RECORDS:
            if not isinstance(data, list):
                raise MlflowError(f"{key}: must be a list of records")
            return _records(key, data, features)
        return _tensor_input(key, data, features)
    except ValidationError as exc:
        raise MlflowError(f"{key}: {_describe(exc)}") from None


def _split(data: Any, features: Sequence[str]) -> NDArray[np.float64]:
    if not isinstance(data, dict):
        raise MlflowError(f"{DATAFRAME_SPLIT}: must be a dictionary")
    keys = set(data)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise MlflowError(
            f"{DATAFRAME_SPLIT}: must have a 'data' field and optionally 'columns' and 'index' "
            f"fields. Got {sorted(keys)}."
        )
    if "columns" not in data:
        raise MlflowError(
            f"{DATAFRAME_SPLIT}: 'columns' must name the model's inputs {list(features)}"
        )
    columns = _Names.validate_python(data["columns"])
    order = _column_order(DATAFRAME_SPLIT, columns, features)
    rows = _Rows.validate_python(data["data"])
    for number, row in enumerate(rows):
        if len(row) != len(columns):
            raise MlflowError(
                f"{DATAFRAME_SPLIT}: row {number} has {len(row)} values for {len(columns)} columns"
            )
    if "index" in data and (not isinstance(data["index"], list) or len(data["index"]) != len(rows)):
        raise MlflowError(f"{DATAFRAME_SPLIT}: 'index' must be a list with one entry per row")
    array = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    return array[:, order]


def _records(key: str, data: list[Any], features: Sequence[str]) -> NDArray[np.float64]:
    records = _Records.validate_python(data)
    wanted = set(features)
    for number, record in enumerate(records):
        if record.keys() != wanted:
            _column_order(f"{key}: record {number}", list(record), features)
    read = itemgetter(*features)
    rows = (
        [read(record) for record in records]
        if len(features) > 1
        else [[record[features[0]]] for record in records]
    )
    return np.array(rows, dtype=np.float64).reshape(len(records), len(features))


def _tensor_input(key: str, data: Any, features: Sequence[str]) -> NDArray[np.float64]:
    if isinstance(data, dict):
        if data and not any(isinstance(value, list) for value in data.values()):
            data = {name: [value] for name, value in _Scalars.validate_python(data).items()}
        columns = _Columns.validate_python(data)
        order = _column_order(key, list(columns), features)
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise MlflowError(f"{key}: every column must have the same number of values")
        array = np.array(list(columns.values()), dtype=np.float64).T
        return array[:, order]
    if not isinstance(data, list):
        raise MlflowError(f"{key}: must be a list of rows or records, or a dictionary of columns")
    if data and isinstance(data[0], dict):
        return _records(key, data, features)
    rows = _Rows.validate_python(data)
    for number, row in enumerate(rows):
        if len(row) != len(features):
            raise MlflowError(
                f"{key}: row {number} has {len(row)} values; a row without column names must "
                f"give the model's {len(features)} inputs in order {list(features)}"
            )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(features))


def _csv_rows(body: bytes, features: Sequence[str]) -> NDArray[np.float64]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MlflowError(
            f"Ensure that input is a valid UTF-8 encoded string. Error: {exc}"
        ) from None
    reader = csv.reader(io.StringIO(text))
    try:
        lines = [line for line in reader if line]
    except csv.Error as exc:
        raise MlflowError(f"Failed to parse input as CSV: {exc}") from None
    if not lines:
        raise MlflowError("CSV input needs a header row naming the model's inputs")
    header = [name.strip() for name in lines[0]]
    order = _column_order("CSV header", header, features)
    rows: list[list[float]] = []
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise MlflowError(f"CSV line {number} has {len(line)} cells for {len(header)} columns")
        try:
            rows.append([float(cell) for cell in line])
        except ValueError:
            bad = next(c for c in line if not _is_number(c))
            raise MlflowError(f"CSV line {number}: {bad[:40]!r} is not a number") from None
    array = np.array(rows, dtype=np.float64).reshape(len(rows), len(header))
    return array[:, order]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column_order(where: str, columns: Sequence[str], features: Sequence[str]) -> list[int]:
    """Where each feature is among `columns`; MlflowError naming missing or extra ones."""
    counts = Counter(columns)
    missing = [name for name in features if name not in counts]
    extra = [name for name in counts if name not in features]
    repeated = [name for name, count in counts.items() if count > 1]
    if missing or extra or repeated:
        problems = []
        if missing:
            problems.append(f"missing inputs {missing}")
        if extra:
            problems.append(f"unexpected inputs {extra[:20]}")
        if repeated:
            problems.append(f"repeated inputs {repeated[:20]}")
        raise MlflowError(
            f"{where}: {'; '.join(problems)}. The model's inputs are {list(features)}."
        )
    position = {name: index for index, name in enumerate(columns)}
    return [position[name] for name in features]


def _describe(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
