"""Metric logging: :class:`Logger` writes dicts of scalars to stdout (a table), CSV and TensorBoard.

``run``, the trainers and the fused loop log through it: one :meth:`Logger.write` per finished episode,
update or evaluation (not per environment step), with the metrics of that moment and the step counter.

Example:
    >>> import tempfile
    >>> from symgraph.rl.logging import Logger
    >>> logdir = tempfile.mkdtemp()
    >>> with Logger(logdir, formats=("csv",)) as logger:
    ...     logger.write({"episode/return": 21.0, "episode/length": 21}, step=21)
    ...     logger.write({"episode/return": 35.0, "update/loss": 0.5}, step=56)
    >>> open(logger.csv_path).read().splitlines()[0]
    'step,seconds,episode/return,episode/length,update/loss'
"""

import csv
import io
import logging
import math
import numbers
import os
import sys
import time
from collections.abc import Mapping

import numpy as np

from symgraph.io import atomic_write

__all__ = ["Logger", "FORMATS", "CSV_NAME", "RESERVED_COLUMNS"]

#: The output formats :class:`Logger` knows.
FORMATS = ("stdout", "csv", "tensorboard")

#: The name of the CSV file written in ``logdir`` (what :mod:`symgraph.rl.plotting` looks for).
CSV_NAME = "progress.csv"

#: The first CSV columns: the step passed to :meth:`Logger.write` and the seconds since the logger was made.
RESERVED_COLUMNS = ("step", "seconds")

_INSTALL_TENSORBOARD = 'pip install "symgraph[tensorboard]"'

_log = logging.getLogger(__name__)


