"""Spending the runs of the pilot and of the adaptive batches in the final estimate.

The final stage draws ``n_F`` fresh points from the kept proposal ``g_F`` (an adapted
mixture, or the law itself ``f``, or ``f̄`` for several laws). Without pooling, the runs spent
adapting are lost: at a tie with crude MC the estimate uses only the final fraction of the
budget. Each earlier stage ``s`` (the pilot, ``g_0 = f``, and each batch) was drawn from a
proposal ``g_s`` fixed before it, so its plain importance-sampling mean
``Î_s = mean(phi f / g_s)`` is unbiased. The pooled estimate of each quantity ``j`` is

.. math::

    Î_j = λ_{Fj} Î_{Fj} + \\sum_s λ_{sj} Î_{sj}, \\qquad
    λ_{sj} ∝ n_s / V_{sj}, \\qquad V_{sj} = \\operatorname{Var}_{g_s}(phi_j f_j / g_s),

the combination of independent unbiased estimates with the smallest variance (``V_Fj``: the
final summands' variance, control variates applied), each quantity on its own, so that a
quantity the kept proposal serves no better than the stages did is not left with the final
fraction of the budget while the others gain. With ``tie``, a stage joins quantity ``j``
only where ``V_sj <= tie V_Fj``, and ``quantities`` selects the quantities that pool at all
(the engine's rule: :func:`multiexpect.engine.pooling_rule`). The stage variances are
**not** read from the stages' own points: a batch that missed a rare region looks precise
(the trap of method.md section 6), and a variance measured on the points that made ``Î_s``
grows with it (an event's ``Var ≈ Î_s``), so a stage with more hits than expected would get
less weight and the pooled estimate would be biased low (measured in ``docs/method.md``).
They are estimated on the final sample, independent of every earlier stage, by reweighting:

.. math::

    E_{g_s}[r_s r_s^T] = E_{g_F}[r_F r_F^T \\, g_F / g_s], \\qquad r = phi f / g,

where the integrand ``phi^2 f^2 / (g_F g_s) <= phi^2 / δ^2`` because every proposal keeps the
law with weight ``>= δ`` (the defensive floor). The caller reweights every final point or
its first rows only (:meth:`StagePooling.reweight`; the engine stops after
:data:`multiexpect.engine.final.REWEIGHT_POINTS`): the weights need the stages' variances to
a few per cent, not to the final estimate's precision. A stage that would only add noise gets a
small ``λ_sj``. The covariance of ``Î`` is ``Cov(Î_j, Î_k) = sum_s λ_sj λ_sk C_s,jk / n_s``
with no cross terms between stages: each stage (the final one included) is unbiased given
everything drawn before it, so ``Cov(Î_s, Î_t) = E[(Î_s - I) E[Î_t - I | stages < t]] = 0``
for ``s < t``, however much the later proposals read the earlier stages.

The weights depend on the final sample, and which proposal is kept depends on the stages, so
``Î`` is unbiased up to small terms (those of any estimated inverse-variance combination);
the repetition tests measure bias and coverage.
"""

from __future__ import annotations

import numpy as np

from .importance import StreamingMoments

__all__ = ["StagePooling"]


#: Responses (rows x quantities) :class:`StagePooling` keeps for its stages' moments (64 MB);
#: beyond, it forms every stage's moment as the rows come.
KEPT_ENTRIES = 1 << 23


def _scaled_square(responses: np.ndarray, root: np.ndarray, s: int) -> np.ndarray:
    """``r r^T (g_F / g_s)`` summed over the rows, as ``u^T u`` with ``u = r sqrt(g_F /
    g_s)``: a product of an array with its own transpose, which numpy hands to BLAS ``syrk``
    (half a general product)."""
    scaled = responses * root[:, s:s + 1]
    return scaled.T @ scaled


