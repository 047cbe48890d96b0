r"""Variational contextual agent: Thompson sampling with a Bayes-by-backprop network (Blundell, Cornebise,
Kavukcuoglu & Wierstra, 2015, "Weight Uncertainty in Neural Networks"; ``BBB`` of Riquelme, Tucker & Snoek,
2018, "Deep Bayesian Bandits Showdown").
"""

import math

import numpy as np

import symgraph as sg
import symgraph.tensor as T
from symgraph.nn import initializers
from symgraph.probabilities import Normal
from symgraph.rl.bandits.contextual import _positive
from symgraph.rl.bandits.contextual_neural import NeuralAgent, size, split_noise

__all__ = ["Variational", "VariationalAgent"]


class Variational(NeuralAgent):
    r"""Thompson sampling with a mean-field Gaussian posterior over the network's weights, fitted by
    Bayes-by-backprop (Blundell et al., 2015; ``BBB`` of Riquelme et al., 2018).

    Every weight :math:`w` (biases included) has the variational posterior
    :math:`q(w) = N(\mu, \sigma^2)`, :math:`\sigma = \mathrm{softplus}(\rho)`, and the prior
    :math:`p(w) = N(0, s^2)` with :math:`s` = ``prior_std`` (default :math:`\sqrt{2 / \text{fan-in}}` per
    layer, as in Riquelme et al.'s code). Training minimises the negative evidence lower bound per data point,

    .. math:: \mathcal{L}(\mu, \rho) = \frac{1}{N}\,\mathrm{KL}\big(q \,\|\, p\big)
              - \frac{1}{B} \sum_{i=1}^{B} \log N\big(\tilde r_i \mid f_w(x_i)_{a_i}, \sigma_\text{obs}^2\big),
              \qquad w = \mu + \sigma \odot \epsilon,\ \epsilon \sim N(0, I),

    with :math:`N` the number of stored transitions, one weight draw per minibatch (the reparameterisation
    gives the gradient) and the closed-form Gaussian KL. Minimising it maximises
    :math:`\mathbb{E}_q[\log p(D \mid w)] - \mathrm{KL}(q \| p)`, the ELBO (GenRL's agent had the sign of
    the KL term wrong). Each action draws one :math:`w \sim q` and pulls :math:`\arg\max_k f_w(x)_k`.

    Args:
        bandit: the bandit to solve.
        hidden: hidden layer sizes.
        prior_std: standard deviation :math:`s` of the prior, or None for :math:`\sqrt{2/\text{fan-in}}`.
        noise_std: observation noise :math:`\sigma_\text{obs}` (paper: 0.1), in the units of the targets
            (standardised rewards with ``normalize_rewards``).
        rho_init: initial :math:`\rho` (paper: -5 under an exp transform; softplus(-5) is about 0.0067).
        mean_init_std: the means :math:`\mu` start as :math:`N(0, \text{mean\_init\_std}^2)` (paper: 0.05).
        activation, lr, max_grad_norm, normalize_rewards, init_pulls, seed: see :class:`NeuralAgent`.
    """

    def __init__(self, bandit, hidden=(50, 50), prior_std=None, noise_std=0.1, rho_init=-5.0, mean_init_std=0.05,
                 activation="relu", lr=1e-2, max_grad_norm=5.0, normalize_rewards=True, init_pulls=2, seed=None):
        owner = type(self).__name__
        self.prior_std = None if prior_std is None else _positive(prior_std, "prior_std", owner)
        self.noise_std = _positive(noise_std, "noise_std", owner)
        if isinstance(rho_init, bool) or not isinstance(rho_init, int | float) or not math.isfinite(rho_init):
            raise ValueError(f"{owner}: rho_init must be a finite number, got {rho_init!r}")
        self.rho_init = float(rho_init)
        self.mean_init_std = _positive(mean_init_std, "mean_init_std", owner)
        super().__init__(bandit, hidden, activation, lr, max_grad_norm, 1.0, normalize_rewards, init_pulls,
                         seed)

    def _init(self):
        return initializers.normal(self.mean_init_std)

    def _build(self):
        self.net = self._mlp()
        self.n = sg.Placeholder((), "float32", name="n")
        means = [p for pair in self.net.weights for p in pair]
        priors = [self.prior_std or float(np.sqrt(2.0 / layer.in_features)) for layer in self.net.layers
                  for _ in range(2)]
        rho_init = initializers.constant(self.rho_init)
        with sg.Scope("rho"):
            stds = [T.softplus(sg.Variable(rho_init, name=mean.name.replace("/", "_"), shape=mean.shape))
                    for mean in means]
        kl_terms = [T.sum(Normal(mean, std).kl(Normal(0.0, prior)))
                    for mean, std, prior in zip(means, stds, priors, strict=True)]
        # w = mu + sigma * eps (reparameterised); eps is drawn on the host (see split_noise)
        self.n_params = size(means)
        self.noise = sg.Placeholder((self.n_params,), "float32", name="noise")
        sampled = [mean + std * eps for mean, std, eps in zip(means, stds, split_noise(self.noise, means),
                                                              strict=True)]
        values, _ = self.net(self.x, list(zip(sampled[::2], sampled[1::2], strict=True)))
        pulled = T.sum(values * T.one_hot(self.a, self.n_actions), axis=-1)
        self.kl = sum(kl_terms)
        self.expected_log_likelihood = T.mean(Normal(pulled, self.noise_std).log_prob(self.r))
        self.loss = self.kl / self.n - self.expected_log_likelihood
        opt = self._optimizer(self.loss)
        self._set_training(sg.function(self.x, self.a, self.r, self.n, self.noise, outputs=self.loss,
                                       updates=opt.updates, name="train"))
        self._elbo_terms = sg.function(
            self.x, self.a, self.r, self.n, self.noise, name="elbo_terms",
            outputs={"loss": self.loss, "kl": self.kl, "expected_log_likelihood": self.expected_log_likelihood})
        self._sampled_values = sg.function(self.x, self.noise, outputs=values, name="sampled_values")

    def elbo_terms(self, contexts, actions, rewards, n):
        """``{"loss", "kl", "expected_log_likelihood"}`` of one minibatch for one weight draw (targets as
        given): ``loss = kl / n - expected_log_likelihood``."""
        return self._elbo_terms(np.asarray(contexts, np.float32), np.asarray(actions, np.int32),
                                np.asarray(rewards, np.float32), np.float32(n), self._draw_noise())

    def _draw_noise(self, *shape):
        return self.rng.standard_normal((*shape, self.n_params), dtype=np.float32)

    def predict(self, context):
        """numpy.ndarray: every arm's reward in ``context`` for one draw of the weights from :math:`q`."""
        return self._unnormalize(self._sampled_values(self._context(context)[None], self._draw_noise())[0])

    def _select(self, x):
        return int(np.argmax(self._sampled_values(x[None], self._draw_noise())[0]))

    def _batches(self, train_epochs, batch_size):
        contexts, actions, rewards = super()._batches(train_epochs, batch_size)
        n = np.full(train_epochs, len(self.db), dtype=np.float32)
        return contexts, actions, rewards, n, self._draw_noise(train_epochs)


# GenRL's name
VariationalAgent = Variational
