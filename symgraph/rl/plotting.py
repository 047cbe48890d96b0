"""Plots of training runs: :func:`learning_curves` (return against steps or seconds) and :func:`regret_curves`
(cumulative regret of bandit agents), several seeds per curve drawn as their mean and a 95% bootstrap
confidence interval.

The interval (:func:`bootstrap_ci`) is the percentile bootstrap over *seeds*: whole runs are resampled with
replacement (``N_RESAMPLES`` = 1000 resamples by default, from ``numpy.random.default_rng(seed)`` with
``seed=0``, so a plot is reproducible), the mean curve of each resample is taken, and the band runs between
the 2.5% and 97.5% quantiles of those means at each x. It says how well the mean is known from the seeds at
hand, not how much single runs vary (``band="std"`` draws that instead).

Runs are compared on a common x grid: each seed's curve is linearly interpolated at ``points`` evenly spaced
x values spanning the range that *every* seed of the label covers (nothing is extrapolated), so seeds whose
episodes end at different steps can be averaged.

Figures are made with :class:`matplotlib.figure.Figure` (never ``pyplot``), so plotting works without a
display and leaves the user's pyplot state alone; saving goes through matplotlib's Agg renderer. Each
function returns the figure, which a notebook displays.
"""

import csv
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from symgraph.rl.logging import CSV_NAME

__all__ = ["learning_curves", "regret_curves", "bootstrap_ci", "plot_mean_band", "read_csv_log", "N_RESAMPLES"]

#: Default number of bootstrap resamples of :func:`bootstrap_ci`.
N_RESAMPLES = 1000

_BANDS = ("ci", "std", None)
_X_AXES = ("steps", "seconds")

# Where a run object or dict keeps its per-episode data (the first present name wins).
_RETURN_FIELDS = ("episode_returns", "returns", "episode_rewards")
_STEP_FIELDS = ("episode_steps", "steps")
_SECOND_FIELDS = ("episode_seconds", "episode_times", "seconds", "times")
_LENGTH_FIELDS = ("episode_lengths",)
_CSV_X = {"steps": "step", "seconds": "seconds"}
_X_LABELS = {"steps": "environment steps", "seconds": "wall-clock time (s)"}


# ---------------------------------------------------------------------------------------------------------
# Statistics


def bootstrap_ci(samples, confidence=0.95, n_resamples=N_RESAMPLES, seed=0):
    """Mean over the first axis and its percentile-bootstrap confidence interval.

    ``samples[i]`` is seed ``i``'s value (or curve). Each resample draws ``n`` seeds with replacement
    (``rng.integers(0, n, size=(n_resamples, n))`` with ``rng = numpy.random.default_rng(seed)``; row ``b``
    is resample ``b``), its mean is taken, and the interval is the ``(1 - confidence) / 2`` and
    ``(1 + confidence) / 2`` quantiles (``numpy.quantile``, linear interpolation) of the ``n_resamples``
    means, separately at each position of the remaining axes.

    Args:
        samples: array of shape ``(n, ...)``, ``n >= 1`` seeds.
        confidence: the interval's nominal coverage, in (0, 1).
        n_resamples: bootstrap resamples (default :data:`N_RESAMPLES`).
        seed: seed of the resampling generator (fixed, so results are reproducible).

    Returns:
        ``(mean, low, high)``, each of shape ``samples.shape[1:]``. With one seed the interval is that seed.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 0 or samples.shape[0] == 0:
        raise ValueError(f"bootstrap_ci: samples must have at least one seed along axis 0, got shape "
                         f"{samples.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"bootstrap_ci: confidence must be in (0, 1), e.g. 0.95, got {confidence!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"bootstrap_ci: n_resamples must be an int >= 1, got {n_resamples!r}")
    n = samples.shape[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    # Resample means as weights: row b counts how often each seed was drawn (memory n_resamples x points).
    weights = np.zeros((n_resamples, n))
    np.add.at(weights, (np.repeat(np.arange(n_resamples), n), idx.ravel()), 1.0 / n)
    flat = samples.reshape(n, -1)
    means = weights @ flat
    if np.isnan(flat).any():  # a NaN seed makes every resample that draws it NaN, as a loop would
        means[(weights @ np.isnan(flat)) > 0] = np.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
    shape = samples.shape[1:]
    return samples.mean(axis=0), low.reshape(shape), high.reshape(shape)


def _moving_average(values, window):
    """Trailing mean over the last ``window`` values (fewer at the start)."""
    if window is None or window <= 1 or len(values) == 0:
        return values
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(1, len(values) + 1)
    start = np.maximum(t - window, 0)
    return (cumsum[t] - cumsum[start]) / (t - start)


# ---------------------------------------------------------------------------------------------------------
# Reading runs


def _read_cells(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path} is empty: not a CSV log written by symgraph.rl.logging.Logger")
        columns = {name: [] for name in header}
        for row in reader:
            row = row + [""] * (len(header) - len(row))
            for name, cell in zip(header, row):
                columns[name].append(cell)
    return columns


def _to_float(cells):
    return np.array([float(c) if c != "" else np.nan for c in cells], dtype=np.float64)


def read_csv_log(path):
    """The columns of a CSV log written by :class:`~symgraph.rl.logging.Logger`.

    Args:
        path: the CSV file, or a log directory holding ``progress.csv``.

    Returns:
        dict ``{column: float64 array}`` with one entry per row; empty cells (a metric absent from that
        write) are NaN. Columns are ``step``, ``seconds`` and the metric names.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CSV_NAME
    return {name: _to_float(cells) for name, cells in _read_cells(path).items()}


