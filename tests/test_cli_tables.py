"""Reading and writing tables from the command line: the same scores for every chunk size, whatever the
category values look like; no partial output on failure; no silently renamed duplicated columns."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from upliftree import UpliftTreeClassifier, load
from upliftree.cli import EXIT_BAD_INPUT, app
from upliftree.report.io import PARQUET_ROW_GROUP, DataError, TableWriter, iter_table, read_table

runner = CliRunner()
N_ROWS = 600
# Category values of the "store" feature as the model was fitted on them. In a CSV file the digit strings
# and the integers are written the same way; a chunk holding only digits used to be read as int64.
KINDS = {
    "digit strings": ["01", "7", "12", "003", "x9"],
    "ints": [3, 7, 12, 40, 95],
    "mixed": [1, 2, "a", "b", "12"],
    "floats": [0.5, 1.0, 2.25, 10.0, 1e-05],
}
UNSEEN = {"digit strings": "5", "ints": 8, "mixed": "zz", "floats": 3.5}


def run(*args: object) -> object:
    return runner.invoke(app, [str(arg) for arg in args])


def typed_store(kind: str, codes: np.ndarray, categories: list) -> pd.Series:
    """The store column with the kind's values (ints as a categorical of ``categories``, others as objects)."""
    values = np.array(KINDS[kind] + [UNSEEN[kind], None], dtype=object)[codes]
    if kind == "ints":
        return pd.Series(pd.Categorical(values, categories=categories))
    return pd.Series(values, dtype=object)


@cache
def fitted(kind: str, folder: str) -> tuple[Path, pd.DataFrame]:
    """A tree whose uplift depends on the store (model file), and rows to score: sorted by store, so that
    whole chunks hold digits only, with unseen and missing stores, and a float feature with missing values."""
    rng = np.random.default_rng(len(kind))
    n_fit = 4_000
    codes = rng.integers(0, 5, n_fit)
    treated = rng.integers(0, 2, n_fit)
    y = (rng.random(n_fit) < 0.1 + 0.3 * treated * (codes >= 2)).astype(np.int64)
    X = pd.DataFrame({"store": typed_store(kind, codes, KINDS[kind]),
                      "score": np.round(rng.normal(size=n_fit), 3)})
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=100, control=0).fit(X, treated, y)
    assert model.schema_.categories[0] is not None and model.n_leaves_ > 2
    path = Path(folder) / f"{kind.replace(' ', '_')}.json"
    model.save(path)
    rows_codes = np.sort(rng.integers(0, 7, N_ROWS))  # 5 known stores, then unseen, then missing
    rows = pd.DataFrame({"customer": [f"{i:05d}" for i in range(N_ROWS)],
                         "store": typed_store(kind, rows_codes, [*KINDS[kind], UNSEEN[kind]]),
                         "score": np.where(rng.random(N_ROWS) < 0.1, np.nan, np.round(rng.normal(size=N_ROWS), 3))})
    return path, rows


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tables")


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        rows.to_csv(path, index=False)
    else:
        rows.to_parquet(path, index=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(KINDS)), chunk_sizes=st.lists(st.integers(1, N_ROWS + 10), min_size=1,
                                                                   max_size=3),
       source=st.sampled_from([".csv", ".parquet"]), target=st.sampled_from([".csv", ".parquet"]))
def test_score_is_the_same_for_every_chunk_size(folder, kind, chunk_sizes, source, target):
    model_path, rows = fitted(kind, str(folder))
    if source == ".parquet" and kind == "mixed":
        source = ".csv"  # a column of ints and strings has no Parquet type
    data = folder / f"rows_{kind.replace(' ', '_')}{source}"
    if not data.exists():
        write_rows(rows, data)
    model = load(model_path)
    expected_uplift = model.predict(rows[["store", "score"]])
    outputs = []
    for chunk_size in [N_ROWS, *chunk_sizes]:
        out = folder / f"scores{target}"
        result = run("score", model_path, data, "--out", out, "--id", "customer", "--chunk-size", chunk_size,
                     "--quiet")
        assert result.exit_code == 0, result.stderr
        outputs.append(out.read_bytes())
        scores = pd.read_csv(out, dtype={"customer": str}) if target == ".csv" else pd.read_parquet(out)
        np.testing.assert_array_equal(scores["uplift"], expected_uplift)
        np.testing.assert_array_equal(scores["leaf_id"], model.apply(rows[["store", "score"]]))
        assert list(scores["customer"]) == list(rows["customer"])  # text ids keep their leading zeros
    assert all(output == outputs[0] for output in outputs[1:])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(KINDS)), chunk_size=st.integers(1, N_ROWS))
