"""Read and write tables (CSV or Parquet), whole or in chunks, with one-line errors for unusable files."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

__all__ = ["DataError", "TableWriter", "iter_table", "read_table", "table_format", "write_table"]

PARQUET_MAGIC = b"PAR1"
COMPRESSED_CSV_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
CSV_SUFFIXES = (".csv", ".txt", *COMPRESSED_CSV_SUFFIXES)
PARQUET_SUFFIXES = (".parquet", ".pq")


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


def _check_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no columns found; expected a table with a header row")
    return frame


def read_table(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole table at ``path`` (CSV or Parquet); only ``columns`` when given (they must exist)."""
    path = Path(path)
    kind = _check_readable(path)
    if columns is not None:
        require_columns(table_columns(path), columns, path)
    if kind == "parquet":
        frame = _read_parquet(path, columns)
    else:
        try:
            frame = pd.read_csv(path, usecols=list(columns) if columns is not None else None)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
            raise _csv_error(path, error) from None
    frame = _check_columns(frame, path)
    if len(frame) == 0:
        raise DataError(f"{path}: the table has a header but no rows")
    return frame


def _read_parquet(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None).to_pandas()
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet table ({str(error).splitlines()[0]})") from None


def table_columns(path: str | os.PathLike) -> list[str]:
    """Column names of the table at ``path``, read without loading the rows."""
    path = Path(path)
    kind = _check_readable(path)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"{path}: not a readable Parquet table ({str(error).splitlines()[0]})") from None
    try:
        header = pd.read_csv(path, nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise _csv_error(path, error) from None
    return [str(column) for column in _check_columns(header, path).columns]


def require_columns(available: Sequence[str], wanted: Sequence[str], path: str | os.PathLike) -> None:
    """Raise a :class:`DataError` naming the first columns of ``wanted`` that ``available`` lacks."""
    missing = [column for column in wanted if column not in set(available)]
    if missing:
        shown = list(available)[:12]
        more = f" and {len(available) - 12} more" if len(available) > 12 else ""
        raise DataError(f"{path}: column(s) {missing} not found; the table has {shown}{more}")


def iter_table(path: str | os.PathLike, chunk_size: int, columns: Sequence[str] | None = None
               ) -> Iterator[pd.DataFrame]:
    """The table in chunks of at most ``chunk_size`` rows, so files larger than memory can be streamed.

    CSV goes through ``pandas.read_csv(chunksize=...)``, Parquet through ``ParquetFile.iter_batches``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    path = Path(path)
    kind = _check_readable(path)
    if columns is not None:
        require_columns(table_columns(path), columns, path)
    n_rows = 0
    if kind == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size, columns=columns):
            n_rows += batch.num_rows
            yield batch.to_pandas()
    else:
        try:
            reader = pd.read_csv(path, chunksize=chunk_size, usecols=list(columns) if columns is not None else None)
            for chunk in reader:
                n_rows += len(chunk)
                yield _check_columns(chunk, path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise _csv_error(path, error) from None
    if n_rows == 0:
        raise DataError(f"{path}: the table has a header but no rows")


class TableWriter:
    """Append DataFrames with the same columns to one CSV or Parquet file (format from the file name).

    Use as a context manager: the Parquet file is complete once the ``with`` block ends.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.format = table_format(self.path, must_exist=False)
        self.n_rows = 0
        self._parquet = None
        self._schema = None
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
            frame.to_csv(self.path, mode="w" if self.n_rows == 0 else "a", header=self.n_rows == 0, index=False)
        else:
            self._write_parquet(frame)
        self.n_rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.path, self._schema)
        else:
            # Later chunks take the first chunk's types (an all-missing chunk would otherwise differ).
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        self._parquet.write_table(table)

    def __exit__(self, *exc_info: object) -> None:
        if self._parquet is not None:
            self._parquet.close()


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` as CSV or Parquet (from the file name); returns the path."""
    with TableWriter(path) as writer:
        writer.write(frame)
    return writer.path
