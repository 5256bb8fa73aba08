r"""A polynomial chaos control variate for the RQMC pick-freeze quantities.

Every pick-freeze quantity is the mean of a quadratic form of the outputs of one point's
runs (:class:`~multiexpect.sensitivity.sobol.PickFreezeLayout`): ``θ = E[q(Y)]``. For a
polynomial ``g`` of the standard inputs the same forms have closed-form means ``θ(g)``
(Sobol' 2001: in an orthonormal basis the partial variances are sums of squared
coefficients), so

    θ̂_cv = mean(q(Y) - q(G)) + θ(g),       G = g(the same runs' standard inputs),

is again an estimate of ``θ``, and its error is that of the net's integral of
``q(Y) - q(G)``, a form in the residual ``Y - G``: small where ``g`` follows the model.
``g`` is a total-degree polynomial chaos fitted by least squares: per input, orthonormal
Legendre polynomials of ``u = Φ(z)`` when its law is bounded, orthonormal (probabilists')
Hermite polynomials of ``z`` otherwise. The fit is **cross-fitted by blocks** (the one
net's blocks, or the replicates' nets): the points of block ``b`` are corrected with the
``g`` fitted on the other blocks' first two runs a point (``Y`` and ``Y'``; ``Y'`` and
``Y^(1)`` for total order alone), so no point's correction was fitted on its own outputs
(no overfitting bias), and the interval (the blocks' spread, ``"net-blocks"``, or Student's
t over the replicates) is that of the corrected values.
A quantity takes the corrected values only where their variance is at most
:data:`~multiexpect.polychaos.MAX_SHARE` of its plain values' (over all points): where the
fit explodes out of its blocks (a bounded model under Hermite polynomials of its normal
scores: the products ``g g^(i)`` of the tails are heavy, and a net cannot integrate them) the
quantity stays plain. Where ``g`` equals the model (a polynomial model) the corrected values
agree to rounding: each controlled quantity's standard error is then kept at least
:data:`~multiexpect.polychaos.RESOLUTION` times the root mean square of its plain values, the
arithmetic's resolution, never zero.

The basis has the largest total degree ``p <= MAX_DEGREE`` with at most
``min(MAX_TERMS, fit rows / ROWS_PER_TERM)`` terms (``C(p + d, d)``), plus, below
``MAX_DEGREE`` and in a basis of Legendre polynomials only, the terms of degree ``p + 1`` in
the inputs that interact most in its fit (:func:`~multiexpect.polychaos.raised_indices`, as
many inputs as the cap allows; a higher Hermite degree makes the products ``g g^(i)`` heavy
at a net's extreme points), lowered until the chaos's exact variance agrees with its
variance on the fit rows (:data:`TAIL_Z`: a polynomial that grows beyond the rows would add
back variance they never subtract). A quantity also stays plain where its corrected block
means spread more than :data:`BLOCK_VETO` times its plain ones'. For a law with an
unbounded input the chaos is fitted in two bases, the law's own and Legendre polynomials of
``u = Φ(z)`` for every input; the basis kept is the one whose controlled block means spread
less (a kink the net integrates well, ``|x|`` of a normal input, takes Legendre; a
polynomial of normal inputs keeps Hermite). A basis with Hermite polynomials is not used
where the blocks' leave-one-out fits disagree about the second moment beyond the fit rows
by more than :data:`EXTRAPOLATION_Z` standard errors of the controlled one (a model like
``exp(x_1)``, whose variance lies partly where no run goes). docs/method.md, "The degree's
tail check", "Two bases, and the block spread" and "The extrapolation check".
"""

from __future__ import annotations

import numpy as np

from ..polychaos import (
    CHAOS,
    MAX_DEGREE,
    MAX_SHARE,
    MAX_TERMS,
    RESOLUTION,
    ROWS_PER_TERM,
    bounded_inputs,
    chaos_at,
    chaos_degree,
    multi_indices,
    normal_equations,
    raised_indices,
    term_cap,
)

