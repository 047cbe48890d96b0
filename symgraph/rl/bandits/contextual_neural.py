r"""Neural contextual agents: NeuralGreedy, NeuralLinearPosterior, NeuralNoiseSampling and Bootstrap.

Each agent builds its network in its own ``symgraph.Graph`` (agents never share variables) and compiles each
function once. The network maps a context to one value per arm, :math:`f_\theta(x) \in \mathbb{R}^K`, and is
fitted on the stored transitions with the bandit regression loss of Riquelme, Tucker & Snoek (2018, "Deep
Bayesian Bandits Showdown"): only the pulled arm's output is compared with the reward,

.. math:: L(\theta) = \frac{1}{B} \sum_{i=1}^{B} \big(f_\theta(x_i)_{a_i} - \tilde r_i\big)^2,

minimised with Adam, gradients clipped to a global norm. ``update_params(batch_size=B, train_epochs=E)``
draws the ``E`` minibatches of ``B`` transitions (uniformly, with replacement) up front and runs all ``E``
gradient steps in one compiled call: the training function's ``.pure`` view inside ``jax.lax.scan`` over the
minibatches, the updated variables written back once at the end.

With ``normalize_rewards`` (the default) the targets are the stored rewards standardised by their mean and
standard deviation at training time, :math:`\tilde r = (r - m) / s`: the arg-max over arms is unchanged and
Adam's step size no longer has to match the reward scale (the wheel bandit pays 50 next to 1.2). Predictions
(``predict``) are mapped back, :math:`m + s f_\theta(x)`.

Defaults follow the paper where they apply (ReLU layers of 50 units, weights uniform in [-0.3, 0.3],
gradient norm clipped at 5, 2 initial pulls per arm); the paper's networks have one hidden layer and a
decayed RMSProp, ours two and Adam. On the wheel bandit (delta 0.5, 5,000 pulls, 4 seeds) two layers gave
NeuralLinear a normalised regret of 2.4 against 3.1 with one, and standardised targets 2.4 against 3.1 without.
"""

import jax
import numpy as np

import symgraph as sg
import symgraph.tensor as T
from symgraph.nn import Dense, activations, initializers
from symgraph.nn.optimizers import Adam
from symgraph.probabilities import Categorical
from symgraph.rl.bandits._common import MAX_SIZE, check_count
from symgraph.rl.bandits.contextual import DCBAgent, NIGPosterior, _positive

__all__ = ["MLPParams", "pulled_arm_mse", "split_noise", "NeuralAgent", "NeuralGreedy",
           "NeuralLinearPosterior", "NeuralNoiseSampling", "Bootstrap", "NeuralGreedyAgent",
           "NeuralLinearPosteriorAgent", "NeuralNoiseSamplingAgent", "BootstrapNeuralAgent"]

#: rows per call when the features of the whole database are recomputed (a fixed shape: one compilation)
FEATURE_CHUNK = 256


class MLPParams:
    """The Dense layers of an MLP ``sizes[0] -> ... -> sizes[-1]``, applied by :meth:`__call__` with their own
    weights or with replacements (perturbed or sampled weights).

    Args:
        sizes: layer sizes, input first.
        activation: activation of the hidden layers (name or callable); the output layer is linear.
        init: initializer of the weights (biases start at zero).
        name: scope name.
    """

    def __init__(self, sizes, activation="relu", init=None, name="mlp"):
        self.activation = activations.get(activation)
        with sg.Scope(name) as scope:
            self.scope = scope.path
            self.layers = [Dense(n_out, init=init or "glorot_uniform", in_features=n_in, name=f"dense_{i}")
                           for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]

    @property
    def weights(self):
        """list: the ``(W, b)`` Variable pairs, input layer first."""
        return [(layer.W, layer.b) for layer in self.layers]

    def __call__(self, x, weights=None):
        """``(output, last hidden layer)`` for input ``x`` (the hidden layer is ``x`` itself if none)."""
        weights = self.weights if weights is None else weights
        h = features = x
        for i, (W, b) in enumerate(weights):
            h = T.matmul(h, W) + b
            if i < len(weights) - 1:
                h = features = self.activation(h)
        return h, features


def split_noise(noise, tensors):
    """Cut the flat vector ``noise`` (a node of ``size(tensors)`` entries) into pieces shaped like each of
    ``tensors``, in order.

    The noise agents draw their standard-normal noise on the host from their own generator and feed it in
    (per action, and pre-sampled per training step like the minibatches): a random node in the graph would
    cost a compilation of the generator in every function that perturbs weights."""
    pieces, start = [], 0
    for t in tensors:
        size = int(np.prod(t.shape))
        pieces.append(T.reshape(noise[start:start + size], t.shape))
        start += size
    return pieces


