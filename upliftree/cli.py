"""The ``upliftree`` command line: from an experiment file to a report, a model, scores, SQL and drift checks.

Every command reads CSV or Parquet, prints a one-line reason and exits with code 1 on bad input, shows
progress on long steps (``--quiet`` hides it) and takes ``--seed`` where randomness is involved. Reference:
``docs/cli.md``.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from ._tables import TABLE_FORMATS

app = typer.Typer(
    help="Interpretable uplift trees: fit, evaluate, export and decide from randomized experiments.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 1
EXIT_DRIFT = 3
DEMO_ROWS = 1_000_000
# Demo tree: the ED criterion, depth 4 and leaves of 0.6% of the training rows recover both planted segments
# (persuadables +8 pp, sleeping dogs -5 pp) on the synthetic data; see docs/cli.md, "demo".
DEMO_CRITERION = "ed"
DEMO_MAX_DEPTH = 4
DEMO_LEAF_SHARE = 0.006
# The forest is there for comparison: 50 trees of at most 150,000 rows each keep the demo quick.
DEMO_FOREST_TREES = 50
DEMO_FOREST_ROWS = 150_000
DEMO_DESCRIPTION = (
    "Synthetic e-mail campaign from upliftree.datasets.make_uplift_data with four planted segments: persuadables "
    "(age < 35 and visits >= 3) convert 8 pp more when e-mailed; sleeping dogs (tenure >= 60 and region north) "
    "convert 5 pp less; sure things (income > 80) convert at 60% and lost causes at 3% whatever happens. "
    "Does the honest tree find them?"
)


class OutcomeType(str, Enum):
    auto = "auto"
    binary = "binary"
    continuous = "continuous"


class ModelKind(str, Enum):
    tree = "tree"
    forest = "forest"


class RulesFormat(str, Enum):
    markdown = "markdown"
    csv = "csv"
    text = "text"
    query = "query"


class PlotKind(str, Enum):
    tree = "tree"
    qini = "qini"
    uplift = "uplift"
    deciles = "deciles"
    calibration = "calibration"


TableFormat = Enum("TableFormat", [(name, name) for name in TABLE_FORMATS], type=str)


class Renderer(str, Enum):
    auto = "auto"
    graphviz = "graphviz"
    matplotlib = "matplotlib"


class Dialect(str, Enum):
    ansi = "ansi"
    duckdb = "duckdb"
    sqlite = "sqlite"
    postgres = "postgres"
    spark = "spark"


# -- shared options ----------------------------------------------------------------------------------------------
def _data_argument(help_text: str = "Experiment table, CSV or Parquet.") -> Any:
    return typer.Argument(..., metavar="DATA", help=help_text, show_default=False)


TREATMENT = typer.Option(..., "--treatment", "-t", help="Column with each row's arm label.", show_default=False)
CONTROL = typer.Option(..., "--control", "-c", help="The control arm's label in the treatment column.",
                       show_default=False)
OUTCOME = typer.Option(..., "--outcome", "-y", help="Outcome column (0/1 conversion, or a number such as spend).",
                       show_default=False)
FEATURES = typer.Option(None, "--features", "-f", show_default="all other columns",
                        help="Feature columns, comma separated or repeated.")
EXCLUDE = typer.Option(None, "--exclude", "-x", show_default=False,
                       help="Columns that are not features (ids, data recorded after treatment), comma separated "
                            "or repeated.")
OUTCOME_TYPE = typer.Option(OutcomeType.auto, "--outcome-type",
                            help="auto: binary when every outcome is 0 or 1.")
PROPENSITY = typer.Option(None, "--propensity", show_default="the arms' shares (fixed probabilities)",
                          help="Known assignment probability: a column with each row's probability of the arm it "
                               "received, or (two arms) one number, the probability of treatment.")
REPORT_PROPENSITY = typer.Option(
    None, "--propensity", show_default="the arms' shares (fixed probabilities)",
    help="Known assignment probability: a column with each row's probability of the arm it received, or (two arms) "
         "one number, the probability of treatment; or 'estimate' for observational data: the report estimates it "
         "(cross-fitted) and features the DR tree.")
CLUSTER = typer.Option(None, "--cluster", show_default="rows randomized one by one",
                       help="Column of the unit of randomization (store, household) when whole units were "
                            "randomized together: intervals and bootstrap work over these units.")
SEED = typer.Option(0, "--seed", min=0, help="Random seed: the same seed gives the same results.")
QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (and the command's own output).")
BENEFIT = typer.Option(None, "--benefit", show_default=False,
                       help="Value of one unit of outcome (e.g. 25 per conversion): turns uplift into net value.")
COST = typer.Option(None, "--cost", min=0.0, show_default=False,
                    help="Cost of treating one row (needs --benefit).")
ALPHA = typer.Option(0.05, "--alpha", min=0.001, max=0.5, help="Intervals have coverage 1 - alpha.")
TABLES = typer.Option(None, "--format", show_default="table",
                      help="How tables print: table (rich; at full width when stdout is not a terminal), markdown, "
                           "or csv / json with every value at full precision (other messages then go to stderr). "
                           "Given explicitly, tables print even with --quiet.")


def _columns(values: list[str] | None) -> list[str] | None:
    """Column names given repeated and/or comma separated."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    return [name for name in names if name]


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _handle_errors(command: Callable) -> Callable:
    """Bad input (files, columns, labels, model files) ends the command with one line on stderr and exit code 1;
    so does running out of memory on an input too large for the machine."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with _quiet_compilation(kwargs.get("quiet", False)):
                return command(*args, **kwargs)
        except typer.Exit:  # click's Exit is a RuntimeError: let deliberate exit codes through
            raise
        except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as error:
            typer.echo(f"Error: {_one_line(str(error)) or type(error).__name__}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def _quiet_compilation(quiet: bool) -> contextlib.AbstractContextManager:
    """``--quiet`` also silences the kernels' one-time compile message (imports Numba only then)."""
    if not quiet:
        return contextlib.nullcontext()
    from ._kernels import compile_message_silenced

    return compile_message_silenced()


