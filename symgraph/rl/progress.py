"""The one progress bar of the project: :func:`progress_bar`.

Every long-running loop (``run``, the trainers, the fused loop, the command line) shows its progress through
:func:`progress_bar`, so they all behave alike:

- the bar is a tqdm bar (``tqdm.auto``: a text bar on a terminal, a widget in a notebook) showing the rate
  (``step/s`` with the default ``unit``) and a postfix with the latest return (:meth:`ProgressBar.set_return`);
- it is off when asked (``enabled=False``) and, when not asked either way (``enabled=None``), off when the
  standard error stream is not a terminal (logs, pipes, notebooks, test runners) or when the ``CI``
  environment variable is set to a true value (any value except ``""``, ``0``, ``false``, ``no``, ``off``);
- off, it is a :class:`NullProgressBar`: an object with the same methods that does nothing, so loops never
  test whether a bar exists.

Example:
    >>> from symgraph.rl.progress import progress_bar
    >>> with progress_bar(1000, enabled=False, desc="PPO on CartPole-v1") as bar:
    ...     for episode_length, episode_return in [(200, 20.0), (300, 35.5)]:
    ...         bar.update(episode_length)
    ...         bar.set_return(episode_return)
"""

import math
import numbers
import os
import sys

from tqdm.auto import tqdm

__all__ = ["progress_bar", "progress_enabled", "ProgressBar", "NullProgressBar"]

#: Values of the ``CI`` environment variable that do *not* mean "running under continuous integration".
_FALSE_VALUES = ("", "0", "false", "no", "off")


def _running_in_ci():
    return os.environ.get("CI", "").strip().lower() not in _FALSE_VALUES


def _stderr_is_terminal():
    stream = sys.stderr
    isatty = getattr(stream, "isatty", None)
    if stream is None or isatty is None:
        return False
    try:
        return bool(isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def progress_enabled(enabled=None):
    """Whether a progress bar should be shown.

    Args:
        enabled: ``True`` (always: e.g. in a notebook, where standard error is not a terminal), ``False``
            (never) or ``None`` (automatic: only when standard error is a terminal and the ``CI``
            environment variable is not set to a true value).

    Returns:
        bool.

    Raises:
        TypeError: ``enabled`` is not a bool or None.
    """
    if enabled is None:
        return _stderr_is_terminal() and not _running_in_ci()
    if not isinstance(enabled, bool):
        raise TypeError(f"progress: enabled must be True, False or None (automatic: on a terminal outside CI), "
                        f"got {type(enabled).__name__} {enabled!r}")
    return enabled


def _format_return(value):
    value = float(value)
    return "nan" if math.isnan(value) else f"{value:.4g}"


class ProgressBar(tqdm):
    """A tqdm bar (``tqdm.auto``) with :meth:`set_return`; made by :func:`progress_bar`."""

    def set_return(self, value, **extra):
        """Show ``value`` as the latest return in the postfix (``return=...``), with any ``extra`` entries
        (e.g. ``eval=...``); the bar redraws on its next update, so this is cheap enough to call per
        episode."""
        postfix = {"return": _format_return(value)}
        for key, item in extra.items():
            postfix[key] = _format_return(item) if isinstance(item, numbers.Real) else item
        self.set_postfix(postfix, refresh=False)


class NullProgressBar:
    """The bar of a disabled :func:`progress_bar`: the same methods as :class:`ProgressBar`, doing nothing.

    It still counts (``n``) so that code reading the position works either way.
    """

    disable = True

    def __init__(self, total=None, desc=None, unit="step", initial=0):
        self.total = total
        self.desc = desc or ""
        self.unit = unit
        self.n = initial
        self.postfix = None

    def update(self, n=1):
        """Advance the count by ``n``."""
        self.n += n

    def set_return(self, value, **extra):
        """Do nothing (see :meth:`ProgressBar.set_return`)."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        """Do nothing (see ``tqdm.set_postfix``)."""

    def set_postfix_str(self, s="", refresh=True):
        """Do nothing (see ``tqdm.set_postfix_str``)."""

    def set_description(self, desc=None, refresh=True):
        """Record the description."""
        self.desc = desc or ""

    def set_description_str(self, desc=None, refresh=True):
        """Record the description."""
        self.desc = desc or ""

    def refresh(self, nolock=False, lock_args=None):
        """Do nothing."""

    def reset(self, total=None):
        """Restart the count at 0 (with a new ``total`` if given)."""
        self.n = 0
        if total is not None:
            self.total = total

    def clear(self, nolock=False):
        """Do nothing."""

    def close(self):
        """Do nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def progress_bar(total, enabled=None, desc=None, unit="step", initial=0):
    """A progress bar for a long-running loop: a :class:`ProgressBar`, or a :class:`NullProgressBar` when off.

    Args:
        total: the expected number of units (``None``: unknown; the bar then shows the count and rate only).
        enabled: ``True``, ``False`` or ``None`` (automatic); see :func:`progress_enabled`.
        desc: the text before the bar (e.g. ``"PPO on CartPole-v1"``).
        unit: the unit counted (``"step"``, ``"episode"``, ``"pull"``); the rate reads ``<unit>/s``.
        initial: the starting count (e.g. the steps already taken by a resumed run).

    Returns:
        The bar: call ``update(n)`` as units complete, ``set_return(r)`` after each episode, and ``close()``
        at the end (or use it as a context manager).
    """
    if not progress_enabled(enabled):
        return NullProgressBar(total=total, desc=desc, unit=unit, initial=initial)
    return ProgressBar(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True, disable=False)
