"""Losses for supervised learning, as graph ops on symbolic tensors (SymJAX's ``symjax.nn.losses`` names).

Each function builds one node (``symgraph.nodes.apply`` of a small ``jax.numpy`` function) from its operands,
which may be nodes, arrays or Python numbers, and checks their shapes and dtypes when the node is built.

Conventions:

- The target comes first, then the prediction, as in SymJAX: ``loss(labels, logits)``,
  ``loss(targets, predictions)``.
- ``reduction=`` says how the per-sample losses are combined: ``"mean"`` (the default: a scalar, the mean
  over every sample), ``"sum"``, or ``"none"`` (the per-sample losses, SymJAX's output). A SymJAX line
  ``loss = losses.sparse_softmax_crossentropy_logits(y, logits).mean()`` gives the same value here (the mean
  of a scalar is itself); a ``.sum()`` over SymJAX's per-sample losses needs ``reduction="sum"``.
- A *sample* is one entry of the labels: the class axis (the last one of logits and one-hot labels, or of
  the distributions of :func:`kl_divergence`) is summed within each sample; the elementwise losses
  (:func:`squared_differences`, :func:`huber`, the binary ones) have one sample per element.
- The target and the prediction must have the same shape (the class axis aside): a ``(B,)`` target against
  a ``(B, 1)`` prediction would broadcast to ``(B, B)`` and is refused with the fix.
"""

import jax
import jax.numpy as jnp
import numpy as np

from symgraph.errors import DTypeError, ShapeError, format_shape
from symgraph.nodes import Tensor, apply

__all__ = [
    "REDUCTIONS", "sparse_softmax_crossentropy_logits", "softmax_crossentropy_logits",
    "sigmoid_crossentropy_logits", "binary_crossentropy", "squared_differences", "huber", "hinge_loss",
    "multiclass_hinge_loss", "kl_divergence", "accuracy",
]

REDUCTIONS = ("mean", "sum", "none")
"""The values ``reduction=`` takes."""


def _shape(value):
    return value.shape if isinstance(value, Tensor) else np.shape(value)


def _dtype(value):
    return value.dtype if isinstance(value, Tensor) else jnp.result_type(value)


def _same(a, b):
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _check_reduction(owner, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}; 'none' keeps the "
                         "per-sample losses (SymJAX's output), 'mean' (the default) averages them")


def _check_same_shape(owner, first, second, names):
    a, b = _shape(first), _shape(second)
    if not _same(a, b):
        raise ShapeError(f"{owner}: {names[0]} and {names[1]} must have the same shape, got {names[0]} "
                         f"{format_shape(a)} and {names[1]} {format_shape(b)}; reshape one of them (e.g. "
                         f"{names[1]}[:, 0] or {names[0]}[:, None]) so that they do not broadcast")


def _reduce(values, reduction):
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def _check_labels(owner, labels, logits):
    """Integer labels of shape ``logits.shape[:-1]``."""
    if not jnp.issubdtype(_dtype(labels), jnp.integer):
        raise DTypeError(f"{owner}: labels must be integer class indices, got dtype {_dtype(labels)}; for "
                         "one-hot (or soft) labels use softmax_crossentropy_logits")
    if len(_shape(logits)) < 1 or not _same(_shape(labels), _shape(logits)[:-1]):
        raise ShapeError(f"{owner}: labels must have the shape of logits without its last (class) axis, got "
                         f"labels {format_shape(_shape(labels))} and logits {format_shape(_shape(logits))}")


def _sparse_crossentropy(labels, logits, reduction):
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probs, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return _reduce(-picked, reduction)


def sparse_softmax_crossentropy_logits(labels, logits, reduction="mean"):
    """Cross-entropy of integer class labels under ``softmax(logits)``.

    Per sample: ``-log softmax(logits)[label] = logsumexp(logits) - logits[label]``.

    Args:
        labels: integer class indices, shape ``S`` (e.g. ``(B,)``).
        logits: unnormalised log-probabilities, shape ``S + (C,)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``S``); see the module docstring.
    """
    owner = "sparse_softmax_crossentropy_logits"
    _check_reduction(owner, reduction)
    _check_labels(owner, labels, logits)
    return apply(_sparse_crossentropy, (labels, logits), {"reduction": reduction}, name=owner)


def _crossentropy(labels, logits, reduction):
    return _reduce(-jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1), reduction)


def softmax_crossentropy_logits(labels, logits, reduction="mean"):
    """Cross-entropy of one-hot (or soft) labels under ``softmax(logits)``.

    Per sample: ``-sum_c labels[c] * log softmax(logits)[c]``.

    Args:
        labels: probabilities over the classes (one-hot rows, or any distribution), shape ``S + (C,)``.
        logits: unnormalised log-probabilities, shape ``S + (C,)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``S``).
    """
    owner = "softmax_crossentropy_logits"
    _check_reduction(owner, reduction)
    _check_same_shape(owner, labels, logits, ("labels", "logits"))
    if len(_shape(logits)) < 1:
        raise ShapeError(f"{owner}: logits need a class axis, got a scalar; for two classes with one logit "
                         "use sigmoid_crossentropy_logits")
    return apply(_crossentropy, (labels, logits), {"reduction": reduction}, name=owner)


