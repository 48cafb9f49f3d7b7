"""Read and write tables (CSV or Parquet), whole or in chunks, with one-line errors for unusable files.

Reading is consistent: the same file gives the same column types whether it is read whole or in chunks of
any size. With a model's :class:`~upliftree._validation.FeatureSchema`, a CSV file's columns are read as the
model expects them (:func:`csv_reading`); writing is atomic (:class:`TableWriter`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._params import check_int
from .._validation import FeatureSchema, as_pandas, expand_categories

__all__ = ["PARQUET_ROW_GROUP", "CsvReading", "DataError", "TableWriter", "check_unique_names", "csv_reading",
           "iter_table", "read_table", "require_columns", "table_columns", "table_format", "write_table"]

PARQUET_MAGIC = b"PAR1"
COMPRESSED_CSV_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
CSV_SUFFIXES = (".csv", ".txt", *COMPRESSED_CSV_SUFFIXES)
PARQUET_SUFFIXES = (".parquet", ".pq")
# Rows per Parquet row group written by TableWriter, whatever the chunks it is given: the file's bytes then
# do not depend on how the rows were chunked.
PARQUET_ROW_GROUP = 65_536
_CSV_READ_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError)
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


class DataError(ValueError):
    """An input table is missing, empty, not a table, or lacks what the command needs."""


def table_format(path: str | os.PathLike, must_exist: bool = True) -> str:
    """``"csv"`` or ``"parquet"``: from the file name, else (for an existing file) from its first bytes."""
    name = str(path).lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if not must_exist:
        raise DataError(f"{path}: cannot tell the table format from the name; use a .csv or .parquet file name")
    with open(path, "rb") as file:
        return "parquet" if file.read(4) == PARQUET_MAGIC else "csv"


def _check_readable(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    kind = table_format(path)
    if kind == "csv" and not str(path).lower().endswith(COMPRESSED_CSV_SUFFIXES):
        with open(path, "rb") as file:
            head = file.read(4096)
        if b"\x00" in head:
            raise DataError(f"{path}: not a table (binary content); expected a CSV or Parquet file")
    return kind


def _csv_error(path: Path, error: Exception) -> DataError:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DataError(f"{path}: not a readable CSV table ({first_line})")


def _parquet_error(path: Path, error: Exception) -> DataError:
    return DataError(f"{path}: not a readable Parquet table ({str(error).splitlines()[0]})")


def _check_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no columns found; expected a table with a header row")
    return frame


def check_unique_names(names: Sequence[str], path: str | os.PathLike) -> None:
    """Refuse a header that repeats a name: pandas would silently rename the copies ``age.1``, ``age.2``."""
    counts = Counter(name for name in names if name)
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        raise DataError(f"{path}: the header repeats the column name(s) {repeated}; every column needs its own "
                        "name (rename or drop the copies)")


# -- reading with a model's schema -------------------------------------------------------------------------------
def _spellings(value: Any) -> tuple[str, ...]:
    """How a CSV file spells a category value: the text itself, True/False, or the number as pandas writes it."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, bool | np.bool_):
        return ("True", "TRUE", "true") if value else ("False", "FALSE", "false")
    if isinstance(value, Integral):
        return (str(int(value)),)
    return (repr(float(value)),)


