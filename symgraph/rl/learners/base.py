"""What every learner shares: an isolated graph, seeding, the ``act`` batch convention, its config, saving and
loading.

A learner builds its placeholders, networks and compiled functions inside its own ``symgraph.Graph`` (so two
learners in one program never mix variables), seeded from ``seed``: variables made from initializers draw
from the graph seed, compiled functions get seeds derived from it, and host-side randomness (minibatch
order, exploration) uses ``self.rng``, a numpy Generator from the same seed.

``act`` follows the agent protocol of ``symgraph.rl.run``: a batch of states in, a batch of actions out; a
single state (shape ``state_shape``) in, a single action out.

Checkpoints (:mod:`symgraph.rl.checkpoint`): a learner's ``__init__`` and ``from_env`` are decorated with
:func:`records_config`, so every learner knows how it was built (``learner.config``);
``learner.save(path)`` writes its variables, random state and config to one file; ``Class.load(path)``
(on the class) rebuilds a new learner from that file, and ``learner.load(path)`` (on an instance) loads the
file into that learner.
"""

import functools
import inspect
import types

import numpy as np

from symgraph import rng
from symgraph.errors import format_shape
from symgraph.graph import Graph
from symgraph.rl import checkpoint


def records_config(method):
    """Decorator of a learner's ``__init__`` and ``from_env`` (under ``@classmethod``): after the call,
    ``learner.config`` describes it (:func:`symgraph.rl.checkpoint.describe_call`: the arguments, defaults
    applied, the env of ``from_env`` described by its spaces), so that ``Class.load(path)`` can rebuild the
    learner. The outermost recorded call wins: ``from_env`` over the ``__init__`` it calls, a subclass's
    ``__init__`` over its base's; an ``__init__`` that is not the learner's own class's (a subclass that did
    not decorate its own) records nothing, leaving ``config`` None (not rebuildable)."""
    signature = inspect.signature(method)
    names = list(signature.parameters)
    var_keyword = next((n for n, p in signature.parameters.items() if p.kind is p.VAR_KEYWORD), None)
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        raise TypeError(f"records_config: {method.__qualname__} takes *args; a recorded call must name its "
                        f"arguments")
    build = "from_env" if method.__name__ == "from_env" else "init"

    @functools.wraps(method)
    def recorded(first, *args, **kwargs):
        result = method(first, *args, **kwargs)
        learner = result if build == "from_env" else first
        if build == "init" and getattr(type(learner).__init__, "__wrapped__", None) is not method:
            return result
        bound = signature.bind(first, *args, **kwargs)
        bound.apply_defaults()
        arguments = {name: value for name, value in bound.arguments.items() if name not in (names[0], var_keyword)}
        arguments.update(bound.arguments.get(var_keyword, {}))
        learner.config = checkpoint.describe_call(build, arguments, learner.seed)
        return result

    return recorded


class class_or_instance_method:
    """A method bound to the class when called on the class and to the instance when called on an instance:
    ``fn(target, ...)`` receives either, and tells them apart with ``isinstance(target, type)``. This is what
    lets ``PPO.load(path)`` build a new learner and ``learner.load(path)`` load into an existing one."""

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, instance, owner):
        return types.MethodType(self.fn, owner if instance is None else instance)


