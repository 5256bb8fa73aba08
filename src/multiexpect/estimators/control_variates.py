"""Control coefficients ``β`` by least squares on a batch drawn from ``g_α``.

On points ``X_i ~ g_α`` the responses are ``r_ij = phi_j f_j / g_α`` and the controls
``c_ik = g_k / g_α - 1`` (mean zero: every ``g_k`` is a density). The coefficient that
minimises the variance of ``r_j - β_j·c`` is the least-squares slope of ``r_j`` on ``c``
(with intercept). Because ``sum_k α_k c_k = 0`` the controls are collinear; the minimum-norm
solution is taken, with directions below ``RCOND`` times the largest singular value dropped
(near-collinear controls extrapolate badly). The residual variance is divided by
``n - 1 - rank`` (the degrees of freedom the fit used) so the predicted error is not
flattered by the fit.

``mask`` says which controls each quantity may use: its own components (the paper's choice)
or every component (a ``J x K`` regression, the permitted improvement).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lstsq
from scipy.linalg.lapack import dgeqrf, dormqr

__all__ = ["regress_controls", "regress_from_moments"]

#: Relative singular-value cut-off of the regression on standardised controls. The controls
#: ``g_k / g_α - 1`` of components with similar shapes are nearly collinear on a batch; a
#: permissive cut-off fits large coefficients of alternating signs that cancel on the batch
#: but not at the rare far points of the final sample (the values tried: docs/method.md).
RCOND = 1e-3
#: A dropped direction whose singular value is below this times the largest is null (the
#: controls' exact collinearity leaves about ``1e-16``): see :func:`_truncated_lstsq`.
NULL_DIRECTION = 1e-10


def regress_controls(r: np.ndarray, c: np.ndarray, mask: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``β`` ((J, K)) and the residual variances ((J,)).

    Parameters
    ----------
    r : (n, J) array
        Responses ``phi_j f_j / g_α``.
    c : (n, K) array
        Controls ``g_k / g_α - 1``.
    mask : (J, K) bool array
        Which controls each quantity may use. Quantities sharing a mask are solved together.
    """
    n, k = c.shape
    j = r.shape[1]
    beta = np.zeros((j, k))
    rc = r - r.mean(axis=0)
    # column-major, as the columns picked from it are (numpy's fancy indexing), so that a
    # design of every column is the array itself: the same sums, one copy fewer
    cc = np.subtract(c, c.mean(axis=0), order="F")
    variance = np.sum(rc**2, axis=0) / max(n - 1, 1)
    patterns: dict[bytes, list[int]] = {}
    for row in range(j):
        patterns.setdefault(mask[row].tobytes(), []).append(row)
    for rows in patterns.values():
        cols = np.flatnonzero(mask[rows[0]])
        if cols.size == 0:
            continue
        design = cc if cols.size == k else np.asfortranarray(cc[:, cols])
        work = np.square(design)
        scale = np.sqrt(np.mean(work, axis=0))
        usable = scale > 0
        if not np.any(usable):
            continue
        if not np.all(usable):
            cols, design, scale = cols[usable], design[:, usable], scale[usable]
            work = np.empty_like(design)
        # every quantity in one pattern (the commonest case): the responses themselves when
        # column-major, the layout of the columns picked otherwise
        every = rows == list(range(j)) and rc.flags.f_contiguous
        picked = rc if every else rc[:, rows]
        sol, rank = _truncated_lstsq(np.divide(design, scale, out=work), picked)
        coef = sol / scale[:, None]
        resid = np.subtract(picked, design @ coef)
        dof = max(n - 1 - int(rank), 1)
        beta[np.ix_(rows, cols)] = coef.T
        variance[rows] = np.sum(np.square(resid, out=resid), axis=0) / dof
    return beta, variance


