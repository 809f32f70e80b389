"""Loss functions and their gradients (chapter 2), stable for inputs of any magnitude.

Shape letters: N batch, K classes. Each loss takes the prediction first and returns
``(loss, grad)``: ``loss`` a Python float, the mean over the elements (or, for
``softmax_cross_entropy``, over the N rows), and ``grad`` the gradient of ``loss`` with respect
to the prediction, of its shape and floating dtype. The mean is part of the loss, so its 1/N is
part of the gradient. Nothing modifies its arguments.
"""

import numpy as np

from nnlib.activations import log_softmax, sigmoid
from nnlib.validation import as_float_array, require_labels, require_ndim, require_same_shape


def _nonempty(x, name):
    if x.size == 0:
        raise ValueError(f"{name} must have at least one element to average over, got shape {x.shape}.")


def mse(pred, target):
    """Mean squared error, ``mean((pred - target)**2)`` over all elements, and its gradient.

    Parameters
    ----------
    pred : ndarray of any shape, e.g. (N, M)
    target : ndarray of the shape of ``pred``

    Returns
    -------
    loss : float
    grad : ndarray of the shape and dtype of ``pred``, ``2 * (pred - target) / pred.size``

    >>> loss, grad = mse(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    >>> loss, grad
    (2.0, array([0., 2.]))
    """
    pred, target = as_float_array(pred, "pred"), as_float_array(target, "target")
    require_same_shape(pred, target, "pred", "target")
    _nonempty(pred, "pred")
    diff = pred - target
    loss = float(np.mean(diff * diff))
    grad = (2 / pred.size) * diff
    return loss, grad.astype(pred.dtype, copy=False)


def mse_on_sigmoid(logits, target):
    """Squared error of a sigmoid output, ``mean((sigmoid(z) - t)**2)``, and its gradient w.r.t. ``z``.

    The chain rule through the sigmoid gives ``dJ/dz = 2 (s - t) s (1 - s) / size`` with
    ``s = sigmoid(z)``: the factor ``s (1 - s)`` vanishes where the sigmoid saturates, so a
    confidently wrong logit gets almost no gradient (chapter 2 compares this with
    ``binary_cross_entropy_with_logits``, whose gradient is ``(s - t) / size``).

    Parameters
    ----------
    logits : ndarray of any shape, e.g. (N,)
    target : ndarray of the shape of ``logits``, targets in [0, 1]

    Returns
    -------
    loss : float
    grad : ndarray of the shape and dtype of ``logits``

    >>> loss, grad = mse_on_sigmoid(np.array([0.0, 0.0]), np.array([1.0, 0.0]))
    >>> loss, grad
    (0.25, array([-0.125,  0.125]))
    """
    z, target = as_float_array(logits, "logits"), as_float_array(target, "target")
    require_same_shape(z, target, "logits", "target")
    _nonempty(z, "logits")
    s = sigmoid(z)
    loss, dprob = mse(s, target)
    return loss, (dprob * s * (1 - s)).astype(z.dtype, copy=False)


def _clip_bounds(eps, dtype):
    """``(eps, 1 - eps)`` in ``dtype``; where ``1 - eps`` rounds to 1 (float32) use the float just below 1."""
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}.")
    one = dtype.type(1)
    high = dtype.type(1 - eps)
    if high >= one:
        high = np.nextafter(one, dtype.type(0))
    return dtype.type(eps), high


