"""Numerical gradients by central differences, and checks of analytic gradients against them.

Taught in chapter 3 (backpropagation); every backward pass in nnlib and in the notebooks is
tested with these helpers.

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / (2 h)

An array-valued ``f`` is reduced to a scalar with an upstream gradient ``dout``:
``fakeloss = sum(f(x) * dout)``, whose gradient is exactly what a backward pass computes.
"""

import numpy as np

from nnlib.tolerances import ABS_FLOOR, GRAD_RTOL, GRAD_STEP


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one; the message says where and by how much."""


def rel_error(expected, actual):
    """Largest absolute difference, relative to the largest magnitude in either array.

    ``max|a - e| / max(max|e|, max|a|, ABS_FLOOR)``: scale-free for values of order 1 and above,
    absolute for values below ``ABS_FLOOR``. Shapes must match exactly (no broadcasting).

    >>> rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 2e-8]))
    1e-08
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"cannot compare arrays of shapes {e.shape} and {a.shape}.")
    if e.size == 0:
        return 0.0
    scale = max(np.abs(e).max(), np.abs(a).max(), ABS_FLOOR)
    return float(np.abs(a - e).max() / scale)


def numerical_gradient(f, x, step=GRAD_STEP):
    """Gradient of the scalar function ``f`` at ``x`` by central differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``. It is called with ``x`` itself, perturbed in place one element at a
        time; ``x`` is restored afterwards, even if ``f`` raises.
    x : ndarray of any shape and memory layout (a transposed or sliced view too), floating dtype
    step : float > 0, the step ``h``

    Returns
    -------
    ndarray of the shape of ``x``, float64

    Elements are indexed as ``x[i]`` with ``i`` from ``np.ndindex(x.shape)``, never through a
    flattened ``x.reshape(-1)``: for a non-contiguous view that is a copy, and perturbing a copy
    leaves ``f(x)`` unchanged (a gradient of zeros).

    >>> x = np.array([1.0, -2.0])
    >>> np.round(numerical_gradient(lambda v: np.sum(v ** 2), x), 6)
    array([ 2., -4.])
    >>> m = np.arange(6.0).reshape(2, 3).T  # a transposed, non-contiguous view
    >>> np.round(numerical_gradient(lambda v: np.sum(v ** 2), m), 6)
    array([[ 0.,  6.],
           [ 2.,  8.],
           [ 4., 10.]])
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("numerical_gradient needs a floating ndarray to perturb in place.")
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}.")
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        try:
            x[i] = original + step
            f_plus = float(f(x))
            x[i] = original - step
            f_minus = float(f(x))
        finally:
            x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * step)
    return grad


def numerical_gradient_array(f, x, dout, step=GRAD_STEP):
    """Gradient of ``sum(f(x) * dout)`` at ``x``: what a backward pass given ``dout`` returns.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray`` of the shape of ``dout``.
    x : ndarray of any shape, floating dtype (restored after use)
    dout : ndarray, upstream gradient of ``f``'s output

    Returns
    -------
    ndarray of the shape of ``x``, float64

    >>> x = np.array([1.0, 2.0])
    >>> np.round(numerical_gradient_array(lambda v: 3 * v, x, np.array([1.0, -1.0])), 6)
    array([ 3., -3.])
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda v: np.sum(np.asarray(f(v), dtype=np.float64) * dout), x, step)


def numerical_derivative(f, x, step=GRAD_STEP):
    """Elementwise derivative ``(f(x + h) - f(x - h)) / 2h`` of an elementwise function ``f``.

    One vectorised pair of calls instead of one per element: valid only when ``f(x)[i]`` depends
    on ``x[i]`` alone (activations). ``x`` is not modified.

    Returns
    -------
    ndarray of the shape of ``x``, float64

    >>> np.round(numerical_derivative(np.sin, np.array([0.0, np.pi])), 8)
    array([ 1., -1.])
    """
    x = np.asarray(x, dtype=np.float64)
    f_plus = np.asarray(f(x + step), dtype=np.float64)
    f_minus = np.asarray(f(x - step), dtype=np.float64)
    return (f_plus - f_minus) / (2 * step)