def test_chunks_read_like_the_whole_file(folder, kind, chunk_size):
    """The model's features read in chunks of any size equal the whole file read with the model's schema."""
    model_path, rows = fitted(kind, str(folder))
    data = folder / f"whole_{kind.replace(' ', '_')}.csv"
    rows.to_csv(data, index=False)
    schema = load(model_path).schema_
    whole = read_table(data, schema=schema)
    chunked = pd.concat(list(iter_table(data, chunk_size, schema=schema)), ignore_index=True)
    for name in ("store", "score"):
        pd.testing.assert_series_equal(chunked[name], whole[name])
    assert whole["score"].dtype == np.float64
    if kind == "digit strings":
        assert list(whole["store"].dropna().unique()) == [value for value in KINDS[kind] + [UNSEEN[kind]]
                                                          if value in set(rows["store"])]
    else:  # the model's categories, typed as the model has them; the unseen store is missing
        assert list(whole["store"].cat.categories) == list(schema.categories[0])
        assert sorted(map(str, schema.categories[0])) == sorted(map(str, KINDS[kind]))
        assert whole["store"].isna().sum() == rows["store"].isna().sum() + (rows["store"] == UNSEEN[kind]).sum()


def test_categories_that_csv_cannot_tell_apart(tmp_path):
    X = pd.DataFrame({"store": pd.Series([1, "1", 2, "2"] * 100, dtype=object), "score": np.arange(400.0)})
    treated = np.tile([0, 1], 200)
    model = UpliftTreeClassifier(max_depth=1, min_samples_leaf=20, control=0).fit(X, treated, treated)
    model.save(tmp_path / "model.json")
    X.to_csv(tmp_path / "rows.csv", index=False)
    result = run("score", tmp_path / "model.json", tmp_path / "rows.csv", "--out", tmp_path / "s.csv")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "'store'" in result.stderr and "Parquet" in result.stderr
    assert not (tmp_path / "s.csv").exists()


# -- failures leave no partial output ---------------------------------------------------------------------------
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(failing_call=st.integers(1, 5), target=st.sampled_from([".csv", ".parquet"]), existing=st.booleans())
def test_a_failure_midway_leaves_no_output(folder, failing_call, target, existing):
    model_path, rows = fitted("digit strings", str(folder))
    data = folder / "failing_rows.csv"
    rows.to_csv(data, index=False)
    out_dir = folder / f"failure_{failing_call}_{target[1:]}_{existing}"
    out_dir.mkdir()
    out = out_dir / f"scores{target}"
    if existing:
        out.write_bytes(b"yesterday's scores")
    calls = []
    original = UpliftTreeClassifier.predict

    def predict(self, X):
        calls.append(len(X))
        if len(calls) == failing_call:
            raise RuntimeError("disk full")
        return original(self, X)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UpliftTreeClassifier, "predict", predict)
        result = run("score", model_path, data, "--out", out, "--chunk-size", 100, "--quiet")
    assert result.exit_code == EXIT_BAD_INPUT and "disk full" in result.stderr
    assert [path.name for path in out_dir.iterdir()] == ([out.name] if existing else [])
    if existing:
        assert out.read_bytes() == b"yesterday's scores"


def test_a_bad_value_late_in_the_file_names_its_column(folder, tmp_path):
    model_path, rows = fitted("digit strings", str(folder))
    bad = rows.astype({"score": object})
    bad.loc[N_ROWS - 3, "score"] = "n/a?"
    bad.to_csv(tmp_path / "rows.csv", index=False)
    (tmp_path / "scores.csv").write_text("kept")
    result = run("score", model_path, tmp_path / "rows.csv", "--out", tmp_path / "scores.csv", "--chunk-size", 50)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "column 'score'" in result.stderr and "'n/a?'" in result.stderr and f"row {N_ROWS - 2}" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rows.csv", "scores.csv"]
    assert (tmp_path / "scores.csv").read_text() == "kept"