def size(tensors):
    """Total number of entries of ``tensors``."""
    return sum(int(np.prod(t.shape)) for t in tensors)


def pulled_arm_mse(values, actions, rewards, n_actions):
    """Mean over the batch of ``(values[i, actions[i]] - rewards[i])**2``: only the pulled arm is fitted."""
    pulled = T.sum(values * T.one_hot(actions, n_actions), axis=-1)
    return T.mean(T.square(pulled - rewards))


def _scan_training(step):
    """A jitted ``(state, *batches) -> (state, outputs)`` running ``step.pure`` over the batches' leading axis."""

    def run(state, *batches):
        def body(carry, batch):
            out, carry = step.pure(carry, *batch)
            return carry, out

        return jax.lax.scan(body, state, batches)

    return jax.jit(run)


class NeuralAgent(DCBAgent):
    """Base of the network agents: the agent's graph and inputs, reward normalisation, scan training and
    the write-back of the trained variables.

    Subclasses implement ``_build()``, run inside the agent's graph, which must call ``_set_training(step)``
    with a compiled one-minibatch training function (``_fit_values(values)`` does it for the regression loss);
    they may override ``_batches`` (the stacked minibatches) and ``_after_training``.

    Args:
        bandit: the bandit to solve.
        hidden: hidden layer sizes.
        activation: hidden activation (a name of ``symgraph.nn.activations`` or a callable).
        lr: Adam learning rate.
        max_grad_norm: global gradient-norm clip (None: no clipping).
        init_scale: weights start uniform in ``[-init_scale, init_scale]``.
        normalize_rewards: standardise the training targets (module docstring).
        init_pulls: round-robin pulls per arm first.
        seed: None, int, SeedSequence or Generator (network initialisation, minibatches, exploration).

    Attributes:
        graph: the agent's ``symgraph.Graph``.
        updates: number of ``update_params`` calls that trained.
        last_loss: mean training loss of the last call.
        reward_shift, reward_scale: the standardisation of the last training (0 and 1 without it).
    """

    def __init__(self, bandit, hidden=(50, 50), activation="relu", lr=1e-2, max_grad_norm=5.0, init_scale=0.3,
                 normalize_rewards=True, init_pulls=2, seed=None):
        super().__init__(bandit, init_pulls, seed)
        owner = type(self).__name__
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise ValueError(f"{owner}: hidden must be a sequence of layer sizes, got {hidden!r}") from None
        self.hidden = tuple(check_count(h, "each hidden layer size", maximum=MAX_SIZE) for h in hidden)
        activations.get(activation)  # an unknown name fails here
        self.activation = activation
        self.lr = _positive(lr, "lr", owner)
        self.max_grad_norm = None if max_grad_norm is None else _positive(max_grad_norm, "max_grad_norm",
                                                                              owner)
        self.init_scale = _positive(init_scale, "init_scale", owner)
        self.normalize_rewards = bool(normalize_rewards)
        self.reward_shift, self.reward_scale = 0.0, 1.0
        self.updates = 0
        self.last_loss = float("nan")
        # the initial weights come from the agent's generator (the graph's seed); all other randomness
        # (minibatches, noise, exploration) is drawn on the host from the generator itself
        self.graph = sg.Graph(owner, seed=int(self.rng.integers(0, 2**63)))
        with self.graph:
            self.x = sg.Placeholder((None, self.context_dim), "float32", name="x")
            self.a = sg.Placeholder((None,), "int32", name="a")
            self.r = sg.Placeholder((None,), "float32", name="r")
            self._build()

    # -- building ----------------------------------------------------------------------------------------
    def _build(self):
        raise NotImplementedError

    def _init(self):
        return initializers.uniform(self.init_scale)

    def _mlp(self, name="mlp"):
        return MLPParams((self.context_dim, *self.hidden, self.n_actions), self.activation, self._init(), name)

    def _optimizer(self, loss):
        return Adam(loss, lr=self.lr, max_grad_norm=self.max_grad_norm)

    def _fit_values(self, values):
        """Train ``values`` ``(batch, n_actions)`` on the pulled arms' targets (``pulled_arm_mse``)."""
        loss = pulled_arm_mse(values, self.a, self.r, self.n_actions)
        opt = self._optimizer(loss)
        self._set_training(sg.function(self.x, self.a, self.r, outputs=loss, updates=opt.updates, name="train"))

    def _set_training(self, step):
        if step.key_name is not None:
            raise ValueError(f"{type(self).__name__}: the training function holds random nodes; draw the noise "
                             "on the host and feed it as an input (see split_noise), so every draw comes from "
                             "the agent's seeded generator")
        self._train_step = step
        self._train_scan = _scan_training(step)

    # -- training ----------------------------------------------------------------------------------------
    def update_params(self, action=None, batch_size=64, train_epochs=20):
        """Fit the network: ``train_epochs`` Adam steps on minibatches of ``batch_size`` stored transitions,
        in one compiled call. ``action`` is accepted for the common protocol (the network serves every arm).
        """
        _, batch_size, train_epochs = self._check_training_args(action, batch_size, train_epochs)
        if len(self.db) == 0:
            return
        batches = self._batches(train_epochs, batch_size)
        state, losses = self._train_scan(self._train_step.state, *batches)
        variables = self.graph.variables
        for name, value in state.items():
            variables[name].update(value)
        self.updates += 1
        self.last_loss = float(np.mean(np.asarray(losses)))
        self._after_training()

    def _targets(self):
        """The stored rewards as float32 training targets, standardised with ``normalize_rewards``."""
        rewards = self.db.rewards
        if self.normalize_rewards:
            self.reward_shift = float(rewards.mean())
            self.reward_scale = float(max(rewards.std(), 1e-6))
        return ((rewards - self.reward_shift) / self.reward_scale).astype(np.float32)

    def _batches(self, train_epochs, batch_size):
        """The training function's inputs, minibatches stacked on a leading ``train_epochs`` axis."""
        db = self.db
        rows = db.sample_indices(self.rng, (train_epochs, batch_size))
        return db.contexts[rows], db.actions[rows].astype(np.int32), self._targets()[rows]

    def _after_training(self):
        """Hook run after each training call."""

    def _unnormalize(self, values):
        return self.reward_shift + self.reward_scale * np.asarray(values, dtype=np.float64)


