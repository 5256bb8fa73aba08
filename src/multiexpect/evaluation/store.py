"""The evaluation store: every model run of every study, so that no paid-for run is lost.

A store holds, for each study, its settings (and the library version), and for each batch
``k`` the hash of the batch's points and one record per point ``i``: inputs, outputs, status
(``"ok"`` or ``"failed"``), the error text and the run time. Records are keyed by
``(study, batch, index)``; an ``"ok"`` record is never overwritten (a failed one is, when the
point is run again).

Two implementations share one contract (``tests/unit/test_store_contract.py``):

* :class:`InMemoryStore`: a dict; lives as long as the object (resume within one process,
  e.g. after a model error was fixed);
* :class:`SQLiteStore`: one SQLite file through the standard :mod:`sqlite3` module, in WAL
  mode, one transaction per :meth:`Store.put_runs` call (the evaluator calls it once per
  completed chunk, so a chunk is on disk before the algorithm uses it). Several processes may
  write to one file; a schema version is checked on open. A file that is not empty and not a
  multiexpect store is refused before anything is written to it; a store that cannot be
  written (read-only file system or file) is opened read-only, so a finished study can be
  read back; an SQLite failure (disk full, damaged file) is a :class:`~multiexpect.errors.
  StoreError` of one line, after which the runs already committed are intact.

Floats are stored as raw IEEE-754 float64 bytes, so they round-trip exactly (NaN and inf
included).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import StoreError, StoreMismatchError

__all__ = [
    "SCHEMA_VERSION",
    "BatchRecord",
    "InMemoryStore",
    "SQLiteStore",
    "Store",
    "check_store",
    "describe_sqlite_error",
    "open_store",
    "points_hash",
    "settings_diff",
]

SCHEMA_VERSION = 1


def points_hash(x: np.ndarray) -> str:
    """SHA-256 of a batch of points (shape and float64 bytes, C order)."""
    a = np.ascontiguousarray(x, dtype=np.float64)
    h = hashlib.sha256(repr(a.shape).encode())
    h.update(a.tobytes())
    return h.hexdigest()


def canonical_settings(settings: dict) -> dict:
    """``settings`` as plain JSON types (tuples become lists, unknown objects their repr)."""
    return json.loads(json.dumps(settings, sort_keys=True, default=repr))


#: settings left out when they hold their default (a study keeps its identity when the key is
#: added): a missing one is shown as that value
_LEFT_OUT_DEFAULTS = {"sampling": "mc"}


def settings_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two settings dicts (``key: old -> new``); a key
    of ``_LEFT_OUT_DEFAULTS`` missing on one side shows its default."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        name = f"{prefix}{key}"
        missing = _LEFT_OUT_DEFAULTS.get(key, "<missing>")
        a, b = old.get(key, missing), new.get(key, missing)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(settings_diff(a, b, name + "."))
        elif a != b:
            out.append(f"{name}: stored {a!r}, now {b!r}")
    return out


@dataclass(frozen=True)
class BatchRecord:
    """What a store knows of one batch: its points' hash and size."""

    points_hash: str
    n_points: int