def test_table_writer_row_groups_do_not_follow_chunks(tmp_path):
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"a": np.arange(PARQUET_ROW_GROUP * 2 + 7), "b": "x"})
    for name, chunk_size in (("one.parquet", len(frame)), ("many.parquet", 9_999)):
        with TableWriter(tmp_path / name) as writer:
            for start in range(0, len(frame), chunk_size):
                writer.write(frame.iloc[start:start + chunk_size])
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "many.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "many.parquet").metadata.num_row_groups == 3
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "many.parquet"), frame)


# -- duplicated column names ------------------------------------------------------------------------------------
FIT = ["-t", "treatment", "-c", "control", "-y", "outcome"]


@pytest.fixture(scope="module")
def duplicated(tmp_path_factory) -> dict[str, Path]:
    """An experiment whose header has "age" twice (CSV and Parquet), and a model fitted on clean rows."""
    from upliftree.datasets import FEATURES, make_uplift_data

    folder = tmp_path_factory.mktemp("duplicated")
    frame = make_uplift_data(1_500, random_state=2)[[*FEATURES, "treatment", "outcome"]]
    frame.to_csv(folder / "clean.csv", index=False)
    header = ",".join([*FEATURES, "treatment", "outcome", "age"])
    lines = (folder / "clean.csv").read_text().splitlines()[1:]
    (folder / "dup.csv").write_text("\n".join([header, *(line + ",40" for line in lines)]) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.append_column("age", table.column("age")), folder / "dup.parquet")
    result = run("fit", folder / "clean.csv", *FIT, "--max-depth", 2, "--out", folder / "model.json", "--quiet")
    assert result.exit_code == 0, result.stderr
    return {"folder": folder, "csv": folder / "dup.csv", "parquet": folder / "dup.parquet",
            "model": folder / "model.json"}


@pytest.mark.parametrize("source", ["csv", "parquet"])
@pytest.mark.parametrize("command", ["report", "fit", "evaluate", "score", "monitor", "plot"])
def test_a_repeated_column_name_is_refused(duplicated, command, source):
    data, model, folder = duplicated[source], duplicated["model"], duplicated["folder"]
    args = {
        "report": ["report", data, *FIT, "--out", folder / "report"],
        "fit": ["fit", data, *FIT, "--out", folder / "refit.json"],
        "evaluate": ["evaluate", model, data, *FIT],
        "score": ["score", model, data, "--out", folder / "scores.csv"],
        "monitor": ["monitor", model, data],
        "plot": ["plot", model, "--kind", "qini", "--data", data, *FIT, "--out", folder / "qini.png"],
    }[command]
    result = run(*args)
    assert result.exit_code == EXIT_BAD_INPUT, result.stderr
    assert "repeats the column name(s) ['age']" in result.stderr.strip().splitlines()[-1]


def test_names_that_only_look_renamed_are_fine(tmp_path):
    (tmp_path / "t.csv").write_text("age,age.1,x\n1,2,3\n")
    assert list(read_table(tmp_path / "t.csv").columns) == ["age", "age.1", "x"]
    (tmp_path / "u.csv").write_text("a,b,a,b,c\n1,2,3,4,5\n")
    with pytest.raises(DataError, match=r"\['a', 'b'\]"):
        read_table(tmp_path / "u.csv")
    with pytest.raises(DataError, match=r"\['a', 'b'\]"):
        next(iter_table(tmp_path / "u.csv", 10))


def test_a_whole_file_is_typed_as_a_whole(tmp_path):
    """pandas infers types block by block by default: digits in the first 262,144 rows and letters later
    gave a column of ints and strings, so a model fitted on it had both 3 and "3" as categories."""
    n_rows = 300_000
    store = np.where(np.arange(n_rows) < 280_000, (np.arange(n_rows) % 7).astype(str), "a")
    pd.DataFrame({"store": store, "x": np.arange(n_rows) % 5}).to_csv(tmp_path / "big.csv", index=False)
    frame = read_table(tmp_path / "big.csv")
    assert {type(value) for value in frame["store"]} == {str}
    assert frame["x"].dtype == np.int64
