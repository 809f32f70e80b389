"""Loss functions and their gradients (chapter 2), stable for inputs of any magnitude.

Shape letters: N batch, K classes.

Every loss has the same form, ``loss_fn(pred, target) -> (loss, dpred)`` (``softmax_cross_entropy``
takes integer labels ``y`` in place of ``target``):

- the first argument is the prediction, named for what it holds (``pred``, ``prob``, ``logits``);
  the second is ``target``, a real-valued array of the prediction's shape (for the binary losses,
  values in [0, 1]: a label 0 or 1, or a soft target), or ``y``, integer class labels of shape (N,);
- ``loss`` is a Python float, the mean over the elements (for ``softmax_cross_entropy``, over the
  N rows); the mean is part of the loss, so its 1/N is part of the gradient;
- ``dpred`` is the gradient of ``loss`` with respect to the first argument, of its shape and dtype
  whatever the dtype of ``target`` (float32 in, float32 out);
- a bad input or option raises ``ValueError`` (``TypeError`` for a non-numeric array or
  non-integer labels), and nothing modifies its arguments.
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
    dpred : ndarray of the shape and dtype of ``pred``, ``2 * (pred - target) / pred.size``

    >>> loss, dpred = mse(np.array([1.0, 3.0]), np.array([1.0, 1.0]))
    >>> loss, dpred
    (2.0, array([0., 2.]))
    """
    pred, target = as_float_array(pred, "pred"), as_float_array(target, "target")
    require_same_shape(pred, target, "pred", "target")
    _nonempty(pred, "pred")
    diff = pred - target
    loss = float(np.mean(diff * diff))
    dpred = (2 / pred.size) * diff
    return loss, dpred.astype(pred.dtype, copy=False)


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
    dlogits : ndarray of the shape and dtype of ``logits``

    >>> loss, dlogits = mse_on_sigmoid(np.array([0.0, 0.0]), np.array([1.0, 0.0]))
    >>> loss, dlogits
    (0.25, array([-0.125,  0.125]))
    """
    z, target = as_float_array(logits, "logits"), as_float_array(target, "target")
    require_same_shape(z, target, "logits", "target")
    _nonempty(z, "logits")
    _require_unit_interval(target, "target")
    s = sigmoid(z)
    loss, dprob = mse(s, target)
    return loss, (dprob * s * (1 - s)).astype(z.dtype, copy=False)


def _require_unit_interval(target, name):
    """Raise ValueError unless every element of ``target`` lies in [0, 1] (NaN included)."""
    if not np.all((target >= 0) & (target <= 1)):
        bad = target[~((target >= 0) & (target <= 1))]
        raise ValueError(f"{name} must hold values in [0, 1] (labels 0 or 1, or soft targets), got {bad.flat[0]}.")


def clip_epsilon(eps, dtype):
    """The clipping margin used in ``dtype``: ``max(eps, np.finfo(dtype).eps)``.

    Probabilities are clipped to ``[e, 1 - e]``, and ``1 - e`` must stay below 1 *in the input's
    dtype*. In float32, ``1 - 1e-12`` rounds to exactly 1.0 (float32 resolves 1 - 2**-24 at best), so
    ``np.clip(p, 1e-12, 1 - 1e-12)`` leaves a probability of 1 at 1 and ``log(1 - p)`` is ``log 0``.
    Raising the margin to the dtype's machine epsilon (2**-23 ~ 1.2e-7 in float32; 2.2e-16 < 1e-12
    in float64, so float64 keeps ``eps``) fixes that with one number, used on both sides: a
    certain wrong answer costs ``-log(e)`` whichever class it got wrong. (Clipping only the upper
    side to ``np.nextafter(1, 0)`` would also avoid ``log 0``, but would make the two sides cost
    different amounts, 27.6 and 16.6 in float32.)

    >>> clip_epsilon(1e-12, np.dtype(np.float64)), float(clip_epsilon(1e-12, np.dtype(np.float32)))
    (1e-12, 1.1920928955078125e-07)
    >>> np.float32(1) - np.float32(1e-12) == 1, np.float32(1) - clip_epsilon(1e-12, np.dtype(np.float32)) < 1
    (np.True_, np.True_)
    """
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(f"eps must be a number, got {type(eps).__name__}.")
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}.")
    return max(float(eps), float(np.finfo(dtype).eps))


def binary_cross_entropy(prob, target, eps=1e-12):
    """Binary cross-entropy from probabilities, ``-mean(t * log(p) + (1 - t) * log(1 - p))``.

    ``p`` is first clipped to ``[e, 1 - e]``, ``e = clip_epsilon(eps, prob.dtype)`` (``eps`` in
    float64, at least float32's machine epsilon 1.2e-7 in float32, where ``1 - 1e-12`` rounds to 1),
    so that a probability of exactly 0 or 1 gives a large finite loss instead of ``inf``. The
    gradient is the formula's derivative evaluated at the clipped ``p``, so a confidently wrong
    prediction still receives a large, finite gradient. For a network's output, prefer
    ``binary_cross_entropy_with_logits``, which needs no clipping.

    Parameters
    ----------
    prob : ndarray of any shape, e.g. (N,), probabilities in [0, 1]
    target : ndarray of the shape of ``prob``, targets in [0, 1] (labels 0 or 1, or soft targets)
    eps : float, in (0, 0.5)

    Returns
    -------
    loss : float
    dprob : ndarray of the shape and dtype of ``prob``, ``(p - t) / (p * (1 - p)) / prob.size``

    >>> loss, dprob = binary_cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    >>> round(loss, 6), dprob
    (0.693147, array([-1.,  1.]))
    """
    prob, target = as_float_array(prob, "prob"), as_float_array(target, "target")
    require_same_shape(prob, target, "prob", "target")
    _nonempty(prob, "prob")
    _require_unit_interval(target, "target")
    if prob.min() < 0 or prob.max() > 1:
        raise ValueError(
            f"prob must hold probabilities in [0, 1], got values from {prob.min()} to {prob.max()}; "
            "for unbounded scores use binary_cross_entropy_with_logits."
        )
    e = clip_epsilon(eps, prob.dtype)
    p = np.clip(prob, prob.dtype.type(e), prob.dtype.type(1 - e))  # both bounds exact in prob's dtype
    loss = -float(np.mean(target * np.log(p) + (1 - target) * np.log1p(-p)))
    dprob = (p - target) / (p * (1 - p)) / prob.size
    return loss, dprob.astype(prob.dtype, copy=False)


def binary_cross_entropy_with_logits(logits, target):
    """Binary cross-entropy of ``sigmoid(z)``, computed from the logits ``z`` without overflow.

    ``-t log(sigmoid(z)) - (1 - t) log(1 - sigmoid(z)) = max(z, 0) - z * t + log1p(exp(-|z|))``,
    averaged over all elements. ``exp`` only sees values <= 0, so logits of any magnitude work.

    Parameters
    ----------
    logits : ndarray of any shape, e.g. (N,)
    target : ndarray of the shape of ``logits``, targets in [0, 1] (labels 0 or 1, or soft targets)

    Returns
    -------
    loss : float
    dlogits : ndarray of the shape and dtype of ``logits``, ``(sigmoid(z) - t) / logits.size``

    >>> loss, dlogits = binary_cross_entropy_with_logits(np.array([0.0, 1000.0]), np.array([1.0, 0.0]))
    >>> round(loss, 6), dlogits
    (500.346574, array([-0.25,  0.5 ]))
    """
    z, target = as_float_array(logits, "logits"), as_float_array(target, "target")
    require_same_shape(z, target, "logits", "target")
    _nonempty(z, "logits")
    _require_unit_interval(target, "target")
    loss = float(np.mean(np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))))
    dlogits = (sigmoid(z) - target) / z.size
    return loss, dlogits.astype(z.dtype, copy=False)


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
    dlogits : ndarray of shape (N, K), the dtype of ``logits``

    >>> loss, dlogits = softmax_cross_entropy(np.array([[0.0, np.log(3.0)], [1000.0, 0.0]]), np.array([1, 0]))
    >>> round(loss, 6)
    0.143841
    >>> dlogits
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
    dlogits = np.exp(log_probs)  # softmax, (N, K)
    dlogits[rows, y] -= 1
    dlogits /= n
    return loss, dlogits
