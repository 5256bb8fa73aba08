"""Record the golden results: estimates and standard errors (float hex) of a fixed set of calls.

``python tests/golden/make_golden.py [NAME ...]`` rewrites ``tests/golden/golden.json`` (the
named calls only, when given; the others are kept as recorded); the test
``tests/unit/test_golden.py`` recomputes every call and compares bit for bit. A refactor
must leave the file unchanged; a deliberate numeric change re-records it in its own commit.
Record under the suite's kernels (``scripts/test.sh``, ``tests/unit/test_golden.py``):
``NPY_DISABLE_CPU_FEATURES="$(python3 scripts/avx512_features.py)" OPENBLAS_CORETYPE=Haswell``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

import multiexpect as me
from multiexpect import testfunctions as tf

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden.json"


def _hex(values) -> list[str]:
    return [float(v).hex() for v in np.asarray(values, dtype=float).reshape(-1)]


def _record(res) -> dict:
    if isinstance(res, me.SobolResult):
        out = {}
        for order in res.orders:
            est, se = res.indices(order)
            out[order] = _hex(est)
            out[order + "_stderr"] = _hex(se)
        out["n_evaluations"] = int(res.n_evaluations)
        return out
    if isinstance(res, me.PerturbedLawResult):
        return {"indices": _hex(res.indices), "stderr": _hex(res.stderr),
                "n_evaluations": int(res.n_evaluations)}
    return {"estimate": _hex(res.estimate), "stderr": _hex(res.stderr),
            "n_evaluations": int(res.n_evaluations)}


def gaussian_moments(x):
    return x[:, [0]] ** np.arange(2, 9, 2)


def events_and_signed(x):
    y = x[:, 0] + 0.5 * x[:, 1] ** 2 - x[:, 2]
    return np.column_stack([y, y**2, (y > 3.0).astype(float), (np.abs(x[:, 0]) > 2.5) * 1.0,
                            np.sin(3 * y)])


def one_output(x):
    return x[:, 0] + x[:, 1] ** 2


class Interrupting:
    """A model that raises after ``limit`` calls (a crash mid-study)."""

    def __init__(self, model, limit):
        self.model, self.limit, self.calls = model, limit, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls > self.limit:
            raise KeyboardInterrupt("interrupted")
        return self.model(x)


def cases():
    """(name, zero-argument callable returning a result) for every golden call."""
    norm3 = me.Law([stats.norm()] * 3, names=["a", "b", "c"])
    mixed = me.Law([stats.norm(0, 1), stats.lognorm(0.25, scale=1.0), stats.uniform(-1, 2)])
    normal1 = me.Law([stats.norm()])
    laws5, _ = tf.cantilever_laws()
    laws5 = laws5[:5]
    out = []
    for seed in (1, 2, 3):
        out.append((f"moments/aiscv/{seed}",
                    lambda s=seed: me.expectations(gaussian_moments, normal1, budget=4000,
                                                   rng=s)))
        out.append((f"events/aiscv/{seed}",
                    lambda s=seed: me.expectations(events_and_signed, norm3, budget=6000,
                                                   rng=s)))
        out.append((f"mixed/aiscv/{seed}",
                    lambda s=seed: me.expectations(events_and_signed, mixed, budget=3000,
                                                   rng=s)))
        out.append((f"laws/aiscv/{seed}",
                    lambda s=seed: me.expectations(tf.cantilever_beam, laws5, budget=3000,
                                                   rng=s)))
    for method in ("mc", "mixture-mc", "separate-is"):
        for seed in (1, 2):
            out.append((f"events/{method}/{seed}",
                        lambda m=method, s=seed: me.expectations(
                            events_and_signed, norm3, budget=3000, rng=s, method=m)))
            out.append((f"laws/{method}/{seed}",
                        lambda m=method, s=seed: me.expectations(
                            tf.cantilever_beam, laws5, budget=3000, rng=s, method=m)))
    for family in ("gaussian", "gaussian-diag", "gmm", "student", "student-mixture"):
        out.append((f"events/aiscv-{family}/1",
                    lambda f=family: me.expectations(events_and_signed, norm3, budget=4000,
                                                     rng=1, family=f)))
    out.append(("events/aiscv-options/1",
                lambda: me.expectations(events_and_signed, norm3, budget=4000, rng=1,
                                        control="own", split_signs=False, keep="last",
                                        pool_adaptive=False, space="input",
                                        weights="absolute")))
    out.append(("events/aiscv-weights/2",
                lambda: me.expectations(events_and_signed, norm3, budget=4000, rng=2,
                                        weights=[1, 2, 3, 4, 5])))
    ishi = tf.ishigami_law()
    for method in ("aiscv", "pick-freeze"):
        for orders in (("first",), ("total",), ("first", "total")):
            for seed in (1, 2):
                out.append((f"sobol/{method}/{'+'.join(orders)}/{seed}",
                            lambda m=method, o=orders, s=seed: me.sobol_indices(
                                tf.ishigami, ishi, budget=5000, orders=o, method=m, rng=s)))
    law2 = me.Law([stats.norm(0, 1), stats.lognorm(0.25, scale=1.0)], names=["a", "b"])
    shifted = me.mean_shift_perturbations(law2, delta=0.5)
    for method in ("aiscv", "mixture-mc", "mc"):
        for quantity in ("mean", ("exceedance", 2.0)):
            name = quantity if isinstance(quantity, str) else "exceedance"
            out.append((f"perturbed/{method}/{name}",
                        lambda m=method, q=quantity: me.perturbed_law_indices(
                            one_output, law2, shifted, budget=3000, rng=1, method=m,
                            quantity=q)))
    for name, model, law, budget, kwargs in (
            ("rqmc/aiscv/moments", gaussian_moments, normal1, 4000, {}),
            ("rqmc/aiscv/events", events_and_signed, norm3, 4000, {}),
            ("rqmc/aiscv/laws", tf.cantilever_beam, laws5, 3000, {}),
            ("rqmc/aiscv-student/events", events_and_signed, norm3, 4000,
             {"family": "student"}),
            ("rqmc/mc/events", events_and_signed, norm3, 3000, {"method": "mc"}),
            ("rqmc/mixture-mc/laws", tf.cantilever_beam, laws5, 3000,
             {"method": "mixture-mc"}),
            ("rqmc/separate-is/laws", tf.cantilever_beam, laws5, 3000,
             {"method": "separate-is"}),
            ("rqmc/aiscv-one-net/moments", gaussian_moments, normal1, 4000,
             {"replicates": 1}),
            ("rqmc/aiscv-one-net/laws", tf.cantilever_beam, laws5, 3000,
             {"replicates": 1, "blocks": 8})):
        out.append((f"{name}/1", lambda f=model, law=law, b=budget, k=kwargs: me.expectations(
            f, law, budget=b, rng=1, sampling="rqmc", **k)))
    for method in ("aiscv", "pick-freeze"):
        out.append((f"rqmc/sobol/{method}/first+total/1",
                    lambda m=method: me.sobol_indices(tf.ishigami, ishi, budget=5000,
                                                      orders=("first", "total"), method=m,
                                                      rng=1, sampling="rqmc")))
    out.append(("rqmc/sobol/aiscv-one-net/first+total/1",
                lambda: me.sobol_indices(tf.ishigami, ishi, budget=5000,
                                         orders=("first", "total"), rng=1, sampling="rqmc",
                                         replicates=1)))
    out.append(("rqmc/perturbed/aiscv-one-net/mean",
                lambda: me.perturbed_law_indices(one_output, law2, shifted, budget=3000, rng=1,
                                                 quantity="mean", sampling="rqmc",
                                                 replicates=1, blocks=8)))
    out.append(("rqmc/perturbed/mc/mean",
                lambda: me.perturbed_law_indices(one_output, law2, shifted, budget=3000, rng=1,
                                                 method="mc", quantity="mean",
                                                 sampling="rqmc")))
    # the law route's chaos control: own chaos, products and the cross-fit's covariance
    uniform2, uniform3 = me.Law([stats.uniform(0, 1)] * 2), me.Law([stats.uniform(0, 1)] * 3)
    for name, model, law, budget in (("near-cap", tf.sine_square2, uniform2, 2000),
                                     ("smooth", tf.smooth_uniform3, uniform3, 2000),
                                     ("moments", tf.ishigami_moments, ishi, 4000)):
        for seed in (1, 2):
            out.append((f"law-chaos/{name}/{seed}",
                        lambda f=model, law=law, b=budget, s=seed: me.expectations(
                            f, law, budget=b, rng=s)))
    out.append(("reanalyse/law", _reanalysis))
    out.append(("resume/aiscv", _resumed))
    out.append(("cli/demo", _cli_demo))
    return out


def _reanalysis():
    law2 = me.Law([stats.norm(0, 1), stats.lognorm(0.25, scale=1.0)], names=["a", "b"])
    other = me.Law([stats.norm(0.1, 1), stats.lognorm(0.25, scale=1.0)], names=["a", "b"])
    res = me.expectations(lambda x: np.column_stack([one_output(x), one_output(x) > 3]),
                          law2, budget=3000, rng=5, keep_sample=True)
    return me.reanalyse(res, law=other)


def _resumed():
    from multiexpect.evaluation.store import InMemoryStore

    law2 = me.Law([stats.norm(0, 1), stats.lognorm(0.25, scale=1.0)], names=["a", "b"])
    store = InMemoryStore()
    crashing = Interrupting(one_output, 4)
    try:
        me.expectations(crashing, law2, budget=3000, rng=7, store=store, study_id="golden",
                        eval_chunk_size=100)
    except KeyboardInterrupt:
        pass
    else:  # pragma: no cover - the golden calls must interrupt
        raise AssertionError("the interrupted study finished")
    return me.expectations(one_output, law2, budget=3000, rng=7, store=store,
                           study_id="golden", eval_chunk_size=100)


def _cli_demo():
    import tempfile

    from multiexpect.cli.main import main

    with tempfile.TemporaryDirectory() as tmp:
        code = main(["demo", "--out", tmp, "--no-progress"])
        if code not in (0, None):
            raise AssertionError(f"demo exited {code}")
        return demo_record(Path(tmp))


def demo_record(folder: Path) -> dict:
    """The golden record of a demo run written to ``folder``."""
    return _cli_record(json.loads((folder / "cantilever.results.json").read_text())["analyses"])


def _cli_record(results) -> dict:
    """Every float in the demo's results (names sorted), as float hex."""
    flat = {}

    def walk(prefix, obj):
        if isinstance(obj, dict):
            for k in sorted(obj):
                if k in ("settings", "history", "seconds"):
                    continue
                walk(f"{prefix}/{k}", obj[k])
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(f"{prefix}/{i}", v)
        elif isinstance(obj, float):
            flat[prefix] = obj.hex()
    walk("", results)
    return flat


def compute(names=None) -> dict:
    return {name: (call() if name == "cli/demo" else _record(call()))
            for name, call in cases() if names is None or name in names}


if __name__ == "__main__":
    # named calls are re-recorded into the file, the others kept; no name: every call anew
    names = sys.argv[1:] or None
    data = compute(names)
    if names is not None:
        data = json.loads(GOLDEN.read_text()) | data
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{len(names or data)} calls recorded in {GOLDEN} ({len(data)} in all)")
