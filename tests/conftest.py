"""Shared fixtures and helpers for the test suite."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The CLI demo run once for the session (about 13 s): its exit code, stdout, stderr and
    folder. Its own test and its golden record both read this one run."""
    import contextlib
    import io

    from multiexpect.cli.main import main

    out = tmp_path_factory.mktemp("demo") / "demo"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["demo", "--out", str(out), "--no-progress"])
    return code, stdout.getvalue(), stderr.getvalue(), out


@pytest.fixture
def normal_law():
    return me.Law([stats.norm(0, 1)])


def gaussian_moments(x):
    """``x^(2j)``, j = 1..4, of the first input."""
    return x[:, :1] ** (2 * np.arange(1, 5))


GAUSSIAN_MOMENTS = np.array([1.0, 3.0, 15.0, 105.0])
