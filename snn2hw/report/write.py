"""Write a report as ``report.json`` + ``report.md`` + ``report.html`` (each atomically) and read it back."""
from __future__ import annotations

import json
from pathlib import Path

from snn2hw.errors import FileFormatError
from snn2hw.report.build import SCHEMA, SCHEMA_VERSION
from snn2hw.report.render import to_html, to_markdown
from snn2hw.util.atomic import write_text


def write_report(report: dict, out_dir) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    md, html = to_markdown(report), to_html(report)  # render first: nothing is written if rendering fails
    write_text(paths["json"], json.dumps(report, indent=2, sort_keys=False) + "\n")
    write_text(paths["md"], md)
    write_text(paths["html"], html)
    return paths


def read_report(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such report file")
    try:
        rep = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{path} is not a JSON report ({e})") from None
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
