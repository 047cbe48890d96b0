"""Logger (stdout table, CSV, TensorBoard) and the shared progress bar."""

import csv
import doctest
import io
import logging
import math
import os
import struct
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest

import symgraph.rl.logging as rl_logging
import symgraph.rl.progress as rl_progress
from symgraph.rl.logging import CSV_NAME, FORMATS, Logger
from symgraph.rl.progress import NullProgressBar, ProgressBar, progress_bar, progress_enabled


def _read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


# ---------------------------------------------------------------------------------------------------------
# CSV


def test_csv_schema_union_of_keys_and_aligned_rows(tmp_path):
    with Logger(tmp_path, formats="csv") as logger:
        logger.write({"episode/return": 10.0, "episode/length": 10}, step=10)
        header, rows = _read_csv(tmp_path / CSV_NAME)  # readable during the run (flushed per write)
        assert header == ["step", "seconds", "episode/return", "episode/length"]
        assert len(rows) == 1
        logger.write({"episode/return": 0.1 + 0.2, "update/loss": np.float32(0.5)}, step=25)  # a new key
        logger.write({"update/loss": float("nan"), "update/kl": float("inf")}, step=30)  # and another
        logger.write({}, step=31)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert header == ["step", "seconds", "episode/return", "episode/length", "update/loss", "update/kl"]
    assert [len(r) for r in rows] == [len(header)] * 4
    table = [dict(zip(header, r)) for r in rows]
    assert [r["step"] for r in table] == ["10", "25", "30", "31"]
    assert table[0]["episode/return"] == "10.0" and table[0]["episode/length"] == "10"
    assert table[0]["update/loss"] == "" and table[0]["update/kl"] == ""
    assert float(table[1]["episode/return"]) == 0.1 + 0.2  # floats round-trip exactly
    assert table[1]["episode/length"] == "" and float(table[1]["update/loss"]) == 0.5
    assert table[2]["update/loss"] == "nan" and table[2]["update/kl"] == "inf"
    assert table[2]["episode/return"] == ""
    assert all(v == "" for k, v in table[3].items() if k not in ("step", "seconds"))
    seconds = [float(r["seconds"]) for r in table]
    assert seconds == sorted(seconds) and seconds[0] >= 0.0
    assert sorted(os.listdir(tmp_path)) == [CSV_NAME]  # no temporary file left behind


def test_csv_widening_is_an_atomic_replace(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((os.path.dirname(os.path.abspath(src)), os.path.abspath(dst)))
        assert os.path.exists(dst)  # the old file stays in place until the rename
        real_replace(src, dst)

    monkeypatch.setattr(rl_logging.os, "replace", spy)
    with Logger(tmp_path, formats=("csv",)) as logger:
        logger.write({"a": 1}, step=0)  # the header gains "a"
        assert replaced == [(str(tmp_path), str(tmp_path / CSV_NAME))]  # same directory: an atomic rename
        logger.write({"a": 2}, step=1)
        assert len(replaced) == 1  # known keys: a plain append
        logger.write({"a": 3, "b": 4}, step=2)
        assert len(replaced) == 2
        logger.write({"b": 5}, step=3)  # still appends to the rewritten file
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert header == ["step", "seconds", "a", "b"]
    assert [(r[0], r[2], r[3]) for r in rows] == [("0", "1", ""), ("1", "2", ""), ("2", "3", "4"), ("3", "", "5")]


def test_csv_append_continues_a_log(tmp_path):
    with Logger(tmp_path, formats="csv") as logger:
        logger.write({"a": 1}, step=0)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    rows[0][1] = "100.5"  # as if the first run had lasted 100.5 s
    (tmp_path / CSV_NAME).write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    with Logger(tmp_path, formats="csv", append=True) as logger:
        logger.write({"a": 2, "b": 3}, step=1)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert header == ["step", "seconds", "a", "b"]
    assert [(r[0], r[2], r[3]) for r in rows] == [("0", "1", ""), ("1", "2", "3")]
    assert 100.5 <= float(rows[1][1]) < 110.0  # the clock continues
    with Logger(tmp_path, formats="csv") as logger:  # without append: a fresh file
        logger.write({"c": 1}, step=0)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert header == ["step", "seconds", "c"] and [(r[0], r[2]) for r in rows] == [("0", "1")]


def test_csv_append_after_a_step_drops_the_later_rows(tmp_path):
    with Logger(tmp_path, formats="csv") as logger:
        for step in (0, 5, 10, 15):
            logger.write({"a": step}, step=step)
    with Logger(tmp_path, formats="csv", append=True, after_step=10) as logger:  # resumed from step 10
        logger.write({"a": 15}, step=15)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert [(r[0], r[2]) for r in rows] == [("0", "0"), ("5", "5"), ("10", "10"), ("15", "15")]
    with pytest.raises(ValueError, match="after_step=3 .* needs append=True"):
        Logger(tmp_path, formats="csv", after_step=3)
    with pytest.raises(TypeError, match="after_step must be an int >= 0"):
        Logger(tmp_path, formats="csv", append=True, after_step=-1)


@pytest.mark.parametrize("after_step", [None, 10])
def test_csv_append_drops_a_last_line_cut_short_and_says_so(tmp_path, after_step, caplog):
    with Logger(tmp_path, formats="csv") as logger:
        for step in (0, 5):
            logger.write({"a": step}, step=step)
    with open(tmp_path / CSV_NAME, "a") as f:
        f.write("1")  # a writer killed in the middle of the row of step 10
    with caplog.at_level("WARNING", logger="symgraph.rl.logging"):
        with Logger(tmp_path, formats="csv", append=True, after_step=after_step) as logger:
            logger.write({"a": 10}, step=10)
    assert "ends in a line cut short" in caplog.text and "dropped its last line, '1'" in caplog.text
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert [(r[0], r[2]) for r in rows] == [("0", "0"), ("5", "5"), ("10", "10")]


def test_csv_append_refuses_a_foreign_file(tmp_path):
    (tmp_path / CSV_NAME).write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="cannot append to .*not written by Logger"):
        Logger(tmp_path, formats="csv", append=True)


