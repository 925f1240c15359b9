"""Where hotich finds the read-only shared data (datasets, fonts, reference tables).

The location is a setting, never a constant: ``HOTICH_SHARED`` (a path, relative to the current directory
when relative) or, when unset, ``../shared`` next to the project root. Everything that needs the shared data
calls :func:`require_shared` so that a missing folder gives one clear message instead of a stack trace.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENV_VAR = "HOTICH_SHARED"


class SharedDataMissing(FileNotFoundError):
    """Raised when a command needs ``../shared`` (or ``$HOTICH_SHARED``) and it is not there."""


def shared_dir() -> Path:
    """The configured shared-data folder (it may not exist)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return Path(value).expanduser().resolve()
    return (PROJECT_ROOT / ".." / "shared").resolve()


def require_shared(*parts: str) -> Path:
    """Path to ``shared/<parts>``; raises :class:`SharedDataMissing` naming the setting when absent."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        raise SharedDataMissing(
            f"{path} not found. hotich reads real data from the shared folder set by ${ENV_VAR} "
            f"(now {shared_dir()}); point ${ENV_VAR} at a copy of it, or use the synthetic font path "
            f"(e.g. --source font), which works without it."
        )
    return path


def cache_dir() -> Path:
    """Writable cache for derived data (parsed ink, rendered sheets); ``$HOTICH_CACHE`` or ``.cache/``."""
    path = Path(os.environ.get("HOTICH_CACHE", PROJECT_ROOT / ".cache")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