def _csv_series(path, x, y):
    columns = _read_cells(path)
    xname = _CSV_X[x]
    for name in (xname, y):
        if name not in columns:
            metrics = [c for c in columns if c not in ("step", "seconds")]
            raise ValueError(f"{path} has no column {name!r}; its metrics are {metrics} (choose one with y=...)")
    keep = [i for i, cell in enumerate(columns[y]) if cell != ""]  # rows of other writes (e.g. evaluations)
    xs = _to_float([columns[xname][i] for i in keep])
    ys = _to_float([columns[y][i] for i in keep])
    return xs, ys


def _get(run, name):
    if isinstance(run, Mapping):
        try:
            return run[name] if name in run else None
        except (KeyError, TypeError):
            return None
    return getattr(run, name, None)


def _first(run, names, length=None):
    """The first of ``names`` that ``run`` has as a 1-d array (of ``length`` entries if given)."""
    for name in names:
        value = _get(run, name)
        if value is None:
            continue
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1 and (length is None or len(arr) == length):
            return arr
    return None


def _is_result(obj):
    return any(_get(obj, n) is not None for n in _RETURN_FIELDS + ("eval_returns",))


def _result_series(run, x, y, where):
    if y == "eval/return" and _get(run, "eval_returns") is not None:
        if x != "steps":
            raise ValueError(f"{where}: evaluations in eval_returns are (step, return) pairs, with no times; "
                             f"use x='steps', or plot a CSV log (which records seconds)")
        pairs = np.asarray(_get(run, "eval_returns"), dtype=np.float64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
    names = _RETURN_FIELDS if y == "episode/return" else (y,)
    ys = _first(run, names)
    if ys is None:
        raise ValueError(f"{where}: no per-episode values for y={y!r} (looked for the field(s) "
                         f"{', '.join(names)})")
    if x == "steps":
        xs = _first(run, _STEP_FIELDS, len(ys))
        if xs is None:
            lengths = _first(run, _LENGTH_FIELDS, len(ys))
            if lengths is not None:
                xs = np.cumsum(lengths)
        if xs is None:
            raise ValueError(f"{where}: no per-episode step counts (looked for {', '.join(_STEP_FIELDS)} or "
                             f"episode_lengths, with one entry per return)")
    else:
        xs = _first(run, _SECOND_FIELDS, len(ys))
        if xs is None:
            raise ValueError(f"{where}: no per-episode times (looked for {', '.join(_SECOND_FIELDS)}, with one "
                             f"entry per return); use x='steps', or log the run with "
                             f"Logger(logdir, formats=('csv',)) and plot the log, which records seconds")
    return xs, ys


def _csv_files(directory):
    found = sorted(Path(directory).rglob(CSV_NAME))
    if not found:
        raise ValueError(f"no {CSV_NAME} under {os.fspath(directory)!r}: give a CSV log written by "
                         f"symgraph.rl.logging.Logger (formats=('csv',)) or a directory holding some")
    return found


def _path_label(path):
    path = Path(path)
    if path.is_dir():
        return path.resolve().name
    return path.resolve().parent.name if path.name == CSV_NAME else path.stem


def _seed_items(item):
    """A directory expands to the CSV logs below it (one seed each); anything else is one seed."""
    if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
        return list(_csv_files(item))
    return [item]


def _groups(runs, is_single):
    """``[(label, [seed items])]`` from the forms ``runs`` may take (see :func:`learning_curves`)."""
    def seeds_of(value):
        values = value if isinstance(value, (list, tuple)) else [value]
        return [s for v in values for s in _seed_items(v)]

    def label_of(value, i):
        if isinstance(value, (str, os.PathLike)):
            return _path_label(value)
        name = _get(value, "name") or _get(value, "agent")
        return str(name) if isinstance(name, str) and name else f"run {i + 1}"

    if isinstance(runs, (str, os.PathLike)) or is_single(runs):
        runs = [runs]
    if isinstance(runs, Mapping):
        groups = [(str(label), seeds_of(value)) for label, value in runs.items()]
    elif isinstance(runs, (list, tuple)):
        groups, seen = [], {}
        for i, value in enumerate(runs):
            first = value[0] if isinstance(value, (list, tuple)) and value else value
            label = label_of(first, i)
            seen[label] = seen.get(label, 0) + 1
            groups.append((label if seen[label] == 1 else f"{label} ({seen[label]})", seeds_of(value)))
    else:
        raise TypeError(f"runs must be a run, a path, a list of them or a {{label: run or list of seeds}} "
                        f"dict, got {type(runs).__name__}")
    for label, seeds in groups:
        if not seeds:
            raise ValueError(f"no runs for the curve {label!r}")
    return groups


# ---------------------------------------------------------------------------------------------------------
# Drawing


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def plot_mean_band(ax, x, samples, label, band="ci", confidence=0.95, n_resamples=N_RESAMPLES, seed=0,
                   **line_kwargs):
    """Draw the mean of ``samples`` over seeds as a line, with a shaded band, on ``ax``.

    The shared drawing step of :func:`learning_curves` and :func:`regret_curves` (and of any other
    mean-over-seeds plot).

    Args:
        ax: matplotlib axes.
        x: ``(points,)`` x values.
        samples: ``(seeds, points)`` (or ``(points,)`` for one seed) y values.
        label: the legend label; the band and number of seeds are appended (e.g. ``"PPO (mean and 95%
            bootstrap CI, 5 seeds)"``).
        band: ``"ci"`` (bootstrap confidence interval of the mean, :func:`bootstrap_ci`), ``"std"`` (mean ±
            one standard deviation over seeds, ddof=1) or None (the mean only). One seed draws no band.
        confidence, n_resamples, seed: of the bootstrap (``band="ci"``).
        **line_kwargs: passed to ``ax.plot`` (e.g. ``color``).

    Returns:
        The line (``matplotlib.lines.Line2D``).
    """
    _check_choice("band", band, _BANDS)
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    n = samples.shape[0]
    if n == 1 or band is None:
        mean, low, high = samples.mean(axis=0), None, None
        text = label if n == 1 else f"{label} (mean, {n} seeds)"
    elif band == "ci":
        mean, low, high = bootstrap_ci(samples, confidence, n_resamples, seed)
        text = f"{label} (mean and {100 * confidence:g}% bootstrap CI, {n} seeds)"
    else:
        mean, std = samples.mean(axis=0), samples.std(axis=0, ddof=1)
        low, high = mean - std, mean + std
        text = f"{label} (mean ± 1 std, {n} seeds)"
    (line,) = ax.plot(x, mean, label=text, **line_kwargs)
    if low is not None:
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def _new_figure(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _finish(fig, ax, path, dpi, title, xlabel, ylabel, legend_loc):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize="small")
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)  # a Figure made without pyplot renders with Agg for raster formats
    return fig