class _Console:
    """Progress and results: steps with a spinner and their time on stderr, tables on stdout.

    Tables print as ``table_format`` (:class:`TableFormat`, default ``table``); with csv, json or markdown,
    stdout holds only the tables and every other message goes to stderr. ``quiet`` hides progress and
    messages, and tables too unless a format was asked for.
    """

    def __init__(self, quiet: bool, table_format: TableFormat | None = None):
        from rich.console import Console

        self.quiet = quiet
        self.format = table_format or TableFormat.table
        self.tables_shown = not quiet or table_format is not None
        self.err = Console(stderr=True, highlight=False)
        # Not a terminal (a pipe, a file): no wrapping at an invented width of 80 columns.
        self.out = Console(highlight=False, soft_wrap=not Console().is_terminal)
        if self.format is not TableFormat.table:
            self.out = self.err

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        if self.quiet:
            yield
            return
        started = time.perf_counter()
        with self.err.status(description):
            yield
        self.err.print(f"[green]✓[/green] {description} [dim]({time.perf_counter() - started:.1f} s)[/dim]")

    def print(self, *objects: Any) -> None:
        if not self.quiet:
            self.out.print(*objects)

    def tables(self, *tables: Any) -> None:
        """:class:`~upliftree._tables.OutputTable` s in the chosen format."""
        if not self.tables_shown:
            return
        if self.format is not TableFormat.table:
            from ._tables import render_tables

            typer.echo(render_tables(tables, self.format.value), nl=False)
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        for output in tables:
            table = Table(title=output.title, title_justify="left")
            for column, numeric in zip(output.shown.columns, output.numeric_columns(), strict=True):
                table.add_column(str(column), justify="right" if numeric else "left")
            for row in output.shown.itertuples(index=False):
                table.add_row(*(Text(str(value)) for value in row))  # Text: no rich markup in data
            console = self.out
            if not console.is_terminal:  # the table's own width, so no value is cut to fit 80 columns
                width = console.measure(table, options=console.options.update_width(1_000_000)).maximum
                console = Console(highlight=False, width=max(width, 20), soft_wrap=True)
            console.print(table)


# -- reading experiments and models -----------------------------------------------------------------------------
def _load_experiment(data: Path, treatment: str, control: str, outcome: str, features: list[str] | None,
                     exclude: list[str] | None, outcome_type: OutcomeType, extra_columns: tuple[str, ...] = (),
                     model: Any = None, propensity: str | None = None, cluster: str | None = None):
    """The experiment in ``data``, with its design (``--propensity`` a column or a number, ``--cluster`` a
    column); with a fitted ``model``, its features are read as the model expects them."""
    from .report import experiment_from_frame, read_table

    propensity_number = _number_or_none(propensity)
    design_columns = [name for name in (None if propensity_number is not None else propensity, cluster) if name]
    wanted = None
    if features is not None:
        wanted = list(dict.fromkeys([treatment, outcome, *features, *extra_columns, *design_columns]))
    frame = read_table(data, wanted, schema=None if model is None else model.schema_)
    if propensity_number is not None and propensity in frame.columns:
        propensity_number = None  # a column named like a number is the column
    experiment = experiment_from_frame(frame, treatment=treatment, control=control, outcome=outcome,
                                       features=features, exclude=[*(exclude or ()), *extra_columns],
                                       outcome_type=outcome_type.value, source=str(data),
                                       propensity=propensity if propensity_number is None else propensity_number,
                                       cluster=cluster)
    return experiment, frame


def _number_or_none(text: str | None) -> float | None:
    """``--propensity 0.8``: the number; a column name: None."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _load_model(path: Path) -> Any:
    from .export.model_json import load

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    return load(path)


def _require_tree(model: Any, command: str) -> None:
    if model.model_kind != "tree":
        raise ValueError(f"{command} needs a single tree model, got {type(model).__name__}; fit one with "
                         "'upliftree fit --model tree', or distill the forest with upliftree.distill")


def _policy(model: Any, benefit: float | None, cost: float | None) -> Any:
    """A :class:`~upliftree.policy.Policy` on ``model`` (``None`` without ``--benefit``)."""
    if benefit is None:
        if cost is not None:
            raise ValueError("--cost needs --benefit (the value of one unit of outcome)")
        return None
    from .policy import Policy

    return Policy(model, benefit=benefit, cost=cost or 0.0)


def _model_features(model: Any) -> list[str]:
    return [str(name) for name in model.schema_.names]


# -- commands ---------------------------------------------------------------------------------------------------
@app.command()
@_handle_errors
def report(
    data: Path = _data_argument(),
    treatment: str = TREATMENT,
    control: str = CONTROL,
    outcome: str = OUTCOME,
    out: Path = typer.Option(..., "--out", "-o", help="Folder for report.html and the other files.",
                             show_default=False),
    features: list[str] = FEATURES,
    exclude: list[str] = EXCLUDE,
    outcome_type: OutcomeType = OUTCOME_TYPE,
    benefit: float = BENEFIT,
    cost: float = COST,
    budget: float = typer.Option(None, "--budget", min=0.0, show_default=False,
                                 help="Most the treatments may cost in total (needs --benefit)."),
    explore: float = typer.Option(0.0, "--explore", min=0.0, max=0.99,
                                  help="Share of the eligibility list put in a randomized exploration bucket."),
    id_column: str = typer.Option(None, "--id-column", show_default="row number",
                                  help="Column identifying rows in eligibility.csv (not used as a feature)."),
    criterion: str = typer.Option(None, "--criterion", show_default="searched for the tree; forest: kl (binary), "
                                  "tstat (continuous)",
                                  help="Split criterion: kl, ed, chi, ddp (binary); ed, ddp, tstat (continuous)."),
    max_depth: int = typer.Option(4, "--max-depth", min=0, help="Depth of the honest tree."),
    min_samples_leaf: int = typer.Option(None, "--min-samples-leaf", min=1,
                                         show_default="searched: auto, 0.5% or 2% of training rows",
                                         help="Rows per leaf of the tree."),
    search_seconds: float = typer.Option(30.0, "--search-seconds", min=0.0,
                                         help="Time budget of the tree's settings search (3-fold cross-validated "
                                              "Qini); 0: no search, the given or default settings."),
    n_estimators: int = typer.Option(100, "--n-estimators", min=1, help="Trees in the forest."),
    forest_max_samples: float = typer.Option(None, "--forest-max-samples", min=0.01, max=1.0,
                                             show_default="all rows",
                                             help="Share of training rows each forest tree draws (smaller: faster)."),
    forest_bands: bool = typer.Option(False, "--forest-bands",
                                      help="Grow the forest for intervals (honest pairs of trees on half-samples) "
                                           "and show each decile's interval of mean predicted uplift."),
    test_size: float = typer.Option(0.3, "--test-size", min=0.05, max=0.9, help="Share of rows held out."),
    n_boot: int = typer.Option(200, "--n-boot", min=10, help="Bootstrap resamples for intervals and bands."),
    alpha: float = ALPHA,
    learners: str = typer.Option("t,dr", "--learners",
                                 help="Meta-learners to rank next to the tree, comma-separated: s, t, x, r, dr, "
                                      "ct (class transformation); 'none' for none."),
    title: str = typer.Option("Uplift report", "--title", help="Title of the report."),
    propensity: str = REPORT_PROPENSITY,
    cluster: str = CLUSTER,
    time_column: str = typer.Option(None, "--time", show_default="a random split",
                                    help="Column of each row's time (numbers or dates): train on the earlier rows, "
                                         "evaluate on the later --test-size of them, per period (not a feature)."),
    time_periods: int = typer.Option(4, "--time-periods", min=1,
                                     help="Periods the held-out rows are split into with --time."),
    seed: int = SEED,
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Fit an honest uplift tree, a forest and meta-learners, evaluate them on held-out rows, write DIR/report.html.

    Also writes model.json, tree.svg, rules.md, rules.csv, segments.csv, qini.png, uplift.png, deciles.png,
    scoring.sql and, with --benefit, eligibility.csv. Columns that look recorded after treatment (another
    outcome, or changed by the treatment) fail a check; without --features they are left out, with a warning.
    """
    from .report import ReportSettings, make_report
    from .report.baseline import parse_learners

    settings = ReportSettings(
        criterion=criterion, max_depth=max_depth, min_samples_leaf=min_samples_leaf,
        search_seconds=search_seconds or None, n_estimators=n_estimators, forest_max_samples=forest_max_samples,
        forest_bands=forest_bands, test_size=test_size, n_boot=n_boot, alpha=alpha,
        benefit=benefit, cost=cost or 0.0, budget=budget, explore=explore, seed=seed, title=title,
        learners=parse_learners(learners), time=time_column, time_periods=time_periods,
        # --propensity estimate: observational data, the report estimates the propensity (docs/cli.md)
        propensity="estimate" if propensity == "estimate" else None,
    )
    settings.check()
    console = _Console(quiet, table_format)
    feature_names = _columns(features)
    if time_column and feature_names is not None and time_column not in feature_names:
        feature_names = [*feature_names, time_column]  # read with the features; the split takes it out
    with console.step(f"Reading {data}"):
        experiment, frame = _load_experiment(data, treatment, control, outcome, feature_names,
                                             _columns(exclude), outcome_type,
                                             (id_column,) if id_column else (),
                                             propensity=None if settings.propensity else propensity,
                                             cluster=cluster)
    ids = frame[id_column].to_numpy() if id_column else None
    result = make_report(experiment, out, settings, ids=ids, progress=console.step)
    _print_report_summary(console, result)


