#!/usr/bin/env python3
"""rundigest.py: one SHA-256 over what a run learnt and measured, so a change can tell whether it
changed results.

The digest covers every dataset of a run file except `curriculum/` (which holds the curriculum's
path and text, not a result): parameters of every row, the resume state, per-example scores and
predictions, metric values, the score matrices and the forgetting measures, in sorted order of
their names, each as its name, shape, dtype and raw bytes. Attributes are left out: they hold
names and counts that the datasets repeat.

    python3 tests/rundigest.py RUN.h5          # print the digest
    python3 tests/rundigest.py --key           # the machine key it is recorded under
Used by tests/runfile.py against tests/data/quickstart.digest (the quick start at --threads 2).
"""
import hashlib
import sys


def digest(path):
    import h5py
    import numpy as np
    names = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        h = hashlib.sha256()
        for n in sorted(names):
            if n.startswith("curriculum/"):
                continue
            d = f[n]
            v = d[()]
            h.update(n.encode() + b"\0" + repr(d.shape).encode() + b"\0" + str(d.dtype).encode() + b"\0")
            if d.dtype.kind == "O":
                for s in np.ravel(v):
                    b = s if isinstance(s, bytes) else str(s).encode()
                    h.update(len(b).to_bytes(8, "little") + b)
            else:
                h.update(np.ascontiguousarray(v).tobytes())
        return h.hexdigest()


def machine_key():
    """What the digest depends on besides the code: the CPU model and OpenBLAS's kernel."""
    import ctypes
    import platform
    model = platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    core = "unknown"
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        core = lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        pass
    return "%s/%s/threads=2" % (model.replace(" ", "_"), core)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--key":
        print(machine_key())
        sys.exit(0)
    for p in sys.argv[1:]:
        print(digest(p))