def learning_curves(runs, x="steps", path=None, *, y="episode/return", smooth=10, points=200, band="ci",
                    confidence=0.95, n_resamples=N_RESAMPLES, seed=0, title="Learning curves", xlabel=None,
                    ylabel=None, figsize=(7.0, 4.5), dpi=100, ax=None):
    """Plot learning curves (a per-episode metric against environment steps or seconds), one per label.

    Runs come in any of these forms, freely mixed:

    - a result object or dict with per-episode returns (``episode_returns``, ``returns`` or
      ``episode_rewards``) and, for ``x="steps"``, the step count at the end of each episode
      (``episode_steps`` or ``steps``; else the cumulative sum of ``episode_lengths``) or, for
      ``x="seconds"``, the time of each (``episode_seconds``, ``episode_times``, ``seconds`` or ``times``).
      ``rl.run``'s ``RunResult`` and the tabular ``Trainer`` work as they are (with ``x="steps"``);
    - a CSV log written by :class:`~symgraph.rl.logging.Logger` (the file, or its directory): x is its
      ``step`` or ``seconds`` column, y the column ``y``; rows where ``y`` is empty (other writes, such as
      evaluations) are skipped. A directory holding several logs (``runs/ppo/seed0/progress.csv``,
      ``runs/ppo/seed1/progress.csv``, ...) is one curve with one seed per log.

    and are grouped into curves as:

    - ``{label: run or [runs]}``: one curve per label, the runs of a list being its seeds;
    - ``[run, run, ...]``: one curve per entry (an entry may itself be a list of seeds), labelled by the
      run's ``name``/``agent`` field, its directory name, or ``run 1``, ``run 2``, ...;
    - a single run or path: one curve.

    A curve with several seeds shows their mean on a common x grid (see the module docstring) and a band
    (by default the 95% percentile-bootstrap confidence interval of the mean, over seeds; ``N_RESAMPLES``
    resamples with a fixed ``seed``); a single seed is drawn as it is.

    Args:
        runs: the runs, as above.
        x: ``"steps"`` (environment steps) or ``"seconds"`` (wall-clock time).
        path: save the figure there (PNG from a ``.png`` suffix; parent directories are created), or None.

    Keyword Args:
        y: the metric: ``"episode/return"`` (the default: the training return of each episode),
            ``"eval/return"`` (evaluations: the CSV column, or a result's ``eval_returns`` pairs), or any
            CSV column / result field name.
        smooth: trailing moving average over this many episodes (rows), applied to each seed before
            averaging; 1 or None: none. Evaluations (``y="eval/return"``), already means over episodes,
            are not smoothed.
        points: x grid size for averaging seeds.
        band: ``"ci"``, ``"std"`` or None; see :func:`plot_mean_band`.
        confidence: of the bootstrap interval (0.95: 95%).
        n_resamples: bootstrap resamples (default :data:`N_RESAMPLES` = 1000).
        seed: seed of the bootstrap resampling.
        title, xlabel, ylabel: texts (defaults: ``"Learning curves"``, ``"environment steps"`` or
            ``"wall-clock time (s)"``, and the metric, e.g. ``"episode return"`` + the smoothing).
        figsize: inches; the PNG is ``figsize * dpi`` pixels.
        dpi: resolution of the saved file.
        ax: draw on these matplotlib axes instead of a new figure.

    Returns:
        matplotlib.figure.Figure.

    Raises:
        ValueError: an unknown ``x``/``band``, a run without the fields or columns needed (the message
            says which were looked for), seeds of one curve whose x ranges do not overlap.

    Example:
        >>> from symgraph.rl.plotting import learning_curves
        >>> seeds = [{"episode_returns": [10.0, 30.0, 50.0], "episode_steps": [10, 40, 90]},
        ...          {"episode_returns": [12.0, 20.0, 60.0], "episode_steps": [12, 32, 92]}]
        >>> fig = learning_curves({"PPO": seeds}, smooth=None)
        >>> fig.axes[0].get_xlabel()
        'environment steps'
    """
    _check_choice("x", x, _X_AXES)
    _check_choice("band", band, _BANDS)
    _check_int("points", points, 1)
    if smooth is not None:
        _check_int("smooth", smooth, 1)
    window = None if y == "eval/return" else smooth  # evaluations are already means over episodes
    fig, axes = _new_figure(ax, figsize)
    for label, seeds in _groups(runs, _is_result):
        series = []
        for i, item in enumerate(seeds):
            where = f"curve {label!r}, seed {i + 1}"
            if isinstance(item, (str, os.PathLike)):
                xs, ys = _csv_series(item, x, y)
                where = f"{where} ({os.fspath(item)})"
            else:
                xs, ys = _result_series(item, x, y, where)
            if len(ys) == 0:
                raise ValueError(f"{where}: no values of {y!r} to plot (no finished episodes?)")
            order = np.argsort(xs, kind="stable")
            series.append((xs[order], _moving_average(ys[order], window)))
        if len(series) == 1:
            plot_mean_band(axes, series[0][0], series[0][1], label, band, confidence, n_resamples, seed)
            continue
        lo = max(xs[0] for xs, _ in series)
        hi = min(xs[-1] for xs, _ in series)
        if lo > hi:
            spans = ", ".join(f"[{xs[0]:g}, {xs[-1]:g}]" for xs, _ in series)
            raise ValueError(f"curve {label!r}: its seeds cover x ranges that do not overlap ({spans}), so "
                             f"they cannot be averaged; plot them as separate curves")
        grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
        samples = np.stack([np.interp(grid, xs, ys) for xs, ys in series])
        plot_mean_band(axes, grid, samples, label, band, confidence, n_resamples, seed)
    if ylabel is None:
        ylabel = {"episode/return": "episode return", "eval/return": "evaluation return"}.get(y, y)
        if window is not None and window > 1:
            ylabel = f"{ylabel} (moving average, {smooth} episodes)"
    return _finish(fig, axes, path, dpi, title, xlabel or _X_LABELS[x], ylabel, "best")


