"""Plots and a widget for chapter 2, loss functions: they draw the student's own losses.

Every function takes the student's functions as keyword arguments and falls back to nnlib's
while one is not written yet (``nnlib.viz.student_or_reference``), or when it raises; the legend
says whose function each curve shows. Shape letters: N batch, K classes.

- ``plot_loss_comparison``: squared error on a sigmoid against cross-entropy, for one example with
  logit ``z`` and label ``y``: the loss and its gradient dJ/dz over z, with the point at ``z`` marked.
- ``loss_comparison_widget``: the same figure with a slider for ``z`` and a toggle for ``y``.
- ``plot_initial_loss``: the loss of a K-class linear classifier at initialisation against log K.
- ``softmax_cross_entropy_or_reference``: the student's loss for the chapter's synthesis, or nnlib's;
  ``yours_or_reference`` the same for the other experiments (mse, log_sum_exp...).
- ``plot_training_curves``: training beside validation loss and accuracy, step by step.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

from nnlib import losses as ref
from nnlib.activations import log_softmax
from nnlib.activations import sigmoid
from nnlib.viz import student_or_reference

MSE_COLOR, BCE_COLOR = "tab:blue", "tab:orange"


def per_example(loss_function, z, y):
    """Loss and dJ/dz of a single example with label ``y`` at each logit in ``z``.

    ``loss_function(z, t) -> (loss, dz)`` averages over its batch, so it is called with a batch of
    one per point: its loss and gradient are then those of that one example.

    Returns
    -------
    losses, grads : ndarrays of the shape of ``z``, float64

    >>> per_example(ref.binary_cross_entropy_with_logits, np.array([0.0, 0.0]), 1)[1]
    array([-0.5, -0.5])
    """
    z = np.asarray(z, dtype=np.float64)
    losses, grads = np.empty_like(z), np.empty_like(z)
    target = np.array([float(y)])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for i, zi in enumerate(z.flat):
            loss, grad = loss_function(np.array([zi]), target)
            losses.flat[i] = float(loss)
            grads.flat[i] = float(np.asarray(grad, dtype=np.float64).reshape(-1)[0])
    return losses, grads


def _owner(whose, name):
    """``"your mse"`` or ``"nnlib's mse (yours is not written yet)"``, from ``student_or_reference``'s label.

    >>> _owner("yours", "mse"), _owner("nnlib's (yours raised TypeError)", "mse")
    ('your mse', "nnlib's mse (yours raised TypeError)")
    """
    if whose == "yours":
        return f"your {name}"
    return whose.replace("nnlib's", f"nnlib's {name}", 1)


def _limits(base, *curves):
    """Axis limits that hold ``base`` and every finite value of ``curves`` (a wrong answer stays in view)."""
    values = np.concatenate([np.ravel(c) for c in curves])
    values = values[np.isfinite(values)]
    low, high = min(base[0], values.min(initial=base[0])), max(base[1], values.max(initial=base[1]))
    margin = 0.05 * (high - low) if (low, high) != tuple(base) else 0.0
    return low - margin, high + margin


def _curves(function, reference, z, y):
    """``(losses, grads, whose)`` from the student's function, else from ``reference``."""
    chosen, whose = student_or_reference(function, reference, np.array([0.5]), np.array([1.0])) if function else (reference, "nnlib's")
    if chosen is not reference:
        try:
            return (*per_example(chosen, z, y), whose)
        except Exception as error:  # a broken attempt: show nnlib's, and say why
            whose = f"nnlib's (yours raised {type(error).__name__})"
    return (*per_example(reference, z, y), whose)


