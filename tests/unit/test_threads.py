"""The engine's BLAS on one thread, the model's on the caller's limits (multiexpect.threads)."""

import numpy as np
import pytest
from scipy import stats

import multiexpect as me
from multiexpect.threads import engine_threads

threadpoolctl = pytest.importorskip("threadpoolctl")  # in the test extra: never skipped in CI


def _blas_threads() -> set:
    return {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"}


def test_engine_threads_limit_blas_to_one_and_restore_after():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with engine_threads() as caller:
            assert _blas_threads() == {1}
            assert {lib["num_threads"] for lib in caller.info
                    if lib["user_api"] == "blas"} == before
            with caller.restore():
                assert _blas_threads() == before
            assert _blas_threads() == {1}
        assert _blas_threads() == before
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with engine_threads() as caller:
            assert caller is None  # one thread already: nothing to limit or restore


@pytest.mark.parametrize("method", ["aiscv", "mc"])
def test_the_model_runs_on_the_callers_threads_and_the_result_does_not_depend_on_them(method):
    seen = []

    def model(x):
        seen.append(_blas_threads())
        return x[:, :1] ** 2

    law = me.Law([stats.norm()] * 2)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        caller = _blas_threads()
        two = me.expectations(model, law, budget=600, rng=3, method=method)
        assert _blas_threads() == caller  # restored after the call
    assert seen and all(s == caller for s in seen)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = me.expectations(model, law, budget=600, rng=3, method=method)
    np.testing.assert_array_equal(two.estimate, one.estimate)
    np.testing.assert_array_equal(two.stderr, one.stderr)