def _regret_samples(run, where):
    """``(seeds, T)`` cumulative regret of one run: an array, or an object/dict with ``cumulative_regret``
    (1-d per run, 2-d per seed and step) or per-step ``regret``."""
    if isinstance(run, numbers.Number):
        raise TypeError(f"{where}: got the number {run!r} where a run was expected; a list is read as a list "
                        f"of seeds, so pass each curve as a numpy array")
    if _get(run, "cumulative_regret") is not None:
        curves = np.asarray(_get(run, "cumulative_regret"), dtype=np.float64)
    elif _get(run, "regret") is not None:
        curves = np.cumsum(np.asarray(_get(run, "regret"), dtype=np.float64), axis=-1)
    elif isinstance(run, (np.ndarray, list, tuple)) or hasattr(run, "__array__"):
        curves = np.asarray(run, dtype=np.float64)
    else:
        raise TypeError(f"{where}: expected cumulative regret as an array of shape (steps,) or (seeds, steps), "
                        f"or an object/dict with 'cumulative_regret' or 'regret', got {type(run).__name__}")
    if curves.ndim not in (1, 2) or curves.shape[-1] == 0:
        raise ValueError(f"{where}: cumulative regret must have shape (steps,) or (seeds, steps) with steps "
                         f">= 1, got {curves.shape}")
    return np.atleast_2d(curves)


