"""README.md's Python examples run as written, in order, as one script, and print what the README shows.

The ```python blocks run in one namespace in a fresh interpreter, in a temporary directory (for the files the
examples write), each compiled at its own line of README.md so that a traceback names the README line that broke.
A ```text block is output the README shows: each must appear in what the script printed, in README order.
The Dask example starts its own in-process cluster, as the README tells readers to.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# Runs the blocks given as a JSON list of [first line, code]: padding each block with blank lines puts its code at
# its README line numbers, so tracebacks point into README.md.
DRIVER = """
import json, sys
namespace = {"__name__": "__main__"}
for line, code in json.load(open(sys.argv[1])):
    exec(compile("\\n" * (line - 1) + code, sys.argv[2], "exec"), namespace)
"""


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # line of README.md where the block's content starts
    text: str


def fenced_blocks(text: str) -> list[Block]:
    return [Block(match[1], text.count("\n", 0, match.start(2)) + 1, match[2]) for match in FENCE.finditer(text)]


def test_every_python_block_is_found():
    text = README.read_text()
    python = [block for block in fenced_blocks(text) if block.language == "python"]
    assert len(python) == text.count("```python") >= 7
    assert {block.language for block in fenced_blocks(text)} <= {"bash", "python", "text"}, \
        "a block in another language would be skipped silently"
    first = python[0]
    assert README.read_text().splitlines()[first.line - 1] == first.text.splitlines()[0]


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    blocks = fenced_blocks(README.read_text())
    work = tmp_path_factory.mktemp("readme")
    (work / "blocks.json").write_text(json.dumps([[b.line, b.text] for b in blocks if b.language == "python"]))
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", DRIVER, "blocks.json", str(README)], cwd=work, env=env,
                            capture_output=True, text=True, timeout=900)
    return result, work, [block.text for block in blocks if block.language == "text"]


def require_success(result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        pytest.fail(f"README.md's Python examples failed:\n{result.stderr[-6000:]}", pytrace=False)


def test_readme_python_blocks_run_in_order_as_one_script(readme_run):
    require_success(readme_run[0])


def test_readme_shows_what_its_examples_print(readme_run):
    result, _, shown = readme_run
    require_success(result)
    printed = "\n".join(line.rstrip() for line in result.stdout.splitlines())
    assert shown, "README shows no output to check"
    position = 0
    for output in shown:
        expected = "\n".join(line.rstrip() for line in output.strip("\n").splitlines())
        found = printed.find(expected, position)
        assert found >= 0, f"README shows\n{expected}\nbut its examples printed\n{printed[position:][:4000]}"
        position = found + len(expected)


def test_readme_examples_write_the_files_they_name(readme_run):
    import upliftree

    result, work, shown = readme_run
    require_success(result)
    for name in ("qini.png", "tree.svg", "model.json", "eligibility.csv", "policy_test.html"):
        assert (work / name).stat().st_size > 0, name
    # model.json is the pruned tree whose size the README shows.
    n_leaves = int(re.search(r"(\d+) after pruning", "\n".join(shown))[1])
    assert upliftree.load(work / "model.json").n_leaves_ == n_leaves