class Store(ABC):
    """The store contract.

    * :meth:`open_study` creates a study with its settings, or checks that the stored
      settings equal the given ones (else :class:`~multiexpect.StoreMismatchError` listing
      what differs).
    * :meth:`begin_batch` records a batch's points hash, or checks it against the stored one
      (else :class:`~multiexpect.StoreMismatchError`: the study would not replay the same
      points).
    * :meth:`put_runs` writes records atomically (all or none); ``"ok"`` records are
      immutable, ``"failed"`` ones are replaced by later attempts.
    * :meth:`load_runs` returns the records of a batch, sorted by index.
    * :meth:`find_runs` looks up ``"ok"`` runs of given points (their exact float64 bytes)
      in given studies: the runs another study of the same model already paid for.

    Implementations are safe to use from one thread at a time per object.
    """

    @abstractmethod
    def open_study(self, study_id: str, settings: dict) -> None: ...

    @abstractmethod
    def study_settings(self, study_id: str) -> dict | None: ...

    @abstractmethod
    def studies(self) -> list[str]: ...

    @abstractmethod
    def get_batch(self, study_id: str, batch: int) -> BatchRecord | None: ...

    @abstractmethod
    def _insert_batch(self, study_id: str, batch: int, record: BatchRecord) -> None: ...

    def begin_batch(self, study_id: str, batch: int, x: np.ndarray) -> BatchRecord:
        """Record (or check) batch ``batch`` of the study, whose points are ``x``."""
        record = BatchRecord(points_hash(x), int(x.shape[0]))
        stored = self.get_batch(study_id, batch)
        if stored is None:
            self._insert_batch(study_id, batch, record)
            stored = self.get_batch(study_id, batch)
        if stored != record:
            raise StoreMismatchError(
                f"study {study_id!r}: batch {batch} in the store holds {stored.n_points} "
                f"different points (hash {stored.points_hash[:12]}) from the {record.n_points} "
                f"now drawn (hash {record.points_hash[:12]}); the study does not replay the "
                f"same points (changed code or settings?): use a new study_id or a new store"
            )
        return stored

    @abstractmethod
    def put_runs(self, study_id: str, batch: int, index, x, y, status, error, seconds) -> None:
        """Write the records of points ``index`` of a batch in one transaction.

        ``x`` (n, d), ``y`` (n, m) float arrays (rows of failed points may hold NaN),
        ``status`` sequence of ``"ok"``/``"failed"``, ``error`` sequence of str,
        ``seconds`` (n,) run times.
        """

    @abstractmethod
    def load_runs(self, study_id: str, batch: int) -> dict:
        """Records of a batch: ``index`` (n,), ``x`` (n, d), ``y`` (n, m), ``status``,
        ``error``, ``seconds``, sorted by index (``y`` rows of failed points are NaN)."""

    @abstractmethod
    def count_runs(self, study_id: str, status: str | None = None) -> int: ...

    @abstractmethod
    def find_runs(self, study_ids, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outputs of ``"ok"`` runs, in the studies ``study_ids``, of the points ``x`` ((n,
        d)): ``found`` ((n,) bool) and ``y`` ((n, m); rows not found are NaN, ``m`` 0 when
        none is). A point matches a run whose input has the same float64 bytes."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (a no-op for the in-memory store)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _empty_runs() -> dict:
    return {"index": np.empty(0, dtype=np.int64), "x": np.empty((0, 0)), "y": np.empty((0, 0)),
            "status": [], "error": [], "seconds": np.empty(0)}


def _stack_rows(rows: list) -> np.ndarray:
    """Rows of possibly different lengths (failed points may have none) as (n, m), NaN-filled."""
    m = max((r.size for r in rows), default=0)
    out = np.full((len(rows), m), np.nan)
    for i, r in enumerate(rows):
        if r.size == m:
            out[i] = r
    return out


def _from_blobs(blobs: list) -> np.ndarray:
    """float64 rows from byte strings, at once when they all have the same length."""
    sizes = {len(b) for b in blobs}
    if len(sizes) == 1:
        m = sizes.pop() // 8
        return np.frombuffer(b"".join(blobs), dtype=np.float64).reshape(len(blobs), m).copy()
    return _stack_rows([np.frombuffer(b, dtype=np.float64) for b in blobs])


def _found_rows(x: np.ndarray, outputs: dict[bytes, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Store.find_runs`'s answer from the outputs found, keyed by input bytes."""
    keys = [row.tobytes() for row in x]
    found = np.array([key in outputs for key in keys], dtype=bool)
    width = next(iter(outputs.values())).size if outputs else 0
    y = np.full((x.shape[0], width), np.nan)
    for k in np.flatnonzero(found):
        y[k] = outputs[keys[k]]
    return found, y


def _check_settings(study_id: str, stored: dict, new: dict) -> None:
    if stored != new:
        diff = settings_diff(stored, new)
        raise StoreMismatchError(
            f"study {study_id!r} is already in the store with different settings: "
            + "; ".join(diff)
            + ". Re-run with the stored settings to resume, or give a new study_id "
            "(or a new store) for a new study"
        )


class InMemoryStore(Store):
    """A store in a dict: the reference implementation of the contract."""

    def __init__(self):
        self._settings: dict[str, dict] = {}
        self._batches: dict[tuple[str, int], BatchRecord] = {}
        self._runs: dict[tuple[str, int], dict[int, tuple]] = {}
        self._lock = threading.Lock()

    def open_study(self, study_id, settings):
        new = canonical_settings(settings)
        with self._lock:
            stored = self._settings.setdefault(study_id, new)
        _check_settings(study_id, stored, new)

    def study_settings(self, study_id):
        return self._settings.get(study_id)

    def studies(self):
        return sorted(self._settings)

    def get_batch(self, study_id, batch):
        return self._batches.get((study_id, int(batch)))

    def _insert_batch(self, study_id, batch, record):
        with self._lock:
            self._batches.setdefault((study_id, int(batch)), record)

    def put_runs(self, study_id, batch, index, x, y, status, error, seconds):
        x = np.array(x, dtype=np.float64, ndmin=2)
        y = np.array(y, dtype=np.float64, ndmin=2)
        # all records are built before any is written (all or none)
        records = {i: (x[k].copy(), y[k].copy(), str(status[k]), str(error[k]),
                       float(seconds[k]))
                   for k, i in enumerate(np.asarray(index, dtype=np.int64).tolist())}
        with self._lock:
            runs = self._runs.setdefault((study_id, int(batch)), {})
            for i, record in records.items():
                old = runs.get(i)
                if old is None or old[2] != "ok":
                    runs[i] = record

    def load_runs(self, study_id, batch):
        runs = self._runs.get((study_id, int(batch)))
        if not runs:
            return _empty_runs()
        keys = sorted(runs)
        rows = [runs[i] for i in keys]
        return {"index": np.array(keys, dtype=np.int64),
                "x": np.stack([r[0] for r in rows]), "y": _stack_rows([r[1] for r in rows]),
                "status": [r[2] for r in rows], "error": [r[3] for r in rows],
                "seconds": np.array([r[4] for r in rows])}

    def count_runs(self, study_id, status=None):
        return sum(1 for (s, _), runs in self._runs.items() if s == study_id
                   for r in runs.values() if status is None or r[2] == status)

    def find_runs(self, study_ids, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        wanted = {row.tobytes() for row in x}
        studies = set(study_ids)
        outputs: dict[bytes, np.ndarray] = {}
        with self._lock:
            for (study, _), runs in self._runs.items():
                if study in studies:
                    for record in runs.values():
                        key = record[0].tobytes()
                        if record[2] == "ok" and key in wanted:
                            outputs.setdefault(key, record[1])
        return _found_rows(x, outputs)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    study TEXT PRIMARY KEY, settings TEXT NOT NULL, version TEXT, created REAL);
CREATE TABLE IF NOT EXISTS batches (
    study TEXT NOT NULL, batch INTEGER NOT NULL, points_hash TEXT NOT NULL,
    n_points INTEGER NOT NULL, PRIMARY KEY (study, batch));
CREATE TABLE IF NOT EXISTS runs (
    study TEXT NOT NULL, batch INTEGER NOT NULL, idx INTEGER NOT NULL,
    x BLOB NOT NULL, y BLOB, status TEXT NOT NULL, error TEXT NOT NULL,
    seconds REAL NOT NULL, written REAL NOT NULL, PRIMARY KEY (study, batch, idx));
CREATE INDEX IF NOT EXISTS runs_by_x ON runs (x);
"""
#: Points per query of :meth:`SQLiteStore.find_runs` (SQLite's bound on a statement's
#: parameters is 999 before version 3.32).
_FIND_CHUNK = 500


def describe_sqlite_error(exc: BaseException, path: str) -> str:
    """One line on an SQLite failure with ``path``, saying what the user can do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    low = text.lower()
    if "full" in low:
        hint = ("the runs stored so far are kept: free some space and re-run the same call "
                "to resume")
    elif "readonly" in low or "read-only" in low:
        hint = "the store is read-only: copy it to a writable folder to resume"
    elif "malformed" in low or "not a database" in low or "corrupt" in low:
        hint = "the file is damaged or not an SQLite file: use another store"
    elif "locked" in low:
        hint = "another process holds the store's write lock"
    else:
        hint = "check the file and its folder"
    return f"the store {path}: {text} ({hint})"


def _writable(path: str) -> bool:
    """Whether the file and its folder (where SQLite keeps its -wal and -shm files) can be
    written (False on a read-only file system, even for root)."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def _connect_read_only(path: str, timeout: float) -> sqlite3.Connection:
    """A read-only connection: ``mode=ro``, else ``immutable=1`` (a WAL file whose -shm file
    cannot be created, e.g. on a read-only file system, opens only that way)."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path))
    error: sqlite3.Error | None = None
    for query in ("mode=ro", "immutable=1"):
        conn = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=timeout,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            error = exc
            if "unable to open" not in str(exc):
                break
    raise error


class SQLiteStore(Store):
    """A store in one SQLite file (standard :mod:`sqlite3`, WAL mode).

    Parameters
    ----------
    path : str or os.PathLike
        The file; created with the schema when missing or empty.
    timeout : float
        Seconds to wait for another process's write lock.

    Attributes
    ----------
    read_only : bool
        The file cannot be written (read-only file system or file): studies can be read,
        a write raises :class:`~multiexpect.errors.StoreError`.

    Raises
    ------
    StoreError
        The file is not an SQLite file, or is another application's database (it is left
        untouched: no table added, journal mode unchanged), or is read-only and empty.
    StoreMismatchError
        The file was written with another schema version.
    """

    def __init__(self, path, timeout: float = 120.0):
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        exists = os.path.isfile(self.path) and os.path.getsize(self.path) > 0
        self.read_only = exists and not _writable(self.path)
        found = None
        try:
            if exists:  # look before writing anything
                probe = _connect_read_only(self.path, timeout)
                try:
                    found = self._retry_locked(lambda: self._schema_version(probe), timeout)
                except BaseException:
                    probe.close()
                    raise
                if self.read_only:
                    self._conn = probe
                else:
                    probe.close()
            if self.read_only and found is None:
                raise StoreError(f"the store {self.path} is read-only and holds no study: "
                                 f"give a writable file")
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                             check_same_thread=False)
                self._retry_locked(lambda: self._conn.execute("PRAGMA journal_mode=WAL"),
                                   timeout)
                self._conn.execute("PRAGMA synchronous=NORMAL")
                with self._write():
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self._conn.execute(statement)
                    row = self._conn.execute(
                        "SELECT value FROM meta WHERE key='schema_version'").fetchone()
                    if row is None:
                        self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                           (str(SCHEMA_VERSION),))
                        found = SCHEMA_VERSION
                    else:
                        found = int(row[0])
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(describe_sqlite_error(exc, self.path)) from None
        except BaseException:
            self.close()
            raise
        if found != SCHEMA_VERSION:
            self.close()
            raise StoreMismatchError(
                f"the store {self.path!r} has schema version {found}, this version of "
                f"multiexpect reads version {SCHEMA_VERSION}: open it with the multiexpect "
                f"version that wrote it, or use a new store file"
            )

    def _schema_version(self, conn: sqlite3.Connection) -> int | None:
        """The schema version of an existing file; None when it has no table (a new store).

        Raises StoreError for another application's database (any table, no ``meta`` row)."""
        tables = sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'").fetchall())
        if not tables:
            return None
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and str(row[0]).isdigit():
                return int(row[0])
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"the store {self.path} is an SQLite database of another application (tables: "
            f"{shown}): it is left untouched; give a new file or a multiexpect store")

    @staticmethod
    def _retry_locked(action, timeout: float):
        """``action()``, retried while SQLite answers "database is locked".

        SQLite may answer so without calling the busy handler (the connection's
        ``timeout``), e.g. to the switch to write-ahead logging while another process is
        creating the same new file: two studies started together on one store failed that
        way on CI. The switch is persistent and the reads have no effect, so retrying until
        ``timeout`` is safe.
        """
        deadline = time.monotonic() + timeout
        pause = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, 0.5)

    @contextmanager
    def _write(self):
        """A write transaction that takes the lock at once (no deadlock on lock upgrade).

        SQLite failures (disk full, damaged file) become one-line StoreErrors; the
        transaction is rolled back, so the runs committed before are intact."""
        if self.read_only:
            raise StoreError(f"the store {self.path} is read-only (read-only file system or "
                             f"file): this study needs to write to it; copy it to a writable "
                             f"folder to run or resume")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(describe_sqlite_error(exc, self.path)) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(describe_sqlite_error(exc, self.path)) from None
                raise

    def _read(self, sql, args=()):
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(describe_sqlite_error(exc, self.path)) from None

    def open_study(self, study_id, settings):
        new = canonical_settings(settings)
        stored = self.study_settings(study_id)
        if stored is None:  # a study already there is only read (a read-only store too)
            text = json.dumps(new, sort_keys=True)
            with self._write() as conn:
                conn.execute("INSERT OR IGNORE INTO studies VALUES (?, ?, ?, ?)",
                             (study_id, text, str(new.get("version", "")), time.time()))
                stored = json.loads(conn.execute(
                    "SELECT settings FROM studies WHERE study=?", (study_id,)).fetchone()[0])
        _check_settings(study_id, stored, new)

    def study_settings(self, study_id):
        rows = self._read("SELECT settings FROM studies WHERE study=?", (study_id,))
        return json.loads(rows[0][0]) if rows else None

    def studies(self):
        return [r[0] for r in self._read("SELECT study FROM studies ORDER BY study")]

    def get_batch(self, study_id, batch):
        rows = self._read("SELECT points_hash, n_points FROM batches WHERE study=? AND batch=?",
                          (study_id, int(batch)))
        return BatchRecord(rows[0][0], int(rows[0][1])) if rows else None

    def _insert_batch(self, study_id, batch, record):
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO batches VALUES (?, ?, ?, ?)",
                         (study_id, int(batch), record.points_hash, record.n_points))

    def put_runs(self, study_id, batch, index, x, y, status, error, seconds):
        x = np.array(x, dtype=np.float64, ndmin=2)
        y = np.array(y, dtype=np.float64, ndmin=2)
        now = time.time()
        rows = [(study_id, int(batch), int(i), x[k].tobytes(),
                 y[k].tobytes(), str(status[k]), str(error[k]), float(seconds[k]), now)
                for k, i in enumerate(np.asarray(index, dtype=np.int64).tolist())]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (study, batch, idx) DO UPDATE SET x=excluded.x, y=excluded.y, "
                "status=excluded.status, error=excluded.error, seconds=excluded.seconds, "
                "written=excluded.written WHERE runs.status != 'ok'", rows)

    def load_runs(self, study_id, batch):
        rows = self._read("SELECT idx, x, y, status, error, seconds FROM runs "
                          "WHERE study=? AND batch=? ORDER BY idx", (study_id, int(batch)))
        if not rows:
            return _empty_runs()
        return {"index": np.array([r[0] for r in rows], dtype=np.int64),
                "x": _from_blobs([r[1] for r in rows]),
                "y": _from_blobs([r[2] for r in rows]),
                "status": [r[3] for r in rows], "error": [r[4] for r in rows],
                "seconds": np.array([r[5] for r in rows], dtype=float)}

    def count_runs(self, study_id, status=None):
        if status is None:
            rows = self._read("SELECT COUNT(*) FROM runs WHERE study=?", (study_id,))
        else:
            rows = self._read("SELECT COUNT(*) FROM runs WHERE study=? AND status=?",
                              (study_id, status))
        return int(rows[0][0])

    def find_runs(self, study_ids, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        studies = list(dict.fromkeys(study_ids))
        outputs: dict[bytes, np.ndarray] = {}
        if studies:
            blobs = list(dict.fromkeys(row.tobytes() for row in x))
            among = ", ".join("?" * len(studies))
            for start in range(0, len(blobs), _FIND_CHUNK):
                part = blobs[start:start + _FIND_CHUNK]
                rows = self._read(
                    f"SELECT x, y FROM runs WHERE x IN ({', '.join('?' * len(part))}) "
                    f"AND status='ok' AND study IN ({among})", (*part, *studies))
                for key, value in rows:
                    outputs.setdefault(bytes(key), np.frombuffer(value, dtype=np.float64))
        return _found_rows(x, outputs)

    def close(self):
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            conn.close()

    def __getstate__(self):
        raise TypeError("an SQLiteStore cannot be pickled: pass its path to other processes")


def check_store(store) -> None:
    """Check the ``store`` argument without opening anything.

    Raises
    ------
    ValueError
        Not None, a path or a :class:`Store`.
    """
    if not (store is None or isinstance(store, (Store, str, os.PathLike))):
        raise ValueError(
            f"'store' must be None, a path to an SQLite file or a Store object, "
            f"got {type(store).__name__}"
        )


def open_store(store) -> Store | None:
    """Normalise the ``store`` argument: ``None``, a path (SQLite file) or a :class:`Store`.

    Raises
    ------
    ValueError
        Anything else.
    """
    check_store(store)
    if store is None or isinstance(store, Store):
        return store
    return SQLiteStore(store)