def _parse_number(text: str) -> int | float | None:
    """The number a CSV field spells (integers exactly), or None."""
    if _INTEGER_TEXT.fullmatch(text.strip()):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class _CategoryText:
    """Maps a CSV column's text to a feature's categories (which are not all strings)."""

    name: str
    values: tuple[Any, ...]
    by_text: dict[str, int]
    by_number: dict[Any, int]

    @classmethod
    def build(cls, name: str, categories: tuple[Any, ...]) -> _CategoryText:
        values = tuple(expand_categories(categories))
        by_text: dict[str, int] = {}
        by_number: dict[Any, int] = {}
        for code, value in enumerate(values):
            for text in _spellings(value):
                if text in by_text:
                    raise DataError(f"column {name!r}: the model's categories {values[by_text[text]]!r} and "
                                    f"{value!r} are both written {text!r} in a CSV file, so CSV cannot tell them "
                                    "apart; give the rows as Parquet, which keeps the values' types")
                by_text[text] = code
            if isinstance(value, Integral | float) and not isinstance(value, bool | np.bool_):
                by_number.setdefault(value, code)
        return cls(name, values, by_text, by_number)

    def code(self, text: str) -> int:
        """The category the text spells: the exact spelling, else (number categories) the number it spells."""
        code = self.by_text.get(text)
        if code is not None:
            return code
        number = _parse_number(text) if self.by_number else None
        return -1 if number is None else self.by_number.get(number, -1)

    def convert(self, texts: pd.Series) -> pd.Series:
        codes, uniques = pd.factorize(texts)
        table = np.array([self.code(str(text)) for text in uniques] + [-1], dtype=np.int64)
        return pd.Series(pd.Categorical.from_codes(table[codes], categories=pd.Index(self.values, dtype=object)),
                         index=texts.index, name=texts.name)


@dataclass(frozen=True)
class CsvReading:
    """How to read a CSV file's columns so that every chunk, and the whole file, gets the same types.

    Attributes
    ----------
    numeric : tuple of str
        The model's numeric features, parsed as float64 by pandas' CSV parser (the parser ``fit`` used).
    categorical : dict
        The model's categorical features whose categories are not all strings: each CSV field becomes the
        category it spells (exact text, True/False, or the same number), any other text a missing value
        (the model routes unseen categories like missing values). String categories are read as text.
    text_others : bool
        Whether columns that are not numeric features are read as text (chunks; types inferred chunk by chunk
        would differ) or inferred from the whole file (whole reads).
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[_CategoryText, ...] = ()
    text_others: bool = False

    def dtypes(self, columns: Sequence[str]) -> dict[str, Any]:
        numeric = set(self.numeric)
        converted = {category.name for category in self.categorical}
        return {name: np.float64 if name in numeric else str for name in columns
                if name in numeric or name in converted or self.text_others}

    def convert(self, frame: pd.DataFrame) -> pd.DataFrame:
        for category in self.categorical:
            if category.name in frame.columns:
                frame[category.name] = category.convert(frame[category.name])
        return frame


def csv_reading(schema: FeatureSchema | None, text_others: bool) -> CsvReading:
    """The :class:`CsvReading` for a model's ``schema`` (None: no model; only ``text_others`` applies)."""
    if schema is None:
        return CsvReading(text_others=text_others)
    numeric = tuple(name for name, cats in zip(schema.names, schema.categories, strict=True) if cats is None)
    categorical = tuple(
        _CategoryText.build(name, cats) for name, cats in zip(schema.names, schema.categories, strict=True)
        if cats is not None and not all(isinstance(value, str) for value in expand_categories(cats)))
    return CsvReading(numeric, categorical, text_others)


