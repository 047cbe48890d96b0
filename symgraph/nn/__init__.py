"""Neural networks on symgraph: initializers, activations by name, layers, optimizers and schedules.

``import symgraph.nn as nn``; layers are available flat (``nn.Dense``, ``nn.mlp``...), initializers as
``nn.initializers.orthogonal(gain)``, activations as ``nn.activations.get("relu")``, optimizers as
``nn.optimizers.Adam(loss, lr=schedule)`` with ``nn.schedules.linear(...)``, and moving averages (target
networks) as ``nn.ema.ExponentialMovingAverage`` / ``nn.ema.polyak_update``, and supervised losses as
``nn.losses.sparse_softmax_crossentropy_logits(labels, logits)``.
"""

from symgraph.nn import activations, ema, initializers, layers, losses, noisy, optimizers, schedules
from symgraph.nn.layers import *  # noqa: F403 (the layers' public names, listed in layers.__all__)

__all__ = ["activations", "ema", "initializers", "layers", "losses", "noisy", "optimizers", "schedules",
           *layers.__all__]
