"""Saving, loading and resetting variables. Writes are atomic: an interrupted save keeps the previous file."""

import os
import tempfile

import numpy as np

from symgraph.errors import SaveLoadError, format_shape
from symgraph.graph import get_variables


def _read_umask():
    """The process's umask (read once, at import: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it over ``path``.

    The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less the umask), not
    the owner-only ones of the temporary file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def save_variables(path, scope=None, graph=None):
    """Save the values of the variables inside ``scope`` (all by default) to an ``.npz`` file at ``path``."""
    arrays = {v.name: v.value for v in get_variables(scope, graph=graph)}
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    return path


def load_variables(path, scope=None, graph=None):
    """Load the variables inside ``scope`` from ``path``; all are checked before any is assigned.

    Raises SaveLoadError naming every variable missing from the file or stored with another shape.
    """
    with np.load(os.fspath(path), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    variables = get_variables(scope, graph=graph)
    missing = [v.name for v in variables if v.name not in arrays]
    wrong = [f"{v.name}: file {format_shape(arrays[v.name].shape)}, variable {format_shape(v.shape)}"
             for v in variables if v.name in arrays and arrays[v.name].shape != v.shape]
    if missing or wrong:
        raise SaveLoadError(f"cannot load {path}: nothing was changed. Missing from the file: {missing}; wrong "
                            f"shapes: {wrong}. Load into the same architecture, or restrict with scope=")
    for v in variables:
        v.update(arrays[v.name])


def reset_variables(scope=None, graph=None):
    """Set the variables inside ``scope`` (all by default) back to their creation values."""
    for v in get_variables(scope, graph=graph):
        v.reset()