class NeuralGreedy(NeuralAgent):
    r"""Epsilon-greedy on a neural estimate of every arm's reward (``RMS`` of Riquelme et al., 2018, with an
    exploration rate).

    Draw :math:`u \sim U[0, 1)`; if :math:`u < \varepsilon` pull an arm uniformly at random, otherwise
    :math:`\arg\max_k f_\theta(x)_k`. With :math:`\varepsilon = 0` it never explores.

    Args:
        bandit: the bandit to solve.
        epsilon: exploration probability in [0, 1].
        hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards, init_pulls, seed: see
            :class:`NeuralAgent`.
    """

    def __init__(self, bandit, epsilon=0.0, hidden=(50, 50), activation="relu", lr=1e-2, max_grad_norm=5.0,
                 init_scale=0.3, normalize_rewards=True, init_pulls=2, seed=None):
        if isinstance(epsilon, bool) or not (isinstance(epsilon, int | float) and 0.0 <= epsilon <= 1.0):
            raise ValueError(f"{type(self).__name__}: epsilon must lie in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)
        super().__init__(bandit, hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards,
                         init_pulls, seed)

    def _build(self):
        self.net = self._mlp()
        values, _ = self.net(self.x)
        self._fit_values(values)
        self._values = sg.function(self.x, outputs=values, name="values")

    def predict(self, context):
        """numpy.ndarray: the network's estimate of every arm's reward in ``context``."""
        return self._unnormalize(self._values(self._context(context)[None])[0])

    def _select(self, x):
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions))
        return int(np.argmax(self._values(x[None])[0]))