def _describe_mismatch(label, numeric, analytic, err, tol):
    worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape) if numeric.ndim else ()
    return (
        f"{label}: relative error {err:.2e} exceeds the tolerance {tol:.0e}; worst element at index "
        f"{tuple(int(i) for i in worst)}: numerical {numeric[worst]:.6g}, analytic {analytic[worst]:.6g}."
    )


def check_gradient(f, x, analytic, *, name="gradient", tol=GRAD_RTOL, step=GRAD_STEP):
    """Raise GradientCheckError unless ``analytic`` matches the numerical gradient of scalar ``f`` at ``x``.

    Returns the relative error (float) when the check passes.

    >>> x = np.array([0.5, -1.5])
    >>> check_gradient(lambda v: np.sum(v ** 3), x, 3 * x ** 2) < 1e-9
    True
    """
    x = np.array(x, dtype=np.float64)  # a float64 copy: float32 cannot resolve a 1e-5 step
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise GradientCheckError(f"{name}: gradient has shape {analytic.shape}, expected {x.shape}.")
    numeric = numerical_gradient(f, x, step)
    err = rel_error(numeric, analytic)
    if not err <= tol:  # also fails on NaN
        raise GradientCheckError(_describe_mismatch(name, numeric, analytic, err, tol))
    return err


def check_backward(forward, backward, inputs, *, name=None, seed=0, tol=GRAD_RTOL, step=GRAD_STEP):
    """Check a forward/backward pair against central differences of the forward.

    Parameters
    ----------
    forward : callable
        ``forward(*inputs.values()) -> (out, cache)``. Wrap it in a lambda to fix
        non-differentiable arguments (labels, stride, a seeded ``rng``).
    backward : callable
        ``backward(dout, cache)`` returning one gradient per input, in the order of ``inputs``
        (a single array when there is one input).
    inputs : dict of str to ndarray
        The differentiable inputs by name; they are copied to float64 and never modified.
    seed : int
        Seed for the random upstream gradient ``dout``.

    Returns
    -------
    dict of str to float
        The relative error for each input. Raises GradientCheckError naming the function, the
        input, the worst index, and the numerical and analytic values when one exceeds ``tol``.

    >>> fwd = lambda a, b: (a * b, (a, b))
    >>> bwd = lambda dout, cache: (dout * cache[1], dout * cache[0])
    >>> errs = check_backward(fwd, bwd, {"a": np.ones(3), "b": np.arange(3.0)}, name="mul")
    >>> max(errs.values()) < 1e-9
    True
    """
    name = name or getattr(forward, "__name__", "forward")
    values = {k: np.array(v, dtype=np.float64) for k, v in inputs.items()}
    out, cache = forward(*values.values())
    out = np.asarray(out, dtype=np.float64)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    grads = backward(dout, cache)
    if len(values) == 1 and not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(values):
        raise GradientCheckError(
            f"{name}: backward returned {len(grads)} gradients, expected {len(values)} ({', '.join(values)})."
        )
    errors = {}
    for (arg, x), analytic in zip(values.items(), grads):
        analytic = np.asarray(analytic, dtype=np.float64)
        if analytic.shape != x.shape:
            raise GradientCheckError(
                f"{name}: gradient with respect to {arg} has shape {analytic.shape}, expected {x.shape}."
            )

        def fakeloss(v, arg=arg):
            args = [v if k == arg else values[k] for k in values]
            return np.sum(np.asarray(forward(*args)[0], dtype=np.float64) * dout)

        numeric = numerical_gradient(fakeloss, x, step)
        err = rel_error(numeric, analytic)
        if not err <= tol:
            raise GradientCheckError(_describe_mismatch(f"{name}, d/d{arg}", numeric, analytic, err, tol))
        errors[arg] = err
    return errors
