"""The ``upliftree`` command line."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Interpretable uplift trees: fit, evaluate, export and decide.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """Interpretable uplift trees: fit, evaluate, export and decide."""


@app.command()
def demo(
    out: Path = typer.Option(Path("upliftree-demo"), "--out", help="Folder for the demo's outputs."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the synthetic experiment and the models."),
) -> None:
    """Fit an honest uplift tree on a built-in synthetic experiment and print its segments."""
    from .datasets import FEATURES, make_uplift_data
    from .tree import UpliftTreeClassifier

    data = make_uplift_data(40_000, random_state=seed)
    model = UpliftTreeClassifier(max_depth=3, min_samples_leaf=500, control="control", honest=True,
                                 random_state=seed)
    model.fit(data[FEATURES], data["treatment"], data["outcome"])
    out.mkdir(parents=True, exist_ok=True)
    leaves = model.tree_.leaf_ids
    typer.echo(f"Fitted a tree with {model.n_leaves_} leaves; uplift per leaf:")
    for leaf, uplift in zip(leaves, model.tree_.uplift[leaves, 0], strict=True):
        typer.echo(f"  leaf {leaf}: {uplift:+.3f}")


def main() -> None:
    app()