def plot_loss_comparison(z=-4.0, y=1, *, mse_on_sigmoid=None, binary_cross_entropy_with_logits=None,
                         z_range=(-8.0, 8.0), figsize=(9, 3.4)):
    """Squared error on ``sigmoid(z)`` against cross-entropy, for one example: loss and dJ/dz over z.

    Parameters
    ----------
    z : float, the logit of the example, marked on both panels
    y : 0 or 1, its label
    mse_on_sigmoid, binary_cross_entropy_with_logits : the student's functions
        ``f(z, t) -> (loss, dz)`` on arrays of shape (N,); nnlib's are used while they are None,
        not written yet, or raise.
    z_range : (float, float), the range of logits drawn

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = int(y)
    grid = np.linspace(*z_range, 321)
    point = np.array([float(z)])
    mse_loss, mse_grad, mse_whose = _curves(mse_on_sigmoid, ref.mse_on_sigmoid, grid, y)
    bce_loss, bce_grad, bce_whose = _curves(binary_cross_entropy_with_logits, ref.binary_cross_entropy_with_logits, grid, y)
    mse_at, mse_grad_at, _ = _curves(mse_on_sigmoid, ref.mse_on_sigmoid, point, y)
    bce_at, bce_grad_at, _ = _curves(binary_cross_entropy_with_logits, ref.binary_cross_entropy_with_logits, point, y)

    # Fixed margins: constrained layout doubled the time to render this figure (0.5 s more, per redraw).
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=figsize)
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.15, top=0.83, wspace=0.22)
    for ax in (ax_loss, ax_grad):
        ax.axvline(z, color="0.6", linestyle=":", linewidth=1)
        ax.axhline(0, color="0.8", linewidth=0.8)
        ax.set_xlabel("logit $z$")
        ax.set_xlim(*z_range)
        ax.grid(alpha=0.3)
    ax_loss.plot(grid, mse_loss, color=MSE_COLOR, gid="mse", label=f"squared error $(\\sigma(z) - y)^2$, {mse_whose}")
    ax_loss.plot(grid, bce_loss, color=BCE_COLOR, gid="bce", label=f"cross-entropy, {bce_whose}")
    ax_loss.plot([z], mse_at, "o", color=MSE_COLOR, markersize=7, zorder=4)
    ax_loss.plot([z], bce_at, "o", color=BCE_COLOR, markersize=7, zorder=4)
    ax_loss.set_ylabel("loss $J$ of this example")
    ax_loss.set_title(f"loss:  squared error {mse_at[0]:.3f},  cross-entropy {bce_at[0]:.3f}", fontsize=10)
    low, high = _limits((-0.3, 2.0), mse_loss, bce_loss)
    ax_loss.set_ylim(low, high + 0.35 * (high - low))  # room for the legend above the curves
    ax_loss.legend(loc="upper center", fontsize=8, framealpha=0.9)

    ax_grad.plot(grid, mse_grad, color=MSE_COLOR, gid="mse")
    ax_grad.plot(grid, bce_grad, color=BCE_COLOR, gid="bce")
    ax_grad.plot([z], mse_grad_at, "o", color=MSE_COLOR, markersize=7, zorder=4)
    ax_grad.plot([z], bce_grad_at, "o", color=BCE_COLOR, markersize=7, zorder=4)
    ax_grad.set_ylabel("gradient $dJ/dz$")
    # The gradient pulls toward the label: negative for y = 1, positive for y = 0. Show that side.
    ax_grad.set_ylim(*_limits((-1.1, 0.15) if y == 1 else (-0.15, 1.1), mse_grad, bce_grad))
    ax_grad.set_title(f"dJ/dz:  squared error {mse_grad_at[0]:+.4f},  cross-entropy {bce_grad_at[0]:+.4f}", fontsize=10)
    # Saturated: left of z = -4 for y = 1 (right of 4 for y = 0) the squared error's gradient is below
    # 0.035 in magnitude; at z = -2 it is still -0.185, which is small but has not vanished.
    wrong = (y == 1 and z <= -4) or (y == 0 and z >= 4)
    if wrong:
        ax_grad.annotate("confidently wrong:\nthe squared error's\ngradient has vanished",
                         xy=(z, mse_grad_at[0]), xytext=(0.78, 0.3) if y == 1 else (0.22, 0.7), textcoords="axes fraction",
                         ha="center", va="center", fontsize=8,
                         bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
                         arrowprops={"arrowstyle": "->", "color": "0.3", "shrinkB": 5})
    fig.suptitle(f"one example with label $y = {y}$ and logit $z = {z:.1f}$: prediction $\\hat y = \\sigma(z) = {float(sigmoid(point)[0]):.3f}$",
                 fontsize=11)
    return fig


def loss_comparison_widget(*, mse_on_sigmoid=None, binary_cross_entropy_with_logits=None, z=-4.0, y=1):
    """``plot_loss_comparison`` with a slider for the logit ``z`` and a toggle for the label ``y``.

    Returns
    -------
    ipywidgets.interactive; display it (the last line of a cell) to use it.
    """
    import ipywidgets as widgets

    def draw(z, y):
        plot_loss_comparison(z, y, mse_on_sigmoid=mse_on_sigmoid,
                             binary_cross_entropy_with_logits=binary_cross_entropy_with_logits)
        plt.show()

    return widgets.interactive(
        draw,
        z=widgets.FloatSlider(value=z, min=-8.0, max=8.0, step=0.1, description="logit z",
                              continuous_update=False, readout_format=".1f"),
        y=widgets.ToggleButtons(options=[("y = 0", 0), ("y = 1", 1)], value=y, description="label"),
    )


def initial_losses(softmax_cross_entropy, ks, scales, *, rng, n=200, d=20):
    """Loss of a linear classifier ``x @ w`` with ``w = scale * standard normal`` on random data.

    For each scale and each K: x (n, d) standard normal, labels uniform in [0, K), w (d, K).

    Returns
    -------
    ndarray of shape (len(scales), len(ks)), float64
    """
    x = rng.standard_normal((n, d))
    out = np.empty((len(scales), len(ks)))
    for j, k in enumerate(ks):
        y = rng.integers(0, k, n)
        w = rng.standard_normal((d, k))
        for i, scale in enumerate(scales):
            out[i, j] = float(softmax_cross_entropy(x @ (scale * w), y)[0])
    return out


def plot_initial_loss(*, softmax_cross_entropy=None, rng, ks=(2, 3, 5, 10, 20, 50, 100), scales=(0.01, 0.3, 1.0),
                      figsize=(8, 3.2)):
    """Initial loss of a K-class linear classifier against log K, for a few weight scales.

    With small weights every logit is near 0, softmax is near uniform (1/K each) and the loss is
    near -log(1/K) = log K. Larger weights give confident random guesses, and a loss above log K.

    Parameters
    ----------
    softmax_cross_entropy : the student's ``f(logits (N, K), y (N,)) -> (loss, dlogits)``; nnlib's
        while it is None, not written yet, or raises.
    rng : numpy.random.Generator

    Returns
    -------
    matplotlib.figure.Figure
    """
    probe = (np.zeros((2, 3)), np.array([0, 2]))
    chosen, whose = (student_or_reference(softmax_cross_entropy, ref.softmax_cross_entropy, *probe)
                     if softmax_cross_entropy else (ref.softmax_cross_entropy, "nnlib's"))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            values = initial_losses(chosen, ks, scales, rng=rng)
    except Exception as error:
        chosen, whose = ref.softmax_cross_entropy, f"nnlib's (yours raised {type(error).__name__})"
        values = initial_losses(chosen, ks, scales, rng=rng)

    fig, ax = plt.subplots(figsize=figsize)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.84)
    fine = np.geomspace(min(ks), max(ks), 200)
    ax.plot(fine, np.log(fine), color="0.75", linewidth=7, solid_capstyle="round", label="$\\log K$", zorder=1)
    colors = plt.get_cmap("viridis")(np.linspace(0.15, 0.8, len(scales)))
    for scale, row, color in zip(scales, values, colors):
        ax.plot(ks, row, "o-", color=color, markersize=5, linewidth=1, label=f"weights $\\times$ {scale:g}")
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("number of classes $K$")
    ax.set_ylabel("loss before training")
    ax.set_title(f"A classifier with small weights starts at a loss of about log K\n"
                 f"(losses computed by {_owner(whose, 'softmax_cross_entropy')})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def log_sum_exp_reference(x):
    """nnlib's stand-in for exercise 5 (nnlib has no log_sum_exp): ``x_0 - log_softmax(x)_0`` over the last axis.

    >>> bool(log_sum_exp_reference(np.array([[1000.0, 1000.0]]))[0] == 1000 + np.log(2))
    True
    """
    return x[..., 0] - log_softmax(x, axis=-1)[..., 0]


#: For each loss an experiment may call: nnlib's stand-in and a probe that a working answer passes.
_STAND_INS = {
    "mse": (ref.mse, (np.zeros(2), np.ones(2))),
    "binary_cross_entropy_with_logits": (ref.binary_cross_entropy_with_logits, (np.zeros(2), np.ones(2))),
    "log_sum_exp": (log_sum_exp_reference, (np.zeros((2, 3)),)),
    "softmax_cross_entropy": (ref.softmax_cross_entropy, (np.zeros((2, 3)), np.array([0, 2]))),
}


def yours_or_reference(function, name):
    """``(function, label)``: the student's ``name`` once it works, else nnlib's, so that an experiment cell
    runs (and Run All goes on) while the exercise is unsolved; the label says whose function it is.

    >>> def stub(pred, target):
    ...     raise NotImplementedError
    >>> yours_or_reference(stub, "mse")[1]
    "nnlib's mse (yours is not written yet)"
    """
    reference, probe = _STAND_INS[name]
    chosen, whose = student_or_reference(function, reference, *probe)
    return chosen, _owner(whose, name)


def softmax_cross_entropy_or_reference(softmax_cross_entropy):
    """``(loss_fn, label)``: the student's ``softmax_cross_entropy`` once it works, else nnlib's.

    >>> def stub(logits, y):
    ...     raise NotImplementedError
    >>> softmax_cross_entropy_or_reference(stub)[1]
    "nnlib's softmax_cross_entropy (yours is not written yet)"
    """
    probe = (np.zeros((2, 3)), np.array([0, 2]))
    chosen, whose = student_or_reference(softmax_cross_entropy, ref.softmax_cross_entropy, *probe)
    return chosen, _owner(whose, "softmax_cross_entropy")


def plot_training_curves(history, *, title="", threshold=None, figsize=(9, 3.2)):
    """Training beside validation: loss (left) and accuracy (right) at every step.

    Parameters
    ----------
    history : dict of lists, keys ``"train_loss"``, ``"val_loss"``, ``"train_acc"``, ``"val_acc"``
    threshold : float or None, a validation accuracy to draw as a dashed line

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=figsize)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.8, wspace=0.25)
    steps = np.arange(len(history["train_loss"]))
    ax_loss.plot(steps, history["train_loss"], color="tab:blue", label="training")
    ax_loss.plot(steps, history["val_loss"], color="tab:orange", label="validation")
    ax_loss.set_ylabel("loss")
    ax_acc.plot(steps, history["train_acc"], color="tab:blue", label="training")
    ax_acc.plot(steps, history["val_acc"], color="tab:orange", label="validation")
    if threshold is not None:
        ax_acc.axhline(threshold, color="0.5", linestyle="--", linewidth=1, label=f"threshold {threshold:.0%}")
    ax_acc.set_ylabel("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("gradient descent step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig
