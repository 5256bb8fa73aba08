"""Batch keys and their random streams: every key a study uses is made here.

A study calls ``evaluate(x, key)`` once per batch; the store memoises the runs by
``(study, key)``, and the points of a batch come from a generator derived from
``(seed, key, stream)`` alone. A resumed study therefore replays the same points and reads
the batches already paid for, provided that keys never collide within a study and that
their values never change (stored studies depend on them):

=====================================  ==================  ==============================
batch                                  key                 generator
=====================================  ==================  ==============================
aISCV pilot                            ``0``               ``(seed, 0, 0)``
aISCV pilot extension chunk ``c >= 1``  ``-c``              ``(seed, 0, c)``
aISCV adaptive batch ``t >= 1``         ``t``               ``(seed, t, 0)``
aISCV fit subsets and EM seeding, ``t``  (no run)            ``(seed, t, 1)``
aISCV final chunk ``i >= 0``            ``T + 1 + i``       ``(seed, T + 1 + i, 0)``
aISCV RQMC final replicate ``r >= 0``   ``T + 1 + r``       atom ``m``: ``(seed, T + 1 + r, m)``
its chaos integration net (block ``b``)  (no run)            ``(seed, T + 1 + r, 2·10^6 + b)``
law-first pilot net ``0``               ``0``               ``(seed, 0, 10^6)``
law-first pilot net ``r >= 1``          ``-(10^6 + r)``     ``(seed, 0, 10^6 + r)``
law-first law replicate ``r >= R_0``    ``1 + r - R_0``     ``(seed, 0, 10^6 + r)``
split route's law net ``r >= R_0``      ``-(10^6 + r)``     ``(seed, 0, 10^6 + r)``
the laws' common net ``r >= 0``         ``-(3·10^6 + r)``   ``(seed, 0, 10^6 + r)``
law route's nets of each law ``r >= R_0``  ``-(3·10^6 + r)``  ``(seed, 0, 10^6 + r)``
law route's edge probe                  ``-4·10^6``         (none: fixed points)
separate IS, quantity ``j``             ``(j+1)·10^6 + k``  the engine's, seed ``seed+j+1``
separate IS, probe of the output width  ``10^9``            ``[seed, 999_999]``
crude / separate MC, law ``l``          ``l``               ``(seed, l, 0)``
separate RQMC, replicate ``r``, law ``l``  ``l R + r``        ``(seed, 0, 10^6 + r)``
mixture RQMC, replicate ``r``           ``r``               ``(seed, r, 0)``
mixture MC                              ``0``               ``(seed, 0, 0)``
Sobol' pick-freeze chunk ``k``          ``k``               ``(seed, k, 0)``
Sobol' pick-freeze RQMC replicate ``r``  ``r``               ``(seed, 0, 10^6 + r)``
Sobol' pick-freeze one net               ``0``               ``(seed, 0, 0)``
=====================================  ==================  ==============================

(``T`` adaptive batches; the laws' common nets, :mod:`multiexpect.engine.common_nets`, are
separate RQMC's nets, each mapped through every law in one batch; when their route is not
taken, the study goes on as ``sampling="auto"`` without them under the seed
:func:`after_common_probe_seed`, whose keys are the table's; ``b`` the block of the one-net
final stage's net, 0 for a replicate; ``k`` a key of quantity ``j``'s own engine run. The
RQMC final replicates reuse the final chunks' keys: an RQMC study is another study than its
MC twin. ``sampling="auto"`` (:mod:`multiexpect.engine.law_first`): the pilot is ``R_0``
scrambled nets of the law, negative keys below every pilot extension's, so :func:`is_pilot`
holds for them (so are a grown pilot's nets, :func:`~multiexpect.engine.law_first.grows`,
and the split route's law nets, :mod:`multiexpect.engine.law_split`: pilot nets ``R_0 ..``);
when the law route is taken the law's replicates after the pilot's nets follow as the final
stage after the one stage, the pilot; when it is not, the keys are the table's above. The
nets of the law, :func:`law_net_generator` ``(seed, r)``, are the same for the law-first
pilot and law route, for separate RQMC and for the Sobol' pick-freeze RQMC replicates (in
``2d`` dimensions), so that the law route draws exactly the points of ``method="mc",
sampling="rqmc"`` (of ``method="pick-freeze", sampling="rqmc"`` for Sobol'); their streams,
``10^6 + r`` of key 0, are above every pilot extension chunk's and below no other stream of
key 0.)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "adaptive",
    "adaptive_generator",
    "after_common_probe_seed",
    "common_net",
    "edge_probe",
    "final_chunk",
    "final_replicate",
    "final_replicate_generator",
    "fit_generator",
    "generator",
    "is_pilot",
    "law_net_generator",
    "law_replicate",
    "monte_carlo",
    "pick_freeze_chunk",
    "pilot",
    "pilot_extension",
    "pilot_extension_generator",
    "pilot_replicate",
    "rqmc_generator",
    "rqmc_replicate",
    "separate_is_offset",
    "separate_is_probe",
    "separate_is_probe_generator",
    "separate_is_seed",
    "surrogate_generator",
]

PILOT = 0
#: The stream of a batch key that draws fit subsets and EM seeds (no model run).
FIT_STREAM = 1
#: Separate IS: quantity ``j``'s engine keys are shifted by ``(j + 1) * QUANTITY_OFFSET``.
QUANTITY_OFFSET = 10**6
#: Separate IS: the key of the one run that learns the number of quantities.
PROBE = 10**9
#: Separate IS: the probe point's generator is ``default_rng([seed, PROBE_STREAM])``.
PROBE_STREAM = 999_999
#: Law-first pilot nets ``r >= 1`` are keys ``-(PILOT_NET_OFFSET + r)``.
PILOT_NET_OFFSET = 10**6
#: The laws' common nets ``r >= 0`` are keys ``-(COMMON_NET_OFFSET + r)``.
COMMON_NET_OFFSET = 3 * 10**6
#: The law route's edge probe (:mod:`multiexpect.engine.edge_probe`) is key ``-EDGE_PROBE``.
EDGE_PROBE = 4 * 10**6
#: The root seed of a study that goes on after its common nets' probe is
#: ``SeedSequence([seed, AFTER_PROBE_ENTROPY])``'s first word.
AFTER_PROBE_ENTROPY = 17_000_017
#: First stream of the chaos integration nets of a final replicate (its atoms take streams
#: ``0..``, one per atom).
SURROGATE_STREAM = 2 * 10**6


def generator(seed: int, key: int, stream: int = 0) -> np.random.Generator:
    """The generator of batch ``key`` (sub-stream ``stream``) of the study with root ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, key, stream]))


def pilot() -> int:
    """The aISCV pilot's key (its points: ``generator(seed, pilot())``)."""
    return PILOT


def pilot_extension(chunk: int) -> int:
    """The key of pilot extension chunk ``chunk >= 1``: ``-chunk``."""
    return -chunk


def is_pilot(key: int) -> bool:
    """Whether batch ``key`` is the engine's pilot (drawn from the law): 0 or an extension."""
    return key <= pilot()


def pilot_extension_generator(seed: int, chunk: int) -> np.random.Generator:
    """The points of pilot extension chunk ``chunk``: the pilot key's stream ``chunk``."""
    return generator(seed, PILOT, chunk)


def pilot_replicate(replicate: int) -> int:
    """The key of law-first pilot net ``replicate >= 0``: 0, then ``-(10^6 + replicate)``."""
    return PILOT if replicate == 0 else -(PILOT_NET_OFFSET + replicate)


def law_replicate(replicate: int, pilot_replicates: int) -> int:
    """The key of the law route's replicate ``replicate``: a pilot net's key below
    ``pilot_replicates``, then the final stage after the pilot, ``1 + replicate - R_0``."""
    if replicate < pilot_replicates:
        return pilot_replicate(replicate)
    return final_replicate(1, replicate - pilot_replicates)


def law_net_generator(seed: int, replicate: int) -> np.random.Generator:
    """The scrambling of net ``replicate`` of the law (separate RQMC's replicate
    ``replicate``, shared by its laws; the law-first pilot's and law route's net
    ``replicate``): the pilot key's stream ``10^6 + replicate``, above every pilot extension
    chunk's, so that no i.i.d. batch of the engine draws from it."""
    return generator(seed, PILOT, PILOT_NET_OFFSET + replicate)


