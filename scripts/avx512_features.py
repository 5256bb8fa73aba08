"""Print numpy's dispatched AVX-512 CPU targets, the value of ``NPY_DISABLE_CPU_FEATURES``
that makes numpy use its AVX2 kernels (``scripts/test.sh``: the golden file's code paths).

Only targets numpy dispatches may be named (others raise an ImportWarning), and their names
change between numpy versions, so they are read from the installed numpy.
"""

try:
    from numpy._core._multiarray_umath import __cpu_dispatch__
except ImportError:  # numpy < 2
    from numpy.core._multiarray_umath import __cpu_dispatch__

print(" ".join(f for f in __cpu_dispatch__ if f.startswith(("AVX512", "X86_V4"))))
