"""Child side of :mod:`snn2hw.util.h5probe`: walk an HDF5 file and report what is unsafe to read.

Run as ``python -I _h5probe_child.py PATH MAX_ELEMENTS``; imports only h5py and
numpy. Prints one JSON object: ``{"problems": [...]}`` (empty when the file can be
read in-process) or ``{"error": "..."}`` when h5py refuses the file. A corrupt
file that makes libhdf5 loop or crash does so here, in a process the parent can
time out or see die, never in the user's process.
"""
import json
import sys

MAX_OBJECTS = 100_000
MAX_DEPTH = 64
EXPANSION, EXPANSION_FLOOR = 1100, 64 << 20   # the same as snn2hw.util.limits (this file imports nothing of snn2hw)
READ_BYTES = 256 << 20  # datasets up to this size are read in full (touches every chunk and heap object)


def _numel(shape) -> int:
    n = 1
    for s in shape or ():
        n *= int(s)
    return n


def walk(path: str, limit: int) -> list:
    import h5py
    problems = []
    count = [0]

    def check_attrs(obj, where):
        for k in obj.attrs:
            aid = obj.attrs.get_id(k)
            n = _numel(aid.shape)
            if n > limit:
                problems.append(f"attribute '{where}@{k}' declares {n} elements")
                continue
            obj.attrs[k]  # reads it: vlen strings live in the global heap

    def check_dataset(ds, where):
        n = _numel(ds.shape)
        if n > limit:
            problems.append(f"dataset '{where}' declares {n} elements (shape {tuple(ds.shape)})")
            return
        if byte_limit and n * ds.dtype.itemsize > byte_limit:
            problems.append(f"dataset '{where}' declares {n * ds.dtype.itemsize} bytes (shape {tuple(ds.shape)})")
            return
        declared, stored = n * ds.dtype.itemsize, ds.id.get_storage_size()
        if declared > EXPANSION_FLOOR and declared > EXPANSION * stored:   # as snn2hw.util.limits.expansion_problem
            problems.append(f"dataset '{where}' declares {declared} bytes but stores {stored} (more than "
                            f"{EXPANSION}:1, beyond what compression gives: the data is not in the file)")
            return
        plist = ds.id.get_create_plist()
        if plist.get_external_count() > 0:
            problems.append(f"dataset '{where}' stores its data in an external file")
            return
        if plist.get_layout() == h5py.h5d.VIRTUAL:
            problems.append(f"dataset '{where}' is a virtual dataset (data in other files)")
            return
        if n * ds.dtype.itemsize <= READ_BYTES:
            ds[()]
        elif n:
            ds[(0,) * ds.ndim]

    def visit(group, where, depth):
        if depth > MAX_DEPTH:
            problems.append(f"groups nested deeper than {MAX_DEPTH} levels at '{where}'")
            return
        check_attrs(group, where)
        for name in group:
            count[0] += 1
            if count[0] > MAX_OBJECTS:
                problems.append(f"more than {MAX_OBJECTS} objects")
                return
            sub = f"{where.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                problems.append(f"'{sub}' is a link to another file ({link.filename})")
                continue
            if isinstance(link, h5py.SoftLink):
                continue  # not followed: it names an object visited through its hard link
            obj = group[name]
            if isinstance(obj, h5py.Group):
                visit(obj, sub, depth + 1)
            elif isinstance(obj, h5py.Dataset):
                check_attrs(obj, sub)
                check_dataset(obj, sub)
            if problems:
                return

    with h5py.File(path, "r") as f:
        visit(f, "/", 0)
    return problems


byte_limit = 0  # SNN2HW_MAX_BYTES as the parent computed it (0: none)


def main(argv) -> int:
    path, limit = argv[1], int(argv[2])
    global byte_limit
    byte_limit = int(argv[3]) if len(argv) > 3 else 0
    try:
        import resource
        cap = 8 << 30  # a corrupt header must not make this process eat the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        pass
    try:
        out = {"problems": walk(path, limit)}
    except Exception as e:  # noqa: BLE001 - every h5py/libhdf5 complaint is reported to the parent
        msg = str(e).splitlines()[0] if str(e) else "unreadable"
        out = {"error": f"{type(e).__name__}: {msg[:300]}"}
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
