"""Finding, downloading and opening the dataset files of the data-based bandits."""

import gzip
import io
import logging
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from symgraph.rl.bandits._common import DataFormatError, DataNotFoundError

__all__ = ["default_data_dir", "resolve_data_file", "download", "read_bytes", "read_text", "unlzw"]

logger = logging.getLogger(__name__)

#: environment variable naming the folder where dataset files are looked for and downloaded to
DATA_DIR_ENV = "SYMGRAPH_DATA_DIR"


def default_data_dir():
    """Folder holding one sub-folder per dataset: ``$SYMGRAPH_DATA_DIR`` if set, else
    ``$XDG_CACHE_HOME/symgraph/bandits`` (``~/.cache/symgraph/bandits`` when XDG_CACHE_HOME is unset)."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "symgraph" / "bandits"


def download(url, destination, timeout=60.0):
    """Fetch ``url`` into the file ``destination`` (written to a ``.part`` file first, then renamed)."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    logger.info("downloading %s to %s", url, destination)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        partial.unlink(missing_ok=True)
        raise DataNotFoundError(f"could not download {url} ({error}). Without network access, download it "
                                f"elsewhere and put it at {destination}") from error
    os.replace(partial, destination)
    return destination


def resolve_data_file(dataset, path, filenames, url, download_missing):
    """The dataset file to read, downloading it first if asked.

    Args:
        dataset: dataset name for messages and the default sub-folder (``default_data_dir() / dataset``).
        path: None, a folder holding one of ``filenames``, or the file itself.
        filenames: names accepted in a folder, in order of preference; the last part of ``url`` is one.
        url: where the original file is.
        download_missing: fetch ``url`` when no file is found.
    """
    url_name = url.rsplit("/", 1)[-1]
    target = None
    if path is None:
        folder = default_data_dir() / dataset.lower()
    else:
        path = Path(path).expanduser()
        if path.is_file():
            return path
        if path.is_dir() or not path.suffix:
            folder = path
        else:  # a file that does not exist yet
            folder, target = path.parent, path
    if target is None:
        for name in filenames:
            if (folder / name).is_file():
                return folder / name
        target = folder / url_name
    if download_missing:
        return download(url, target)
    wanted = str(target) if path is not None and target.name not in filenames and target.suffix else \
        " or ".join(str(folder / name) for name in filenames)
    raise DataNotFoundError(
        f"{dataset} data not found: no file at {wanted}. Download {url} and save it as {target} (keep the "
        f"original UCI format), or pass path= to where the file is, or download=True to fetch it "
        f"(the default folder is set by ${DATA_DIR_ENV}).")


def read_bytes(path):
    """The bytes of ``path``, decompressed when it ends in ``.gz`` (gzip) or ``.Z`` (Unix compress)."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            try:
                return f.read()
            except (OSError, EOFError) as error:
                raise DataFormatError(f"{path} is not a valid gzip file: {error}") from error
    data = path.read_bytes()
    if path.suffix == ".Z":
        return unlzw(data, name=str(path))
    return data


def read_text(path):
    """The text of ``path`` (decompressed as in :func:`read_bytes`), decoded as UTF-8 or Latin-1."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def unlzw(data, name="data"):
    """Decompress Unix ``compress`` (``.Z``, LZW) data: the format of some original UCI files.

    Format: magic ``1f 9d``, a flag byte (low 5 bits: maximum code width, 9..16; bit 7: block mode, where
    code 256 clears the table), then codes packed least-significant bit first, 9 bits wide at first and
    one bit wider each time the table fills the current width. The codes come in groups of 8 (``width``
    bytes), and a width change or a table clear skips to the end of the current group.
    """
    if len(data) < 3 or data[0] != 0x1F or data[1] != 0x9D:
        raise DataFormatError(f"{name} is not a Unix compress (.Z) file: it does not start with bytes 1f 9d")
    flags = data[2]
    max_bits = flags & 0x1F
    block_mode = bool(flags & 0x80)
    if not 9 <= max_bits <= 16:
        raise DataFormatError(f"{name}: .Z maximum code width {max_bits} is outside 9..16")
    max_max_code = 1 << max_bits
    first_free = 257 if block_mode else 256
    payload = data[3:] + b"\x00\x00\x00"  # room to read 3 bytes at the end
    total_bits = (len(data) - 3) * 8

    table = [bytes([i]) for i in range(256)]
    if block_mode:
        table.append(b"")  # 256: the clear code
    out = io.BytesIO()
    bits = 9
    max_code = (1 << bits) - 1
    position = 0  # in bits, from the start of the codes
    group_start = 0  # where the current code width started, in bits
    previous = None
    from_bytes = int.from_bytes
    while True:
        if len(table) > max_code:
            # the next code is one bit wider: skip the rest of the current group of 8 codes
            group = bits * 8
            position = group_start + -(-(position - group_start) // group) * group
            group_start = position
            bits += 1
            max_code = max_max_code if bits == max_bits else (1 << bits) - 1
        if position + bits > total_bits:
            break
        byte = position >> 3
        code = (from_bytes(payload[byte:byte + 3], "little") >> (position & 7)) & ((1 << bits) - 1)
        position += bits
        if previous is None:
            if code > 255:
                raise DataFormatError(f"{name}: corrupt .Z data (first code {code} is not a literal byte)")
            entry = table[code]
        elif block_mode and code == 256:
            group = bits * 8
            position = group_start + -(-(position - group_start) // group) * group
            group_start = position
            del table[first_free:]
            bits = 9
            max_code = (1 << bits) - 1
            previous = None
            continue
        elif code < len(table):
            entry = table[code]
            if len(table) < max_max_code:
                table.append(previous + entry[:1])
        elif code == len(table):  # the code being defined right now (the "KwKwK" case)
            entry = previous + previous[:1]
            if len(table) < max_max_code:
                table.append(entry)
        else:
            raise DataFormatError(f"{name}: corrupt .Z data (code {code} before it was defined, at bit "
                                  f"{position - bits})")
        out.write(entry)
        previous = entry
    return out.getvalue()