def _float_parses(text: str) -> bool:
    """Whether pandas' CSV parser reads ``text`` as a float64."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["x"], [text]])
    buffer.seek(0)
    try:
        pd.read_csv(buffer, dtype={"x": np.float64})
    except ValueError:
        return False
    return True


def _reading_error(path: Path, error: Exception, reading: CsvReading, columns: Sequence[str]) -> DataError:
    """The error of a failed CSV read; when a numeric feature did not parse, name its column, row and value."""
    numeric = [name for name in reading.numeric if name in columns]
    if not (numeric and "could not convert" in str(error)):
        return _csv_error(path, error)
    # A second pass over the file, only on this error path: pandas' message names the value, not the column.
    for chunk in pd.read_csv(path, usecols=numeric, dtype=str, chunksize=100_000):
        for name in numeric:
            present = chunk[name].dropna()
            rejected = present[pd.to_numeric(present, errors="coerce").isna()]
            for text in rejected.unique():
                if not _float_parses(text):
                    row = int(rejected.index[rejected == text][0])
                    return DataError(f"{path}: column {name!r} is a numeric feature of the model but holds "
                                     f"{text!r} (data row {row + 1:,}); expected numbers or missing values")
    return _csv_error(path, error)


# -- reading -----------------------------------------------------------------------------------------------------
def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None,
               schema: FeatureSchema | None = None) -> pd.DataFrame:
    """The whole table at ``path`` (CSV or Parquet); only ``columns`` when given (they must exist).

    A CSV file's column types are inferred from the whole file (never chunk by chunk); with a model's
    ``schema``, its features are read as the model expects (:func:`csv_reading`). A header that repeats a
    name is refused.
    """
    path = Path(path)
    names = table_columns(path)
    if columns is not None:
        require_columns(names, columns, path)
    if table_format(path) == "parquet":
        frame = _read_parquet(path, columns)
    else:
        reading = csv_reading(schema, text_others=False)
        wanted = list(columns) if columns is not None else names
        try:
            # low_memory=False: pandas otherwise infers types block by block and can mix ints and strings.
            frame = pd.read_csv(path, usecols=None if columns is None else wanted, dtype=reading.dtypes(wanted),
                                low_memory=False)
        except _CSV_READ_ERRORS as error:
            raise _reading_error(path, error, reading, wanted) from None
        frame = reading.convert(frame)
    frame = _check_columns(frame, path)
    if len(frame) == 0:
        raise DataError(f"{path}: the table has a header but no rows")
    return frame


def _read_parquet(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(columns) if columns is not None else None)
    except (pa.ArrowException, OSError) as error:
        raise _parquet_error(path, error) from None
    return as_pandas(table, str(path))


def table_columns(path: str | os.PathLike) -> list[str]:
    """Column names of the table at ``path``, read without loading the rows; a repeated name is refused."""
    path = Path(path)
    kind = _check_readable(path)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            names = [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
        except (pa.ArrowException, OSError) as error:
            raise _parquet_error(path, error) from None
        check_unique_names(names, path)
        return names
    try:
        header = pd.read_csv(path, nrows=0)
        # The header as written: pandas' own names have repeated ones renamed ("age", "age.1").
        written = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except _CSV_READ_ERRORS as error:
        raise _csv_error(path, error) from None
    check_unique_names([str(name) for name in written.iloc[0]] if len(written) else [], path)
    return [str(column) for column in _check_columns(header, path).columns]


def require_columns(available: Sequence[str], wanted: Sequence[str], path: str | os.PathLike) -> None:
    """Raise a :class:`DataError` naming the first columns of ``wanted`` that ``available`` lacks."""
    missing = [column for column in wanted if column not in set(available)]
    if missing:
        shown = list(available)[:12]
        more = f" and {len(available) - 12} more" if len(available) > 12 else ""
        raise DataError(f"{path}: column(s) {missing} not found; the table has {shown}{more}")


def _batch_frame(batch: Any) -> pd.DataFrame:
    """A Parquet record batch as a DataFrame whose column types do not depend on the batch's values."""
    import pyarrow as pa

    # A dictionary column would become a categorical of the batch's own dictionary: decode it to its values.
    columns = [column.dictionary_decode() if pa.types.is_dictionary(column.type) else column
               for column in batch.columns]
    return as_pandas(pa.RecordBatch.from_arrays(columns, names=batch.schema.names), "a Parquet record batch")