def _sigmoid_crossentropy(labels, logits, reduction):
    # -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) = max(z, 0) - z y + log(1 + exp(-|z|))
    values = jnp.maximum(logits, 0) - logits * labels + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return _reduce(values, reduction)


def sigmoid_crossentropy_logits(labels, logits, reduction="mean"):
    """Binary cross-entropy of labels in ``[0, 1]`` under ``sigmoid(logits)``, computed stably from the logits.

    Per element: ``-(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) = max(z, 0) - z y + log(1 + exp(-|z|))``.

    Args:
        labels: targets in ``[0, 1]`` (0/1 labels or probabilities), the shape of ``logits``.
        logits: the log-odds ``z``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    owner = "sigmoid_crossentropy_logits"
    _check_reduction(owner, reduction)
    _check_same_shape(owner, labels, logits, ("labels", "logits"))
    return apply(_sigmoid_crossentropy, (labels, logits), {"reduction": reduction}, name=owner)


def _binary_crossentropy(labels, probabilities, eps, reduction):
    p = jnp.clip(probabilities, eps, 1.0 - eps)
    return _reduce(-(labels * jnp.log(p) + (1.0 - labels) * jnp.log1p(-p)), reduction)


def binary_crossentropy(labels, probabilities, eps=1e-7, reduction="mean"):
    """Binary cross-entropy of labels in ``[0, 1]`` under predicted probabilities.

    Per element: ``-(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]`` so that a
    saturated prediction gives a finite loss. From logits, :func:`sigmoid_crossentropy_logits` is exact and
    stabler.

    Args:
        labels: targets in ``[0, 1]``, the shape of ``probabilities``.
        probabilities: predicted probabilities of the positive class.
        eps: the clipping margin, in ``[0, 0.5)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    owner = "binary_crossentropy"
    _check_reduction(owner, reduction)
    if not 0.0 <= float(eps) < 0.5:
        raise ValueError(f"{owner}: eps must be in [0, 0.5), got {eps!r}; e.g. the default 1e-7")
    _check_same_shape(owner, labels, probabilities, ("labels", "probabilities"))
    return apply(_binary_crossentropy, (labels, probabilities), {"eps": float(eps), "reduction": reduction},
                 name=owner)


def _squared_differences(targets, predictions, reduction):
    return _reduce(jnp.square(targets - predictions), reduction)


def squared_differences(targets, predictions, reduction="mean"):
    """Squared error ``(targets - predictions) ** 2``: the mean squared error (MSE) with the default reduction.

    Args:
        targets, predictions: the same shape.
        reduction: ``"mean"`` (default: the MSE), ``"sum"`` or ``"none"`` (the elementwise squares, SymJAX's
            output).
    """
    owner = "squared_differences"
    _check_reduction(owner, reduction)
    _check_same_shape(owner, targets, predictions, ("targets", "predictions"))
    return apply(_squared_differences, (targets, predictions), {"reduction": reduction}, name=owner)


def _huber(targets, predictions, delta, reduction):
    error = jnp.abs(targets - predictions)
    quadratic = jnp.minimum(error, delta)
    return _reduce(0.5 * quadratic ** 2 + delta * (error - quadratic), reduction)


