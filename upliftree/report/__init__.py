"""The one-command HTML report and what the command line needs to read experiments.

- :func:`make_report`: split an experiment, fit an honest uplift tree, a forest and meta-learners (default
  T and DR, :mod:`upliftree.report.baseline`), evaluate them on held-out rows, export the tree (JSON, SQL,
  rule sheets, drawing) and write one self-contained ``report.html``; :class:`ReportSettings` holds the
  choices. It runs in stages, one module each (split, fitting, evaluation, decision, exports, review, context
  and render; see :mod:`upliftree.report.pipeline`).
- :func:`experiment_from_frame`: check a table's treatment, control, outcome and feature columns.
- :mod:`upliftree.report.leakage`: screen features for columns recorded after treatment.
- :func:`read_table`, :func:`iter_table`, :class:`TableWriter`: CSV and Parquet, whole or in chunks.

See ``docs/guide.md`` and ``docs/cli.md``.
"""

from .experiment import Experiment, experiment_from_frame
from .io import DataError, TableWriter, iter_table, read_table, write_table
from .pipeline import ARTIFACTS, Report, ReportSettings, make_report

__all__ = ["ARTIFACTS", "DataError", "Experiment", "Report", "ReportSettings", "TableWriter", "experiment_from_frame",
           "iter_table", "make_report", "read_table", "write_table"]
