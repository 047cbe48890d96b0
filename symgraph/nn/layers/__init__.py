"""Layers: small classes that own variables in their scope and return tensors when called.

``layer = nn.Dense(64, activation="relu")`` reserves the scope ``dense`` (under the current scope) and
creates ``dense/W`` and ``dense/b`` on its first call ``y = layer(x)``, from ``x``'s last dimension (or at
once with ``in_features=``). Calling ``layer`` again shares those variables. Every layer checks its input's
rank and sizes when called and raises a ShapeError naming the layer, what it expects and what it got.
Lower-case functions (``nn.dense(x, 64)``) build a fresh layer and apply it once.
"""

from symgraph.nn.layers.base import Layer
from symgraph.nn.layers.conv import (
                                     AvgPool,
                                     AvgPool1D,
                                     AvgPool2D,
                                     Conv1D,
                                     Conv2D,
                                     MaxPool,
                                     MaxPool1D,
                                     MaxPool2D,
                                     avg_pool1d,
                                     avg_pool2d,
                                     conv1d,
                                     conv2d,
                                     max_pool1d,
                                     max_pool2d,
)
from symgraph.nn.layers.core import (
                                     MLP,
                                     Dense,
                                     Dropout,
                                     Embedding,
                                     Flatten,
                                     dense,
                                     dropout,
                                     embedding,
                                     flatten,
                                     mlp,
)
from symgraph.nn.layers.normalization import BatchNorm, LayerNorm, batch_norm, layer_norm
from symgraph.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell

__all__ = [
    "Layer", "AvgPool", "AvgPool1D", "AvgPool2D", "Conv1D", "Conv2D", "MaxPool", "MaxPool1D", "MaxPool2D",
    "avg_pool1d", "avg_pool2d", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "MLP", "Dense", "Dropout",
    "Embedding", "Flatten", "dense", "dropout", "embedding", "flatten", "mlp", "BatchNorm", "LayerNorm",
    "batch_norm", "layer_norm", "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell",
]