class NeuralLinearPosterior(NeuralAgent):
    r"""Thompson sampling with a Bayesian linear regression on the last hidden layer of a network
    (``NeuralLinear`` of Riquelme, Tucker & Snoek, 2018, section 3).

    The network is fitted on all the data (module docstring); its last hidden layer :math:`z = \phi_\theta(x)`
    is the representation on which each arm gets the exact Normal-Inverse-Gamma linear posterior of
    :class:`~symgraph.rl.bandits.NIGPosterior`, :math:`r \approx \beta_k^\top z` (on the raw rewards).
    Each stored transition is folded into the pulled arm's posterior at once with the current representation
    (the paper updates the linear part after every pull); ``update_params`` trains the network, recomputes
    :math:`z` for every stored context and refits every arm's posterior on them. Actions: draw
    :math:`\sigma_k^2 \sim \mathrm{IG}(a_k, b_k)`, :math:`\beta_k \sim N(\mu_k, \sigma_k^2 \Lambda_k^{-1})`
    for every arm and pull :math:`\arg\max_k \beta_k^\top z`.

    Args:
        bandit: the bandit to solve.
        hidden: hidden layer sizes (at least one; the last is the dimension of :math:`z`).
        lambda_prior, a0, b0: prior of the linear part (paper: 0.25, 6, 6).
        activation, lr, max_grad_norm, init_scale, normalize_rewards, init_pulls, seed: see
            :class:`NeuralAgent`.

    Attributes:
        posterior: the :class:`~symgraph.rl.bandits.NIGPosterior` over :math:`z`.
    """

    def __init__(self, bandit, hidden=(50, 50), lambda_prior=0.25, a0=6.0, b0=6.0, activation="relu", lr=1e-2,
                 max_grad_norm=5.0, init_scale=0.3, normalize_rewards=True, init_pulls=2, seed=None):
        try:
            n_hidden = len(tuple(hidden))
        except TypeError:
            n_hidden = 0
        if not n_hidden:
            raise ValueError(f"{type(self).__name__}: needs at least one hidden layer (the last one is the "
                             f"representation z), got hidden={hidden!r}")
        super().__init__(bandit, hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards,
                         init_pulls, seed)
        self.posterior = NIGPosterior(self.n_actions, self.hidden[-1], lambda_prior, a0, b0)
        self._cached = (None, None)

    def _build(self):
        self.net = self._mlp()
        values, features = self.net(self.x)
        self._fit_values(values)
        self._features = sg.function(self.x, outputs=features, name="features")

    def features(self, contexts):
        """numpy.ndarray: the representation :math:`z`, ``(n, hidden[-1])``, of ``contexts``
        ``(n, context_dim)``, computed ``FEATURE_CHUNK`` rows per call (one compiled shape)."""
        contexts = np.asarray(contexts, dtype=np.float32).reshape(-1, self.context_dim)
        out = np.empty((len(contexts), self.hidden[-1]))
        chunk = np.zeros((FEATURE_CHUNK, self.context_dim), dtype=np.float32)
        for start in range(0, len(contexts), FEATURE_CHUNK):
            part = contexts[start:start + FEATURE_CHUNK]
            chunk[:len(part)] = part
            out[start:start + len(part)] = self._features(chunk)[:len(part)]
        return out

    def _feature(self, x):
        """:math:`z` of one context, cached: ``select_action`` and ``update_db`` see the same context."""
        last_x, last_z = self._cached
        if last_x is not None and np.array_equal(last_x, x):
            return last_z
        z = self._features(x[None])[0].astype(np.float64)
        self._cached = (x.copy(), z)
        return z

    def predict(self, context):
        """numpy.ndarray: the posterior mean reward of every arm in ``context``, :math:`\\mu_k^\\top z`."""
        return self.posterior.means @ self._feature(self._context(context))

    def _select(self, x):
        beta = self.posterior.sample(self.rng)
        return int(np.argmax(beta @ self._feature(x)))

    def _store(self, x, action, reward):
        self.posterior.add(action, self._feature(x), reward)

    def _after_training(self):
        self._cached = (None, None)
        Z = self.features(self.db.contexts)
        actions, rewards = self.db.actions, self.db.rewards
        for k in range(self.n_actions):
            mask = actions == k
            self.posterior.fit(k, Z[mask], rewards[mask])