def iter_table(path: str | os.PathLike, chunk_size: int, columns: Sequence[str] | None = None,
               schema: FeatureSchema | None = None) -> Iterator[pd.DataFrame]:
    """The table in chunks of at most ``chunk_size`` rows, so files larger than memory can be streamed.

    CSV goes through ``pandas.read_csv(chunksize=...)``, Parquet through ``ParquetFile.iter_batches``. Every
    chunk gets the same column types whatever its rows: CSV columns are text except the model's features
    (``schema``: read as :func:`csv_reading` says), Parquet columns keep their stored type (nullable integer
    and bool types, dictionaries decoded).
    """
    check_int(chunk_size, "chunk_size", 1)
    path = Path(path)
    names = table_columns(path)
    if columns is not None:
        require_columns(names, columns, path)
    n_rows = 0
    if table_format(path) == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size, columns=columns):
                n_rows += batch.num_rows
                yield _batch_frame(batch)
        except (pa.ArrowException, OSError) as error:
            raise _parquet_error(path, error) from None
    else:
        reading = csv_reading(schema, text_others=True)
        wanted = list(columns) if columns is not None else names
        try:
            for chunk in pd.read_csv(path, chunksize=chunk_size, usecols=None if columns is None else wanted,
                                     dtype=reading.dtypes(wanted)):
                n_rows += len(chunk)
                yield reading.convert(_check_columns(chunk, path))
        except _CSV_READ_ERRORS as error:
            raise _reading_error(path, error, reading, wanted) from None
    if n_rows == 0:
        raise DataError(f"{path}: the table has a header but no rows")


# -- writing -----------------------------------------------------------------------------------------------------
class TableWriter:
    """Append DataFrames with the same columns to one CSV or Parquet file (format from the file name).

    Use as a context manager. Rows go to a temporary file next to ``path`` that replaces ``path`` only when
    the ``with`` block ends without an error; on an error it is removed, so ``path`` is never left partial
    (and an existing file there is kept). Parquet row groups hold :data:`PARQUET_ROW_GROUP` rows whatever
    the chunks, so the same rows give the same bytes however they were chunked.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.format = table_format(self.path, must_exist=False)
        self.n_rows = 0
        # Same folder (so the final rename is atomic), same suffixes (so pandas infers the compression).
        self.partial_path = self.path.with_name(f".{secrets.token_hex(6)}.{self.path.name}")
        self._parquet = None
        self._schema = None
        self._pending: list[Any] = []
        self._n_pending = 0
        self._columns: list[str] | None = None

    def __enter__(self) -> TableWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self._columns is None:
            self._columns = list(frame.columns)
        elif list(frame.columns) != self._columns:
            raise ValueError(f"every chunk needs the columns {self._columns}, got {list(frame.columns)}")
        if self.format == "csv":
            frame.to_csv(self.partial_path, mode="w" if self.n_rows == 0 else "a", header=self.n_rows == 0,
                         index=False)
        else:
            self._write_parquet(frame)
        self.n_rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        if self._schema is None:
            self._schema = pa.Table.from_pandas(frame, preserve_index=False).schema
        # Later chunks take the first chunk's types (an all-missing chunk would otherwise differ).
        self._pending.append(pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False))
        self._n_pending += len(frame)
        if self._n_pending >= PARQUET_ROW_GROUP:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.partial_path, self._schema)
        rows = pa.concat_tables(self._pending) if self._pending else self._schema.empty_table()
        n_full = len(rows) if final else len(rows) - len(rows) % PARQUET_ROW_GROUP
        for start in range(0, n_full, PARQUET_ROW_GROUP):
            self._parquet.write_table(rows.slice(start, min(PARQUET_ROW_GROUP, n_full - start)))
        self._pending = [rows.slice(n_full)] if n_full < len(rows) else []
        self._n_pending = len(rows) - n_full

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None

    def __exit__(self, exc_type: type | None, *exc_info: object) -> None:
        completed = False
        try:
            if exc_type is None:
                if self._schema is not None:
                    self._flush(final=True)
                self._close()
                completed = True
        finally:
            self._close()
            if completed and self.partial_path.exists():
                os.replace(self.partial_path, self.path)
            else:
                self.partial_path.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` as CSV or Parquet (from the file name), atomically; returns the path."""
    with TableWriter(path) as writer:
        writer.write(frame)
    return writer.path
