"""Ready-made actors and critics (MLP and Nature-DQN CNN), so scripts and the CLI need no subclassing.

Defaults follow PureJaxRL / cleanrl: hidden layers with orthogonal initialisation of gain ``sqrt(2)`` and zero
biases, an actor head of gain 0.01 (near-uniform initial policy) and a critic head of gain 1.0. Every
initializer, size and activation is configurable::

    actor = MLPActor(states, n_actions=2, actions_distribution="categorical")          # PPO on CartPole
    critic = MLPCritic(states)                                                         # V(s)
    pi = MLPActor(states, 6, "tanh_normal", hidden=(256, 256), activation="relu")      # SAC
    q1, q2 = (MLPCritic(states, actions, (256, 256), "relu", name=n) for n in ("q1", "q2"))  # twin critics
    dqn = CNNCritic(frames, n_actions=6)                                               # Nature DQN on Atari

MLP networks flatten every non-batch axis of the states and cast integer states to float32. CNN networks
take NHWC frames ``(batch, height, width, channels)`` (or ``(batch, height, width)``, given one channel;
``channels_first=True`` for ``(batch, channels, height, width)``, e.g. gymnasium's stacked frames), uint8 or
float, multiplied by ``scale`` (1/255), then the Nature-DQN stack (Mnih et al. 2015): 32 8x8 filters stride
4, 64 4x4 stride 2, 64 3x3 stride 1 (VALID padding, ReLU), flatten, a 512-unit dense layer.

``dense`` lets the fully connected layers be another layer class with ``nn.Dense``'s signature
(``dense(units, activation, init=..., name=...)``), e.g. a noisy linear layer for NoisyNet DQN.
"""

import math

import jax.numpy as jnp

import symgraph.nn as nn
import symgraph.tensor as T
from symgraph.errors import DTypeError, ShapeError, describe
from symgraph.nn import activations, initializers
from symgraph.rl.agents import Actor, Critic, _positive_int

__all__ = ["MLPActor", "MLPCritic", "CNNActor", "CNNCritic", "NATURE_CONVS"]

#: The convolutions of Nature DQN: (filters, kernel size, stride).
NATURE_CONVS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))

_SQRT2 = math.sqrt(2.0)


def _initializer(value, gain, argument, owner):
    """``value`` resolved by ``initializers.get``, or ``orthogonal(gain)`` when None."""
    return initializers.orthogonal(gain) if value is None else initializers.get(value, f"{owner} {argument}")


def _sizes(hidden, owner):
    try:
        sizes = tuple(hidden)
    except TypeError:
        raise ValueError(f"{owner}: hidden must be a sequence of layer sizes, got {hidden!r}") from None
    for size in sizes:
        _positive_int(size, "every hidden size", owner)
    return sizes


def _float(x):
    return x if jnp.issubdtype(x.dtype, jnp.floating) else T.cast(x, "float32")


def _flat(x, argument, owner):
    """``x`` as float ``(batch, features)``: non-batch axes flattened."""
    if x.ndim < 2:
        raise ShapeError(f"{owner}: expects {argument} of shape (batch, ...features), got {describe(x)}; a "
                         "single feature needs a trailing axis of size 1")
    x = _float(x)
    return T.flatten(x, 1) if x.ndim > 2 else x


def _continuous(actions, owner):
    if not jnp.issubdtype(actions.dtype, jnp.floating):
        raise DTypeError(f"{owner}: a Q(s, a) critic concatenates continuous actions, got "
                         f"{describe(actions)}; for discrete actions build a discrete Q head with n_actions= "
                         "(no actions input)")
    return T.expand_dims(actions, -1) if actions.ndim == 1 else _flat(actions, "actions", owner)


class _Config:
    """Stores and checks the options the ready-made networks share, before the template builds them."""

    def _configure(self, init, head_init, head_gain, dense, owner):
        self.init = _initializer(init, _SQRT2, "init", owner)
        self.head_init = _initializer(head_init, head_gain, "head_init", owner)
        if not callable(dense):
            raise TypeError(f"{owner}: dense must be a layer class such as nn.Dense, got {dense!r}")
        self.dense = dense


class _MLPTorso:
    def features(self, states, actions=None):
        """The hidden layers on the flattened states (concatenated with the actions, if any)."""
        owner = f"{type(self).__name__} {self.scope!r}"
        x = _flat(states, "states", owner)
        if actions is not None:
            x = T.concatenate([x, _continuous(actions, owner)], axis=-1)
        for i, units in enumerate(self.hidden):
            x = self.dense(units, self.activation, init=self.init, name=f"hidden_{i}")(x)
        return x


