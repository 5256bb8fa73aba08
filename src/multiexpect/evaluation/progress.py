"""An optional progress bar: model runs spent / budget, predicted error, time left.

Uses :mod:`tqdm` (the ``progress`` extra). The bar is drawn on standard error, never on
standard output, so that a study's printed results can be piped or redirected cleanly. It is
a no-op when ``progress=False``, when standard output is not a terminal (output piped or
redirected: a batch job, ``python study.py > results.txt``), when the stream it would draw on
(standard error) is not a terminal either (``2> log.txt``: no carriage-return noise in logs),
or when tqdm is not installed: a study never fails for want of a progress bar.
"""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """Progress of a study in model runs.

    Parameters
    ----------
    enabled : bool
        Whether a bar is wanted.
    total : int or None
        The budget (runs); unknown when None.
    stream : file, optional
        Where to draw (standard error by default); must be a terminal.
    stdout : file, optional
        The standard output to check (``sys.stdout`` by default); must be a terminal.
    """

    def __init__(self, enabled: bool, total: int | None = None, stream=None, stdout=None):
        self.bar = None
        stream = sys.stderr if stream is None else stream
        stdout = sys.stdout if stdout is None else stdout
        if not enabled or not (_isatty(stdout) and _isatty(stream)):
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, unit="run", desc="model runs", file=stream,
                        dynamic_ncols=True)

    @property
    def active(self) -> bool:
        return self.bar is not None

    def update(self, n_runs: int) -> None:
        """Count ``n_runs`` more runs (run now or read from the store)."""
        if self.bar is not None and n_runs:
            self.bar.update(n_runs)

    def note(self, **fields) -> None:
        """Show extra fields (e.g. ``predicted_error``) next to the bar."""
        if self.bar is not None:
            self.bar.set_postfix({k: (f"{v:.3g}" if isinstance(v, float) else v)
                                  for k, v in fields.items()}, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _isatty(stream) -> bool:
    """Whether ``stream`` is a terminal (False for None, closed or odd file objects)."""
    try:
        return bool(stream.isatty())
    except Exception:
        return False
