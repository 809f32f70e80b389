"""Batch normalisation, forward and backward, in training and evaluation mode (chapter 4, regularization).

Shape letters: N batch, D features. In training, each feature is normalised with the mean and
variance of the batch, and an exponential moving average of them (the running statistics) is
updated; in evaluation, the running statistics are used, so the output of one example does not
depend on the rest of the batch. The running statistics are *returned*: the dict passed in is
never modified.
"""

import numpy as np

from nnlib.validation import as_float_array, require_ndim, require_shape


def _running_stats(running, d, dtype):
    if running is None:
        return np.zeros(d, dtype=dtype), np.ones(d, dtype=dtype)
    if not isinstance(running, dict) or "mean" not in running or "var" not in running:
        raise ValueError('running must be None or a dict {"mean": ndarray of shape (D,), "var": ndarray of shape (D,)}.')
    mean = as_float_array(running["mean"], 'running["mean"]')
    var = as_float_array(running["var"], 'running["var"]')
    require_shape(mean, (d,), 'running["mean"]')
    require_shape(var, (d,), 'running["var"]')
    return mean, var


def batchnorm_forward(x, gamma, beta, running, *, training, momentum=0.9, eps=1e-5):
    """Batch normalisation, ``out = gamma * (x - mu) / sqrt(var + eps) + beta``, per feature.

    Training: ``mu`` and ``var`` are the batch mean and (biased, 1/N) variance over axis 0, and
    the running statistics become ``momentum * running + (1 - momentum) * batch statistic``.
    Evaluation: ``mu`` and ``var`` are the running statistics, returned unchanged.
    (``momentum`` is the weight of the *old* value, as in CS231n; PyTorch's ``momentum=0.1``
    weighs the new one and matches ``momentum=0.9`` here.)

    Parameters
    ----------
    x : ndarray of shape (N, D)
    gamma : ndarray of shape (D,), scale
    beta : ndarray of shape (D,), shift
    running : dict ``{"mean": ndarray of shape (D,), "var": ndarray of shape (D,)}``, or None
        for zeros and ones (the start of training). Never modified.
    training : bool, keyword only
    momentum : float in [0, 1)
    eps : float >= 0, keeps the division finite for a constant feature

    Returns
    -------
    out : ndarray of shape (N, D)
    cache : opaque, for ``batchnorm_backward``
    new_running : a new dict ``{"mean": (D,), "var": (D,)}``

    >>> x = np.array([[1.0, 10.0], [3.0, 14.0]])
    >>> out, cache, running = batchnorm_forward(x, np.ones(2), np.zeros(2), None, training=True, eps=0.0)
    >>> out
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> running["mean"], running["var"]
    (array([0.2, 1.2]), array([1. , 1.3]))
    """
    x, gamma, beta = as_float_array(x, "x"), as_float_array(gamma, "gamma"), as_float_array(beta, "beta")
    require_ndim(x, 2, "x", "(N, D)")
    n, d = x.shape
    require_shape(gamma, (d,), "gamma")
    require_shape(beta, (d,), "beta")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {type(training).__name__} {training!r}.")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}.")
    running_mean, running_var = _running_stats(running, d, x.dtype)
    if training:
        if n < 2:
            raise ValueError(f"batchnorm in training needs a batch of at least 2 rows to estimate a variance, got shape {x.shape}.")
        mu = x.mean(axis=0)  # (D,)
        var = x.var(axis=0)  # (D,), biased: 1/N
        new_running = {
            "mean": (momentum * running_mean + (1 - momentum) * mu).astype(running_mean.dtype, copy=False),
            "var": (momentum * running_var + (1 - momentum) * var).astype(running_var.dtype, copy=False),
        }
    else:
        mu, var = running_mean, running_var
        new_running = {"mean": running_mean.copy(), "var": running_var.copy()}
    inv_std = 1 / np.sqrt(var + eps)  # (D,)
    x_hat = (x - mu) * inv_std  # (N, D)
    out = gamma * x_hat + beta  # (N, D)
    return out, (x_hat, gamma, inv_std, training, x.dtype, beta.dtype), new_running


def batchnorm_backward(dout, cache):
    """Gradients of batch normalisation with respect to ``x``, ``gamma`` and ``beta``.

    With ``x_hat = (x - mu) / sqrt(var + eps)``: ``dbeta = sum_n dout``,
    ``dgamma = sum_n dout * x_hat``, and in training (``mu`` and ``var`` depend on every row)
    ``dx = gamma / sqrt(var + eps) * (dout - mean_n(dout) - x_hat * mean_n(dout * x_hat))``;
    in evaluation (running statistics are constants) ``dx = gamma / sqrt(var + eps) * dout``.

    Parameters
    ----------
    dout : ndarray of shape (N, D)
    cache : from ``batchnorm_forward``

    Returns
    -------
    dx : ndarray of shape (N, D)
    dgamma : ndarray of shape (D,)
    dbeta : ndarray of shape (D,)

    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> out, cache, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), None, training=True)
    >>> dx, dgamma, dbeta = batchnorm_backward(np.ones((2, 2)), cache)
    >>> bool(np.abs(dx).max() < 1e-12), dbeta
    (True, array([2., 2.]))
    """
    x_hat, gamma, inv_std, training, x_dtype, beta_dtype = cache
    dout = as_float_array(dout, "dout")
    require_shape(dout, x_hat.shape, "dout")
    dbeta = dout.sum(axis=0)  # (D,)
    dgamma = (dout * x_hat).sum(axis=0)  # (D,)
    if training:
        dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))  # (N, D)
    else:
        dx = gamma * inv_std * dout  # (N, D)
    return dx.astype(x_dtype, copy=False), dgamma.astype(gamma.dtype, copy=False), dbeta.astype(beta_dtype, copy=False)
