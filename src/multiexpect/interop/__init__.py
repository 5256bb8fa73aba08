"""Adapters for laws and models from other libraries (OpenTURNS, SALib).

Every ``law`` argument of the package goes through :func:`as_law` and every ``model`` through
:func:`as_model`; OpenTURNS objects are recognised by their type's module, so OpenTURNS is
imported only when one is passed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..laws import Law

__all__ = ["as_law", "as_laws", "as_model", "as_one_law", "check_model_dims", "is_openturns"]


def is_openturns(obj, kind: str) -> bool:
    """True when ``obj`` is an OpenTURNS object whose class derives from ``kind``
    (``"Distribution"`` or ``"Function"``), without importing OpenTURNS otherwise."""
    if not type(obj).__module__.startswith("openturns"):
        return False
    import openturns as ot

    kinds = (getattr(ot, kind),) + ((ot.DistributionImplementation,)
                                    if kind == "Distribution" else ())
    return isinstance(obj, kinds)


def as_law(obj, name: str = "law") -> Law:
    """Return ``obj`` as a :class:`~multiexpect.Law`, or raise a ValueError naming ``name``.

    Accepts a :class:`~multiexpect.Law`, an OpenTURNS ``Distribution`` (converted to a
    native Law when that is exact, wrapped otherwise: see
    :func:`multiexpect.interop.openturns.from_openturns`), or any object with the Law
    interface (``dim``, ``names``, ``sample``, ``logpdf``, ``to_standard``,
    ``from_standard``).
    """
    if isinstance(obj, Law):
        return obj
    if is_openturns(obj, "Distribution"):
        from .openturns import from_openturns

        return from_openturns(obj, name=name)
    required = ("dim", "sample", "logpdf", "to_standard", "from_standard")
    if all(hasattr(obj, attr) for attr in required):
        return obj
    raise ValueError(f"'{name}' must be a multiexpect.Law, got {type(obj).__name__} (an "
                     f"OpenTURNS Distribution or an object with the Law interface also works)")


def as_laws(law) -> list:
    """One law or a sequence of laws -> a list, with a clear error otherwise."""
    if isinstance(law, Sequence) and not isinstance(law, (str, bytes)):
        laws = [as_law(item, f"law[{i}]") for i, item in enumerate(law)]
        if not laws:
            raise ValueError("'law' must be a Law or a non-empty sequence of Laws")
    else:
        laws = [as_law(law, "law")]
    dims = {lw.dim for lw in laws}
    if len(dims) != 1:
        raise ValueError(f"every law in 'law' must have the same dimension, got {sorted(dims)}")
    return laws


def as_one_law(law, what: str = "Law") -> Law:
    """``law`` through :func:`as_law`, refusing a sequence of laws (an analysis of one law:
    ``what`` says which, e.g. ``"Law for Sobol' indices"``)."""
    if isinstance(law, Sequence) and not isinstance(law, (str, bytes)):
        raise ValueError(f"'law' must be one {what}, got a sequence of laws")
    return as_law(law, "law")


def as_model(model):
    """Return ``model`` ready for :func:`~multiexpect.expectations`.

    An OpenTURNS ``Function`` becomes a vectorised callable evaluating whole samples
    (:class:`multiexpect.interop.openturns.OpenTURNSModel`, with ``input_dim``); anything
    else is returned unchanged.
    """
    if is_openturns(model, "Function"):
        from .openturns import OpenTURNSModel

        return OpenTURNSModel(model)
    return model


def check_model_dims(model, dim: int, *, law_name: str = "law",
                     scalar_for: str | None = None) -> None:
    """Refuse, before any run, a model whose declared dimensions do not fit.

    Only models that declare their dimensions are checked (an OpenTURNS ``Function``
    through :func:`as_model` exposes ``input_dim`` and ``output_dim``); plain callables
    pass and are checked on their first outputs.

    Parameters
    ----------
    model : callable
        The model, after :func:`as_model`.
    dim : int
        Dimension of the input law.
    law_name : str
        Name of the law argument in the error message.
    scalar_for : str, optional
        When given, the model must have one output, and the message says what for (e.g.
        ``"Sobol' indices"``).

    Raises
    ------
    ValueError
        ``input_dim`` differs from ``dim``, or ``output_dim`` is not 1 when ``scalar_for``
        is given.
    """
    model_dim = getattr(model, "input_dim", None)
    if model_dim is not None and int(model_dim) != int(dim):
        raise ValueError(f"the model takes {model_dim} inputs but '{law_name}' has dimension "
                         f"{dim}")
    out_dim = getattr(model, "output_dim", None)
    if scalar_for is not None and out_dim is not None and int(out_dim) != 1:
        raise ValueError(f"'model' must return one output per point for {scalar_for}, got a "
                         f"function with {out_dim} outputs")