def _print_report_summary(console: _Console, result: Any) -> None:
    console.print(f"\n[bold]Report:[/bold] {result.html}")
    _print_segments(console, result.tree, "Segments of the honest tree, best first")
    for check in result.checks:
        if check.level == "warning":
            console.print(f"[yellow]warning:[/yellow] {check.title}. {check.detail}")
        elif check.level == "failed":
            _warn(check)


def _warn(check: Any) -> None:
    """A failed check on stderr, even with --quiet (like flagged drift)."""
    typer.echo(f"Warning: {check.title}. {check.detail}", err=True)


def _print_segments(console: _Console, tree: Any, title: str) -> None:
    """The tree's leaves as a short table: share, uplift with interval per treatment, rule (csv and json: the
    whole segment sheet)."""
    import pandas as pd

    from ._tables import OutputTable
    from .export.sheets import outcome_format

    sheet = tree.rules("frame")
    numbers = outcome_format(tree)
    labels = [str(label) for label in tree.treatments_[1:]]
    shown = pd.DataFrame({"leaf": sheet["leaf_id"], "share": [f"{share:.1%}" for share in sheet["share"]]})
    for label in labels:
        suffix = "" if len(labels) == 1 else f"_{label}"
        shown["uplift" + suffix.replace("_", " ")] = [
            numbers.effect(*values)
            for values in sheet[[f"uplift{suffix}", f"ci_low{suffix}", f"ci_high{suffix}"]].to_numpy()]
    shown["rule"] = sheet["rule"]
    console.tables(OutputTable("segments", title, shown, sheet))
    from rich.markup import escape

    from .rules import missing_note

    note = missing_note(tree.tree_, tree.schema_)
    if note is not None:  # the rules leave out "x is missing or" for these features
        console.print(escape(note))


