"""Bandits: multi-armed and contextual bandit environments, multi-armed agents, a trainer and plots.

Environments share one protocol: ``context = bandit.reset()``, ``bandit.regret(action)`` (the expected
regret of ``action`` in the current context, q* - q(action)), ``context, reward = bandit.step(action)``.
Agents share another: ``agent.select_action(context)``, ``agent.update_params(context, action, reward)``.

- Multi-armed: :class:`BernoulliMAB`, :class:`GaussianMAB` (several bandits: the context says which).
- Contextual: :class:`WheelBandit`, :class:`ClassificationBandit` (from arrays), and the UCI data bandits
  :class:`AdultDataBandit`, :class:`CensusDataBandit`, :class:`CovertypeDataBandit`,
  :class:`MagicDataBandit`, :class:`MushroomDataBandit`, :class:`StatlogDataBandit`, all on
  :class:`DataBasedBandit`.
- Multi-armed agents: :class:`EpsilonGreedy`, :class:`UCB1`, :class:`BayesianUCB`,
  :class:`ThompsonSampling`, :class:`GaussianThompsonSampling`, :class:`GradientBandit` (GenRL's names
  as aliases).
- :class:`MABTrainer` -> :class:`BanditResult`; :func:`compare_agents` ->
  :class:`RegretSummary`; :func:`plot_regret`.
"""

from symgraph.rl.bandits._common import DataFormatError, DataNotFoundError
from symgraph.rl.bandits._files import default_data_dir
from symgraph.rl.bandits.contextual import (
    DCBAgent,
    Fixed,
    FixedAgent,
    LinearPosterior,
    LinearPosteriorAgent,
    NIGPosterior,
    TransitionDB,
    Uniform,
    UniformAgent,
)
from symgraph.rl.bandits.contextual_neural import (
    Bootstrap,
    BootstrapNeuralAgent,
    NeuralAgent,
    NeuralGreedy,
    NeuralGreedyAgent,
    NeuralLinearPosterior,
    NeuralLinearPosteriorAgent,
    NeuralNoiseSampling,
    NeuralNoiseSamplingAgent,
)
from symgraph.rl.bandits.contextual_variational import Variational, VariationalAgent
from symgraph.rl.bandits.data import (
    ADULT_OCCUPATIONS,
    AdultDataBandit,
    CensusDataBandit,
    ClassificationBandit,
    CovertypeDataBandit,
    DataBasedBandit,
    MagicDataBandit,
    MushroomDataBandit,
    StatlogDataBandit,
)
from symgraph.rl.bandits.dcb_trainer import DCBTrainer
from symgraph.rl.bandits.mab_agents import (
    UCB1,
    BayesianUCB,
    BayesianUCBMABAgent,
    EpsGreedyMABAgent,
    EpsilonGreedy,
    GaussianThompsonSampling,
    GradientBandit,
    GradientMABAgent,
    MABAgent,
    ThompsonSampling,
    ThompsonSamplingMABAgent,
    UCBMABAgent,
)
from symgraph.rl.bandits.multi_armed import BernoulliMAB, GaussianMAB, MultiArmedBandit
from symgraph.rl.bandits.trainer import (
    BanditResult,
    MABTrainer,
    RegretSummary,
    compare_agents,
    moving_average,
    plot_regret,
)
from symgraph.rl.bandits.wheel import WheelBandit

__all__ = [
    "BernoulliMAB", "GaussianMAB", "MultiArmedBandit", "WheelBandit", "DataBasedBandit",
    "ClassificationBandit", "AdultDataBandit", "CensusDataBandit", "CovertypeDataBandit", "MagicDataBandit",
    "MushroomDataBandit", "StatlogDataBandit", "ADULT_OCCUPATIONS", "DataFormatError", "DataNotFoundError",
    "default_data_dir", "MABAgent", "EpsilonGreedy", "UCB1", "BayesianUCB", "ThompsonSampling",
    "GaussianThompsonSampling", "GradientBandit", "EpsGreedyMABAgent", "UCBMABAgent", "BayesianUCBMABAgent",
    "ThompsonSamplingMABAgent", "GradientMABAgent", "MABTrainer", "BanditResult", "RegretSummary",
    "compare_agents", "moving_average", "plot_regret",
    "DCBAgent", "TransitionDB", "NIGPosterior", "LinearPosterior", "Fixed", "Uniform", "NeuralAgent",
    "NeuralGreedy", "NeuralLinearPosterior", "NeuralNoiseSampling", "Bootstrap", "Variational", "DCBTrainer",
    "LinearPosteriorAgent", "FixedAgent", "UniformAgent", "NeuralGreedyAgent", "NeuralLinearPosteriorAgent",
    "NeuralNoiseSamplingAgent", "BootstrapNeuralAgent", "VariationalAgent",
]
