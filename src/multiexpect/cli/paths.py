"""Output paths checked before the first model run: a file that cannot be written at the
end of a study would otherwise be found only after every run was paid for."""

from __future__ import annotations

import os

from .fields import StudyError

__all__ = ["check_output_path"]


def check_output_path(path: str, option: str) -> str:
    """Raise a :class:`StudyError` naming ``option`` when a file cannot be written at ``path``.

    The folder is resolved by the operating system, not lexically: ``missing/../out.html``
    passes ``os.path.abspath`` but cannot be opened. Refused: a path naming a folder, a
    folder that does not exist (or is not a folder), a folder that is not writable.
    Returns ``path``.
    """
    if os.path.isdir(path):
        raise StudyError(option, f"{path} is a folder; give a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise StudyError(option, f"folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudyError(option, f"folder {folder} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise StudyError(option, f"{path} is not writable")
    return path