def common_net(replicate: int) -> int:
    """The key of the laws' common net ``replicate >= 0`` (every law's points of separate
    RQMC's net ``replicate``, :func:`law_net_generator`): ``-(3·10^6 + replicate)``, below
    every other key of a study."""
    return -(COMMON_NET_OFFSET + replicate)


def edge_probe() -> int:
    """The key of the law route's edge probe (:mod:`multiexpect.engine.edge_probe`): below
    every pilot extension's, so :func:`is_pilot` holds for it."""
    return -EDGE_PROBE


def after_common_probe_seed(seed: int) -> int:
    """The root seed of the study that goes on after a common nets' probe that did not
    pay: its nets and batches independent of the probe's (whose outcome chose them), and
    its keys apart from the probe's (:func:`common_net`)."""
    state = np.random.SeedSequence([int(seed), AFTER_PROBE_ENTROPY]).generate_state(1)
    return int(state[0])


def adaptive(t: int) -> int:
    """The key of adaptive batch ``t >= 1``: ``t``."""
    return t


def adaptive_generator(seed: int, t: int) -> np.random.Generator:
    """The points of adaptive batch ``t``."""
    return generator(seed, adaptive(t))


def fit_generator(seed: int, t: int) -> np.random.Generator:
    """The random subset and EM seeding of the fits before adaptive batch ``t``."""
    return generator(seed, adaptive(t), FIT_STREAM)


def final_chunk(n_stages: int, chunk: int) -> int:
    """The key of final chunk ``chunk >= 0`` after ``n_stages`` stages (pilot + batches)."""
    return n_stages + chunk


def final_replicate(n_stages: int, replicate: int) -> int:
    """The key of RQMC final replicate ``replicate >= 0`` after ``n_stages`` stages."""
    return n_stages + replicate


def final_replicate_generator(seed: int, key: int) -> np.random.Generator:
    """The scrambling of the net of the RQMC final replicate of batch ``key``."""
    return generator(seed, key)


def surrogate_generator(seed: int, key: int, offset: int) -> np.random.Generator:
    """The scrambling of a chaos integration net (:mod:`multiexpect.engine.surrogate`) of
    the final replicate of batch ``key``: stream ``SURROGATE_STREAM + offset``."""
    return generator(seed, key, SURROGATE_STREAM + offset)


def separate_is_offset(quantity: int) -> int:
    """Shift of every key of quantity ``quantity``'s own engine run in separate IS."""
    return (quantity + 1) * QUANTITY_OFFSET


def separate_is_seed(seed: int, quantity: int) -> int:
    """Root seed of quantity ``quantity``'s own engine run in separate IS."""
    return seed + quantity + 1


def separate_is_probe() -> int:
    """The key of separate IS's probe run."""
    return PROBE


def separate_is_probe_generator(seed: int) -> np.random.Generator:
    """The generator of separate IS's probe point."""
    return np.random.default_rng([seed, PROBE_STREAM])


def monte_carlo(law_index: int = 0) -> int:
    """The key of crude (separate) MC's sample of law ``law_index``; mixture MC uses 0."""
    return law_index


def pick_freeze_chunk(chunk: int) -> int:
    """The key of the Sobol' pick-freeze baseline's chunk ``chunk``."""
    return chunk


def rqmc_replicate(replicate: int, law_index: int = 0, replicates: int = 1) -> int:
    """The key of RQMC replicate ``replicate`` (mapped through law ``law_index`` when separate
    RQMC runs ``replicates`` nets per law): ``law_index * replicates + replicate``."""
    return law_index * replicates + replicate


def rqmc_generator(seed: int, replicate: int) -> np.random.Generator:
    """The generator scrambling replicate ``replicate``'s net of mixture RQMC and the one net
    of Sobol' pick-freeze RQMC (``replicate`` 0; separate RQMC and the pick-freeze
    replicates: :func:`law_net_generator`)."""
    return generator(seed, replicate)
