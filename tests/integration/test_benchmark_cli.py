"""The no-regret benchmark refuses bad arguments before any work (and leaves its cached
reference file untouched)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "no_regret.py"
REFERENCE = BENCHMARK.with_name("no_regret_reference.json")


@pytest.mark.parametrize("argv, message", [
    (["--make-reference", "--reference-keys", "cantilever_first,bogus"],
     "unknown reference key(s) ['bogus']; known: ['borehole_first', 'cantilever_100', "
     "'cantilever_first', 'flood_log', 'ishigami_p10']"),
    (["--cases", "gauss_moments,bogus"], "unknown case(s) ['bogus']; known: ['gauss_moments',"),
])
def test_unknown_names_are_refused_before_any_work(argv, message):
    before = REFERENCE.read_bytes()
    done = subprocess.run([sys.executable, str(BENCHMARK), *argv], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    assert message in done.stderr
    assert "options:" not in done.stdout  # no case was started
    assert REFERENCE.read_bytes() == before
