"""Saving, loading and resetting variables. Writes are atomic: an interrupted save keeps the previous file."""

import contextlib
import math
import os
import re
import socket
import stat
import struct
import tempfile
import threading
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy

from symgraph.errors import SaveLoadError, format_shape
from symgraph.graph import get_graph, get_variables, has_wildcard


def _read_umask():
    """The process's umask (read once, at import: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
#: The temporaries this process is writing now (a finished or failed write is no longer in it).
_WRITING = set()
_WRITING_LOCK = threading.Lock()
_NAME = re.compile(r"\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[a-z0-9_]{8}-")


def _host_tag(host=None):
    """Eight hex digits naming the machine (``host``, this machine's name by default)."""
    return f"{zlib.crc32((host or socket.gethostname()).encode()):08x}"


def temporary_prefix(pid=None, host=None):
    """The start of the name of a temporary file written by :func:`atomic_write`: ``.tmp-<host>-<pid>-``,
    with a tag of the writer's machine and its process id (this process on this machine by default); then
    come 8 random characters, ``-`` and the target's file name."""
    return f".tmp-{_host_tag(host)}-{os.getpid() if pid is None else pid}-"


def _writer_is_gone(pid):
    """Whether the process ``pid`` of this machine that wrote a temporary can no longer be writing it: it has
    exited, or it is this process and the write is no longer in progress (checked by the caller). A pid no
    process can have (0, or beyond the system's range) is not one that wrote a temporary: False."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OverflowError, OSError):  # out of range, or alive but another user's (PermissionError)
        return False
    return False


def remove_stale_temporaries(path):
    """Remove the temporary files that :func:`atomic_write` left beside ``path`` when its writer was killed
    (``kill -9``, a power cut), and return their paths. :func:`atomic_write` calls it before each write;
    call it when a program starts to use ``path`` (a resumed run, the command line).

    Only stale temporaries are removed: those of ``path`` (not of other files in the folder) written on this
    machine by a process that has exited, or by this process and no longer being written. A save in progress
    in another process, or on another machine sharing the folder, is left alone, and so is any file not
    named by :func:`temporary_prefix`. A process that was killed but not yet reaped by its parent (a zombie)
    counts as alive until it is: its temporary goes at the next call after that."""
    path = os.fspath(path)
    folder, target = os.path.split(os.path.abspath(path))
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    host, removed = _host_tag(), []
    for name in names:
        match = _NAME.match(name)
        if match is None or name[match.end():] != target or match["host"] != host:
            continue
        temporary = os.path.join(folder, name)
        with _WRITING_LOCK:
            stale = temporary not in _WRITING and _writer_is_gone(int(match["pid"]))
        if stale:
            with contextlib.suppress(FileNotFoundError):  # another process cleaning at the same time
                os.remove(temporary)
                removed.append(temporary)
    return sorted(removed)


def _check_target(path):
    """Raise SaveLoadError unless ``path`` is absent or a regular file (never replace a link or a device)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        kind = f"a symbolic link (to {os.readlink(path)!r})"
        fix = f"save to the file it points to ({os.path.realpath(path)!r}) if that is meant, or remove the link"
    else:
        kind = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(mode), "not a regular file")
        fix = "pass the path of a regular file (or of none yet)"
    raise SaveLoadError(f"cannot save to {path!r}: it is {kind}, and a save replaces only a regular file; {fix}")


def _sync_folder(folder):
    """Make a rename in ``folder`` durable (where the system can open a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is still atomic
    finally:
        os.close(handle)


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it over ``path``: an
    interrupted write leaves the previous file whole.

    The file gets the permissions an ordinary ``open(path, "w")`` would give (``0o666`` less the umask), not
    the owner-only ones of the temporary file. The temporary's name holds the writer's machine and process
    (:func:`temporary_prefix`); stale temporaries of ``path`` (their writer killed) are removed before
    writing (:func:`remove_stale_temporaries`).

    Raises:
        SaveLoadError: ``path`` exists and is not a regular file (a symbolic link, a directory, a device):
            nothing is written.
    """
    path = os.fspath(path)
    _check_target(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    with _WRITING_LOCK:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=temporary_prefix(),
                                             suffix="-" + os.path.basename(path))
        _WRITING.add(temporary)
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        _sync_folder(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    finally:
        with _WRITING_LOCK:
            _WRITING.discard(temporary)


class DamagedFile(SaveLoadError):
    """A file that :func:`read_arrays` cannot read as an ``.npz`` file of numeric (or text) arrays; its message
    says what is wrong, and the caller names the file."""


def read_arrays(path):
    """``{name: array}`` of the ``.npz`` file at ``path`` (as ``numpy.savez`` writes it), read strictly: every
    member an uncompressed ``.npy`` array of numbers, booleans or text (never objects: nothing is unpickled),
    whose header announces exactly the bytes it holds and whose checksum is right. So a truncated, altered
    or crafted file is refused before any array is allocated by what it claims (memory stays bounded by the
    file's size).

    Raises:
        DamagedFile: the file is not such a file; the message says why.
        FileNotFoundError, PermissionError: as ``open`` does.
    """
    try:
        with zipfile.ZipFile(os.fspath(path)) as archive:
            return _members(archive)
    except (DamagedFile, FileNotFoundError, PermissionError):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, TypeError,
            struct.error, NotImplementedError, RuntimeError, OverflowError, zlib.error) as exc:
        raise DamagedFile(f"{type(exc).__name__}: {exc}"[:300]) from None


