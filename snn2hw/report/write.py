"""Write a report as ``report.json`` + ``report.md`` + ``report.html`` (as one set) and read it back."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from snn2hw.errors import FileFormatError, OutputError
from snn2hw.report.build import SCHEMA, SCHEMA_VERSION
from snn2hw.report.render import to_html, to_markdown
from snn2hw.util.atomic import commit_files, write_text
from snn2hw.util.faults import deferred_interrupts, fault_point


def write_report(report: dict, out_dir) -> dict:
    """Write the three files into a temporary folder inside ``out_dir``, then rename them in as a set.

    A failure or interrupt leaves the previous three files (if any) as they were: never a
    ``report.json`` of one run beside a ``report.html`` of another.
    """
    out = Path(out_dir)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    md, html = to_markdown(report), to_html(report)  # render first: nothing is written if rendering fails
    texts = {"json": json.dumps(report, indent=2, sort_keys=False) + "\n", "md": md, "html": html}
    tmp = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        with deferred_interrupts():  # no signal between creating the temporary folder and knowing its name
            tmp = Path(tempfile.mkdtemp(prefix=".report.", suffix=".tmp", dir=out))
        for key, p in paths.items():
            write_text(tmp / p.name, texts[key])
        fault_point("report:written")
        commit_files([(tmp / p.name, p) for p in paths.values()], tmp / ".replaced", "report")
    except OutputError as e:  # a file in the temporary folder: name the report file instead
        raise OutputError(out / Path(e.path).name, e.__cause__) from e
    except OSError as e:
        raise OutputError(out, e) from e
    finally:
        if tmp is not None:
            with deferred_interrupts():
                shutil.rmtree(tmp, ignore_errors=True)
    return paths


def read_report(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such report file")
    try:
        rep = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{path} is not a JSON report ({e})") from None
    except RecursionError:
        raise FileFormatError(f"{path} is not a snn2hw report (JSON nested too deeply)") from None
    if not isinstance(rep, dict) or rep.get("schema") != SCHEMA:
        raise FileFormatError(f"{path} is not a snn2hw report (schema field {rep.get('schema') if isinstance(rep, dict) else None!r}, "
                              f"expected '{SCHEMA}')")
    v = rep.get("schema_version")
    if not isinstance(v, int) or v > SCHEMA_VERSION:
        raise FileFormatError(f"{path} has report schema version {v!r}; this snn2hw reads up to {SCHEMA_VERSION}. "
                              f"Upgrade snn2hw.")
    for key in ("runs", "model", "inputs", "created", "snn2hw_version"):
        if key not in rep:
            raise FileFormatError(f"{path}: the report lacks the field '{key}'")
    return rep