class NeuralNoiseSampling(NeuralAgent):
    r"""Greedy action of a network whose weights are perturbed by Gaussian noise, the noise scale adapted so
    the perturbed policy stays near the clean one (parameter-space noise, Plappert et al., 2018, "Parameter
    Space Noise for Exploration"; ``ParamNoise`` of Riquelme et al., 2018).

    Each action draws :math:`\tilde\theta = \theta + \sigma \epsilon`, :math:`\epsilon \sim N(0, I)`, and
    pulls :math:`\arg\max_k f_{\tilde\theta}(x)_k`. After each training, over ``kl_samples`` stored contexts,

    .. math:: d = \frac{1}{n} \sum_i \mathrm{KL}\big(\mathrm{softmax} f_\theta(x_i) \,\big\|\,
              \mathrm{softmax} f_{\tilde\theta}(x_i)\big), \qquad
              \delta = -\log\Big(1 - \varepsilon + \frac{\varepsilon}{K}\Big),

    and :math:`\sigma \leftarrow \alpha \sigma` if :math:`d < \delta`, else :math:`\sigma / \alpha`. The
    target :math:`\delta` is the KL between the greedy and the :math:`\varepsilon`-greedy policies (Plappert
    et al.); :math:`\varepsilon` then decays by ``eps_decay``, as in Riquelme et al.'s code.

    Args:
        bandit: the bandit to solve.
        noise_std: initial :math:`\sigma` (paper: 0.05).
        eps: initial :math:`\varepsilon` of the target distance, in (0, 1) (paper: 0.1).
        eps_decay: factor in (0, 1] applied to :math:`\varepsilon` after each training (paper's code: 0.99).
        noise_factor: :math:`\alpha > 1` (Plappert et al.: 1.01).
        kl_samples: contexts the distance is averaged over (paper: 300).
        hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards, init_pulls, seed: see
            :class:`NeuralAgent`.

    Attributes:
        noise_std: the current :math:`\sigma`; ``noise_history`` and ``kl_history`` record each adaptation.
    """

    def __init__(self, bandit, noise_std=0.05, eps=0.1, eps_decay=0.99, noise_factor=1.01, kl_samples=300,
                 hidden=(50, 50), activation="relu", lr=1e-2, max_grad_norm=5.0, init_scale=0.3,
                 normalize_rewards=True, init_pulls=2, seed=None):
        owner = type(self).__name__
        self.noise_std = _positive(noise_std, "noise_std", owner)
        self.eps = _positive(eps, "eps", owner)
        self.eps_decay = _positive(eps_decay, "eps_decay", owner)
        self.noise_factor = _positive(noise_factor, "noise_factor", owner)
        if self.eps >= 1.0 or self.eps_decay > 1.0 or self.noise_factor <= 1.0:
            raise ValueError(f"{owner}: needs eps in (0, 1), eps_decay in (0, 1] and noise_factor > 1, got "
                             f"eps={eps!r}, eps_decay={eps_decay!r}, noise_factor={noise_factor!r}")
        self.kl_samples = check_count(kl_samples, "kl_samples")
        self.noise_history, self.kl_history = [self.noise_std], []
        super().__init__(bandit, hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards,
                         init_pulls, seed)

    def _build(self):
        self.net = self._mlp()
        self.sigma = sg.Placeholder((), "float32", name="noise_std")
        params = [p for pair in self.net.weights for p in pair]
        self.n_params = size(params)
        self.noise = sg.Placeholder((self.n_params,), "float32", name="noise")
        noisy = [p + self.sigma * eps for p, eps in zip(params, split_noise(self.noise, params), strict=True)]
        noisy_values, _ = self.net(self.x, list(zip(noisy[::2], noisy[1::2], strict=True)))
        values, _ = self.net(self.x)
        self._fit_values(values)
        self._values = sg.function(self.x, outputs=values, name="values")
        self._noisy = sg.function(self.x, self.sigma, self.noise, outputs=noisy_values, name="noisy_values")
        distance = T.mean(Categorical(logits=values).kl(Categorical(logits=noisy_values)))
        self._distance = sg.function(self.x, self.sigma, self.noise, outputs=distance, name="distance")

    def distance(self, contexts, noise_std):
        """The mean KL between the clean and the perturbed policy over ``contexts`` (one noise draw)."""
        return float(self._distance(np.asarray(contexts, np.float32), np.float32(noise_std), self._draw_noise()))

    def _draw_noise(self):
        return self.rng.standard_normal(self.n_params, dtype=np.float32)

    @property
    def target_distance(self):
        r"""float: :math:`\delta = -\log(1 - \varepsilon + \varepsilon / K)` for the current ``eps``."""
        return float(-np.log1p(-self.eps + self.eps / self.n_actions))

    def predict(self, context):
        """numpy.ndarray: the clean network's estimate of every arm's reward in ``context``."""
        return self._unnormalize(self._values(self._context(context)[None])[0])

    def _select(self, x):
        return int(np.argmax(self._noisy(x[None], np.float32(self.noise_std), self._draw_noise())[0]))

    def _after_training(self):
        rows = self.db.sample_indices(self.rng, self.kl_samples)
        d = self.distance(self.db.contexts[rows], self.noise_std)
        self.noise_std *= self.noise_factor if d < self.target_distance else 1.0 / self.noise_factor
        self.eps *= self.eps_decay
        self.kl_history.append(d)
        self.noise_history.append(self.noise_std)