__all__ = ["EXTRAPOLATION_Z", "MAX_DEGREE", "MAX_TERMS", "MIN_BLOCK_POINTS", "ROWS_PER_TERM",
           "TAIL_Z", "chaos_degree", "chaos_fits", "check_chaos", "controlled_values"]

#: Points a block at least: below it the blocks' interval of the controlled values
#: under-covered (measured: docs/method.md, "The chaos control variate").
MIN_BLOCK_POINTS = 64
#: A chaos degree is kept only where the fitted chaos's exact variance exceeds its variance
#: on the fit rows by at most this many standard errors of the outputs' sample variance
#: (:func:`_tail_consistent_degree`; its choice: docs/benchmarks.md).
TAIL_Z = 4.0
#: A quantity whose corrected block means spread more than this many times (variance) as
#: much as its plain block means stays plain (:func:`_keeps_control`).
BLOCK_VETO = 4.0
#: The chaos is not used where the jackknife standard error (over the blocks' leave-one-out
#: fits) of its closed-form second moment beyond the fit rows exceeds this many standard
#: errors of the controlled second moment (:func:`_extrapolation_ratio`; its choice:
#: docs/benchmarks.md).
EXTRAPOLATION_Z = 4.0


def check_chaos(points: int, blocks: int, dim: int) -> int:
    """The chaos's degree for one net of ``points`` points in ``blocks`` blocks and ``dim``
    inputs, checked before any run: a ValueError naming ``surrogate`` when a block gets
    fewer than :data:`MIN_BLOCK_POINTS` points or not even degree 1 fits."""
    if points // blocks < MIN_BLOCK_POINTS:
        raise ValueError(f"'surrogate' needs at least {MIN_BLOCK_POINTS} points a block: "
                         f"{points} points in {blocks} blocks give {points // blocks}; raise "
                         f"'budget' or lower 'blocks'")
    return chaos_degree(dim, _fit_rows(points, blocks))


def chaos_fits(points: int, blocks: int, dim: int) -> bool:
    """Whether :func:`check_chaos` accepts ``points`` points in ``blocks`` blocks of ``dim``
    inputs (the law route of ``sampling="auto"`` takes the chaos only then)."""
    try:
        check_chaos(points, blocks, dim)
    except ValueError:
        return False
    return True


def _tail_consistent_degree(gram: np.ndarray, moment: np.ndarray, alphas: np.ndarray,
                            y: np.ndarray) -> int:
    """The largest total degree ``p`` whose chaos, fitted on all fit rows (``y`` their
    outputs, ``gram`` and ``moment`` their normal equations), has an exact variance under
    the law ``sum_{k>0} c_k^2`` at most :data:`TAIL_Z` standard errors of the outputs'
    sample variance above its variance on those rows (both from ``gram``: the first basis
    column is 1). A polynomial that grows where the rows are sparse (Hermite polynomials of
    a bounded or periodic model's normal scores) holds variance in the law's tails that no
    sample of this size reaches: its exact moments, which the control adds back, then
    exceed what the rows' values subtract, a bias many standard errors wide. Degree 1 is
    always kept (a linear chaos holds no such tail)."""
    rows = y.size
    centred = (y - y.mean()) ** 2
    se = float(np.std(centred) / np.sqrt(rows))
    order = alphas.sum(axis=1)
    top = int(order.max())
    if se <= 0:
        return top
    for degree in range(top, 1, -1):
        terms = int(np.sum(order <= degree))
        g, m = gram[:terms, :terms], moment[:terms]
        coef = np.linalg.lstsq(g, m, rcond=None)[0]
        sample = float(coef @ g @ coef) / rows - (float(coef @ g[:, 0]) / rows) ** 2
        if float(np.sum(coef[1:] ** 2)) - sample <= TAIL_Z * se:
            return degree
    return 1