@app.command()
@_handle_errors
def fit(
    data: Path = _data_argument(),
    treatment: str = TREATMENT,
    control: str = CONTROL,
    outcome: str = OUTCOME,
    out: Path = typer.Option(Path("model.json"), "--out", "-o", help="Model file to write (JSON)."),
    features: list[str] = FEATURES,
    exclude: list[str] = EXCLUDE,
    outcome_type: OutcomeType = OUTCOME_TYPE,
    model: ModelKind = typer.Option(ModelKind.tree, "--model", "-m", help="An honest tree or a forest."),
    criterion: str = typer.Option(None, "--criterion", show_default="ed (tree), kl (forest); tstat (continuous)",
                                  help="Split criterion: kl, ed, chi, ddp (binary); ed, ddp, tstat (continuous)."),
    max_depth: int = typer.Option(None, "--max-depth", min=0, show_default="4 (tree), 6 (forest)",
                                  help="Maximum depth."),
    min_samples_leaf: int = typer.Option(100, "--min-samples-leaf", min=1, help="Rows per leaf."),
    honest: bool = typer.Option(True, "--honest/--no-honest",
                                help="Estimate leaves on rows that did not choose the splits."),
    n_estimators: int = typer.Option(100, "--n-estimators", min=1, help="Trees in a forest."),
    benefit: float = BENEFIT,
    cost: float = COST,
    propensity: str = PROPENSITY,
    cluster: str = CLUSTER,
    seed: int = SEED,
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Fit an uplift tree (or forest) on all rows and save it as JSON, with the training profile for 'monitor'.

    With --benefit (and --cost) the profile also records net values and the share of rows the policy treats.
    Without --features, columns that look recorded after treatment are left out, with a warning.
    """
    from .forest import UpliftRandomForestClassifier, UpliftRandomForestRegressor
    from .monitor import record_training_profile
    from .tree import UpliftTreeClassifier, UpliftTreeRegressor

    console = _Console(quiet, table_format)
    with console.step(f"Reading {data}"):
        experiment, _ = _load_experiment(data, treatment, control, outcome, _columns(features), _columns(exclude),
                                         outcome_type, propensity=propensity, cluster=cluster)
    if not experiment.features_given:  # "every other column": leave out those recorded after treatment
        from .report.leakage import leakage_check, screen_experiment

        with console.step("Screening the features for columns recorded after treatment"):
            experiment, screen = screen_experiment(experiment)
        if screen.flagged:
            _warn(leakage_check(screen))
    options: dict[str, Any] = {"min_samples_leaf": min_samples_leaf, "honest": honest,
                               "control": experiment.control, "random_state": seed}
    if criterion:
        options["criterion"] = criterion
    if model is ModelKind.tree:
        estimator_class = UpliftTreeClassifier if experiment.binary else UpliftTreeRegressor
        estimator = estimator_class(max_depth=4 if max_depth is None else max_depth, **options)
    else:
        estimator_class = UpliftRandomForestClassifier if experiment.binary else UpliftRandomForestRegressor
        estimator = estimator_class(n_estimators=n_estimators, max_depth=6 if max_depth is None else max_depth,
                                    n_jobs=-1, verbose=0, **options)
    with console.step(f"Fitting {type(estimator).__name__} on {experiment.n_rows:,} rows"):
        estimator.fit(experiment.X, experiment.treatment, experiment.y, propensity=experiment.propensity,
                      cluster=experiment.cluster)
    with console.step("Recording the training profile for drift monitoring"):
        record_training_profile(estimator, experiment.X, _policy(estimator, benefit, cost))
    out.parent.mkdir(parents=True, exist_ok=True)
    estimator.save(out)
    console.print(f"[bold]Model:[/bold] {out}")
    if model is ModelKind.tree:
        _print_segments(console, estimator, "Segments, best first")


@app.command()
@_handle_errors
def evaluate(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Model file (JSON) from 'upliftree fit'.",
                                      show_default=False),
    data: Path = _data_argument("Held-out experiment rows, CSV or Parquet."),
    treatment: str = TREATMENT,
    control: str = CONTROL,
    outcome: str = OUTCOME,
    out: Path = typer.Option(None, "--out", "-o", show_default=False,
                             help="Write the scores (and decile tables) to this CSV file."),
    n_boot: int = typer.Option(200, "--n-boot", min=10, help="Bootstrap resamples of the Qini interval."),
    alpha: float = ALPHA,
    propensity: str = PROPENSITY,
    cluster: str = CLUSTER,
    seed: int = SEED,
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Score held-out experiment rows: Qini coefficient with interval, uplift AUC, uplift at 10/20/30%, deciles."""
    import numpy as np
    import pandas as pd

    from ._tables import OutputTable, readable
    from .metrics import calibration_table
    from .report.evaluation import design_of, score_table

    console = _Console(quiet, table_format)
    fitted = _load_model(model_path)
    with console.step(f"Reading {data}"):
        experiment, _ = _load_experiment(data, treatment, control, outcome, _model_features(fitted), None,
                                         OutcomeType(fitted.outcome_type_), model=fitted, propensity=propensity,
                                         cluster=cluster)
    labels = [str(label) for label in fitted.treatments_]
    arms = fitted.arm_index(experiment.treatment)
    with console.step(f"Scoring {experiment.n_rows:,} rows and bootstrapping"):
        uplift = np.asarray(fitted.predict(experiment.X), dtype=np.float64).reshape(experiment.n_rows, -1)
        tables, deciles = [], []
        for code, label in enumerate(labels[1:], start=1):
            rows = (arms == code) | (arms == 0)
            y, treated, score = experiment.y[rows], arms[rows] == code, uplift[rows, code - 1]
            design = design_of(experiment, rows)
            table = score_table(y, treated, {type(fitted).__name__: score}, experiment.binary, n_boot, alpha, seed,
                                **design)
            table.insert(0, "treatment", label)
            tables.append(table)
            decile = calibration_table(y, score, treated.astype(np.int64), alpha=alpha, **design)
            decile.insert(0, "treatment", label)
            deciles.append(decile)
    scores = pd.concat(tables, ignore_index=True)
    decile_table = pd.concat(deciles, ignore_index=True)
    decile_columns = ["treatment", "bin", "n_treatment", "n_control", "predicted_uplift", "observed_uplift",
                      "ci_low", "ci_high"]
    console.tables(
        OutputTable("scores", f"Held-out scores ({experiment.n_rows:,} rows; Qini interval {1 - alpha:.0%})",
                    readable(scores), scores),
        OutputTable("deciles", "Observed uplift by decile", readable(decile_table[decile_columns]), decile_table))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        scores.to_csv(out, index=False)
        decile_table.to_csv(out.with_name(out.stem + "_deciles.csv"), index=False)
        console.print(f"[bold]Scores:[/bold] {out} (deciles: {out.with_name(out.stem + '_deciles.csv')})")


@app.command()
@_handle_errors
def rules(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Tree model file (JSON).", show_default=False),
    format: RulesFormat = typer.Option(RulesFormat.markdown, "--format", help="Rule sheet format."),
    out: Path = typer.Option(None, "--out", "-o", show_default="print", help="File to write."),
    benefit: float = BENEFIT,
    cost: float = COST,
    alpha: float = ALPHA,
) -> None:
    """Print or write the tree's segment rule sheet (Markdown, CSV, indented text or pandas queries).

    With --benefit (and --cost) every segment gets its action and net value per row.
    """
    fitted = _load_model(model_path)
    _require_tree(fitted, "rules")
    policy = _policy(fitted, benefit, cost)
    options: dict[str, Any] = {"alpha": alpha}
    if policy is not None and format in (RulesFormat.markdown, RulesFormat.csv):
        sheet = policy.segment_sheet()
        options["leaf_actions"] = policy.leaf_actions()
        options["leaf_values"] = dict(zip(sheet["leaf_id"].astype(int), sheet["net_value"], strict=True))
    text = fitted.rules(format.value, **options)
    if format is RulesFormat.query:
        text = "".join(f"{leaf}\t{query}\n" for leaf, query in text.items())
    _emit(text, out)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


@app.command()
@_handle_errors
def plot(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Model file (JSON).", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", show_default=False,
                             help="Image to write; the format follows the suffix (.svg, .png, .pdf)."),
    kind: PlotKind = typer.Option(PlotKind.tree, "--kind", "-k",
                                  help="tree: the tree drawing; the others need --data and the experiment columns."),
    data: Path = typer.Option(None, "--data", "-d", show_default=False, help="Held-out experiment rows."),
    treatment: str = typer.Option(None, "--treatment", "-t", show_default=False, help="Arm label column."),
    control: str = typer.Option(None, "--control", "-c", show_default=False, help="Control label."),
    outcome: str = typer.Option(None, "--outcome", "-y", show_default=False, help="Outcome column."),
    arm: str = typer.Option(None, "--arm", show_default="the only treatment",
                            help="Treatment to draw against control when there are several."),
    n_boot: int = typer.Option(200, "--n-boot", min=0, help="Bootstrap resamples of the curve band (0: none)."),
    renderer: Renderer = typer.Option(Renderer.auto, "--renderer",
                                      help="Tree drawing: graphviz (the dot program), matplotlib, or auto: Graphviz "
                                           "when dot is installed, else matplotlib."),
    alpha: float = ALPHA,
    seed: int = SEED,
    quiet: bool = QUIET,
) -> None:
    """Draw the tree (Graphviz, or matplotlib without it), or Qini / uplift curves, deciles or calibration of a
    model on held-out rows."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"--out must end in .svg, .png or .pdf, got {out.name!r}")
    fitted = _load_model(model_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    console = _Console(quiet)
    if kind is PlotKind.tree:
        _require_tree(fitted, "plot --kind tree")
        from .export.dot import graphviz_available
        from .export.dot import plot as plot_tree

        chosen = renderer.value
        if renderer is Renderer.auto:
            chosen = "graphviz" if graphviz_available() else "matplotlib"
        with console.step(f"Drawing the tree with {'Graphviz' if chosen == 'graphviz' else 'matplotlib'}"):
            plot_tree(fitted, out, format=fmt, alpha=alpha, renderer=chosen)
        note = " (matplotlib: Graphviz's dot program was not found)" if renderer is Renderer.auto and \
            chosen == "matplotlib" else ""
        console.print(f"[bold]Drawing:[/bold] {out}{note}")
        return
    missing = [name for name, value in (("--data", data), ("--treatment", treatment), ("--control", control),
                                        ("--outcome", outcome)) if value is None]
    if missing:
        raise ValueError(f"plot --kind {kind.value} needs {', '.join(missing)}")
    import numpy as np

    from . import plot as plots
    from .metrics import one_vs_control

    with console.step(f"Reading {data}"):
        experiment, _ = _load_experiment(data, treatment, control, outcome, _model_features(fitted), None,
                                         OutcomeType(fitted.outcome_type_), model=fitted)
    treatments = list(fitted.treatments_[1:])
    if arm is None and len(treatments) > 1:
        raise ValueError(f"the model has several treatments {treatments}; choose one with --arm")
    from .report.experiment import as_label

    chosen = treatments[0] if arm is None else as_label(np.asarray(treatments, dtype=object), arm)
    if chosen is None:
        raise ValueError(f"--arm {arm!r} is not a treatment of the model; treatments: {treatments}")
    with console.step(f"Drawing the {kind.value} plot"):
        uplift = np.asarray(fitted.predict(experiment.X), dtype=np.float64)
        rows = one_vs_control(experiment.y, uplift, experiment.treatment, arm=chosen, control=experiment.control,
                              arms=treatments if uplift.ndim == 2 else None)
        if kind is PlotKind.qini:
            ax = plots.plot_qini_curve(*rows, n_boot=n_boot, alpha=alpha, random_state=seed)
        elif kind is PlotKind.uplift:
            ax = plots.plot_uplift_curve(*rows, perfect=experiment.binary, n_boot=n_boot, alpha=alpha,
                                         random_state=seed)
        elif kind is PlotKind.deciles:
            ax = plots.plot_uplift_by_percentile(*rows, alpha=alpha)
        else:
            ax = plots.plot_calibration(*rows, alpha=alpha)
        ax.figure.savefig(out, dpi=110)
    console.print(f"[bold]Plot:[/bold] {out}")


@app.command()
@_handle_errors
def score(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Model file (JSON).", show_default=False),
    data: Path = _data_argument("Rows to score, CSV or Parquet (streamed in chunks)."),
    out: Path = typer.Option(..., "--out", "-o", show_default=False,
                             help="Scores to write, CSV or Parquet (from the suffix)."),
    id_columns: list[str] = typer.Option(None, "--id", show_default=False,
                                         help="Columns copied to the output (e.g. a customer id), comma separated "
                                              "or repeated."),
    keep_columns: bool = typer.Option(False, "--keep-columns", help="Copy every input column to the output."),
    benefit: float = BENEFIT,
    cost: float = COST,
    chunk_size: int = typer.Option(100_000, "--chunk-size", min=1, help="Rows read and scored at a time."),
    quiet: bool = QUIET,
) -> None:
    """Score new rows: predicted uplift, leaf (trees) and action, chunk by chunk so any file size works.

    The action is the best treatment whose net value (uplift x benefit - cost; without --benefit, the uplift
    itself) is positive, else the control label: the threshold rule of upliftree.policy.Policy, row by row.
    """
    import numpy as np

    from .report.io import TableWriter, iter_table, require_columns, table_columns

    fitted = _load_model(model_path)
    features = _model_features(fitted)
    ids = _columns(id_columns) or []
    columns = None if keep_columns else list(dict.fromkeys([*ids, *features]))
    require_columns(table_columns(data), features if columns is None else columns, data)
    policy = _policy(fitted, 1.0 if benefit is None else benefit, cost)
    labels = [str(label) for label in fitted.treatments_]
    uplift_names = ["uplift"] if len(labels) == 2 else [f"uplift_{label}" for label in labels[1:]]
    console = _Console(quiet)
    progress = _row_progress(console, data)
    with TableWriter(out) as writer, progress as advance:
        for chunk in iter_table(data, chunk_size, columns, schema=fitted.schema_):
            X = chunk[features]
            scores = chunk.reset_index(drop=True) if keep_columns else chunk[ids].reset_index(drop=True)
            uplift = np.asarray(fitted.predict(X), dtype=np.float64).reshape(len(chunk), -1)
            for column, name in enumerate(uplift_names):
                scores[name] = uplift[:, column]
            if fitted.model_kind == "tree":
                scores["leaf_id"] = fitted.apply(X)
            action = policy.decide(X)
            scores["action"] = action
            if benefit is not None:
                net_value = policy.net_value(X).to_numpy(dtype=np.float64)
                scores["net_value"] = net_value[np.arange(len(chunk)), fitted.arm_index(action)]
            writer.write(scores)
            advance(len(chunk))
    console.print(f"[bold]Scores:[/bold] {out} ({writer.n_rows:,} rows)")


@contextlib.contextmanager
def _row_progress(console: _Console, data: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar counting scored rows (the total is known for Parquet files)."""
    if console.quiet:
        yield lambda n_rows: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    total = None
    from .report.io import table_format

    if data.exists() and table_format(data) == "parquet":
        import pyarrow.parquet as pq

        total = pq.ParquetFile(data).metadata.num_rows
    with Progress(SpinnerColumn(), TextColumn("Scoring rows"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console.err, transient=True) as progress:
        task = progress.add_task("score", total=total)
        yield lambda n_rows: progress.advance(task, n_rows)


@app.command()
@_handle_errors
def sql(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Model file (JSON).", show_default=False),
    table: str = typer.Option(..., "--table", help="Table (or schema.table) the query reads.", show_default=False),
    dialect: Dialect = typer.Option(Dialect.ansi, "--dialect", help="SQL dialect."),
    key_columns: list[str] = typer.Option(None, "--key", show_default=False,
                                          help="Columns copied to the output, comma separated or repeated."),
    benefit: float = BENEFIT,
    cost: float = COST,
    out: Path = typer.Option(None, "--out", "-o", show_default="print", help="File to write."),
) -> None:
    """Print or write a SELECT that scores every row of a table like the model (leaf_id, uplift, action).

    The action column needs a tree and --benefit: each segment's action under the threshold rule.
    """
    fitted = _load_model(model_path)
    policy = _policy(fitted, benefit, cost)
    if policy is not None:
        _require_tree(fitted, "sql --benefit")
    table_name: Any = tuple(table.split(".")) if "." in table else table
    text = fitted.to_sql(table_name, dialect=dialect.value, key_columns=_columns(key_columns) or (),
                         leaf_actions=None if policy is None else policy.leaf_actions())
    _emit(text, out)


@app.command()
@_handle_errors
def monitor(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="Model file (JSON) with a training profile.",
                                      show_default=False),
    new_data: Path = typer.Argument(..., metavar="NEW_DATA", help="New rows, CSV or Parquet.",
                                    show_default=False),
    out: Path = typer.Option(None, "--out", "-o", show_default=False, help="Write every check to this CSV file."),
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift",
                                       help=f"Exit with code {EXIT_DRIFT} when a check is flagged."),
    period: str = typer.Option(None, "--period", show_default=False,
                               help="Column of each row's period: also track the effect per period on randomized "
                                    "rows (needs --treatment, --control, --outcome) and flag its decay."),
    treatment: str = typer.Option(None, "--treatment", "-t", show_default=False, help="Arm label column."),
    control: str = typer.Option(None, "--control", "-c", show_default=False, help="Control label."),
    outcome: str = typer.Option(None, "--outcome", "-y", show_default=False, help="Outcome column."),
    arm: str = typer.Option(None, "--arm", show_default="the only treatment",
                            help="With several treatments: the one tracked against control."),
    segment: str = typer.Option(None, "--segment", show_default=False,
                                help="Column of segments whose effects are tracked too (channel, leaf, action)."),
    reference: str = typer.Option(None, "--reference", show_default="the earliest period",
                                  help="The reference period the later ones are compared with."),
    propensity: str = typer.Option(None, "--propensity", show_default="a fixed split",
                                   help="Column of the logged probability of the arm each row received (an "
                                        "exploration bucket's), or one number, the probability of treatment."),
    cluster: str = CLUSTER,
    alpha: float = ALPHA,
    n_boot: int = typer.Option(200, "--n-boot", min=0, help="Bootstrap resamples of each period's Qini (0: none)."),
    seed: int = SEED,
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Drift report: new rows against the training data the model remembers; with --period, the effect too.

    Population stability index (PSI) of every feature, of predicted uplift, of net value (when fitted with
    --benefit) and of the share of rows per segment; changes of missing rates and of the share of rows treated.
    Flagged: PSI > 0.25, or a rate changed by more than 0.05 (see docs/cli.md). With --period (on randomized
    rows: an exploration bucket with --propensity, a holdout): per period the effect on all rows, among the
    model's top 30% and per --segment, and the Qini, each effect tested for decay against the reference period.
    """
    from ._tables import OutputTable, readable
    from .monitor import drift_report
    from .report import read_table

    if period is not None:
        missing = [name for name, value in (("--treatment", treatment), ("--control", control),
                                            ("--outcome", outcome)) if value is None]
        if missing:
            raise ValueError(f"monitor --period needs {', '.join(missing)}")
    console = _Console(quiet, table_format)
    fitted = _load_model(model_path)
    effect_columns = [name for name in (period, treatment, outcome, segment, cluster,
                                        None if _number_or_none(propensity) is not None else propensity) if name]
    with console.step(f"Reading {new_data}"):
        frame = read_table(new_data, None if period else _model_features(fitted), schema=fitted.schema_)
    with console.step(f"Comparing {len(frame):,} rows with the training profile"):
        checks = drift_report(fitted, frame[_model_features(fitted)] if period else frame)
    flagged = checks[checks["flagged"]]
    n_flagged = len(flagged)
    tables = [OutputTable("drift", f"Drift checks ({len(flagged)} flagged)", readable(checks), checks)]
    effect_flags = None
    if period is not None:
        absent = [name for name in effect_columns if name not in frame.columns]
        if absent:
            raise ValueError(f"{new_data}: no column(s) {absent}")
        with console.step("Tracking the effect per period"):
            effects = _effect_checks(fitted, frame, period, treatment, control, outcome, arm, segment, reference,
                                     propensity, cluster, alpha, n_boot, seed)
        effect_flags = effects[effects["flagged"]]
        n_flagged += len(effect_flags)
        tables.append(OutputTable("effects", f"Effect checks ({len(effect_flags)} flagged)", readable(effects),
                                  effects))
    console.tables(*tables)
    if effect_flags is not None and len(effect_flags):
        names = ", ".join(f"{row.period} {row.check} {row.name}" for row in effect_flags.itertuples())
        typer.echo(f"Effect decay flagged in {len(effect_flags)} check(s): {names}", err=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        checks.to_csv(out, index=False)
        console.print(f"[bold]Checks:[/bold] {out}")
    if len(flagged):
        names = ", ".join(f"{row.check} {row.name}" for row in flagged.itertuples())
        typer.echo(f"Drift flagged in {len(flagged)} check(s): {names}", err=True)
    if n_flagged and fail_on_drift:
        raise typer.Exit(EXIT_DRIFT)


def _effect_checks(fitted: Any, frame: Any, period: str, treatment: str, control: str, outcome: str,
                   arm: str | None, segment: str | None, reference: str | None, propensity: str | None,
                   cluster: str | None, alpha: float, n_boot: int, seed: int) -> Any:
    """:func:`upliftree.monitor.effect_report` of the rows of one treatment and control, scored by the model."""
    import numpy as np

    from .monitor import effect_report
    from .report import experiment_from_frame
    from .report.experiment import as_label

    treatments = [str(label) for label in fitted.treatments_[1:]]
    chosen = arm if arm is not None else (treatments[0] if len(treatments) == 1 else None)
    if chosen is None:
        raise ValueError(f"the model has several treatments {treatments}; choose one with --arm")
    if chosen not in treatments:
        raise ValueError(f"--arm {chosen!r} is not a treatment of the model; treatments: {treatments}")
    labels = frame[treatment].to_numpy()
    control_label, arm_label = as_label(labels, control), as_label(labels, chosen)
    if control_label is None or arm_label is None:
        raise ValueError(f"--control {control!r} and the treatment {chosen!r} must both be values of {treatment!r}")
    rows = ((frame[treatment] == control_label) | (frame[treatment] == arm_label)).to_numpy()
    kept = frame[rows].reset_index(drop=True)
    number = _number_or_none(propensity)
    experiment = experiment_from_frame(kept, treatment=treatment, control=control_label, outcome=outcome,
                                       features=_model_features(fitted), source="NEW_DATA",
                                       propensity=number if number is not None else propensity, cluster=cluster)
    uplift = np.asarray(fitted.predict(kept[_model_features(fitted)]), dtype=np.float64)
    if uplift.ndim == 2:
        uplift = uplift[:, treatments.index(chosen)]
    period_values = kept[period].to_numpy()
    reference_label = None if reference is None else as_label(period_values, reference)
    if reference is not None and reference_label is None:
        raise ValueError(f"--reference {reference!r} is not a value of {period!r}")
    return effect_report(experiment.y, (kept[treatment] == arm_label).to_numpy().astype(np.int64), period_values,
                         uplift=uplift, segment=None if segment is None else kept[segment].to_numpy(),
                         reference=reference_label, alpha=alpha, n_boot=n_boot, random_state=seed,
                         propensity=experiment.propensity, cluster=experiment.cluster)


@app.command()
@_handle_errors
def demo(
    out: Path = typer.Option(Path("upliftree-demo"), "--out", "-o", help="Folder for the demo report."),
    n_samples: int = typer.Option(DEMO_ROWS, "--n-samples", "-n", min=2_000,
                                  help="Rows of the synthetic experiment."),
    seed: int = SEED,
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Generate a synthetic experiment with known segments and run 'report' on it (the main job, end to end).

    The planted segments: persuadables (+8 pp), sleeping dogs (-5 pp), sure things and lost causes (no effect).
    """
    from .datasets import FEATURES as DEMO_FEATURES
    from .datasets import make_uplift_data
    from .report import ReportSettings, experiment_from_frame, make_report

    console = _Console(quiet, table_format)
    with console.step(f"Generating a synthetic experiment of {n_samples:,} rows"):
        frame = make_uplift_data(n_samples, random_state=seed)
        experiment = experiment_from_frame(frame, treatment="treatment", control="control", outcome="outcome",
                                           features=DEMO_FEATURES, source="synthetic demo data")
    n_train = n_samples - round(n_samples * ReportSettings.test_size)
    settings = ReportSettings(
        criterion=DEMO_CRITERION, max_depth=DEMO_MAX_DEPTH,
        min_samples_leaf=max(100, round(DEMO_LEAF_SHARE * n_train)), n_estimators=DEMO_FOREST_TREES,
        forest_max_samples=min(1.0, DEMO_FOREST_ROWS / n_train), benefit=25.0, cost=0.5, seed=seed,
        search_seconds=None,  # the settings above were chosen for the planted segments (docs/cli.md)
        title="upliftree demo: who should get the e-mail?", description=DEMO_DESCRIPTION,
    )
    result = make_report(experiment, out, settings, progress=console.step)
    _print_report_summary(console, result)