def test_scalar_types_are_accepted(tmp_path):
    with Logger(tmp_path, formats="csv") as logger:
        logger.write({"py_int": 3, "py_bool": True, "np_int": np.int64(4), "np_f32": np.float32(0.25),
                      "zero_d": np.array(1.5), "jax": jnp.float32(2.5), "jax_int": jnp.array(7)}, step=np.int32(5))
    header, rows = _read_csv(tmp_path / CSV_NAME)
    got = dict(zip(header, rows[0]))
    assert got["step"] == "5"
    assert (got["py_int"], got["py_bool"], got["np_int"], got["jax_int"]) == ("3", "1", "4", "7")
    assert float(got["np_f32"]) == 0.25 and float(got["zero_d"]) == 1.5 and float(got["jax"]) == 2.5


def test_write_is_cheap(tmp_path):
    with Logger(tmp_path, formats=("csv", "stdout"), stream=io.StringIO()) as logger:
        logger.write({"episode/return": 0.0, "episode/length": 1, "update/loss": 0.0}, step=0)
        start = time.perf_counter()
        for i in range(1, 2001):
            logger.write({"episode/return": float(i), "episode/length": i, "update/loss": 1.0 / i}, step=i)
        elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"2000 writes took {elapsed:.3f} s"
    assert len(_read_csv(tmp_path / CSV_NAME)[1]) == 2001


# ---------------------------------------------------------------------------------------------------------
# stdout


def test_stdout_table_is_aligned(capsys):
    with Logger() as logger:
        logger.write({"episode/return": 9.5, "update/loss": float("nan"), "episode/length": 12}, step=1024)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 6
    assert lines[0] == lines[-1] and set(lines[0]) == {"-"}
    assert len({len(line) for line in lines}) == 1  # every row as wide as the rules
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:-1]]
    assert cells == [["step", "1024"], ["episode/return", "9.5"], ["update/loss", "nan"],
                     ["episode/length", "12"]]
    assert len({line.index("|", 1) for line in lines[1:-1]}) == 1  # the value column lines up


def test_stdout_follows_redirections_and_other_streams(caplog):
    import contextlib

    buffer = io.StringIO()
    logger = Logger()
    with contextlib.redirect_stdout(buffer):
        logger.write({"a": 1}, step=0)
    assert "| a    | 1 |" in buffer.getvalue()

    stream = io.StringIO()
    Logger(stream=stream).write({"b": 2.0}, step=3)
    assert "| step | 3 |" in stream.getvalue()

    target = logging.getLogger("tests.rl.training")
    with caplog.at_level(logging.INFO, logger="tests.rl.training"):
        Logger(stream=target).write({"c": 0.5}, step=7)
    assert len(caplog.records) == 1 and "| c    | 0.5 |" in caplog.records[0].getMessage()


def test_library_never_prints():
    import symgraph.rl.plotting as rl_plotting

    for module in (rl_logging, rl_progress, rl_plotting):
        with open(module.__file__) as f:
            source = f.read()
        assert "print(" not in source, module.__name__


