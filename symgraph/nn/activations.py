"""Activation functions by name, for layers' ``activation=`` arguments.

``get("relu")`` returns the op ``T.relu``; ``get(None)`` and ``get("identity")`` the identity; a callable is
returned unchanged, so ``activation=lambda x: T.leaky_relu(x, 0.2)`` works too.
"""

import symgraph.tensor as T


def identity(x):
    """``x`` unchanged."""
    return x


ACTIVATIONS = {
    "relu": T.relu,
    "tanh": T.tanh,
    "elu": T.elu,
    "gelu": T.gelu,
    "silu": T.silu,
    "swish": T.silu,
    "leaky_relu": T.leaky_relu,
    "sigmoid": T.sigmoid,
    "softplus": T.softplus,
    "identity": identity,
    "linear": identity,
}


def get(activation):
    """The activation named ``activation`` (see ``ACTIVATIONS``), a callable as is, or identity for None.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for anything that is neither a name, a callable nor None.
    """
    if activation is None:
        return identity
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation]
        except KeyError:
            raise ValueError(f"unknown activation {activation!r}; valid names: {sorted(ACTIVATIONS)} (or "
                             "pass a callable)") from None
    if callable(activation):
        return activation
    raise TypeError(f"activation must be a name such as 'relu', a callable or None, got "
                    f"{type(activation).__name__} {activation!r}")