class _CNNTorso:
    def features(self, states, actions=None):
        """The convolution stack on scaled NHWC frames, flattened, (actions concatenated,) a dense layer."""
        owner = f"{type(self).__name__} {self.scope!r}"
        x = states
        if x.ndim == 3:
            x = T.expand_dims(x, -1)
        elif x.ndim != 4:
            layout = "(batch, channels, height, width)" if self.channels_first else \
                "(batch, height, width, channels)"
            raise ShapeError(f"{owner}: expects frames of shape {layout} or (batch, height, width), got "
                             f"{describe(states)}")
        elif self.channels_first:
            x = T.transpose(x, (0, 2, 3, 1))
        x = _float(x) * self.scale
        for i, (filters, kernel, stride) in enumerate(self.convs):
            x = nn.Conv2D(filters, kernel, stride, padding="VALID", activation=self.activation,
                          init=self.init, name=f"conv_{i}")(x)
        x = T.flatten(x, 1)
        if actions is not None:
            x = T.concatenate([x, _continuous(actions, owner)], axis=-1)
        return self.dense(self.units, self.activation, init=self.init, name="hidden")(x)


def _cnn_options(self, convs, units, activation, scale, channels_first, owner):
    try:
        self.convs = tuple((int(f), int(k), int(s)) for f, k, s in convs)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: convs must be a sequence of (filters, kernel_size, stride), got "
                         f"{convs!r}") from None
    self.units = _positive_int(units, "units", owner)
    self.activation = activations.get(activation)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ValueError(f"{owner}: scale must be a positive number, got {scale!r}")
    self.scale = float(scale)
    self.channels_first = bool(channels_first)


class _ActorHead(_Config):
    scale_output = "log_std"  # a Gaussian head's second output (state-dependent std) is a log-std

    def create_network(self, states):
        """Torso, then the head the distribution needs: logits, action, mean (and log-std)."""
        features = self.features(states)
        n = self.n_actions
        if self.kind == "categorical":
            return self.dense(n, None, init=self.head_init, name="logits")(features)
        if self.kind == "deterministic":
            out = "tanh" if self.out_activation == "auto" else self.out_activation
            return self.dense(n, out, init=self.head_init, name="action")(features)
        mean = self.dense(n, None, init=self.head_init, name="mean")(features)
        dependent = self.state_dependent_std
        if dependent == "auto":
            dependent = self.kind == "tanh_normal"
        if dependent:
            return mean, self.dense(n, None, init=self.head_init, name="log_std_head")(features)
        return mean

    def _actor_options(self, n_actions, out_activation, state_dependent_std, owner):
        if _positive_int(n_actions, "n_actions", owner) is None:
            raise ValueError(f"{owner}: n_actions is required (the number of discrete actions or of action "
                             "components)")
        if out_activation != "auto":
            activations.get(out_activation)
        if state_dependent_std not in ("auto", True, False):
            raise ValueError(f"{owner}: state_dependent_std must be 'auto', True or False, got "
                             f"{state_dependent_std!r}")
        self.out_activation, self.state_dependent_std = out_activation, state_dependent_std


class _CriticHead(_Config):
    def create_network(self, states, actions=None):
        """Torso, then one value (V or Q(s, a)) or one value per action (optionally dueling)."""
        features = self.features(states, actions)
        if actions is None and self.n_actions is not None:
            if self.dueling:
                value = self.dense(1, None, init=self.head_init, name="value")(features)
                advantage = self.dense(self.n_actions, None, init=self.head_init, name="advantage")(features)
                return value + advantage - T.mean(advantage, axis=-1, keepdims=True)
            return self.dense(self.n_actions, None, init=self.head_init, name="q")(features)
        return self.dense(1, None, init=self.head_init, name="value")(features)

    def _critic_options(self, actions, n_actions, dueling, owner):
        if dueling and (n_actions is None or actions is not None):
            raise ValueError(f"{owner}: dueling=True needs a discrete Q head: give n_actions= and no actions")
        self.dueling = bool(dueling)


class MLPActor(_MLPTorso, _ActorHead, Actor):
    """An MLP policy: hidden layers, then the head ``actions_distribution`` needs.

    Args:
        states: input tensor ``(batch, ...)`` (non-batch axes are flattened).
        n_actions: number of discrete actions (Categorical) or of action components (the others).
        actions_distribution: as :class:`Actor` (None: deterministic, ``"categorical"``, ``"normal"``,
            ``"tanh_normal"``...).
        hidden: sizes of the hidden layers.
        activation: their activation (name or callable).
        name: scope name.
        init: initializer of the hidden weights (default ``orthogonal(sqrt(2))``).
        head_init: initializer of the head weights (default ``orthogonal(0.01)``).
        out_activation: activation of a deterministic actor's output; ``"auto"`` is ``"tanh"`` (actions in
            ``[-1, 1]``, to be rescaled to the action space, as in DDPG/TD3).
        state_dependent_std: whether a Gaussian head outputs its log-std from the state (a second dense
            head) or learns a state-independent one; ``"auto"``: True for TanhNormal (SAC), False for Normal
            (PPO).
        log_std_init, log_std_bounds: as :class:`Actor`.
        dense: the class of the fully connected layers (default ``nn.Dense``).
    """

    def __init__(self, states, n_actions, actions_distribution=None, hidden=(64, 64), activation="tanh",
                 name="actor", *, init=None, head_init=None, out_activation="auto",
                 state_dependent_std="auto", log_std_init=0.0, log_std_bounds="auto", dense=nn.Dense):
        owner = type(self).__name__
        self.hidden = _sizes(hidden, owner)
        self.activation = activations.get(activation)
        self._configure(init, head_init, 0.01, dense, owner)
        self._actor_options(n_actions, out_activation, state_dependent_std, owner)
        super().__init__(states, actions_distribution, name, n_actions=n_actions, log_std_init=log_std_init,
                         log_std_bounds=log_std_bounds)