def _unseen_square(coef: np.ndarray, gram: np.ndarray, rows: int, centre: float) -> float:
    """``E[(g - centre)^2] - mean over the fit rows of (g - centre)^2`` for the chaos
    ``coef`` (``gram`` the fit rows' normal matrix, ``rows`` their number; the first basis
    column is 1): the part of the closed-form second moment the rows do not hold, which the
    control takes from the polynomial alone."""
    c = np.array(coef, dtype=float)
    c[0] -= centre
    return float(np.sum(c**2) - c @ gram @ c / rows)


def _extrapolation_ratio(unseen: np.ndarray, s_values: np.ndarray, block_of: np.ndarray,
                         blocks: int, floor: float) -> float:
    """The jackknife standard error of :func:`_unseen_square` over the blocks'
    leave-one-out fits (``unseen``), over the standard error of the second-moment
    quantity ``S`` the control reports (its ``s_values``' block spread, at least
    ``floor``): above :data:`EXTRAPOLATION_Z` the fits disagree about the region the rows
    do not reach by more than the precision claimed, and the control is not used. Only a
    basis with Hermite polynomials is checked: Legendre polynomials of ``u`` are bounded, and
    the region of ``u`` the rows do not reach has a measure of about ``1 / rows``."""
    jack = np.sqrt((blocks - 1) / blocks * np.sum((unseen - unseen.mean()) ** 2))
    se = max(float(np.sqrt(_block_spread(s_values[:, None], block_of, blocks)[0] / blocks)),
             floor)
    if se <= 0:
        return 0.0 if jack == 0 else float("inf")
    return float(jack / se)


def _block_spread(v: np.ndarray, block_of: np.ndarray, blocks: int) -> np.ndarray:
    """Per quantity, the variance of the block means of ``v``: the spread the interval
    reads."""
    means = np.stack([v[block_of == b].mean(axis=0) for b in range(blocks)])
    return np.var(means, axis=0, ddof=1)


def _keeps_control(out: np.ndarray, values: np.ndarray, plain: np.ndarray,
                   block_of: np.ndarray, blocks: int) -> np.ndarray:
    """Per quantity, whether the corrected values ``out`` replace the plain ``values``:
    their variance over the points at most :data:`~multiexpect.polychaos.MAX_SHARE` of the
    plain one's, and their block means spread at most :data:`BLOCK_VETO` times as much as
    the plain block means (their spread ``plain``, :func:`_block_spread`). The second
    test catches a chaos that halves the points' variance yet adds polynomial tails the
    net integrates badly: a kink of a normal input (``|x_1|``) under Hermite polynomials,
    which the net integrates far better than the points' variance says."""
    return ((np.var(out, axis=0) <= MAX_SHARE * np.var(values, axis=0))
            & (_block_spread(out, block_of, blocks) <= BLOCK_VETO * plain))


def _relative_spread(out: np.ndarray, plain: np.ndarray, block_of: np.ndarray,
                     blocks: int) -> float:
    """The block-mean spread of ``out`` relative to the plain one (``plain``), summed over
    the quantities that spread at all: the score that picks the chaos's basis."""
    varied = plain > 0
    return float(np.sum(_block_spread(out, block_of, blocks)[varied] / plain[varied]))


