"""Hypothesis profiles (tests/conftest.py): "ci" replays the same examples on every run, "dev" draws new ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import hypothesis_profile
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("environ", "profile"), [
    ({}, "dev"),
    ({"CI": "true"}, "ci"),
    ({"CI": ""}, "dev"),
    ({"HYPOTHESIS_PROFILE": "ci"}, "ci"),
    ({"HYPOTHESIS_PROFILE": "dev", "CI": "true"}, "dev"),
])
def test_profile_is_chosen_by_hypothesis_profile_then_ci(environ, profile):
    assert hypothesis_profile(environ) == profile


def drawn_examples(profile: str) -> list[int]:
    drawn = []

    @settings(settings.get_profile(profile), max_examples=25, database=None)
    @given(st.integers(0, 2**62))
    def record(value):
        drawn.append(value)

    record()
    return drawn


def test_ci_profile_replays_the_same_examples_and_dev_draws_new_ones():
    assert drawn_examples("ci") == drawn_examples("ci")
    assert drawn_examples("dev") != drawn_examples("dev")
    for name in ("ci", "dev"):
        profile = settings.get_profile(name)
        assert profile.deadline is None and profile.print_blob


def test_no_test_decides_derandomization_itself():
    """Whether examples are replayed is the profile's decision: a test that fixes it would never vary under "dev"."""
    offenders = [path.name for path in (ROOT / "tests").glob("test_*.py")
                 if re.search(r"derandomize\s*=\s*True", path.read_text())]
    assert offenders == []


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("environ", "profile"), [({}, "ci"), ({"HYPOTHESIS_PROFILE": "dev"}, "dev")])
def test_make_test_runs_the_ci_profile_unless_told_otherwise(environ, profile):
    probe = "print-profile:\n\t@echo $$HYPOTHESIS_PROFILE\n"  # a target that sees the Makefile's recipe environment
    env = {key: value for key, value in os.environ.items() if key != "HYPOTHESIS_PROFILE"} | environ
    result = subprocess.run(["make", "-s", "-f", "Makefile", "-f", "-", "print-profile"], input=probe, cwd=ROOT,
                            env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == profile