def binary_cross_entropy(prob, target, eps=1e-12):
    """Binary cross-entropy from probabilities, ``-mean(t * log(p) + (1 - t) * log(1 - p))``.

    ``p`` is first clipped to ``[eps, 1 - eps]`` so that a probability of exactly 0 or 1 gives a
    large finite loss instead of ``inf``. In float32, ``1 - 1e-12`` rounds to 1, so the upper bound
    becomes the largest float32 below 1. The gradient is the formula's derivative evaluated at the
    clipped ``p``, so a confidently wrong prediction still receives a large, finite gradient. For
    a network's output, prefer ``binary_cross_entropy_with_logits``, which needs no clipping.

    Parameters
    ----------
    prob : ndarray of any shape, e.g. (N,), probabilities in [0, 1]
    target : ndarray of the shape of ``prob``, targets in [0, 1] (usually 0 or 1)
    eps : float, in (0, 0.5)

    Returns
    -------
    loss : float
    grad : ndarray of the shape and dtype of ``prob``, ``(p - t) / (p * (1 - p)) / prob.size``

    >>> loss, grad = binary_cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    >>> round(loss, 6), grad
    (0.693147, array([-1.,  1.]))
    """
    prob, target = as_float_array(prob, "prob"), as_float_array(target, "target")
    require_same_shape(prob, target, "prob", "target")
    _nonempty(prob, "prob")
    if prob.min() < 0 or prob.max() > 1:
        raise ValueError(
            f"prob must hold probabilities in [0, 1], got values from {prob.min()} to {prob.max()}; "
            "for unbounded scores use binary_cross_entropy_with_logits."
        )
    low, high = _clip_bounds(eps, prob.dtype)
    p = np.clip(prob, low, high)
    loss = -float(np.mean(target * np.log(p) + (1 - target) * np.log1p(-p)))
    grad = (p - target) / (p * (1 - p)) / prob.size
    return loss, grad.astype(prob.dtype, copy=False)


def binary_cross_entropy_with_logits(logits, target):
    """Binary cross-entropy of ``sigmoid(z)``, computed from the logits ``z`` without overflow.

    ``-t log(sigmoid(z)) - (1 - t) log(1 - sigmoid(z)) = max(z, 0) - z * t + log1p(exp(-|z|))``,
    averaged over all elements. ``exp`` only sees values <= 0, so logits of any magnitude work.

    Parameters
    ----------
    logits : ndarray of any shape, e.g. (N,)
    target : ndarray of the shape of ``logits``, targets in [0, 1]

    Returns
    -------
    loss : float
    grad : ndarray of the shape and dtype of ``logits``, ``(sigmoid(z) - t) / logits.size``

    >>> loss, grad = binary_cross_entropy_with_logits(np.array([0.0, 1000.0]), np.array([1.0, 0.0]))
    >>> round(loss, 6), grad
    (500.346574, array([-0.25,  0.5 ]))
    """
    z, target = as_float_array(logits, "logits"), as_float_array(target, "target")
    require_same_shape(z, target, "logits", "target")
    _nonempty(z, "logits")
    loss = float(np.mean(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))))
    grad = (sigmoid(z) - target) / z.size
    return loss, grad.astype(z.dtype, copy=False)


def softmax_cross_entropy(logits, y):
    """Mean over the batch of ``-log softmax(logits)[i, y_i]``, by log-sum-exp, and its gradient.

    ``loss = mean_i (logsumexp(logits[i]) - logits[i, y_i])``. The gradient is
    ``(softmax(logits) - onehot(y)) / N``: softmax and cross-entropy together have the simplest
    backward of all, and computing them together never takes the log of 0.

    Parameters
    ----------
    logits : ndarray of shape (N, K), unnormalised class scores
    y : ndarray of shape (N,), integer labels in [0, K)

    Returns
    -------
    loss : float
    grad : ndarray of shape (N, K), the dtype of ``logits``

    >>> loss, grad = softmax_cross_entropy(np.array([[0.0, np.log(3.0)], [1000.0, 0.0]]), np.array([1, 0]))
    >>> round(loss, 6)
    0.143841
    >>> grad
    array([[ 0.125, -0.125],
           [ 0.   ,  0.   ]])
    """
    logits = as_float_array(logits, "logits")
    require_ndim(logits, 2, "logits", "(N, K)")
    n, k = logits.shape
    require_labels(y, n, k, "y")
    _nonempty(logits, "logits")
    rows = np.arange(n)
    log_probs = log_softmax(logits, axis=1)  # (N, K)
    loss = -float(np.mean(log_probs[rows, y]))
    grad = np.exp(log_probs)  # softmax, (N, K)
    grad[rows, y] -= 1
    grad /= n
    return loss, grad