@app.command()
@_handle_errors
def warmup(quiet: bool = QUIET) -> None:
    """Compile every kernel for this machine now (Docker images, CI), so later runs start without compiling.

    Compiled kernels go to Numba's cache (NUMBA_CACHE_DIR, else the package's __pycache__); see
    docs/performance.md.
    """
    from ._warmup import warmup as compile_kernels

    console = _Console(quiet)
    with console.step("Compiling upliftree's kernels (or loading them from the cache)"):
        summary = compile_kernels()
    if not quiet:  # plain lines: rich would wrap a long cache path
        typer.echo(f"{summary.n_compiled} kernels compiled in {summary.seconds:.1f} s")
        typer.echo(f"cache: {summary.cache_directory}")


# -- policy tests -----------------------------------------------------------------------------------------------
policy_test_app = typer.Typer(help="Policy tests: hold out a group on business as usual, then analyse the test.",
                              no_args_is_help=True)
app.add_typer(policy_test_app, name="policy-test")


def _label_in(values: Any, text: str) -> Any:
    """The label ``text`` names among ``values`` (``"1"`` names 1), else ``text`` as a number when ``values`` are
    numbers, else ``text``."""
    import pandas as pd

    from .report.experiment import as_label

    found = as_label(values, text)
    if found is not None:
        return found
    if pd.api.types.is_numeric_dtype(values.dtype):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


