#!/usr/bin/env bash
# Install multiexpect with its test extra (and the Debian packages some tests need), then run
# ruff and the whole test suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
# MPI tests (tests/integration/test_evaluation_mpi.py): Open MPI from Debian, only when missing
if ! command -v mpiexec >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null; }
fi
# Report-in-a-browser tests (tests/integration/test_report_browser.py): Debian chromium
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if command -v mpiexec >/dev/null 2>&1 && ! python3 -c "import mpi4py" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -e ".[mpi]"
fi
python3 -m ruff check src tests benchmarks examples
# Our matrices are small: multi-threaded BLAS only adds contention when tests run worker
# processes side by side (measured: a 6x6 triangular solve 100x slower on 2 loaded cores).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# The same floating-point code paths on every x86-64 machine with AVX2, so that the golden
# file (tests/golden) holds bit for bit wherever the suite runs: numpy's AVX-512 kernels
# (exp, log, pow, sums) and OpenBLAS's per-CPU kernels round differently in the last bits
# (measured: 55 of 68 golden calls differ on an AVX-512 machine, none with these two set).
if [ -z "${NPY_DISABLE_CPU_FEATURES+set}" ]; then
    NPY_DISABLE_CPU_FEATURES="$(python3 scripts/avx512_features.py)"
    export NPY_DISABLE_CPU_FEATURES
fi
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"
# Two pytest workers (pytest-xdist): CI's two cores; many slow tests wait on sleeping models
# and worker processes, so the suite takes about 5 minutes there instead of 9 (loadgroup:
# the tests that read the one demo run share a worker).
python3 -m pytest -q -n 2 --dist loadgroup "$@"