def _is_regret(obj):
    return _get(obj, "cumulative_regret") is not None or _get(obj, "regret") is not None


def regret_curves(runs, path=None, *, log_x=False, points=500, band="ci", confidence=0.95,
                  n_resamples=N_RESAMPLES, seed=0, title="Cumulative expected regret", xlabel=None, ylabel=None,
                  figsize=(7.0, 4.5), dpi=100, ax=None):
    """Plot the cumulative regret of bandit agents against pulls, mean and band over seeds per label.

    Args:
        runs: per curve, its cumulative regret as an array of shape ``(steps,)`` (one seed) or
            ``(seeds, steps)``, or any object/dict with a ``cumulative_regret`` field of those shapes (a
            bandit ``BanditResult`` or ``RegretSummary``) or a per-step ``regret`` field (summed here).
            Given as ``{label: run or [runs]}`` (a list: seeds), ``[run, ...]`` (one curve each, labelled by
            the run's ``name``/``agent``) or a single run. The output of ``bandits.compare_agents`` works
            as it is. Seeds of different lengths are cut to the shortest.
        path: save the figure there (PNG from a ``.png`` suffix), or None.

    Keyword Args:
        log_x: logarithmic pull axis (regret of a good agent grows like log t); the drawn points are then
            spaced geometrically.
        points: at most this many pulls drawn per curve (a subset, always including the first and last).
        band, confidence, n_resamples, seed: the band over seeds (see :func:`plot_mean_band`).
        title, xlabel, ylabel: texts.
        figsize, dpi, ax: as in :func:`learning_curves`.

    Returns:
        matplotlib.figure.Figure.

    Example:
        >>> import numpy as np
        >>> from symgraph.rl.plotting import regret_curves
        >>> rng = np.random.default_rng(0)
        >>> fig = regret_curves({"UCB1": np.cumsum(rng.random((5, 1000)), axis=1)}, log_x=True)
        >>> fig.axes[0].get_xscale()
        'log'
    """
    _check_choice("band", band, _BANDS)
    _check_int("points", points, 2)
    fig, axes = _new_figure(ax, figsize)
    for label, items in _groups(runs, lambda r: _is_regret(r) or isinstance(r, np.ndarray)):
        curves = [_regret_samples(item, f"curve {label!r}") for item in items]
        steps = min(c.shape[1] for c in curves)
        samples = np.concatenate([c[:, :steps] for c in curves])
        if steps > points:
            index = (np.geomspace(1, steps, points) if log_x else np.linspace(1, steps, points)) - 1
            index = np.unique(np.round(index).astype(np.int64))
        else:
            index = np.arange(steps)
        plot_mean_band(axes, index + 1, samples[:, index], label, band, confidence, n_resamples, seed)
    if log_x:
        axes.set_xscale("log")
    return _finish(fig, axes, path, dpi, title, xlabel or "pulls (time steps)",
                   ylabel or "cumulative expected regret (reward units)", "upper left")