# ---------------------------------------------------------------------------------------------------------
# TensorBoard


def _masked_crc(data):
    from tensorboardX.crc32c import crc32c

    crc = crc32c(data) & 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _read_scalars(logdir):
    """``{tag: [(step, value)]}`` from the event files in ``logdir``: with tensorboard's reader when installed,
    else by reading the TFRecord framing (checksums checked) and parsing tensorboardX's Event protos."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        EventAccumulator = None
    if EventAccumulator is not None:
        acc = EventAccumulator(str(logdir))
        acc.Reload()
        return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    from tensorboardX.proto.event_pb2 import Event

    files = sorted(p for p in logdir.iterdir() if p.name.startswith("events.out.tfevents."))
    assert len(files) == 1, files
    data = files[0].read_bytes()
    scalars, offset = {}, 0
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        assert header_crc == _masked_crc(header)
        body = data[offset + 12:offset + 12 + length]
        (body_crc,) = struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])
        assert body_crc == _masked_crc(body)
        offset += 16 + length
        event = Event.FromString(body)
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


@pytest.mark.slow
def test_tensorboard_events_read_back(tmp_path):
    with Logger(tmp_path, formats=("tensorboard",)) as logger:
        logger.write({"episode/return": 10.5, "episode/length": 10}, step=10)
        logger.write({"episode/return": np.float32(-3.25), "update/loss": jnp.float32(float("nan"))}, step=20)
        logger.write({"update/loss": 0.125}, step=35)
    scalars = _read_scalars(tmp_path)
    assert set(scalars) == {"episode/return", "episode/length", "update/loss"}
    assert scalars["episode/return"] == [(10, 10.5), (20, -3.25)]
    assert scalars["episode/length"] == [(10, 10.0)]
    (s0, v0), (s1, v1) = scalars["update/loss"]
    assert (s0, s1) == (20, 35) and math.isnan(v0) and v1 == 0.125


def test_all_formats_together(tmp_path, capsys):
    with Logger(tmp_path, formats=("stdout", "csv", "tensorboard", "csv")) as logger:
        assert logger.formats == ("stdout", "csv", "tensorboard")  # duplicates dropped
        logger.write({"x": 1.0}, step=1)
    assert "| x    | 1 |" in capsys.readouterr().out
    assert _read_csv(tmp_path / CSV_NAME)[0] == ["step", "seconds", "x"]
    assert _read_scalars(tmp_path) == {"x": [(1, 1.0)]}


def test_missing_tensorboardx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # makes `import tensorboardX` fail
    with pytest.raises(ImportError, match=r'tensorboardX.*pip install "symgraph\[tensorboard\]"'):
        Logger(tmp_path, formats=("csv", "tensorboard"))


# ---------------------------------------------------------------------------------------------------------
# Errors and lifecycle


def test_unknown_format_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown format 'json'; valid formats: stdout, csv, tensorboard"):
        Logger(tmp_path, formats=("csv", "json"))
    with pytest.raises(ValueError, match="formats is empty"):
        Logger(tmp_path, formats=())
    with pytest.raises(TypeError, match="formats must be a format name or a sequence"):
        Logger(tmp_path, formats=3)
    assert FORMATS == ("stdout", "csv", "tensorboard")


def test_file_formats_need_a_logdir():
    with pytest.raises(ValueError, match="the 'csv' format writes files, so it needs a logdir"):
        Logger(formats=("stdout", "csv"))
    with pytest.raises(ValueError, match="the 'tensorboard' format writes files"):
        Logger(formats="tensorboard")


@pytest.mark.parametrize("value, match", [
    (np.ones(3), r"metric 'update/q' must be a real scalar .* array of shape \(3,\)"),
    (np.ones((1,)), r"metric 'update/q' .* shape \(1,\)"),
    (jnp.zeros((2, 2)), r"metric 'update/q' .* shape \(2, 2\)"),
    ("high", r"metric 'update/q' must be a real scalar .* a str \('high'\)"),
    (None, r"metric 'update/q' must be a real scalar .* a NoneType"),
    (1 + 2j, r"metric 'update/q' must be a real scalar .* a complex"),
    ([1.0], r"metric 'update/q' must be a real scalar .* a list"),
])
def test_non_scalar_values_are_rejected_naming_the_key(tmp_path, value, match):
    with Logger(tmp_path, formats="csv") as logger:
        logger.write({"update/loss": 1.0}, step=0)
        with pytest.raises(TypeError, match=match):
            logger.write({"update/loss": 2.0, "update/q": value}, step=1)
    header, rows = _read_csv(tmp_path / CSV_NAME)
    assert header == ["step", "seconds", "update/loss"] and len(rows) == 1  # nothing of the bad write kept


def test_bad_keys_and_steps(tmp_path):
    with Logger(tmp_path, formats="csv") as logger:
        with pytest.raises(ValueError, match="metric name 'step' is reserved"):
            logger.write({"step": 1}, step=1)
        with pytest.raises(ValueError, match="metric name 'seconds' is reserved"):
            logger.write({"seconds": 1.0}, step=1)
        with pytest.raises(TypeError, match="metric names must be non-empty strings, got int 3"):
            logger.write({3: 1.0}, step=1)
        with pytest.raises(TypeError, match="step must be an int .* got float 1.5"):
            logger.write({"a": 1.0}, step=1.5)
        with pytest.raises(TypeError, match="step must be an int"):
            logger.write({"a": 1.0}, step=True)
        with pytest.raises(TypeError, match=r"metrics must be a dict of \{name: scalar\}, got list"):
            logger.write([("a", 1.0)], step=1)


def test_close_is_idempotent_and_final(tmp_path):
    logger = Logger(tmp_path, formats=("csv", "tensorboard"))
    assert repr(logger).startswith("Logger(logdir=") and not logger.closed
    logger.write({"a": 1}, step=0)
    logger.close()
    logger.close()
    assert logger.closed
    with pytest.raises(RuntimeError, match="the logger is closed"):
        logger.write({"a": 2}, step=1)
    with Logger(tmp_path / "nested" / "dir", formats="csv") as logger:  # missing directories are created
        assert logger.csv_path == os.path.join(str(tmp_path / "nested" / "dir"), CSV_NAME)
    assert logger.closed
    assert Logger().csv_path is None


def test_docstring_examples():
    for module in (rl_logging, rl_progress):
        failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failures == 0, module.__name__


# ---------------------------------------------------------------------------------------------------------
# Progress bar


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_enabled() is False
    bar = progress_bar(100, desc="PPO")
    assert isinstance(bar, NullProgressBar)
    bar.update(5)
    bar.set_return(12.0)
    bar.close()
    assert bar.n == 5 and sys.stderr.getvalue() == ""
    monkeypatch.setattr(sys, "stderr", None)  # pythonw-style: no stream at all
    assert progress_enabled() is False


def test_progress_on_a_terminal_shows_rate_and_return(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(1000, desc="PPO on CartPole-v1") as bar:
        assert isinstance(bar, ProgressBar)
        bar.update(200)
        bar.set_return(np.float32(21.5), eval=float("nan"), success=np.float64(0.25))
        bar.update(300)
        bar.refresh()
    out = terminal.getvalue()
    assert "PPO on CartPole-v1" in out and "500/1000" in out
    assert "step/s" in out and "return=21.5" in out and "eval=nan" in out and "success=0.25" in out


@pytest.mark.parametrize("ci, expected", [("true", False), ("1", False), ("false", True), ("0", True),
                                          ("", True)])
def test_progress_off_under_ci(monkeypatch, ci, expected):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.setenv("CI", ci)
    assert progress_enabled() is expected
    assert isinstance(progress_bar(10), ProgressBar if expected else NullProgressBar)


def test_progress_explicit_switch(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.delenv("CI", raising=False)
    assert isinstance(progress_bar(10, enabled=False), NullProgressBar)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)  # not a terminal, but asked for (e.g. a notebook)
    bar = progress_bar(10, enabled=True, unit="episode")
    bar.update(3)
    bar.close()
    assert isinstance(bar, ProgressBar) and "episode" in stream.getvalue()
    with pytest.raises(TypeError, match="enabled must be True, False or None"):
        progress_bar(10, enabled="yes")


def test_null_bar_has_the_bar_methods():
    methods = ["update", "set_return", "set_postfix", "set_postfix_str", "set_description",
               "set_description_str", "refresh", "reset", "clear", "close", "__enter__", "__exit__"]
    null = NullProgressBar(total=10, desc="x", initial=2)
    for name in methods:
        assert callable(getattr(ProgressBar, name)) and callable(getattr(null, name)), name
    with null as bar:
        bar.update(3)
        bar.set_postfix({"a": 1})
        bar.set_postfix_str("a=1")
        bar.set_description("y")
        bar.refresh()
        bar.clear()
    assert (bar.n, bar.desc) == (5, "y")
    bar.reset(total=20)
    assert (bar.n, bar.total) == (0, 20)