def huber(targets, predictions, delta=1.0, reduction="mean"):
    """The Huber loss: quadratic for small errors, linear for large ones.

    Per element, with ``e = |targets - predictions|``: ``0.5 e^2`` if ``e <= delta``, else
    ``delta (e - 0.5 delta)`` (Huber, "Robust Estimation of a Location Parameter", 1964).

    Args:
        targets, predictions: the same shape.
        delta: the error (> 0) where the loss turns linear.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    owner = "huber"
    _check_reduction(owner, reduction)
    if not float(delta) > 0:
        raise ValueError(f"{owner}: delta must be > 0, got {delta!r}; e.g. the default 1.0")
    _check_same_shape(owner, targets, predictions, ("targets", "predictions"))
    return apply(_huber, (targets, predictions), {"delta": float(delta), "reduction": reduction}, name=owner)


def _hinge(targets, predictions, delta, reduction):
    return _reduce(jnp.maximum(delta - targets * predictions, 0.0), reduction)


def hinge_loss(targets, predictions, delta=1.0, reduction="mean"):
    """The binary hinge loss ``max(0, delta - targets * predictions)``.

    Args:
        targets: labels in ``{-1, +1}`` (map 0/1 labels with ``2 * y - 1``), the shape of ``predictions``.
        predictions: real-valued scores (positive means the class +1).
        delta: the margin (> 0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    owner = "hinge_loss"
    _check_reduction(owner, reduction)
    if not float(delta) > 0:
        raise ValueError(f"{owner}: delta must be > 0, got {delta!r}; e.g. the default 1.0")
    _check_same_shape(owner, targets, predictions, ("targets", "predictions"))
    return apply(_hinge, (targets, predictions), {"delta": float(delta), "reduction": reduction}, name=owner)


def _multiclass_hinge(labels, scores, delta, reduction):
    mask = jax.nn.one_hot(labels, scores.shape[-1], dtype=bool)
    correct = jnp.sum(jnp.where(mask, scores, 0.0), axis=-1)
    best_other = jnp.max(jnp.where(mask, -jnp.inf, scores), axis=-1)
    return _reduce(jnp.maximum(delta + best_other - correct, 0.0), reduction)


def multiclass_hinge_loss(labels, scores, delta=1.0, reduction="mean"):
    """The multi-class hinge loss: ``max(0, delta + max_{c != label} scores[c] - scores[label])`` per sample.

    (Crammer & Singer, "On the Algorithmic Implementation of Multiclass Kernel-based Vector Machines", JMLR
    2001.)

    Args:
        labels: integer class indices, shape ``S``.
        scores: real-valued class scores, shape ``S + (C,)`` with ``C >= 2``.
        delta: the margin (> 0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    owner = "multiclass_hinge_loss"
    _check_reduction(owner, reduction)
    if not float(delta) > 0:
        raise ValueError(f"{owner}: delta must be > 0, got {delta!r}; e.g. the default 1.0")
    _check_labels(owner, labels, scores)
    if _shape(scores)[-1] is not None and _shape(scores)[-1] < 2:
        raise ShapeError(f"{owner}: scores need at least 2 classes on the last axis, got shape "
                         f"{format_shape(_shape(scores))}; for one score per sample use hinge_loss")
    return apply(_multiclass_hinge, (labels, scores), {"delta": float(delta), "reduction": reduction},
                 name=owner)


def _kl(p, q, eps, reduction):
    values = jnp.sum(jax.scipy.special.xlogy(p, p) - jax.scipy.special.xlogy(p, jnp.maximum(q, eps)), axis=-1)
    return _reduce(values, reduction)


def kl_divergence(p, q, eps=1e-12, reduction="mean"):
    """The Kullback-Leibler divergence ``KL(p || q) = sum_c p[c] (log p[c] - log q[c])`` per sample.

    Terms with ``p[c] = 0`` count 0; ``q`` is floored at ``eps`` so that a zero ``q[c]`` under a positive
    ``p[c]`` gives a large finite value. Between distributions of ``symgraph.probabilities``, their
    ``kl_divergence`` is exact.

    Args:
        p, q: probabilities over the last axis, the same shape ``S + (C,)``.
        eps: the floor of ``q`` (>= 0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (shape ``S``).
    """
    owner = "kl_divergence"
    _check_reduction(owner, reduction)
    if not float(eps) >= 0:
        raise ValueError(f"{owner}: eps must be >= 0, got {eps!r}; e.g. the default 1e-12")
    _check_same_shape(owner, p, q, ("p", "q"))
    if len(_shape(p)) < 1:
        raise ShapeError(f"{owner}: p and q need a class axis (the last one), got scalars; for a Bernoulli "
                         "pass [p, 1 - p] rows")
    return apply(_kl, (p, q), {"eps": float(eps), "reduction": reduction}, name=owner)


def _accuracy(labels, predictions, classes_axis, reduction):
    if classes_axis:
        predictions = jnp.argmax(predictions, axis=-1)
    return _reduce((labels == predictions).astype(jnp.float32), reduction)


def accuracy(labels, predictions, reduction="mean"):
    """The fraction of correct predictions (not differentiable: a metric).

    ``predictions`` are either scores over classes, shape ``labels.shape + (C,)`` (logits or probabilities:
    their argmax over the last axis is the predicted class), or predicted labels of the shape of ``labels``.

    Args:
        labels: the true classes (integers), shape ``S``.
        predictions: shape ``S + (C,)`` or ``S``.
        reduction: ``"mean"`` (default: the accuracy), ``"sum"`` (the number correct) or ``"none"`` (1.0 where
            correct, 0.0 elsewhere).
    """
    owner = "accuracy"
    _check_reduction(owner, reduction)
    labels_shape, predictions_shape = _shape(labels), _shape(predictions)
    if _same(labels_shape, predictions_shape):
        classes_axis = False
    elif len(predictions_shape) >= 1 and _same(labels_shape, predictions_shape[:-1]):
        classes_axis = True
    else:
        raise ShapeError(f"{owner}: predictions must have the shape of labels (predicted classes) or that "
                         f"shape plus a class axis (scores), got labels {format_shape(labels_shape)} and "
                         f"predictions {format_shape(predictions_shape)}")
    return apply(_accuracy, (labels, predictions), {"classes_axis": classes_axis, "reduction": reduction},
                 name=owner)