def _truncated_lstsq(design: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, int]:
    """Minimum-norm least squares ``design @ sol ≈ rhs`` with directions below ``RCOND``
    dropped, and the rank kept: LAPACK ``gelsy`` (QR with column pivoting, rank-revealing
    like the SVD, several times faster). With more rows than columns the tall ``design =
    Q R`` is first factored by the blocked, unpivoted QR (``geqrf``, ``ormqr`` for ``Q^T
    rhs``) and ``gelsy`` solves the square ``R sol ≈ Q^T rhs``: the same solution and
    singular values (``Q`` is orthogonal), to rounding, and the pivoted factorisation then
    runs on ``k x k`` rather than ``n x k``. Dropping exact null directions (the controls'
    own collinearity ``sum_k α_k c_k = 0``) leaves the minimum-norm solution, whatever the
    pivots; but when a dropped direction is not null (singular value above
    ``NULL_DIRECTION`` times the largest), which directions are dropped depends on the
    pivots, and the columns, standardised to one norm, tie at the first pivot: the rounding
    of ``R`` could pick others, so ``gelsy`` is then run on ``design`` itself."""
    n, k = design.shape
    if n <= k:
        sol, _, rank, _ = lstsq(design, rhs, cond=RCOND, lapack_driver="gelsy",
                                check_finite=False)
        return sol, int(rank)
    qr, tau, _, info = dgeqrf(np.array(design, order="F"), overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"geqrf failed (info={info})")
    width = rhs.shape[1]
    qt_rhs, _, info = dormqr("L", "T", qr, tau, np.array(rhs, order="F"),
                             max(1, width) * 64, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"ormqr failed (info={info})")
    r = np.triu(qr[:k])
    sol, _, rank, _ = lstsq(r, qt_rhs[:k], cond=RCOND, lapack_driver="gelsy",
                            check_finite=False)
    if rank < k:
        singular = np.linalg.svd(r, compute_uv=False)
        if not singular[rank] <= NULL_DIRECTION * singular[0]:  # pivot-dependent: gelsy's own
            sol, _, rank, _ = lstsq(design, rhs, cond=RCOND, lapack_driver="gelsy",
                                    check_finite=False)
    return sol, int(rank)


def regress_from_moments(n: float, s_r: np.ndarray, s_c: np.ndarray, s_cc: np.ndarray,
                         s_cr: np.ndarray, mask: np.ndarray, rcond: float = RCOND
                         ) -> np.ndarray:
    """Least-squares ``β`` ((J, K)) from the sums over ``n`` points of the responses
    ``s_r`` (J,), the controls ``s_c`` (K,), ``s_cc = sum c c^T`` (K, K) and
    ``s_cr = sum c r^T`` (K, J): the slope of :func:`regress_controls` from its normal
    equations, so that sums over several samples can be added and subtracted (a fit that
    leaves one sample out). On the standardised controls, directions whose singular value is
    below ``rcond`` times the largest (eigenvalues of the Gram matrix below ``rcond^2``
    times the largest) are dropped, as :func:`regress_controls` drops them (``rcond`` is
    :data:`RCOND` there)."""
    n = float(n)
    cc = s_cc - np.outer(s_c, s_c) / n
    cr = s_cr - np.outer(s_c, s_r) / n
    beta = np.zeros((s_r.shape[0], s_c.shape[0]))
    patterns: dict[bytes, list[int]] = {}
    for row in range(beta.shape[0]):
        patterns.setdefault(mask[row].tobytes(), []).append(row)
    for rows in patterns.values():
        cols = np.flatnonzero(mask[rows[0]])
        scale = np.sqrt(np.clip(np.diag(cc)[cols], 0.0, None) / n)
        cols, scale = cols[scale > 0], scale[scale > 0]
        if cols.size == 0:
            continue
        gram = cc[np.ix_(cols, cols)] / np.outer(scale, scale)
        vals, vecs = np.linalg.eigh(gram)
        keep = vals > rcond**2 * vals[-1]
        proj = vecs[:, keep]
        sol = proj @ ((proj.T @ (cr[np.ix_(cols, rows)] / scale[:, None])) / vals[keep][:, None])
        beta[np.ix_(rows, cols)] = (sol / scale[:, None]).T
    return beta