@checkpoint.register_learner_base
class Learner:
    """Base of the learners (see the module docstring). Subclasses implement ``_act(states, deterministic)``
    on a batch of states and ``update(buffer)``.

    Args:
        state_shape: shape of one observation.
        actions_shape: shape of one action (``()`` for a discrete action), or the number of discrete actions
            where a learner documents it so.
        seed: integer seed (None: a fresh one, recorded in ``self.seed``).
    """

    #: The learners compute their returns and advantages from the stored rewards themselves, so
    #: :func:`~symgraph.rl.run` skips ``buffer.finish_path`` for them (a compiled call per finished episode,
    #: and a compilation per new path length).
    needs_path_returns = False

    def __init__(self, state_shape, actions_shape, seed=None):
        self.state_shape = ((int(state_shape),) if isinstance(state_shape, int | np.integer)
                            else tuple(int(d) for d in state_shape))
        self.actions_shape = actions_shape
        self.seed = rng.fresh_seed() if seed is None else int(seed)
        self.graph = Graph(type(self).__name__, seed=self.seed)
        self.rng = np.random.default_rng(self.seed)
        self._function_seeds = np.random.SeedSequence(self.seed)
        #: How the learner was built (see :func:`records_config`); None: it cannot be rebuilt from a file.
        self.config = None

    def function_seed(self):
        """A new seed for one of this learner's compiled functions (deterministic given ``seed``)."""
        return int(self._function_seeds.spawn(1)[0].generate_state(2, np.uint32).astype(np.uint64) @
                   np.array([2**32, 1], np.uint64))

    def batched(self, states):
        """``(states as a batch, whether a single state was given)``; a wrong shape is a clear error."""
        states = np.asarray(states)
        n = len(self.state_shape)
        if states.shape[states.ndim - n:] != self.state_shape or states.ndim not in (n, n + 1):
            raise ValueError(f"{type(self).__name__}.act: states must have shape {format_shape(self.state_shape)} "
                             f"(one state) or (batch, *{format_shape(self.state_shape)}), got "
                             f"{format_shape(states.shape)}; check the env's observation space against "
                             "state_shape")
        single = states.ndim == n
        return (states[None] if single else states), single

    def act(self, states, deterministic=False):
        """Actions for ``states`` (a batch, or one state); ``deterministic`` takes the greedy/mean action."""
        batch, single = self.batched(states)
        actions = self._act(batch, deterministic)
        return actions[0] if single else actions

    def _act(self, states, deterministic):
        raise NotImplementedError(f"{type(self).__name__} must implement _act(states, deterministic)")

    def update(self, buffer):
        """Learn from ``buffer``; returns a dict of metrics (or None when nothing was learned)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update(buffer)")

    def end_episode(self):
        """Called by ``run`` at the end of each episode (no-op unless a learner needs it)."""

    def hyperparameter_variables(self):
        """The numeric hyperparameters this learner holds as state variables instead of compiled constants,
        as ``{constructor argument name: [variables holding its value]}`` (e.g. ``{"lr": [...]}``): they are
        what a sweep changes without recompiling, and what a load that accepts a changed setting keeps from
        this learner rather than from the file. None by default."""
        return {}

    def save(self, path):
        """Save the learner to one ``.npz`` file at ``path`` (exactly that path: no suffix is added), written
        atomically: every variable (networks, optimizer state, target networks, counters), its random state
        (the compiled functions' keys, ``rng``, the seed sequence) and its config
        (:mod:`symgraph.rl.checkpoint`). Returns ``path``."""
        return checkpoint.save_learner(self, path)

    @class_or_instance_method
    def load(target, path, allow_changes=()):
        """Load a checkpoint written by :meth:`save` (or by ``symgraph.rl.run(..., checkpoint_path=...)``).

        - On the class, ``PPO.load(path)``: a **new** learner rebuilt from the stored config, with all its
          state restored (``act`` gives the actions the saved learner would have given). A learner built with
          code (an actor factory, a schedule...) cannot be rebuilt from data: that raises a
          :class:`~symgraph.SaveLoadError` telling to build it the same way and call ``learner.load(path)``.
        - On an instance, ``learner.load(path)``: loads the variables and random state into this learner,
          which must have the same class, architecture and settings; all or nothing (a
          :class:`~symgraph.SaveLoadError` names every missing or misshapen entry, or lists every setting
          that differs, and nothing is changed). Settings are compared on the configs both learners recorded
          (:attr:`config`: their data arguments, the constructor's defaults for those not given, the env's
          description for ``from_env``; not the seed, which the load restores); arguments that are code (an
          actor factory) cannot be compared, and a learner without a recorded config is not compared.
          Returns the learner.

        Args:
            path: the checkpoint file.
            allow_changes: settings that may differ from the file's, deliberately (e.g. a lower learning
                rate to fine-tune): a tuple of constructor argument names (``("lr",)``; ``"env"`` for the
                env's description), or True for every numeric setting. The state variables holding an
                accepted changed setting (:meth:`hyperparameter_variables`) keep this learner's values
                instead of the file's, so the learner goes on with its own setting. Only on an instance.

        Raises:
            FileNotFoundError: nothing at ``path``.
            SaveLoadError: the file is not a checkpoint of this learner, is damaged or altered, or the
                settings differ (listed).
        """
        if isinstance(target, type):
            if allow_changes:
                raise TypeError(f"{target.__name__}.load: allow_changes applies to learner.load(path) on an "
                                f"instance; {target.__name__}.load(path) rebuilds the learner with the file's "
                                f"settings")
            return checkpoint.load_new(target, path)
        return checkpoint.load_into(target, path, allow_changes)
