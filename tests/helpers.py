"""Small models and checks shared by several test files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import multiexpect as me


def assert_resumes_bit_for_bit(model, laws, whole, limit: int, *, study=None,
                               fields=("estimate", "stderr"), **kwargs) -> None:
    """``study(model, laws, **kwargs)`` (``multiexpect.expectations`` by default)
    interrupted after ``limit`` model calls, then resumed from its store, gives ``whole``
    (the uninterrupted study) to the bit in each result attribute of ``fields``, and runs
    only what the interrupted study had not stored."""
    study = me.expectations if study is None else study
    store = me.InMemoryStore()
    crashing = Interrupting(model, limit=limit)
    with pytest.raises(KeyboardInterrupt):
        study(crashing, laws, store=store, **kwargs)
    again = Interrupting(model)
    resumed = study(again, laws, store=store, **kwargs)
    for field in fields:
        assert getattr(resumed, field).tobytes() == getattr(whole, field).tobytes(), field
    assert 0 < again.runs == whole.n_evaluations - crashing.runs  # stored runs not re-run


def within_four_sigma(res, truth) -> bool:
    """Whether every estimate of ``res`` is within its own "four sigma" of ``truth``: ``4 se``
    for a normal interval, Student's t's quantile at the same level (two-sided 6.3e-5) on
    ``diagnostics["dof"]`` where the standard error is read from a few RQMC replicates."""
    dof = res.diagnostics.get("dof")
    scale = 4.0 if dof is None else float(stats.t.ppf(stats.norm.cdf(4.0), dof))
    return bool(np.all(np.abs(res.estimate - np.asarray(truth, dtype=float))
                       < scale * res.stderr))


class Interrupting:
    """A model that raises after ``limit`` calls (a crash mid-study); counts its runs."""

    def __init__(self, model, limit=None):
        self.model, self.limit, self.calls, self.runs = model, limit, 0, 0

    def __call__(self, x):
        self.calls += 1
        if self.limit is not None and self.calls > self.limit:
            raise KeyboardInterrupt("interrupted")
        self.runs += x.shape[0]
        return self.model(x)


class CountingModel:
    """Counts the rows (model runs) and the calls it receives, and keeps their inputs."""

    def __init__(self, model):
        self.model = model
        self.runs = 0
        self.calls = []
        self.inputs = []

    def __call__(self, x):
        self.runs += x.shape[0]
        self.calls.append(x.shape[0])
        self.inputs.append(np.array(x))
        return self.model(x)


def smooth(x):
    """Two smooth outputs of two inputs."""
    return np.column_stack([x[:, 0] + x[:, 1] ** 2, np.exp(0.3 * x[:, 0])])


#: two independent normal inputs
NORM2 = me.Law([stats.norm(0, 1), stats.norm(1, 2)])


def exp_and_sine(x):
    """``exp(0.3 x_a) + sin(x_b)``: a smooth model whose perturbed-law means are exact."""
    return np.exp(0.3 * x[:, 0]) + np.sin(x[:, 1])


def exp_and_sine_shifts() -> tuple:
    """Four mean shifts of ``N(0, 1)^2`` by half a standard deviation and the exact ratio
    indices of :func:`exp_and_sine`'s mean, ``E[exp(0.3 X_a)] + E[sin X_b]`` for
    ``X ~ N(mu, I)``: ``(law, perturbations, indices)``."""
    law = me.Law([stats.norm(0, 1), stats.norm(0, 1)], names=["a", "b"])
    pert = me.mean_shift_perturbations(law, delta=0.5)

    def q(shifted):
        mu_a, mu_b = (float(m.mean()) for m in shifted.marginals)
        return np.exp(0.3 * mu_a + 0.045) + np.sin(mu_b) * np.exp(-0.5)

    return law, pert, np.array([q(p) for p in pert.values()]) / q(law) - 1.0


def flood_moments_and_event(x: np.ndarray) -> np.ndarray:
    """``log H``, ``(log H)^2``, ``sqrt H`` and ``1{H > 7.646}`` (P about 1e-3) of the flood's
    water height ``H = (Q / (K_s B sqrt((Z_m - Z_v) / L)))^(3/5)``, infinite at ``K_s = 0``,
    the lower bound of its truncated normal law, like ``u^-0.6`` there."""
    q, ks, zv, zm, _, _, length, width = x.T
    h = (q / (ks * width * np.sqrt((zm - zv) / length))) ** 0.6
    return np.column_stack([np.log(h), np.log(h) ** 2, np.sqrt(h), (h > 7.646).astype(float)])
