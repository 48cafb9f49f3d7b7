"""The ``postgres`` and ``spark`` SQL dialects on the real engines: PostgreSQL and Spark SQL score every row
exactly like ``apply`` / ``predict``.

PostgreSQL runs as a throw-away server (``initdb`` in a temporary directory, a Unix socket there and no TCP
port, as the ``postgres`` user when the tests run as root); Spark SQL as one local-mode ``SparkSession``.
Each is started once per test session and skipped, saying why, when it is not installed
(``make install-test`` installs both). The data are the generated models of ``test_export_routing.py``
(``-inf``/``inf`` as values and thresholds, bool and nullable-bool features, forests) and
``test_export_roundtrip.py`` (hostile column names and categories, int categories, up to three treatments),
scored from a table that holds every row twice: missing values as NULL, then missing doubles as NaN.
The ``ansi`` dialect is also run on PostgreSQL (NULLs only: ANSI SQL has no NaN).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_export_roundtrip import TRICKY_CATEGORIES, TRICKY_NAMES, cases, uplift_columns
from test_export_routing import EXTREMES, experiments

from upliftree import UpliftRandomForestRegressor, UpliftTreeClassifier
from upliftree.export.sql import DIALECTS

KEY = "row key"
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


class PostgresEngine:
    """A PostgreSQL server of its own: data directory and socket in a temporary directory, stopped at the end."""

    dialects = {"postgres": True, "ansi": False}  # dialect -> whether it tests for NaN

    def __init__(self, bin_dir: str) -> None:
        import psycopg

        self.bin_dir = bin_dir
        self.root = tempfile.mkdtemp(prefix="upliftree-postgres-")
        self.as_user: dict = {}
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root: run them as the postgres user
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self.data = os.path.join(self.root, "data")
        self.log = Path(self.root, "server.log")
        self.connection = None
        try:
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                      "--no-sync", "--no-instructions")
            # No TCP port at all (listen_addresses empty): clients connect through the socket in self.root.
            self._run("pg_ctl", "-D", self.data, "-l", str(self.log), "-w", "-s", "-o",
                      f"-k {self.root} -c listen_addresses= -c fsync=off -c full_page_writes=off", "start")
            self.connection = psycopg.connect(host=self.root, user="postgres", dbname="postgres", autocommit=True)
        except BaseException:
            self.close()
            raise

    def _run(self, program: str, *arguments: str) -> None:
        result = subprocess.run([os.path.join(self.bin_dir, program), *arguments], cwd=self.root,
                                capture_output=True, text=True, **self.as_user)
        if result.returncode != 0:
            server_log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr}{server_log}")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-s", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_table(self, name: str, table: pa.Table) -> None:
        identifier = DIALECTS["postgres"].identifier
        columns = ", ".join(f"{identifier(field.name)} {POSTGRES_TYPES[str(field.type)]}" for field in table.schema)
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {identifier(name)} CASCADE")
            cursor.execute(f"CREATE TABLE {identifier(name)} ({columns})")
            with cursor.copy(f"COPY {identifier(name)} FROM STDIN") as copy:
                for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
                    copy.write_row(row)

    def create_view(self, name: str, query: str) -> None:
        self.connection.execute(f"CREATE VIEW {DIALECTS['postgres'].identifier(name)} AS {query}")

    def query(self, sql: str) -> pd.DataFrame:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            return pd.DataFrame(cursor.fetchall(), columns=[column.name for column in cursor.description])


POSTGRES_TYPES = {"double": "DOUBLE PRECISION", "int64": "BIGINT", "bool": "BOOLEAN", "string": "TEXT",
                  "large_string": "TEXT"}


class SparkEngine:
    """One local-mode SparkSession (one core, no UI, one shuffle partition); tables are temporary views."""

    dialects = {"spark": True}

    def __init__(self) -> None:
        from pyspark.sql import SparkSession

        self.warehouse = tempfile.mkdtemp(prefix="upliftree-spark-")
        self.session = (
            SparkSession.builder.master("local[1]").appName("upliftree-tests")
            .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
            .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.warehouse.dir", self.warehouse)
            # A short-lived JVM: the quick JIT compiler only, and one garbage-collector thread.
            .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC").getOrCreate()
        )
        self.session.sparkContext.setLogLevel("ERROR")

    def close(self) -> None:
        try:
            self.session.stop()
        finally:
            shutil.rmtree(self.warehouse, ignore_errors=True)

    def create_table(self, name: str, table: pa.Table) -> None:
        self.session.createDataFrame(table).createOrReplaceTempView(DIALECTS["spark"].identifier(name))

    def create_view(self, name: str, query: str) -> None:
        self.session.sql(f"CREATE OR REPLACE TEMP VIEW {DIALECTS['spark'].identifier(name)} AS {query}")

    def query(self, sql: str) -> pd.DataFrame:
        return self.session.sql(sql).toArrow().to_pandas()


def postgres_bin_dir() -> str | None:
    """Where PostgreSQL's server programs are: on the PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return os.path.dirname(os.path.realpath(on_path))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    return os.path.dirname(versions[-1]) if versions else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresEngine]:
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg (pip install -e '.[test]')")
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb on the PATH or in /usr/lib/postgresql/*/bin); "
                    "install Debian's postgresql package, as make install-test does")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres user to run the PostgreSQL server as")
    engine = PostgresEngine(bin_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkEngine]:
    pytest.importorskip("pyspark", reason="the Spark SQL tests need pyspark (pip install -e '.[test]')")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        pytest.skip("Spark SQL needs a Java runtime (java is not on the PATH and JAVA_HOME is not set); install "
                    "Debian's default-jre-headless, as make install-test does")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark's note on pandas 3, which we do not use
        engine = SparkEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=["postgres", "spark"])
def engine(request) -> PostgresEngine | SparkEngine:
    return request.getfixturevalue(request.param)


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table for the engines: categoricals as their values, NaN as null."""
    frame = frame.astype({column: object for column in frame.columns
                          if isinstance(frame[column].dtype, pd.CategoricalDtype)})
    return pa.Table.from_pandas(frame, preserve_index=False)


def load_scoring(engine, features: pd.DataFrame, name: str = "scoring") -> pd.DataFrame:
    """Tables ``<name> rows`` (the rows of ``features``, missing values as NULL, key column ``KEY``) and
    ``<name>`` (those rows, then the same rows again with their missing doubles as NaN, keys continued).

    Returns the rows the second table holds, as pandas scores them (NaN is missing either way).
    """
    table = arrow_table(features.assign(**{KEY: np.arange(len(features))}))
    engine.create_table(f"{name} rows", table)
    dialect = DIALECTS[next(iter(engine.dialects))]
    columns = [dialect.identifier(field.name) for field in table.schema]
    nan = f"CAST('NaN' AS {dialect.double_type})"
    with_nan = [f"{column} + {len(features)} AS {column}" if field.name == KEY
                else f"coalesce({column}, {nan}) AS {column}" if pa.types.is_floating(field.type) else column
                for column, field in zip(columns, table.schema, strict=True)]
    rows = dialect.identifier(f"{name} rows")
    engine.create_view(name, f"SELECT {', '.join(columns)} FROM {rows} "
                             f"UNION ALL SELECT {', '.join(with_nan)} FROM {rows}")
    return pd.concat([features, features], ignore_index=True)


def action_labels(model) -> dict[int, str]:
    """An action per leaf, named with quotes, backslashes, line breaks and SQL of their own."""
    return {int(leaf): TRICKY_CATEGORIES[index % len(TRICKY_CATEGORIES)]
            for index, leaf in enumerate(model.tree_.leaf_ids)}


def check_engine_scores(engine, model, features: pd.DataFrame) -> None:
    """Every dialect of ``engine`` scores the rows of ``features`` (NULLs, then NaN doubles) like the model."""
    scored = load_scoring(engine, features)
    is_forest = hasattr(model, "estimators_")
    trees = model.estimators_ if is_forest else [model]
    leaves = np.column_stack([tree.apply(scored) for tree in trees])
    leaf_names = [f"leaf_id_{index}" for index in range(len(trees))] if is_forest else ["leaf_id"]
    prediction = model.predict(scored).reshape(len(scored), -1)
    options = {"tree_leaf_ids": True} if is_forest else {"leaf_actions": action_labels(model)}
    for dialect, tests_nan in engine.dialects.items():
        n_rows = len(scored) if tests_nan else len(features)
        table = "scoring" if tests_nan else "scoring rows"
        result = engine.query(model.to_sql(table, dialect, key_columns=[KEY], **options))
        result = result.sort_values(KEY).reset_index(drop=True)
        assert result[KEY].tolist() == list(range(n_rows)), dialect
        np.testing.assert_array_equal(result[leaf_names].to_numpy(dtype=np.int64), leaves[:n_rows], err_msg=dialect)
        # Forests too: the trees' leaf values summed in tree order, then divided, as predict does.
        np.testing.assert_array_equal(result[uplift_columns(model)].to_numpy(dtype=np.float64),
                                      prediction[:n_rows], err_msg=dialect)
        if not is_forest:
            actions = options["leaf_actions"]
            assert result["action"].tolist() == [actions[leaf] for leaf in leaves[:n_rows, 0]], dialect


def generated_models() -> st.SearchStrategy:
    """(model, scoring features) from both generators of the export tests."""
    return st.one_of(experiments(), cases().map(lambda case: (case.model, case.X_score.drop(columns=case.key))))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(experiment=generated_models())
def test_engines_score_generated_models_like_predict(engine, experiment) -> None:
    model, features = experiment
    check_engine_scores(engine, model, features)


def hard_doubles() -> np.ndarray:
    """Doubles whose shortest decimal is hard to read back: random bit patterns of every magnitude, 17-digit
    neighbours of 0.3 and 1e-302 (SQLite misreads some), subnormals, the extremes, both zeros, infinities."""
    rng = np.random.default_rng(20)
    bits = rng.integers(0, 2**63, 3000, dtype=np.int64).view(np.float64)
    neighbours = [start + np.arange(-200, 200) * np.spacing(start) for start in (0.3, 1e-302)]
    subnormals = np.array([5e-324, 2.2250738585072009e-308, 1e-310, 2.2250738585072014e-308])
    values = np.concatenate([bits, -bits[:500], *neighbours, subnormals, -subnormals, EXTREMES,
                             [0.1, 1 / 3, 2.0**-1074, 2.0**1023, 9007199254740993.0, 1e23]])
    return values[~np.isnan(values)]


def test_double_literals_read_back_exactly(engine) -> None:
    values = hard_doubles()
    for dialect_name in engine.dialects:
        dialect = DIALECTS[dialect_name]
        rows = ", ".join(f"({index}, {dialect.double(value)})" for index, value in enumerate(values))
        result = engine.query(f"SELECT * FROM (VALUES {rows}) AS t(i, v) ORDER BY i")
        read = result["v"].to_numpy(dtype=np.float64)
        different = np.flatnonzero(read.view(np.int64) != values.view(np.int64))  # bit for bit: -0.0 is not 0.0
        assert different.size == 0, (dialect_name, [(values[i], dialect.double(values[i]), read[i])
                                                    for i in different[:5]])


def test_strings_and_names_read_back_exactly(engine) -> None:
    strings = TRICKY_CATEGORIES + ["\\", "\\'", "'\\", "\\\\n", "\\u0041", "%\\_", "\t", "\r\n", "\u2028", "🙂" * 3]
    for dialect_name in engine.dialects:
        dialect = DIALECTS[dialect_name]
        rows = ", ".join(f"({index}, {dialect.string(text)})" for index, text in enumerate(strings))
        result = engine.query(f"SELECT * FROM (VALUES {rows}) AS t(i, s) ORDER BY i")
        assert result["s"].tolist() == strings, dialect_name
        names = TRICKY_NAMES + ["`", "``", '"', "\\"]
        aliases = ", ".join(f"{index} AS {dialect.identifier(name)}" for index, name in enumerate(names))
        assert list(engine.query(f"SELECT {aliases}").columns) == names, dialect_name


def test_engines_score_multi_arm_forest_like_predict(engine, multi_treatment_experiment) -> None:
    """Three arms, a regression forest (uplift to the last bit), unseen categories, NaN, ±inf."""
    experiment = multi_treatment_experiment
    X = experiment.X.assign(region=experiment.X["region"].astype(object))
    forest = UpliftRandomForestRegressor(n_estimators=5, max_depth=3, min_samples_leaf=100, control="control",
                                         random_state=4, verbose=0).fit(X, experiment.treatment, experiment.y * 12.5)
    scoring = X.iloc[:300].copy()
    scoring.loc[scoring.index[::9], "region"] = "atlantis"
    scoring.loc[scoring.index[::7], "income"] = np.nan
    scoring.loc[scoring.index[1::11], "income"] = np.inf
    scoring.loc[scoring.index[2::11], "income"] = -np.inf
    check_engine_scores(engine, forest, scoring.reset_index(drop=True))


def test_engines_compare_large_integers_as_doubles(engine) -> None:
    """An int64 feature beyond 2**53 (nanosecond timestamps) is compared as the doubles the model read.

    PostgreSQL reads ``1.5E0`` as NUMERIC, and a BIGINT column compared with a NUMERIC is compared exactly,
    not rounded to a double as the model rounds it: rows that round onto the threshold went the other way.
    """
    rng = np.random.default_rng(21)
    n_rows = 3000
    arm = rng.integers(0, 2, n_rows)
    timestamp = 1_700_000_000_000_000_000 + rng.integers(0, 10**6, n_rows)  # doubles 256 apart there
    y = (rng.random(n_rows) < 0.2 + 0.3 * arm * (timestamp % 10**6 < 4 * 10**5)).astype(int)
    X = pd.DataFrame({"event time ns": timestamp})
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=100).fit(X, arm, y)
    thresholds = model.tree_.threshold[~model.tree_.is_leaf]
    # Some rows round onto a threshold from above: compared exactly they would go right.
    assert any(((timestamp > int(threshold)) & (timestamp.astype(np.float64) == threshold)).any()
               for threshold in thresholds)
    check_engine_scores(engine, model, X)