def _check_step(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iu":
            return int(step)
        raise TypeError(f"Logger.write: step must be an int (the step counter, e.g. total environment steps), "
                        f"got {type(step).__name__} {step!r}")
    return int(step)


def _scalar(key, value):
    """``value`` as a Python int or float, or an error naming ``key``."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"Logger.write: metric names must be non-empty strings, got {type(key).__name__} "
                        f"{key!r}")
    if key in RESERVED_COLUMNS:
        raise ValueError(f"Logger.write: the metric name {key!r} is reserved for a column the logger writes "
                         f"itself ({', '.join(RESERVED_COLUMNS)}); rename the metric (e.g. 'train/{key}')")
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:  # numpy, jax and other array types
        arr = np.asarray(value)
        if arr.ndim == 0 and arr.dtype.kind in "biuf":
            return int(arr) if arr.dtype.kind in "biu" else float(arr)
        what = f"an array of shape {tuple(arr.shape)} and dtype {arr.dtype}"
    else:
        what = f"a {type(value).__name__} ({value!r:.60})"
    raise TypeError(f"Logger.write: metric {key!r} must be a real scalar (int, float, bool or a 0-d numeric "
                    f"array), got {what}; log a summary of it instead (e.g. its mean) or one key per element")


def _format_value(value):
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    return f"{value:.6g}"


class _Table:
    """The "stdout" format: one aligned two-column table per write."""

    def __init__(self, stream):
        if stream is not None and not isinstance(stream, logging.Logger) and not hasattr(stream, "write"):
            raise TypeError(f"Logger: stream must be None (standard output), a logging.Logger or a file-like "
                            f"object with write(), got {type(stream).__name__}")
        self.stream = stream

    def write(self, metrics, step, seconds):
        rows = [("step", str(step))] + [(key, _format_value(value)) for key, value in metrics.items()]
        kw = max(len(k) for k, _ in rows)
        vw = max(len(v) for _, v in rows)
        rule = "-" * (kw + vw + 7)
        lines = [rule] + [f"| {k:<{kw}} | {v:>{vw}} |" for k, v in rows] + [rule]
        text = "\n".join(lines)
        stream = self.stream
        if isinstance(stream, logging.Logger):
            stream.info("%s", text)
            return
        if stream is None:
            stream = sys.stdout  # looked up per write, so redirections of sys.stdout are followed
        stream.write(text + "\n")
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()

    def close(self):
        pass


class _CSV:
    """The "csv" format: ``logdir/progress.csv``, one row per write, header = every key seen so far.

    A key not in the header makes the file be rewritten (to a temporary file, then renamed over it) with the
    wider header, earlier rows getting empty cells for it; otherwise a write appends one row and flushes.
    """

    def __init__(self, logdir, append, after_step=None):
        self.path = os.path.join(logdir, CSV_NAME)
        self.columns = list(RESERVED_COLUMNS)
        self.offset = 0.0  # seconds already logged, when appending: the clock continues from there
        if append and os.path.exists(self.path):
            header, rows, cut = self._read()
            if header is not None:
                if tuple(header[:len(RESERVED_COLUMNS)]) != RESERVED_COLUMNS:
                    raise ValueError(f"Logger: cannot append to {self.path}: its header {header[:4]} does not "
                                     f"start with {list(RESERVED_COLUMNS)}, so it was not written by Logger")
                if after_step is not None:
                    rows = [row for row in rows if row and float(row[0]) <= after_step]
                if after_step is not None or cut:
                    buffer = io.StringIO()
                    csv.writer(buffer).writerows([header, *rows])
                    atomic_write(self.path, lambda stream: stream.write(buffer.getvalue().encode("utf-8")))
                last = rows[-1] if rows else None
                self.columns = header
                self.known = set(header)
                if last is not None and len(last) > 1 and last[1] != "":
                    self.offset = float(last[1])
                self.file = open(self.path, "a", newline="", encoding="utf-8")
                self.writer = csv.writer(self.file)
                return
        self.known = set(self.columns)
        self.file = open(self.path, "w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)
        self.writer.writerow(self.columns)
        self.file.flush()

    def _read(self):
        """``(header, rows, cut)`` of the file; ``cut`` is its last line when that line lacks its end (a
        writer stopped in the middle of it), left out of ``rows`` (and reported), else ``""``."""
        with open(self.path, newline="", encoding="utf-8") as f:
            text = f.read()
        cut = ""
        if text and not text.endswith("\n"):
            head, newline, cut = text.rpartition("\n")
            text = head + newline
            _log.warning("Logger: %s ends in a line cut short (its writer stopped in the middle of it); "
                         "dropped its last line, %r", self.path, cut)
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        return header, list(reader), cut

    def _widen(self, new_keys):
        """Rewrite the file atomically with ``new_keys`` added to the header."""
        self.file.close()
        old = self.columns
        self.columns = old + new_keys
        self.known.update(new_keys)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.columns)
        with open(self.path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader, None)
            pad = [""] * len(new_keys)
            for row in reader:
                writer.writerow(row + [""] * (len(old) - len(row)) + pad)
        atomic_write(self.path, lambda stream: stream.write(buffer.getvalue().encode("utf-8")))
        self.file = open(self.path, "a", newline="", encoding="utf-8")
        self.writer = csv.writer(self.file)

    def write(self, metrics, step, seconds):
        new_keys = [key for key in metrics if key not in self.known]
        if new_keys:
            self._widen(new_keys)
        values = {"step": step, "seconds": f"{seconds + self.offset:.6f}"}
        values.update(metrics)  # ints as such, floats by repr: shortest exact form, "nan", "inf"
        self.writer.writerow([values.get(column, "") for column in self.columns])
        self.file.flush()

    def close(self):
        self.file.close()


class _TensorBoard:
    """The "tensorboard" format: a tensorboardX ``SummaryWriter`` in ``logdir``, one scalar per metric."""

    def __init__(self, logdir):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise ImportError(f"Logger: the 'tensorboard' format needs the tensorboardX package, which is not "
                              f"installed; install it with: {_INSTALL_TENSORBOARD}") from exc
        self.writer = SummaryWriter(logdir=logdir)
        self.logdir = self.writer.logdir

    def write(self, metrics, step, seconds):
        add = self.writer.add_scalar
        for key, value in metrics.items():
            add(key, value, global_step=step)

    def close(self):
        self.writer.close()


class Logger:
    """Writes dicts of scalar metrics, one :meth:`write` at a time, to any of three formats.

    - ``"stdout"``: an aligned table of ``step`` and the metrics, written to ``stream`` (default: standard
      output, ``sys.stdout`` as it is at each write, so ``contextlib.redirect_stdout`` works; pass a file-like
      object to write elsewhere, or a :class:`logging.Logger` to emit each table as one INFO record).
    - ``"csv"``: ``logdir/progress.csv`` (:data:`CSV_NAME`), columns ``step``, ``seconds`` (wall-clock since
      the logger was made) then every metric name in the order first seen; one row per write, empty cells
      for metrics not in that write, ``nan``/``inf`` as such. When a new name appears the file is rewritten
      atomically with the wider header, so every row stays aligned with it; the file is flushed after every
      write, so it can be read (or plotted) during training.
    - ``"tensorboard"``: tensorboardX event files in ``logdir`` (``tensorboard --logdir LOGDIR``), one scalar
      per metric at ``global_step=step``. tensorboardX is an optional dependency:
      ``pip install "symgraph[tensorboard]"``.

    Args:
        logdir: directory for the "csv" and "tensorboard" formats (created if missing); may be None with
            "stdout" only.
        formats: a format name or a sequence of them (see :data:`FORMATS`).

    Keyword Args:
        stream: where the "stdout" table goes: None (standard output), a file-like object or a
            :class:`logging.Logger`.
        append: with "csv", continue an existing ``progress.csv`` (e.g. a resumed run) instead of starting a
            new one; its columns are kept and new ones added as usual, and ``seconds`` continues from its
            last row (the time between the runs is not counted). A last line without its line end (its
            writer was killed in the middle of it) is dropped first, with a warning on the
            ``symgraph.rl.logging`` logger.
        after_step: with ``append``, first drop the rows of ``progress.csv`` logged after this step: those
            that a run resumed from a checkpoint of that step logs again.

    Raises:
        ValueError: an unknown format (the message lists the valid ones); "csv" or "tensorboard" without a
            ``logdir``.
        ImportError: "tensorboard" without tensorboardX installed (the message says how to install it).

    Example:
        >>> from symgraph.rl.logging import Logger
        >>> with Logger() as logger:  # a table on standard output
        ...     logger.write({"episode/return": 9.5, "update/loss": float("nan")}, step=1024)
        -------------------------
        | step           | 1024 |
        | episode/return |  9.5 |
        | update/loss    |  nan |
        -------------------------
    """

    def __init__(self, logdir=None, formats=("stdout",), *, stream=None, append=False, after_step=None):
        if after_step is not None:
            if not append:
                raise ValueError(f"Logger: after_step={after_step!r} drops rows of a progress.csv that is continued, "
                                 f"so it needs append=True")
            if isinstance(after_step, bool) or not isinstance(after_step, numbers.Integral) or after_step < 0:
                raise TypeError(f"Logger: after_step must be an int >= 0 (a step of the log), got "
                                f"{type(after_step).__name__} {after_step!r}")
        if isinstance(formats, str):
            formats = (formats,)
        try:
            formats = tuple(dict.fromkeys(formats))
        except TypeError:
            raise TypeError(f"Logger: formats must be a format name or a sequence of them (valid: "
                            f"{', '.join(FORMATS)}), got {type(formats).__name__} {formats!r}") from None
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"Logger: unknown format {unknown[0]!r}; valid formats: {', '.join(FORMATS)}")
        if not formats:
            raise ValueError(f"Logger: formats is empty; give at least one of {', '.join(FORMATS)}")
        needs_dir = [f for f in formats if f != "stdout"]
        if needs_dir and logdir is None:
            raise ValueError(f"Logger: the {needs_dir[0]!r} format writes files, so it needs a logdir "
                             f"(e.g. Logger('runs/ppo', formats={formats!r}))")
        self.logdir = None if logdir is None else os.fspath(logdir)
        self.formats = formats
        if self.logdir is not None:
            os.makedirs(self.logdir, exist_ok=True)
        self._start = time.perf_counter()
        self._closed = False
        self._outputs = []
        try:
            for name in formats:
                if name == "stdout":
                    self._outputs.append(_Table(stream))
                elif name == "csv":
                    self._outputs.append(_CSV(self.logdir, append, after_step))
                else:
                    self._outputs.append(_TensorBoard(self.logdir))
        except BaseException:
            self.close()
            raise

    @property
    def csv_path(self):
        """str or None: the path of the CSV file (None without the "csv" format)."""
        for output in self._outputs:
            if isinstance(output, _CSV):
                return output.path
        return None

    @property
    def closed(self):
        """bool: whether :meth:`close` was called."""
        return self._closed

    def write(self, metrics, step):
        """Log ``metrics`` at ``step``.

        Args:
            metrics: ``{name: value}``; each value a real scalar (int, float, bool, numpy/jax 0-d array).
                NaN and infinities are logged as they are (``nan``, ``inf``). Names are free-form strings
                (``"episode/return"``, ``"update/loss"``) other than ``"step"`` and ``"seconds"``.
            step: the step counter (an int, e.g. total environment steps): the x-axis of the logs.

        Raises:
            TypeError: a value that is not a real scalar (the message names its key), a non-int step.
            ValueError: a reserved metric name.
            RuntimeError: the logger is closed.
        """
        if self._closed:
            raise RuntimeError("Logger.write: the logger is closed; make a new Logger (append=True continues "
                               "a CSV log)")
        if not isinstance(metrics, Mapping):
            raise TypeError(f"Logger.write: metrics must be a dict of {{name: scalar}}, got "
                            f"{type(metrics).__name__}")
        step = _check_step(step)
        clean = {key: _scalar(key, value) for key, value in metrics.items()}
        seconds = time.perf_counter() - self._start
        for output in self._outputs:
            output.write(clean, step, seconds)

    def close(self):
        """Flush and close every output (idempotent)."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for output in self._outputs:
            try:
                output.close()
            except Exception as exc:  # close the others before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __repr__(self):
        state = ", closed" if self._closed else ""
        return f"Logger(logdir={self.logdir!r}, formats={self.formats!r}{state})"
