from __future__ import annotations

import re

import numpy as np
import pytest

from model.data import load_dataset
from model.errors import DataError
from tests.banknote import DATA_PATH, SPEC


def test_real_file_loads_with_known_shape_and_hash() -> None:
    dataset = load_dataset(SPEC, min_rows_per_class=50)
    assert dataset.rows == 1372
    assert dataset.features.shape == (1372, 4)
    assert dataset.class_counts() == {"genuine": 762, "forged": 610}
    assert dataset.sha256 == "50573e4d341c0c211668136a8b83b592b8dda436520785c3cc3d536fe407a157"
    # The data README's sha256 is the file's: keep the provenance record honest.
    assert dataset.sha256 in (DATA_PATH.parent / "README.md").read_text()
    np.testing.assert_allclose(dataset.features[0], [3.6216, 8.6661, -2.8073, -0.44699])


def test_missing_file(tmp_path) -> None:
    with pytest.raises(DataError, match=r"nope\.txt: file not found"):
        load_dataset(SPEC, tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"data\.txt: file is empty"),
        ("\n\n", r"data\.txt: file is empty"),
        (
            "variance,skewness,curtosis,entropy,class\n1,2,3,4,0\n",
            r"data\.txt:1: looks like a header row",
        ),
        ("1,2,3,4,0\n1,2,3,0\n", r"data\.txt:2: expected 5 columns .* found 4"),
        ("1,2,3,4,0,9\n", r"data\.txt:1: expected 5 columns .* found 6"),
        ("1,2,3,4,0\n1,abc,3,4,1\n", r"data\.txt:2: column 'skewness' is not a number: 'abc'"),
        ("1,2,3,4,0\n1,2,,4,1\n", r"data\.txt:2: column 'curtosis' is empty"),
        ("1,2,3,nan,0\n", r"data\.txt:1: column 'entropy' is not finite: 'nan'"),
        ("inf,2,3,4,0\n", r"data\.txt:1: column 'variance' is not finite: 'inf'"),
        ("1,2,3,4,0\n1,2,3,4,2\n", r"data\.txt:2: column 'class' must be 0 or 1, found '2'"),
        ("1,2,3,4,0\n1,2,3,4,x\n", r"data\.txt:2: column 'class' must be 0 or 1, found 'x'"),
        ("1,2,3,4,0\n\n1,2,3,4,1\n", r"data\.txt:2: empty line inside the data"),
        ('1,2,3,4,0\n"1,2,3,4,1\n', r"data\.txt:2: expected 5 columns"),
    ],
)
def test_malformed_files_get_one_clear_error(write_data, text, message) -> None:
    path = write_data(text)
    with pytest.raises(DataError, match=message) as raised:
        load_dataset(SPEC, path)
    assert "\n" not in str(raised.value)


def test_line_numbers_point_at_the_bad_line(write_data, real_lines) -> None:
    lines = list(real_lines)
    lines[999] = lines[999].replace(",", ",oops", 1)
    with pytest.raises(DataError, match=re.escape(":1000: column 'skewness'")):
        load_dataset(SPEC, write_data("\n".join(lines) + "\n"))


def test_not_utf8(tmp_path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"1,2,3,4,0\n\xff\xfe,2,3,4,1\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        load_dataset(SPEC, path)


def test_too_few_rows_of_a_class(write_data, real_lines) -> None:
    genuine_only = [line for line in real_lines if line.endswith(",0")]
    path = write_data("\n".join([*genuine_only, *[real_lines[-1]] * 3]) + "\n")
    with pytest.raises(DataError, match=r"3 rows of class 'forged'; at least 50 needed"):
        load_dataset(SPEC, path, min_rows_per_class=50)


def test_trailing_blank_lines_are_fine(write_data) -> None:
    dataset = load_dataset(SPEC, write_data("1,2,3,4,0\n1.5,-2,3e-2,4,1\n\n\n"))
    assert dataset.rows == 2
    assert dataset.labels.tolist() == [0, 1]


HEADER_SPEC = SPEC.model_copy(update={"header": True})


def test_with_a_header_the_columns_are_found_by_name(write_data) -> None:
    # Any order, other columns ignored, the target anywhere.
    text = (
        "id,class,entropy,curtosis,note,skewness,variance\n"
        "a,0,-0.44699,-2.8073,x,8.6661,3.6216\n"
        "b,1,-1.9948,-1.3927,y,3.3191,-1.3971\n"
    )
    dataset = load_dataset(HEADER_SPEC, write_data(text))
    np.testing.assert_allclose(dataset.features[0], [3.6216, 8.6661, -2.8073, -0.44699])
    assert dataset.labels.tolist() == [0, 1]
    assert dataset.lines.tolist() == [2, 3]  # file lines, the header being line 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variance,skewness,curtosis,class\n1,2,3,0\n", r":1: the header has no column entropy"),
        ("variance,skewness,curtosis,entropy\n1,2,3,4\n", r":1: the header has no column class"),
        (
            "variance,variance,skewness,curtosis,entropy,class\n1,1,2,3,4,0\n",
            r":1: the header names variance twice",
        ),
        (
            "variance,skewness,curtosis,entropy,class\n1,2,3,4,0\n1,2,3,4\n",
            r":3: expected 5 columns \(variance, skewness, curtosis, entropy, class\), found 4",
        ),
        ("variance,skewness,curtosis,entropy,class\n", r"file is empty \(no data rows\)"),
    ],
)
def test_a_header_layout_problem_is_one_clear_error(write_data, text, message) -> None:
    with pytest.raises(DataError, match=message) as raised:
        load_dataset(HEADER_SPEC, write_data(text))
    assert "\n" not in str(raised.value)


def test_class_values_are_the_specs(write_data) -> None:
    # Another model's classes: 1 and 2. A 0 is not one of them.
    classes = {1: SPEC.classes[0], 2: SPEC.classes[1]}
    spec = SPEC.model_copy(update={"classes": classes, "positive": 2})
    dataset = load_dataset(spec, write_data("1,2,3,4,1\n5,6,7,8,2\n"))
    assert dataset.labels.tolist() == [1, 2]
    assert dataset.class_counts() == {"genuine": 1, "forged": 1}
    with pytest.raises(DataError, match=r":1: column 'class' must be 1 or 2, found '0'"):
        load_dataset(spec, write_data("1,2,3,4,0\n"))
