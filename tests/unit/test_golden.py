"""Regression: every golden call gives the recorded estimates and standard errors.

The calls and the recorder are in ``tests/golden/make_golden.py``. A refactor leaves
``golden.json`` unchanged, bit for bit (the default). A commit that only reorders
floating-point operations (batched densities, say) may check itself with
``MULTIEXPECT_GOLDEN_RELATIVE=1`` (every recorded float within ``RELATIVE`` = 1e-12
relative, every count exact) and then re-records the file in a commit of its own that says
so; a deliberate numeric change re-records it in its own commit that says which values
changed and why.

The file holds on numpy's AVX2 kernels and OpenBLAS's Haswell kernels, which
``scripts/test.sh`` selects on every x86-64 machine (AVX-512 ones round differently in the
last bits); run and record under the same two variables:
``NPY_DISABLE_CPU_FEATURES="$(python3 scripts/avx512_features.py)" OPENBLAS_CORETYPE=Haswell``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "golden"
SPEC = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
make_golden = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(make_golden)
GOLDEN = json.loads((HERE / "golden.json").read_text())
CALLS = dict(make_golden.cases())
RELATIVE = 1e-12
EXACT = os.environ.get("MULTIEXPECT_GOLDEN_RELATIVE", "") in ("", "0")


def _avx512_active() -> bool:
    """Whether numpy dispatches any of its AVX-512 kernels in this process."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "avx512_features.py"
    spec = importlib.util.spec_from_file_location("avx512_features", path)
    features = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(features)
    return features.avx512_running(os.environ.get("NPY_DISABLE_CPU_FEATURES", ""))


def mismatches(got, want, path: str = "") -> list[str]:
    """Where ``got`` and ``want`` differ: float hex strings beyond ``RELATIVE`` (or at all
    when ``EXACT``), anything else when not equal."""
    if isinstance(want, dict) and isinstance(got, dict):
        if sorted(got) != sorted(want):
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [m for k in want for m in mismatches(got[k], want[k], f"{path}/{k}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} values != {len(want)}"]
        return [m for i, (g, w) in enumerate(zip(got, want))
                for m in mismatches(g, w, f"{path}/{i}")]
    if isinstance(want, str) and isinstance(got, str) and not EXACT:
        try:
            g, w = float.fromhex(got), float.fromhex(want)
        except ValueError:
            return [] if got == want else [f"{path}: {got!r} != {want!r}"]
        if g == w or abs(g - w) <= RELATIVE * max(abs(g), abs(w)):
            return []
        return [f"{path}: {g!r} != {w!r} (relative {abs(g - w) / max(abs(g), abs(w)):.1e})"]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def test_golden_covers_every_call():
    assert sorted(GOLDEN) == sorted(CALLS)


def test_tolerance_mode_compares_floats_relatively():
    one = (1.0).hex()
    assert mismatches([one], [(1.0 + 4e-16).hex()]) == [] or EXACT
    assert mismatches([one], [(1.0 + 1e-9).hex()]) != []
    assert mismatches({"n_evaluations": 3}, {"n_evaluations": 4}) != []


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xdist_group("demo")) if n == "cli/demo" else n
    for n in sorted(CALLS)])  # one worker runs the session's demo (conftest.demo_run)
def test_golden_call(name, request):
    assert not _avx512_active(), (
        "numpy runs AVX-512 kernels here, which round differently from the golden file's: "
        "run the suite through scripts/test.sh (or set NPY_DISABLE_CPU_FEATURES as it does)")
    if name == "cli/demo":  # the session's one demo run (conftest.demo_run)
        code, _, err, folder = request.getfixturevalue("demo_run")
        assert code in (0, None), err
        got = make_golden.demo_record(folder)
    else:
        got = make_golden._record(CALLS[name]())
    assert mismatches(got, GOLDEN[name]) == []
