"""Two studies writing to one SQLite store at the same time (two processes)."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import multiexpect as me

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "resumable_study.py"


def _example():
    spec = importlib.util.spec_from_file_location("resumable_study", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_processes_write_one_store(tmp_path):
    store = tmp_path / "shared.sqlite"
    common = ["--store", str(store), "--budget", "3000", "--chunk", "10", "--json"]
    procs = [subprocess.Popen([sys.executable, str(EXAMPLE), *common, "--seed", str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for seed in (1, 2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        outs.append(json.loads(out.decode().strip().splitlines()[-1]))
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_study = dict(conn.execute("SELECT study, COUNT(*) FROM runs WHERE status='ok' "
                                      "GROUP BY study").fetchall())
        n_tx = conn.execute("SELECT COUNT(DISTINCT written) FROM runs").fetchone()[0]
    assert sorted(per_study.values()) == [3000, 3000]
    assert n_tx >= 2 * 3000 // 10  # one transaction per chunk of 10, interleaved
    # every run is intact: re-running both studies reads everything and runs nothing
    example = _example()
    for seed, out in zip((1, 2), outs):
        log = tmp_path / f"log{seed}"
        again = example.main([*common[:-1], "--seed", str(seed), "--log", str(log)])
        assert again == out and not log.exists()
        assert again == example.main(["--no-store", "--budget", "3000", "--seed", str(seed)])
    with me.SQLiteStore(store) as s:
        assert len(s.studies()) == 2
