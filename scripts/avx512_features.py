"""Print numpy's dispatched AVX-512 CPU targets, the value of ``NPY_DISABLE_CPU_FEATURES``
that makes numpy use its AVX2 kernels (``scripts/test.sh``: the golden file's code paths;
``tests/unit/test_golden.py`` reads :func:`avx512_targets` to check they are off).

Only targets numpy dispatches may be named (others raise an ImportWarning), and their names
change between numpy versions, so they are read from the installed numpy.
"""

try:
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
except ImportError:  # numpy < 2
    from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__


def avx512_targets() -> list[str]:
    """numpy's dispatched AVX-512 targets."""
    return [f for f in __cpu_dispatch__ if f.startswith(("AVX512", "X86_V4"))]


def avx512_running(disabled: str = "") -> bool:
    """Whether this machine runs one of them with ``disabled`` (the variable's value) off."""
    off = set(disabled.replace(",", " ").split())
    return any(__cpu_features__.get(f, False) and f not in off for f in avx512_targets())


if __name__ == "__main__":
    print(" ".join(avx512_targets()))
