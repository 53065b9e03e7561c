"""The ``created`` time of manifests and reports, fixed by ``SOURCE_DATE_EPOCH`` for reproducible artifacts.

``SOURCE_DATE_EPOCH`` follows the reproducible-builds.org convention
(https://reproducible-builds.org/specs/source-date-epoch/): an ASCII integer count of seconds
since 1970-01-01 00:00:00 UTC, as ``date +%s`` prints it. When it is set, :func:`created_timestamp`
returns that instant instead of the current time, so two runs with the same inputs write the same
bytes (see the README and ``tests/determinism``). Unset or empty (as Python's own ``py_compile``
treats an empty value): the current time. A malformed value (signs, spaces, fractions, digits other
than ASCII 0-9, or a time past the year 9999) is an error naming the variable, as the specification
asks ("the build process SHOULD exit with a non-zero error code"), rather than a silent fallback to
the current time.
"""
from __future__ import annotations

import datetime as _dt
import os
import re

from snn2hw.errors import Snn2hwError

ENV = "SOURCE_DATE_EPOCH"
#: 9999-12-31T23:59:59Z, the last second an ISO date with four year digits can name
MAX_EPOCH = 253402300799
_DIGITS = re.compile(r"[0-9]+")


def source_date_epoch() -> int | None:
    """The integer value of ``SOURCE_DATE_EPOCH``, or None when it is unset or empty; raise
    :class:`~snn2hw.errors.Snn2hwError` naming the variable when it is not a non-negative integer."""
    raw = os.environ.get(ENV)
    if raw is None or raw == "":
        return None
    shown = repr(raw if len(raw) <= 40 else raw[:40] + "...")
    if not _DIGITS.fullmatch(raw):
        raise Snn2hwError(f"the environment variable {ENV}={shown} is not a non-negative integer count of "
                          f"seconds since 1970-01-01 00:00:00 UTC (as 'date +%s' prints it; "
                          f"https://reproducible-builds.org/specs/source-date-epoch/); set it to such a "
                          f"number or unset it")
    digits = raw.lstrip("0") or "0"  # no int() of thousands of digits (Python refuses above 4300)
    if len(digits) > len(str(MAX_EPOCH)) or int(digits) > MAX_EPOCH:
        raise Snn2hwError(f"the environment variable {ENV}={shown} is past the year 9999 (at most {MAX_EPOCH}); "
                          f"set it to a count of seconds since 1970-01-01 00:00:00 UTC or unset it")
    return int(digits)


def created_timestamp() -> str:
    """The ``created`` field of manifests and reports: ISO 8601 in UTC to the second
    (``2023-11-14T22:13:20+00:00``), from ``SOURCE_DATE_EPOCH`` when set, else the current time."""
    epoch = source_date_epoch()
    when = (_dt.datetime.now(_dt.timezone.utc) if epoch is None
            else _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc))
    return when.isoformat(timespec="seconds")