class Bootstrap(NeuralAgent):
    r"""Thompson sampling with a bootstrapped ensemble of networks (Osband et al., 2016, "Deep Exploration via
    Bootstrapped DQN"; ``BootRMS`` of Riquelme et al., 2018).

    ``n_models`` networks :math:`f_{\theta_1}, \ldots, f_{\theta_q}` each see their own part of the data:
    every stored transition joins model :math:`j`'s data with probability ``add_prob``, independently. Each
    model trains on minibatches of its own data (all models in one compiled call; the loss is the sum of the
    models' losses, over disjoint parameters). Each action picks one model uniformly at random and pulls its
    greedy arm, :math:`\arg\max_k f_{\theta_j}(x)_k`.

    Args:
        bandit: the bandit to solve.
        n_models: ensemble size :math:`q` (paper: 3).
        add_prob: probability :math:`p` in (0, 1] that a transition joins a model's data (paper: 0.95).
        hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards, init_pulls, seed: see
            :class:`NeuralAgent`.
    """

    def __init__(self, bandit, n_models=3, add_prob=0.95, hidden=(50, 50), activation="relu", lr=1e-2,
                 max_grad_norm=5.0, init_scale=0.3, normalize_rewards=True, init_pulls=2, seed=None):
        self.n_models = check_count(n_models, "n_models", maximum=MAX_SIZE)
        if isinstance(add_prob, bool) or not (isinstance(add_prob, int | float) and 0.0 < add_prob <= 1.0):
            raise ValueError(f"{type(self).__name__}: add_prob must lie in (0, 1], got {add_prob!r}")
        self.add_prob = float(add_prob)
        self._masks = np.zeros((1024, self.n_models), dtype=bool)
        super().__init__(bandit, hidden, activation, lr, max_grad_norm, init_scale, normalize_rewards,
                         init_pulls, seed)

    def _build(self):
        q, d = self.n_models, self.context_dim
        xs = sg.Placeholder((q, None, d), "float32", name="xs")
        actions = sg.Placeholder((q, None), "int32", name="actions")
        rewards = sg.Placeholder((q, None), "float32", name="rewards")
        self.nets = [self._mlp(f"model_{j}") for j in range(q)]
        loss = sum(pulled_arm_mse(net(xs[j])[0], actions[j], rewards[j], self.n_actions)
                   for j, net in enumerate(self.nets))
        opt = self._optimizer(loss)
        self._set_training(sg.function(xs, actions, rewards, outputs=loss, updates=opt.updates, name="train"))
        self._values = sg.function(self.x, outputs=T.stack([net(self.x)[0] for net in self.nets]),
                                      name="values")

    @property
    def masks(self):
        """numpy.ndarray: ``(n, n_models)``, whether each stored transition is in each model's data."""
        return self._masks[:len(self.db)].copy()

    def predict(self, context):
        """numpy.ndarray: ``(n_models, n_actions)``, every model's estimate of every arm's reward."""
        return self._unnormalize(self._values(self._context(context)[None])[:, 0])

    def _store(self, x, action, reward):
        n = len(self.db) - 1
        if n == len(self._masks):
            self._masks = np.concatenate([self._masks, np.zeros_like(self._masks)])
        self._masks[n] = self.rng.random(self.n_models) < self.add_prob

    def _select(self, x):
        model = int(self.rng.integers(self.n_models))
        return int(np.argmax(self._values(x[None])[model, 0]))

    def _batches(self, train_epochs, batch_size):
        """Minibatches ``(train_epochs, n_models, batch_size, ...)``, each model's from its own data (all the
        data for a model whose part is still empty)."""
        masks, db = self.masks, self.db
        rows = []
        for j in range(self.n_models):
            subset = np.flatnonzero(masks[:, j])
            rows.append(db.sample_indices(self.rng, (train_epochs, batch_size), subset if len(subset) else None))
        rows = np.stack(rows, axis=1)
        return db.contexts[rows], db.actions[rows].astype(np.int32), self._targets()[rows]


# GenRL's names
NeuralGreedyAgent = NeuralGreedy
NeuralLinearPosteriorAgent = NeuralLinearPosterior
NeuralNoiseSamplingAgent = NeuralNoiseSampling
BootstrapNeuralAgent = Bootstrap