class StagePooling:
    """Accumulate the final sample's reweighted second moments and pool earlier stages.

    Parameters
    ----------
    stage_means : (S, J) array
        Plain importance-sampling means ``Î_s`` of the pooled stages.
    stage_sizes : (S,) array
        Points ``n_s`` of each stage.
    """

    def __init__(self, stage_means: np.ndarray, stage_sizes: np.ndarray):
        self.stage_means = np.asarray(stage_means, dtype=float).reshape(len(stage_sizes), -1)
        self.stage_sizes = np.asarray(stage_sizes, dtype=float)
        n_stages, width = self.stage_means.shape
        self.final = StreamingMoments(width, covariance=True)
        self.n_reweighted = 0  # final-stage rows in the stages' second moments
        # the reweighted rows, kept (read only) until combine: r and sqrt(g_F / g_s)
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._kept = 0  # entries of the kept responses
        self._second: np.ndarray | None = None  # every stage's sum r r^T g_F / g_s, if formed
        self._diagonal = np.zeros((n_stages, width))  # sum of r_j^2 g_F / g_s
        self._finite = np.ones(n_stages, dtype=bool)

    def update(self, summands: np.ndarray, responses: np.ndarray, log_ratio: np.ndarray
               ) -> None:
        """Add final-stage rows to the final moments and to the stages' second moments.

        Parameters
        ----------
        summands : (n, J) array
            The final estimator's summands (control variates applied).
        responses : (n, J) array
            Plain importance-sampling responses ``r_F = phi f / g_F`` at the same points.
        log_ratio : (n, S) array
            ``log(g_F / g_s)`` at the same points.
        """
        self.final.update(summands)
        self.reweight(responses, log_ratio)

    def reweight(self, responses: np.ndarray, log_ratio: np.ndarray) -> None:
        """Add final-stage rows to the stages' second moments only (``responses`` and
        ``log_ratio`` as in :meth:`update`; their summands go to ``final`` separately).
        The rows are kept, not copied (the caller does not change them): :meth:`combine`
        forms a stage's whole second moment only when some quantity may pool it, and its
        diagonal, ``(r^2)^T (g_F / g_s)``, decides. Beyond ``KEPT_ENTRIES`` kept responses
        every stage's moment is formed from them and then row by row as they come."""
        self.n_reweighted += responses.shape[0]
        with np.errstate(over="ignore"):  # a stage with no mass where g_F has: left out
            ratio = np.exp(log_ratio)
        self._finite &= np.all(np.isfinite(ratio), axis=0)
        root = np.sqrt(np.where(np.isfinite(ratio), ratio, 0.0))
        with np.errstate(over="ignore", invalid="ignore"):
            self._diagonal += np.square(root).T @ np.square(responses)
        if self._second is not None:
            for s in range(root.shape[1]):
                self._second[s] += _scaled_square(responses, root, s)
            return
        self._chunks.append((responses, root))
        self._kept += responses.size
        if self._kept > KEPT_ENTRIES:
            self._second = np.stack([self._second_moment(s) for s in range(root.shape[1])])
            self._chunks = []

    def _second_moment(self, s: int) -> np.ndarray:
        """Stage ``s``'s ``sum r r^T g_F / g_s`` over the kept rows, chunk by chunk (the
        order in which the rows came: the same sums as formed row by row)."""
        if self._second is not None:
            return self._second[s]
        second = np.zeros((self._diagonal.shape[1],) * 2)
        for responses, root in self._chunks:
            second += _scaled_square(responses, root, s)
        return second

    def combine(self, tie: float = np.inf, quantities: np.ndarray | None = None) -> dict:
        """The pooled estimate, its covariance and the stage weights ``λ``, per quantity.

        Each quantity ``j`` has its own weights ``λ_sj ∝ n_s / V_sj`` (its variance under
        stage ``s``, reweighted from the final sample), so a quantity that the kept proposal
        does not serve better than the stages did still gets their runs.

        Parameters
        ----------
        tie : float
            A stage joins quantity ``j``'s estimate only if ``V_sj <= tie V_Fj``: where the
            final stage is much better, a stage would add little and its variance, estimated
            from heavy-tailed reweighted terms, could be far too low.
        quantities : (J,) bool array, optional
            The quantities that pool the stages (all by default); the others keep the final
            stage's estimate.

        Returns
        -------
        dict
            ``estimate`` (J,), ``covariance`` (J, J), ``lambdas`` (S + 1, J) with the final
            stage's weights last.
        """
        final = self.final
        mean_f = final.mean
        cov_f = final.covariance
        final_var = np.diag(cov_f)
        n_rows = max(self.n_reweighted, 1)
        outer = np.outer(mean_f, mean_f)
        # each stage's whole second moment only where a quantity may pool it: decided on
        # the diagonal (another rounding of the same sums) with a margin far above that
        # rounding, so a stage left out here would be left out on the whole moment too
        with np.errstate(over="ignore", invalid="ignore"):
            rough = self._diagonal / n_rows - np.diag(outer)[None, :]
            margin = 1e-9 * (np.abs(self._diagonal) / n_rows + np.diag(outer)[None, :])
        maybe = self._usable(rough, margin, final_var, tie, quantities, mean_f).any(axis=1)
        second = np.zeros((len(self.stage_sizes), *outer.shape))
        second[:, np.arange(outer.shape[0]), np.arange(outer.shape[0])] = self._diagonal
        for s in np.flatnonzero(maybe):
            second[s] = self._second_moment(int(s))
        stage_cov = second / n_rows - outer[None]
        variances = np.vstack([np.diagonal(stage_cov, axis1=1, axis2=2), final_var])
        sizes = np.append(self.stage_sizes, float(final.n))
        usable = np.vstack([self._usable(variances[:-1], 0.0, final_var, tie, quantities,
                                         mean_f),
                            np.ones((1, variances.shape[1]), dtype=bool)])
        precision = np.where(usable, sizes[:, None]
                             / np.where(usable & (variances > 0), variances, 1.0), 0.0)
        lambdas = precision / precision.sum(axis=0)
        means = np.where(usable, np.vstack([self.stage_means, mean_f[None]]), 0.0)
        covs = np.concatenate([stage_cov, cov_f[None]])
        covs = np.where(usable[:, :, None] & usable[:, None, :], covs, 0.0)
        estimate = np.sum(lambdas * means, axis=0)
        covariance = np.einsum("sj,sk,sjk->jk", lambdas, lambdas, covs / sizes[:, None, None])
        return {"estimate": estimate, "covariance": covariance, "lambdas": lambdas}

    def _usable(self, variances: np.ndarray, margin, final_var: np.ndarray, tie: float,
                quantities: np.ndarray | None, final_mean: np.ndarray) -> np.ndarray:
        """Which stages ((S, J) bool) quantity ``j`` may pool (:meth:`combine`'s rule) with
        the stages' variances ``variances`` ((S, J)); with a ``margin`` ((S, J)) every
        stage that could be usable with variances that far off (a non-finite variance
        included: a NaN margin as well). Where the final summands are constant (variance
        0), a stage joins only with the final mean as its own: a quantity 0 at every run
        seen pools its stages' zeros, but an estimate the controls made exact (``E[1]``)
        is not mixed with the stages' plain means, whose variance estimated on the final
        sample can come out at or below 0."""
        maybe = np.asarray(margin) != 0
        usable = self._finite[:, None] & np.isfinite(self.stage_means)
        usable &= np.isfinite(variances) | maybe
        if quantities is not None:
            usable &= np.asarray(quantities, dtype=bool)[None, :]
        positive = final_var > 0
        # a stage whose variance estimate is not positive cannot be weighed: left out; where
        # the final sample is constant (a quantity 0 everywhere seen), stages with variance
        # 0 too are pooled by size (their "variance" below is 1)
        limit = tie * np.where(positive, final_var, 1.0)
        with np.errstate(invalid="ignore"):
            low, high = variances - margin, variances + margin
            unknown = maybe & ~(np.isfinite(low) & np.isfinite(high))
            same = self.stage_means == np.asarray(final_mean)[None, :]
            usable &= unknown | np.where(positive, (high > 0) & (low <= limit),
                                         (low <= 0) & same)
        return usable
