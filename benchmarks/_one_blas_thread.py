"""Import first in a benchmark script: one BLAS thread per process.

The benchmarks run their repetitions in worker processes that already use every core; a
threaded BLAS in each worker only adds contention (measured on 2 cores: a small t-mixture
fit 14x slower, a 6x6 triangular solve up to 100x). Set before numpy is imported; an
explicit setting in the environment wins.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