def _members(archive):
    arrays = {}
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in arrays:
            raise DamagedFile(f"its member {info.filename[:80]!r} is not one array of an .npz file")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
            raise DamagedFile(f"its member {info.filename[:80]!r} is compressed or encrypted (numpy.savez "
                              f"stores members as they are)")
        with archive.open(info) as member:
            arrays[name] = _member_array(member, info)
    return arrays


def _member_array(member, info):
    """The array of one ``.npy`` member, its header checked against the member's size before reading."""
    version = npy.read_magic(member)
    if version not in ((1, 0), (2, 0)):
        raise DamagedFile(f"its member {info.filename[:80]!r} has .npy format version {version}")
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, fortran, dtype = read_header(member)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biufcU":
        raise DamagedFile(f"its member {info.filename[:80]!r} holds {dtype} data, not numbers or text")
    size = math.prod(shape) * dtype.itemsize
    if any(d < 0 for d in shape) or size != info.file_size - member.tell():
        raise DamagedFile(f"its member {info.filename[:80]!r} announces {format_shape(shape)} {dtype} "
                          f"({size} bytes) but holds {info.file_size - member.tell()} bytes")
    data = member.read(size)
    if len(data) != size or member.read(1):
        raise DamagedFile(f"its member {info.filename[:80]!r} is cut short")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C").copy()


def _arguments(query, path, name):
    """``(path, name)``, accepting SymJAX's order ``(name, path)``: a first argument with a wildcard (``"*"``,
    ``"actor/*"``) is a name pattern, never a file."""
    if has_wildcard(path if isinstance(path, str) else None):
        if name is None:
            raise SaveLoadError(f"{query}({path!r}): the argument is a name pattern, not a file; pass the file "
                                f"too: {query}(path, {path!r}) (or SymJAX's order {query}({path!r}, path))")
        path, name = name, path
    return path, name


def _selected(query, path, name, scope, graph):
    """The variables a save, load or reset acts on; a selection matching nothing is refused."""
    variables = get_variables(name, graph=graph, scope=scope)
    if not variables:
        hint = "" if graph else " A learner builds in its own graph: pass graph=learner.graph."
        graph = graph or get_graph()
        held = list(graph.variables)
        where = f" for {os.fspath(path)!r}" if path is not None else ""
        raise SaveLoadError(
            f"{query}{where}: no variable of graph {graph.name!r} matches name={name!r}, scope={scope!r} (the "
            f"graph holds {len(held)} variables{': ' + str(held[:6]) if held else ''}); nothing was done."
            f"{hint}")
    return variables


def save_variables(path, name=None, graph=None, *, scope=None):
    """Save the values of the selected variables to an ``.npz`` file at ``path`` (atomic) and return ``path``.

    Args:
        path: the file.
        name: a name pattern or scope (as :func:`symgraph.get_variables`: ``"*"``, ``"actor/*"``,
            ``"actor"``); None: all. SymJAX's order ``save_variables("*", path)`` is accepted too.
        graph: the graph whose variables are saved: the current one by default (not every graph: a learner
            builds in its own, so save its variables with ``graph=learner.graph``).
        scope: a scope path (whole components).

    Raises:
        SaveLoadError: the selection matches no variable (nothing is written), or ``path`` cannot be written.
    """
    path, name = _arguments("save_variables", path, name)
    arrays = {v.name: v.value for v in _selected("save_variables", path, name, scope, graph)}
    atomic_write(path, lambda stream: np.savez(stream, **arrays))
    return path


def load_variables(path, name=None, graph=None, *, scope=None):
    """Load the selected variables (``name``, ``graph``, ``scope`` as :func:`save_variables`) from ``path``; all
    are checked before any is assigned. SymJAX's order ``load_variables("*", path)`` is accepted too.

    Raises:
        SaveLoadError: the selection matches no variable; or every variable missing from the file or stored
            with another shape is named; or the file is damaged. Nothing is changed then.
    """
    path, name = _arguments("load_variables", path, name)
    variables = _selected("load_variables", path, name, scope, graph)
    try:
        arrays = read_arrays(path)
    except DamagedFile as exc:
        raise SaveLoadError(f"cannot load {os.fspath(path)!r}: it is damaged or not an .npz file of arrays "
                            f"({exc}); nothing was changed") from None
    missing = [v.name for v in variables if v.name not in arrays]
    wrong = [f"{v.name}: file {format_shape(arrays[v.name].shape)}, variable {format_shape(v.shape)}"
             for v in variables if v.name in arrays and arrays[v.name].shape != v.shape]
    if missing or wrong:
        raise SaveLoadError(f"cannot load {path}: nothing was changed. Missing from the file: {missing}; wrong "
                            f"shapes: {wrong}. Load into the same architecture, or restrict with scope=")
    for v in variables:
        v.update(arrays[v.name])


def reset_variables(name=None, graph=None, *, scope=None):
    """Set the selected variables (``name``, ``graph``, ``scope`` as :func:`save_variables`; all by default)
    back to their creation values. SymJAX's ``reset_variables("*")`` reads the same.

    Raises:
        SaveLoadError: the selection matches no variable (a pattern or scope that names nothing).
    """
    for v in _selected("reset_variables", None, name, scope, graph):
        v.reset()