def _block_fit(fit_rows, blocks: int, all_y: np.ndarray, bounded: np.ndarray,
               alphas: np.ndarray, cap: int):
    """The chaos in one basis (``bounded``: Legendre polynomials of ``u = Φ(z)`` for those
    inputs, Hermite polynomials of ``z`` for the others): each block's normal equations on
    its fit rows (``fit_rows(b)``: inputs and outputs, one block at a time), the total-degree
    basis ``alphas`` raised by one degree among the inputs that interact most in its fit on
    all rows where every polynomial is a Legendre one
    (:func:`~multiexpect.polychaos.raised_indices`, at most ``cap`` terms), the degree then
    cut by the tail check (:func:`_tail_consistent_degree`, on all rows' outputs ``all_y``).
    Returns ``(bounded, alphas, grams, moments, raised)``, ``raised`` the inputs
    given the extra degree (none when the cut removed it)."""

    def equations(alphas):
        """Each block's normal equations in the basis ``alphas``."""
        pairs = [normal_equations(*fit_rows(b), bounded, alphas) for b in range(blocks)]
        return [g for g, _ in pairs], [m for _, m in pairs]

    grams, moments = equations(alphas)
    raised = np.zeros(0, dtype=int)
    if np.all(bounded):  # Legendre polynomials only: a higher Hermite degree adds tails
        coef = np.linalg.lstsq(sum(grams), sum(moments), rcond=None)[0]
        wider, raised = raised_indices(alphas, coef, cap)
        if raised.size:
            alphas = wider
            grams, moments = equations(alphas)
    gram, moment = sum(grams), sum(moments)
    degree = _tail_consistent_degree(gram, moment, alphas, all_y)
    if degree < int(alphas.sum(axis=1).max()):  # the terms are ordered by total degree
        terms = int(np.sum(alphas.sum(axis=1) <= degree))
        alphas, gram, moment = alphas[:terms], gram[:terms, :terms], moment[:terms]
        grams = [g[:terms, :terms] for g in grams]
        moments = [m[:terms] for m in moments]
        raised = np.zeros(0, dtype=int)
    return bounded, alphas, grams, moments, raised


def _basis_name(bounded: np.ndarray) -> str:
    """``"legendre"``, ``"hermite"`` or ``"mixed"``: the chaos's polynomials per input."""
    return "legendre" if np.all(bounded) else "hermite" if not np.any(bounded) else "mixed"