@policy_test_app.command("assign")
@_handle_errors
def policy_test_assign(
    data: Path = _data_argument("Rows to assign, CSV or Parquet: e.g. an eligibility list."),
    id_column: str = typer.Option(..., "--id", help="Column of the ids (integers or text) that are hashed.",
                                  show_default=False),
    salt: str = typer.Option(..., "--salt", show_default=False,
                             help="Names the test: the same salt gives the same assignment; use a new one per test."),
    out: Path = typer.Option(..., "--out", "-o", show_default=False,
                             help="Rows to write, CSV or Parquet: the input's columns and the test's."),
    holdout: float = typer.Option(0.1, "--holdout", help="Share of the ids (or clusters) held out."),
    explore: float = typer.Option(0.05, "--explore", help="Share of the personalization group explored."),
    cluster: str = typer.Option(None, "--cluster", show_default=False,
                                help="Column of the unit of randomization: whole clusters are held out."),
    policy_arm: str = typer.Option(None, "--policy-arm", show_default=False,
                                   help="Column of the policy's arm per row (policy_arm of an eligibility list)."),
    arms: list[str] = typer.Option(None, "--arms", show_default=False,
                                   help="Arms an exploration row may get, comma separated or repeated."),
    business_as_usual: str = typer.Option(None, "--business-as-usual", show_default=False,
                                          help="The arm the holdout gets (e.g. the control label)."),
    quiet: bool = QUIET,
) -> None:
    """Assign every id to the holdout or the personalization group (and its exploration bucket), stably.

    The same id and salt give the same group, bucket and arm in every file, batch and order (a keyed BLAKE2b
    hash of the id; docs/policy.md). With --policy-arm and --arms each row also gets its arm ("assigned") and
    the logged probability of it ("assignment_probability"), which 'policy-test analyze' needs.
    """
    from .policy_test import assign
    from .report import read_table, write_table

    console = _Console(quiet)
    with console.step(f"Reading {data}"):
        frame = read_table(data)
    for argument, column in (("--id", id_column), ("--cluster", cluster), ("--policy-arm", policy_arm)):
        if column is not None and column not in frame.columns:
            raise ValueError(f"{argument} {column!r} is not a column of {data}; columns: {list(frame.columns)[:12]}")
    arm_values = None if policy_arm is None else frame[policy_arm]
    labels = None if not _columns(arms) else [_label_in(arm_values, arm) for arm in _columns(arms)]
    with console.step(f"Assigning {len(frame):,} rows"):
        plan = assign(frame[id_column].reset_index(drop=True), salt=salt, holdout=holdout, explore=explore,
                      cluster=None if cluster is None else frame[cluster].reset_index(drop=True),
                      policy_arm=None if arm_values is None else arm_values.reset_index(drop=True), arms=labels,
                      business_as_usual=None if business_as_usual is None or arm_values is None
                      else _label_in(arm_values, business_as_usual))
    test_columns = plan.drop(columns="id")
    replaced = [column for column in test_columns.columns if column in frame.columns]
    result = frame.drop(columns=replaced).reset_index(drop=True).join(test_columns)
    write_table(result, out)
    counts = plan["group"].value_counts()
    console.print(f"[bold]Assignment:[/bold] {out} ({counts.get('holdout', 0):,} held out, "
                  f"{counts.get('personalization', 0):,} personalized, {int(plan['exploration'].sum()):,} explored)"
                  + (f"; replaced the input's {', '.join(replaced)}" if replaced else ""))


