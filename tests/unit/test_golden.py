"""Bit-for-bit regression: every golden call gives the recorded estimates and standard errors.

The calls and the recorder are in ``tests/golden/make_golden.py``. A refactor leaves
``golden.json`` unchanged; a deliberate numeric change re-records it in its own commit
that says which values changed and why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "golden"
SPEC = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
make_golden = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_golden)
GOLDEN = json.loads((HERE / "golden.json").read_text())
CALLS = dict(make_golden.cases())


def test_golden_covers_every_call():
    assert sorted(GOLDEN) == sorted(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_golden_call_bit_for_bit(name):
    result = CALLS[name]()
    got = result if name == "cli/demo" else make_golden._record(result)
    assert got == GOLDEN[name]