class MLPCritic(_MLPTorso, _CriticHead, Critic):
    """An MLP value network: V(s), Q(s, a) (states and actions concatenated) or a discrete Q head.

    Args:
        states: input tensor ``(batch, ...)`` (non-batch axes are flattened).
        actions: continuous actions ``(batch, action_dim)`` for a Q(s, a) critic, else None.
        hidden, activation, name: as :class:`MLPActor`.
        n_actions: for a discrete Q head (DQN), the number of actions.
        dueling: a dueling head (Wang et al. 2016): ``Q = V + A - mean_a A``, both linear heads on the
            shared hidden layers (needs n_actions).
        init: initializer of the hidden weights (default ``orthogonal(sqrt(2))``).
        head_init: initializer of the head weights (default ``orthogonal(1.0)``).
        dense: the class of the fully connected layers (default ``nn.Dense``).

    Twin critics (TD3, SAC) are two instances: ``MLPCritic(s, a, name="q1")``, ``MLPCritic(s, a, name="q2")``.
    """

    def __init__(self, states, actions=None, hidden=(64, 64), activation="tanh", name="critic", *,
                 n_actions=None, dueling=False, init=None, head_init=None, dense=nn.Dense):
        owner = type(self).__name__
        self.hidden = _sizes(hidden, owner)
        self.activation = activations.get(activation)
        self._configure(init, head_init, 1.0, dense, owner)
        self._critic_options(actions, n_actions, dueling, owner)
        super().__init__(states, actions, name, n_actions=n_actions)


class CNNActor(_CNNTorso, _ActorHead, Actor):
    """A Nature-DQN convolutional policy on image observations (see the module doc for the input layout).

    Args:
        states: frames ``(batch, height, width, channels)``, ``(batch, height, width)``, or channels first
            with ``channels_first=True``; uint8 or float.
        n_actions, actions_distribution, name: as :class:`MLPActor`.
        convs: ``(filters, kernel_size, stride)`` of each convolution (default :data:`NATURE_CONVS`).
        units: size of the dense layer after the convolutions (512).
        activation: activation of every hidden layer (``"relu"``).
        scale: the frames are multiplied by it (``1/255``: uint8 pixels to ``[0, 1]``).
        channels_first: the frames are ``(batch, channels, height, width)``.
        init, head_init, out_activation, state_dependent_std, log_std_init, log_std_bounds, dense: as
            :class:`MLPActor`.
    """

    def __init__(self, states, n_actions, actions_distribution=None, name="actor", *, convs=NATURE_CONVS,
                 units=512, activation="relu", scale=1 / 255, channels_first=False, init=None, head_init=None,
                 out_activation="auto", state_dependent_std="auto", log_std_init=0.0, log_std_bounds="auto",
                 dense=nn.Dense):
        owner = type(self).__name__
        _cnn_options(self, convs, units, activation, scale, channels_first, owner)
        self._configure(init, head_init, 0.01, dense, owner)
        self._actor_options(n_actions, out_activation, state_dependent_std, owner)
        super().__init__(states, actions_distribution, name, n_actions=n_actions, log_std_init=log_std_init,
                         log_std_bounds=log_std_bounds)


class CNNCritic(_CNNTorso, _CriticHead, Critic):
    """A Nature-DQN convolutional value network: V(s), Q(s, a) (actions concatenated after the
    convolutions) or a discrete Q head (``n_actions``, optionally ``dueling``), the Nature DQN itself.

    Args:
        states: frames, as :class:`CNNActor`.
        actions, n_actions, dueling, name: as :class:`MLPCritic`.
        convs, units, activation, scale, channels_first: as :class:`CNNActor`.
        init, head_init, dense: as :class:`MLPCritic`.
    """

    def __init__(self, states, actions=None, name="critic", *, n_actions=None, dueling=False,
                 convs=NATURE_CONVS, units=512, activation="relu", scale=1 / 255, channels_first=False,
                 init=None, head_init=None, dense=nn.Dense):
        owner = type(self).__name__
        _cnn_options(self, convs, units, activation, scale, channels_first, owner)
        self._configure(init, head_init, 1.0, dense, owner)
        self._critic_options(actions, n_actions, dueling, owner)
        super().__init__(states, actions, name, n_actions=n_actions)