@policy_test_app.command("analyze")
@_handle_errors
def policy_test_analyze(
    data: Path = _data_argument("The test's log, CSV or Parquet: one row per assigned id, with its outcome."),
    outcome: str = OUTCOME,
    group: str = typer.Option("group", "--group", help="Column of holdout / personalization."),
    cluster: str = typer.Option(None, "--cluster", show_default=False,
                                help="Column of the unit of randomization: standard errors by cluster."),
    segment: str = typer.Option(None, "--segment", show_default=False,
                                help="Column to break the comparison down by (e.g. leaf_id, channel)."),
    propensity: str = typer.Option("assignment_probability", "--propensity",
                                   help="Column of the logged probability of each row's arm."),
    groups_only: bool = typer.Option(False, "--groups-only",
                                     help="Only compare the groups: do not value the policy inside personalization "
                                          "(no logged probabilities needed)."),
    arm: str = typer.Option("assigned", "--arm", help="Column of the arm each row got."),
    policy_arm: str = typer.Option("policy_arm", "--policy-arm", help="Column of the policy's arm."),
    control: str = typer.Option(None, "--control", "-c", show_default=False,
                                help="The arm that means doing nothing (needed to value the policy)."),
    alpha: float = ALPHA,
    n_boot: int = typer.Option(1000, "--n-boot", min=1, help="Bootstrap resamples of the policy's value."),
    seed: int = SEED,
    html: Path = typer.Option(None, "--html", show_default=False, help="Write the analysis as an HTML page."),
    table_format: TableFormat = TABLES,
    quiet: bool = QUIET,
) -> None:
    """Analyse a policy test: personalization against the holdout, with an interval and a verdict.

    Also, with logged probabilities, the policy's value inside the personalization group against treating
    nobody, everyone and at random (from the exploration bucket); and per segment with --segment. A log without
    the --propensity column is refused (the policy's value would be biased) unless --groups-only.
    """
    from ._tables import OutputTable, readable
    from .policy_test import analyze
    from .report import read_table

    console = _Console(quiet, table_format)
    with console.step(f"Reading {data}"):
        log = read_table(data)
    label = None
    if control is not None and not groups_only:
        if arm not in log.columns:
            raise ValueError(f"--arm {arm!r} is not a column of {data}")
        label = _label_in(log[arm].dropna(), control)
    with console.step("Analysing the test"):
        result = analyze(log, outcome=outcome, group=group, cluster=cluster, segment=segment,
                         propensity=None if groups_only else propensity, arm=arm, policy_arm=policy_arm,
                         control=label, alpha=alpha, n_boot=n_boot, random_state=seed)
    tables = [OutputTable("summary", "Personalization against the holdout", readable(result.summary),
                          result.summary)]
    if result.policy is not None:
        tables.append(OutputTable("policy", "The policy inside the personalization group",
                                  readable(result.policy.reset_index()), result.policy.reset_index()))
    if result.segments is not None:
        segments = result.segments.reset_index()
        tables.append(OutputTable("segments", f"By {segment}", readable(segments), segments))
    console.print(f"[bold]{result.headline}[/bold]")
    for sentence in result.policy_comparisons():
        console.print(sentence)
    console.tables(*tables)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        result.to_html(html)
        console.print(f"[bold]Page:[/bold] {html}")


def main() -> None:
    """Entry point of the ``upliftree`` script and ``python -m upliftree``."""
    app(prog_name="upliftree")
