"""Save and load a Graph as one versioned HDF5 file (``.s2h``).

Layout::

    /            attrs: format="snn2hw-ir", format_version, snn2hw_version, edges (JSON), metadata (JSON)
    /nodes/<i>   one group per node in graph order; attrs: name, type, scalars (JSON); datasets: arrays

Files are written to a temporary file beside the target and renamed, so a
failed save never leaves a half-written file. The first 512 bytes are an HDF5
user block (ignored by HDF5 readers) holding ``snn2hw-s2h sha256 <hex>`` of the
rest of the file; :func:`load_graph` checks it before libhdf5 parses anything,
because libhdf5 can loop forever or crash on a corrupt file. Files whose block is
missing or does not match (older files, other tools, truncated, corrupted or
edited ones) are first read once in a child process (:mod:`snn2hw.util.h5probe`). Each
array dataset also carries a ``sha256`` attribute (dtype, shape, bytes) checked when it is read; datasets
without one (files written before it, or replaced with h5py) load unchecked. A file whose ``format_version``
is newer than this code supports is refused with a message that says so.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path

import h5py
import numpy as np

from snn2hw import __version__
from snn2hw.errors import FileFormatError, GraphError
from snn2hw.ir import nodes as N
from snn2hw.ir.graph import Graph
from snn2hw.util.atomic import write_bytes
from snn2hw.util.limits import bytes_limit_text, expansion_problem, limit_text, max_elements, too_many_bytes

FORMAT = "snn2hw-ir"
FORMAT_VERSION = 1
#: the checksum user block at the start of the file
USERBLOCK = 512
CHECKSUM_MAGIC = b"snn2hw-s2h sha256 "


def _jsonable(v):
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def array_sha256(a: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-order bytes: stored as each dataset's ``sha256`` attribute and
    checked on load, so that a flipped bit inside tensor data is refused even where the file-wide block was
    dropped (a file edited with h5py keeps the attributes of the datasets it did not touch)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}|{tuple(a.shape)}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def save_graph(graph: Graph, path) -> Path:
    """Write ``graph`` to ``path`` (.s2h) atomically and return the path."""
    path = Path(path)
    image = io.BytesIO()  # built in memory, then written atomically (see snn2hw.util.atomic.write_bytes)
    with h5py.File(image, "w", userblock_size=USERBLOCK) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["snn2hw_version"] = __version__
        f.attrs["edges"] = json.dumps([list(e) for e in graph.edges])
        f.attrs["metadata"] = json.dumps(graph.metadata, default=_jsonable)
        grp = f.create_group("nodes")
        for i, (name, node) in enumerate(graph.nodes.items()):
            g = grp.create_group(str(i))
            g.attrs["name"] = name
            g.attrs["type"] = type(node).__name__
            scalars = {}
            for key, val in node.params().items():
                if isinstance(val, np.ndarray):
                    g.create_dataset(key, data=val).attrs["sha256"] = array_sha256(val)
                elif key == "metadata":
                    g.attrs["metadata"] = json.dumps(val, default=_jsonable)
                else:
                    scalars[key] = _jsonable(val)
            g.attrs["scalars"] = json.dumps(scalars, default=_jsonable)
    data = image.getbuffer()
    head = CHECKSUM_MAGIC + hashlib.sha256(data[USERBLOCK:]).hexdigest().encode() + b"\n"
    data[:len(head)] = head
    return write_bytes(path, image.getvalue())


def _check_integrity(path: Path) -> None:
    """Before libhdf5 parses ``path``: verify the checksum block snn2hw writes, or (a file without one)
    read the whole file once in a child process that may hang or crash instead of this one."""
    with open(path, "rb") as fh:
        head = fh.read(USERBLOCK)
        if head.startswith(CHECKSUM_MAGIC):
            want = head[len(CHECKSUM_MAGIC):len(CHECKSUM_MAGIC) + 64].decode("ascii", "replace")
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            if h.hexdigest() == want:
                return  # byte for byte what snn2hw wrote
            # truncated, corrupted or edited after snn2hw wrote it (e.g. with h5py): read it like a foreign file
    from snn2hw.util.h5probe import probe_hdf5
    probe_hdf5(path, "a snn2hw .s2h graph")


def _read_node(path, g) -> tuple:
    where = f"{path}: node group '{g.name}'"
    for key in ("name", "type", "scalars"):
        if key not in g.attrs:
            raise FileFormatError(f"{where} lacks the attribute '{key}'; the file is corrupt or not a snn2hw graph")
    type_name = str(g.attrs["type"])
    cls = N.NODE_TYPES.get(type_name)
    if cls is None:
        raise FileFormatError(f"{where} has the unknown node type '{type_name}' "
                              f"(known: {', '.join(sorted(N.NODE_TYPES))})")
    try:
        kwargs = json.loads(g.attrs["scalars"])
        kwargs["metadata"] = json.loads(g.attrs.get("metadata", "{}"))
    except (json.JSONDecodeError, TypeError) as e:
        raise FileFormatError(f"{where}: unreadable attributes ({e})") from None
    except RecursionError:
        raise FileFormatError(f"{where}: unreadable attributes (JSON nested too deeply)") from None
    init_fields = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in g.keys():
        ds = g[key]
        if not isinstance(ds, h5py.Dataset):
            raise FileFormatError(f"{where}: '{key}' should be an array dataset")
        if ds.size > max_elements():
            raise FileFormatError(f"{where}: '{key}' declares {ds.size} elements, above the {limit_text()}; "
                                  f"refusing to allocate it")
        if ds.dtype.kind not in "biuf":
            raise FileFormatError(f"{where}: '{key}' has dtype {ds.dtype}, expected a numeric array")
        if too_many_bytes(ds.size * ds.dtype.itemsize):
            raise FileFormatError(f"{where}: '{key}' declares {ds.size * ds.dtype.itemsize / 1e9:.2f} GB, above "
                                  f"the {bytes_limit_text()}; refusing to allocate it")
        why = expansion_problem(ds.size * ds.dtype.itemsize, ds.id.get_storage_size())
        if why:
            raise FileFormatError(f"{where}: '{key}' {why}; refusing to allocate it")
        kwargs[key] = ds[()]
        want = ds.attrs.get("sha256")
        if want is not None:
            if isinstance(want, bytes):
                want = want.decode("ascii", "replace")
            if array_sha256(np.asarray(kwargs[key])) != str(want):
                raise FileFormatError(f"{where}: the data of '{key}' does not match its sha256 (the file is "
                                      f"corrupt); re-export it")
    unknown = set(kwargs) - init_fields
    if unknown:
        raise FileFormatError(f"{where} ({type_name}) has unknown fields {sorted(unknown)}")
    try:
        node = cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise FileFormatError(f"{where} ({type_name}) cannot be built: {e}") from None
    return str(g.attrs["name"]), node


def load_graph(path, validate: bool = True) -> Graph:
    """Read a ``.s2h`` file. Raises FileFormatError (clear message) on anything unexpected."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    _check_integrity(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{path} is not a readable HDF5 file ({e}); expected a snn2hw .s2h graph") from None
    with f:
        fmt = f.attrs.get("format")
        if fmt != FORMAT:
            raise FileFormatError(f"{path} is an HDF5 file but not a snn2hw graph (format attribute {fmt!r}, "
                                  f"expected '{FORMAT}')")
        version = f.attrs.get("format_version")
        try:
            version = int(version)
        except (TypeError, ValueError):
            raise FileFormatError(f"{path}: format_version {version!r} is not an integer") from None
        if version > FORMAT_VERSION:
            raise FileFormatError(
                f"{path} was written with snn2hw graph format version {version} "
                f"(by snn2hw {f.attrs.get('snn2hw_version', '?')}); this snn2hw {__version__} reads versions "
                f"up to {FORMAT_VERSION}. Upgrade snn2hw to read it.")
        try:
            edges = [tuple(e) for e in json.loads(f.attrs["edges"])]
            metadata = json.loads(f.attrs.get("metadata", "{}"))
        except (KeyError, json.JSONDecodeError, TypeError) as e:
            raise FileFormatError(f"{path}: unreadable edge list or metadata ({e})") from None
        except RecursionError:
            raise FileFormatError(f"{path}: unreadable edge list or metadata (JSON nested too deeply)") from None
        if "nodes" not in f:
            raise FileFormatError(f"{path} has no 'nodes' group; the file is corrupt")
        keys = sorted(f["nodes"].keys(), key=lambda k: int(k) if k.isdigit() else -1)
        graph = Graph(metadata=metadata)
        for k in keys:
            name, node = _read_node(path, f["nodes"][k])
            if name in graph.nodes:
                raise FileFormatError(f"{path}: node name '{name}' appears twice")
            graph.nodes[name] = node
        if not all(isinstance(e, tuple) and len(e) == 2 for e in edges):
            raise FileFormatError(f"{path}: edges must be (source, destination) pairs")
        graph.edges = [(str(a), str(b)) for a, b in edges]
    if validate:
        try:
            graph.validate()
        except GraphError as e:
            raise GraphError(e.problems, context=f"graph in {path}") from None
    else:
        graph.infer_shapes()
    return graph