def _fit_rows(points: int, blocks: int) -> int:
    """The fewest fit rows of a block's chaos: two runs a point of all blocks but one."""
    return 2 * (points - points // blocks)


def _exact(coef: np.ndarray, alphas: np.ndarray, kinds, centre: float) -> np.ndarray:
    """The pick-freeze quantities' means for the chaos ``coef`` (the layout's
    ``quantity_kinds``; outputs centred on ``centre``)."""
    sq = coef**2
    order = alphas.sum(axis=1)
    var = float(sq[order > 0].sum())
    mean = float(coef[0]) - centre
    out = []
    for kind, i in kinds:
        if kind in ("F", "P"):  # V_i; E[g g^(i)] = V_i + mean^2 for the centred form P
            first = sq[(order > 0) & (alphas[:, i] == order)].sum()
            out.append(first + (mean**2 if kind == "P" else 0.0))
        elif kind == "T":
            out.append(sq[alphas[:, i] > 0].sum())
        elif kind in ("Mf", "M"):
            out.append(mean)
        elif kind in ("Sf", "S"):
            out.append(mean * mean + var)
        else:
            raise ValueError(f"no chaos control for pick-freeze quantity kind {kind!r}")
    return np.array(out, dtype=float)


def controlled_values(layout, law, u: np.ndarray, y: np.ndarray, values: np.ndarray,
                      centre: float, blocks: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Point values with the chaos control, cross-fitted by blocks: the one net's blocks,
    or the replicates' nets concatenated (``blocks`` = ``R``, each net a block).

    ``law`` gives each input's family (bounded or not), ``u`` ((n, 2d)) are the standard
    points (``U``, ``U'``), ``y`` the runs' outputs in
    the layout's stacked order, ``values`` ((n, J)) the plain quantity values; each block's
    runs' standard inputs are stacked as the model's were, one block at a time (memory of
    one block, not of all ``(d + 2) n`` runs). Returns the values (corrected where
    :func:`_keeps_control` says so, plain elsewhere; in the basis whose controlled block
    means spread less, module docstring), a per-quantity floor for the standard error
    (:data:`~multiexpect.polychaos.RESOLUTION` on the controlled ones, 0 on the others) and a
    record of the fit (degree, terms, ``basis``, the out-of-block residual share
    ``sum (y - g)^2 / sum (y - mean y)^2`` of the runs, which quantities are
    ``controlled``).
    """
    runs = layout.runs_per_point
    n = values.shape[0]
    d = layout.dim
    size = n // blocks
    block_of = np.minimum(np.arange(n) // size, blocks - 1)
    yr = np.asarray(y, dtype=float).reshape(runs, n)

    def block_inputs(mine: np.ndarray) -> np.ndarray:
        """The stacked standard inputs of the runs of the points ``mine``."""
        return layout.stack(u[mine, :d], u[mine, d:])

    def fit_rows(b: int) -> tuple[np.ndarray, np.ndarray]:
        """Block ``b``'s fit rows, the first two runs a point (``Y`` and ``Y'``; ``Y'`` and
        ``Y^(1)`` for total order alone): their standard inputs and outputs."""
        mine = block_of == b
        return block_inputs(mine)[:2 * int(mine.sum())], yr[:2, mine].reshape(-1)

    def corrected(fit) -> tuple[np.ndarray, np.ndarray, float, float]:
        """The values with the chaos ``fit`` cross-fitted by block (plain where the
        control does not pay, :func:`_keeps_control`; all plain where the fits disagree
        beyond the rows, :func:`_extrapolation_ratio`), which quantities took it, the
        out-of-block residual sum of squares of the runs and the extrapolation ratio."""
        bounded, alphas, grams, moments, _ = fit
        gram, moment = sum(grams), sum(moments)
        out = np.empty_like(values)
        residual = 0.0
        unseen = np.empty(blocks)
        for b in range(blocks):
            coef = np.linalg.lstsq(gram - grams[b], moment - moments[b], rcond=None)[0]
            unseen[b] = _unseen_square(coef, gram, fit_y.size, centre)
            mine = block_of == b
            g = chaos_at(block_inputs(mine), bounded, alphas, coef).reshape(runs, -1)
            residual += float(np.sum((yr[:, mine] - g) ** 2))
            g_values = layout.quantities(g.reshape(-1), centre)
            out[mine] = (values[mine] - g_values
                         + _exact(coef, alphas, layout.quantity_kinds, centre))
        controlled = _keeps_control(out, values, plain, block_of, blocks)
        kept = np.where(controlled, out, values)
        ratio = (0.0 if np.all(bounded) else  # bounded polynomials of u do not extrapolate
                 _extrapolation_ratio(unseen, kept[:, -1], block_of, blocks, resolution[-1]))
        if ratio > EXTRAPOLATION_Z:  # the fits disagree beyond the rows: every quantity plain
            controlled = np.zeros_like(controlled)
            kept = values
        return kept, controlled, residual, ratio

    resolution = RESOLUTION * np.sqrt(np.mean(values**2, axis=0))
    plain = _block_spread(values, block_of, blocks)
    rows = _fit_rows(n, blocks)
    top, cap = multi_indices(d, chaos_degree(d, rows)), term_cap(rows)
    own = bounded_inputs(law)
    fit_y = yr[:2].reshape(-1)
    fits = [_block_fit(fit_rows, blocks, fit_y, own, top, cap)]
    if not np.all(own):  # Legendre polynomials of u = Φ(z) for every input, the other basis
        fits.append(_block_fit(fit_rows, blocks, fit_y, np.ones_like(own), top, cap))
    tried = [(fit, *corrected(fit)) for fit in fits]
    fit, out, controlled, residual, ratio = min(  # the smaller spread of block means;
        tried, key=lambda t: _relative_spread(t[1], plain, block_of, blocks))  # ties: own
    bounded, alphas = fit[0], fit[1]
    spread = float(np.sum((yr - yr.mean()) ** 2))
    floor = np.where(controlled, resolution, 0.0)
    record = {"surrogate": CHAOS, "degree": int(alphas.sum(axis=1).max()),
              "terms": int(alphas.shape[0]), "basis": _basis_name(bounded),
              "raised": fit[4].tolist(),
              "residual_share": residual / spread if spread > 0 else 0.0,
              "extrapolation": ratio, "controlled": controlled.tolist()}
    return out, floor, record
