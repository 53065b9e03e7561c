"""Tracebacks go to a log file, never to the console.

``log_dir()`` is ``$SNN2HW_LOG_DIR`` if set, else ``$XDG_CACHE_HOME/snn2hw/logs``
(``~/.cache/snn2hw/logs`` when ``XDG_CACHE_HOME`` is unset), else, when that cannot be
created, ``<tempdir>/snn2hw-logs``. ``write_log(kind, text)`` writes one file named
``<kind>-<UTC time>-<pid>.log`` there and returns its path (``None`` if nothing could be written).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def log_dir() -> Path:
    env = os.environ.get("SNN2HW_LOG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "snn2hw" / "logs"


def write_log(kind: str, text: str) -> Path | None:
    """Write ``text`` to a new log file; try the cache folder, then the temp folder."""
    name = f"{kind}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.log"
    for folder in (log_dir(), Path(tempfile.gettempdir()) / "snn2hw-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            with open(path, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
            return path
        except OSError:
            continue
    return None


def one_line(e: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line, at most ``limit`` characters, printable whatever the message holds."""
    msg = " ".join(str(e).split()) if str(e) else ""
    msg = msg.encode("utf-8", "backslashreplace").decode("utf-8")
    text = f"{type(e).__name__}: {msg}" if msg else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
