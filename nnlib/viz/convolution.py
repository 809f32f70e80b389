"""Plots and a widget for chapter 5, convolution.

Every function takes the student's own functions and falls back to nnlib's while one is not written
yet (``nnlib.viz.student_or_reference``); titles say which was used. Figures are
``matplotlib.figure.Figure`` objects (not pyplot), so a cell that ends with a call shows the figure once.

- ``plot_riemann``: box * box against the exact triangle, two Gaussians against the exact Gaussian,
  and the error of the Riemann sum against the step ``dt`` (log-log);
- ``plot_kernels``: hand-made 3x3 kernels (blur, sharpen, edges) applied to a digit;
- ``plot_shift_equivariance``: shift the digit, and the feature map shifts with it;
- ``plot_feature_map`` / ``kernel_widget``: any 3x3 kernel (typed in, or a preset) on a digit;
- ``plot_histories``: training and validation accuracy of several models, epoch by epoch;
- ``plot_filters_and_maps``: a trained first convolution's filters and their feature maps of a digit;
- ``nnlib_available`` / ``skipped``: whether nnlib's convolutions run (not in the grader, which replaces
  them with stubs), and the one line an experiment built on them prints when it is skipped there.

Shape letters: N images, C channels, F filters, H/W height/width, KH/KW kernel.
"""


import numpy as np
from matplotlib.figure import Figure

from nnlib import conv
from nnlib.viz import (GRADING_STUB_TEXT, attempted, is_grading_stub, print_skipped,  # noqa: F401
                       skipped_under_grading_stubs, student_or_reference)

STUBBED = "nnlib's convolutions"

#: Hand-made 3x3 kernels; the layer computes a cross-correlation, so they are written as they slide.
KERNELS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
    "vertical edges": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    "horizontal edges": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    "outline": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
}


# -- nnlib's convolutions in the grader ----------------------------------------------------------------

def nnlib_available():
    """True when nnlib's convolution layers run; False only under the grader's stubs.

    Tries ``conv.conv2d_forward`` and ``conv.max_pool_forward`` (which ``model.Conv2D`` and
    ``model.MaxPool`` use) on a tiny input. Any error other than the grading stub's propagates, so that a
    real bug is never hidden behind "skipped".

    >>> nnlib_available()
    True
    """
    try:
        conv.conv2d_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 1)), np.zeros(1))
        conv.max_pool_forward(np.zeros((1, 1, 2, 2)), 2, 2)
    except RuntimeError as error:
        if is_grading_stub(error):
            return False
        raise
    return True


def skipped(what):
    """Print the one line an experiment on nnlib's layers shows instead of its result while the chapter is graded."""
    print_skipped(what, STUBBED)


def _skipped_under_grading_stubs(what):
    """Decorator: the figure ``what`` is skipped, with one line, while the grader stubs nnlib's convolutions."""
    return skipped_under_grading_stubs(what, STUBBED)


# -- the student's functions, or nnlib's --------------------------------------------------------------


def riemann_reference(f, g, dt):
    """nnlib's answer to the chapter's ``riemann_convolve``: ``dt * sum_k f[k] g[n - k]``."""
    return dt * conv.convolve1d(f, g, "full")


def conv_function(conv_forward=None):
    """``(forward, who)``: the student's ``conv_forward(x, w, b, stride, pad) -> (out, cache)`` or nnlib's."""
    probe = (np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1), 1, 0)
    if conv_forward is not None and attempted(lambda *args: conv_forward(*args)[0], *probe):  # the cache is not numbers
        return conv_forward, "yours"
    return conv.conv2d_forward, "nnlib's (yours is not written yet)"


def _missing(*args):
    raise NotImplementedError


def _feature_map(forward, image, kernel, bias=0.0):
    """The feature map of one (H, W) image under one (KH, KW) kernel, 'same' size (pad (K - 1) / 2)."""
    x = np.asarray(image, dtype=np.float64)[None, None]  # (1, 1, H, W)
    w = np.asarray(kernel, dtype=np.float64)[None, None]  # (1, 1, KH, KW)
    out, _ = forward(x, w, np.array([bias]), 1, (w.shape[-1] - 1) // 2)
    return np.asarray(out)[0, 0]


# -- 1. the integral, sampled -------------------------------------------------------------------------


def _box(dt):
    """The box 1 on [0, 1) sampled at t = 0, dt, 2 dt, ... (the samples with t < 1)."""
    return np.ones(int(np.ceil(1 / dt - 1e-9)))


def _triangle(t):
    """box * box, exactly: t on [0, 1], 2 - t on [1, 2], 0 elsewhere."""
    return np.clip(1 - np.abs(t - 1), 0, None)


def _gaussian_grid(sigma, dt, width=8.0):
    """A centred Gaussian density of standard deviation sigma, sampled on a grid of step dt; (t0, samples)."""
    half = int(np.ceil(width * sigma / dt))
    t = np.arange(-half, half + 1) * dt
    return t[0], np.exp(-t**2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)


def riemann_errors(riemann_convolve, dts, sigmas=(0.5, 0.3)):
    """Largest error of the Riemann sum against the exact result, for box * box and for two Gaussians, at each dt."""
    errors = {"box * box": [], "Gaussian * Gaussian": []}
    s1, s2 = sigmas
    for dt in dts:
        box = _box(dt)
        approx = np.asarray(riemann_convolve(box, box, dt))
        t = np.arange(approx.size) * dt  # both grids start at 0
        errors["box * box"].append(np.max(np.abs(approx - _triangle(t))))
        (a, f), (c, g) = _gaussian_grid(s1, dt), _gaussian_grid(s2, dt)
        approx = np.asarray(riemann_convolve(f, g, dt))
        t = a + c + np.arange(approx.size) * dt
        var = s1**2 + s2**2
        exact = np.exp(-t**2 / (2 * var)) / np.sqrt(2 * np.pi * var)
        errors["Gaussian * Gaussian"].append(np.max(np.abs(approx - exact)))
    return {k: np.array(v) for k, v in errors.items()}


@_skipped_under_grading_stubs("the Riemann-sum figure")
def plot_riemann(riemann_convolve=None, *, dt=0.1, dts=None, figsize=(11, 3.2)):
    """box * box and Gaussian * Gaussian by the Riemann sum at step ``dt``, beside the exact results; the error against dt."""
    function, who = student_or_reference(riemann_convolve or _missing, riemann_reference, np.ones(3), np.ones(2), 0.5)
    dts = np.geomspace(0.5, 0.005, 12) if dts is None else np.asarray(dts)
    fig = Figure(figsize=figsize, layout="constrained")
    ax_box, ax_gauss, ax_err = fig.subplots(1, 3)

    box = _box(dt)
    approx = np.asarray(function(box, box, dt))
    t_fine = np.linspace(-0.2, 2.2, 400)
    ax_box.plot(t_fine, _triangle(t_fine), color="0.6", lw=3, label="exact: a triangle")
    ax_box.plot(np.arange(approx.size) * dt, approx, "o", ms=3, color="tab:blue", label=f"Riemann sum, dt = {dt:g}")
    ax_box.set(title="box * box", xlabel="t")
    ax_box.legend(fontsize=7)

    (a, f), (c, g) = _gaussian_grid(0.5, dt), _gaussian_grid(0.3, dt)
    approx = np.asarray(function(f, g, dt))
    t = a + c + np.arange(approx.size) * dt
    var = 0.5**2 + 0.3**2
    t_fine = np.linspace(t[0], t[-1], 400)
    ax_gauss.plot(t_fine, np.exp(-t_fine**2 / (2 * var)) / np.sqrt(2 * np.pi * var), color="0.6", lw=3,
                  label="exact: variance 0.5² + 0.3²")
    ax_gauss.plot(t, approx, "o", ms=3, color="tab:orange", label=f"Riemann sum, dt = {dt:g}")
    ax_gauss.set(title="N(0, 0.5²) * N(0, 0.3²)", xlabel="t", xlim=(-3, 3))
    ax_gauss.legend(fontsize=7)

    errors = riemann_errors(function, dts)
    floor = 1e-17
    for (name, err), colour in zip(errors.items(), ("tab:blue", "tab:orange")):
        ax_err.loglog(dts, np.maximum(err, floor), "o-", ms=3, color=colour, label=name)
    ax_err.set(title=f"largest error ({who})", xlabel="dt", ylabel="max |Riemann - exact|")
    ax_err.legend(fontsize=7)
    fig.errors, fig.dts = errors, dts
    return fig


# -- 2. images --------------------------------------------------------------------------------------


@_skipped_under_grading_stubs("the hand-made kernels")
def plot_kernels(image, conv_forward=None, kernels=None, *, figsize=(11, 2.4)):
    """The digit and its feature map under each hand-made kernel, computed by the student's conv_forward."""
    forward, who = conv_function(conv_forward)
    kernels = KERNELS if kernels is None else kernels
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(kernels) + 1)
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("the digit", fontsize=8)
    fig.maps = {}
    for ax, (name, kernel) in zip(axes[1:], kernels.items()):
        fig.maps[name] = fmap = _feature_map(forward, image, kernel)
        limit = np.abs(fmap).max() or 1.0
        ax.imshow(fmap, cmap="gray" if name in ("identity", "blur", "sharpen") else "RdBu_r",
                  vmin=None if name in ("identity", "blur", "sharpen") else -limit,
                  vmax=None if name in ("identity", "blur", "sharpen") else limit)
        ax.set_title(name, fontsize=8)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"3x3 kernels, stride 1, pad 1 ({who} conv_forward)", fontsize=9)
    return fig


def _shift(image, dy, dx):
    """``image`` moved down by dy and right by dx, zeros coming in (no wrap-around)."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    return out


def shift_equivariance(image, conv_forward=None, kernel="vertical edges", shift=(2, 3)):
    """``(map of the image, map of the shifted image, largest |shift(map) - map(shift)|, who)``."""
    forward, who = conv_function(conv_forward)
    kernel = KERNELS[kernel] if isinstance(kernel, str) else kernel
    image = np.asarray(image, dtype=np.float64)
    before = _feature_map(forward, image, kernel)
    after = _feature_map(forward, _shift(image, *shift), kernel)
    # compare away from the borders, where zeros come in and the padding differs
    k = 2
    inner = (slice(max(shift[0], 0) + k, image.shape[0] - max(-shift[0], 0) - k),
             slice(max(shift[1], 0) + k, image.shape[1] - max(-shift[1], 0) - k))
    gap = np.max(np.abs(_shift(before, *shift)[inner] - after[inner]))
    return before, after, gap, who


@_skipped_under_grading_stubs("the shift-equivariance figure")
def plot_shift_equivariance(image, conv_forward=None, kernel="vertical edges", shift=(2, 3), *, figsize=(9, 2.6)):
    """The digit and its feature map, then the shifted digit and its feature map: the map moved with it."""
    before, after, gap, who = shift_equivariance(image, conv_forward, kernel, shift)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 4)
    limit = max(np.abs(before).max(), np.abs(after).max()) or 1.0
    panels = [(image, "digit", "gray", None), (before, "its feature map", "RdBu_r", limit),
              (_shift(np.asarray(image), *shift), f"shifted by {shift}", "gray", None), (after, "feature map of the shifted digit", "RdBu_r", limit)]
    for ax, (img, title, cmap, lim) in zip(axes, panels):
        ax.imshow(img, cmap=cmap, vmin=None if lim is None else -lim, vmax=lim)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"shift(map) vs map(shift), away from the borders: largest difference {gap:.1e} ({who} conv_forward)", fontsize=9)
    fig.gap = gap
    return fig


@_skipped_under_grading_stubs("the feature map")
def plot_feature_map(image, kernel, conv_forward=None, *, figsize=(7, 2.6)):
    """One 3x3 kernel (shown with its numbers), the digit, and the feature map the student's conv_forward computes."""
    forward, who = conv_function(conv_forward)
    kernel = np.asarray(kernel, dtype=np.float64)
    fmap = _feature_map(forward, image, kernel)
    fig = Figure(figsize=figsize, layout="constrained")
    ax_k, ax_img, ax_map = fig.subplots(1, 3)
    limit = np.abs(kernel).max() or 1.0
    ax_k.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (u, v), value in np.ndenumerate(kernel):
        ax_k.text(v, u, f"{value:.2g}", ha="center", va="center", fontsize=8)
    ax_k.set_title("kernel", fontsize=8)
    ax_img.imshow(image, cmap="gray")
    ax_img.set_title("digit", fontsize=8)
    limit = np.abs(fmap).max() or 1.0
    ax_map.imshow(fmap, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax_map.set_title(f"feature map ({who} conv_forward)", fontsize=8)
    for ax in (ax_k, ax_img, ax_map):
        ax.set_xticks([]), ax.set_yticks([])
    fig.feature_map = fmap
    return fig


def kernel_widget(images, conv_forward=None, *, figsize=(7, 2.6)):
    """Nine number boxes (the 3x3 kernel), a preset menu and a digit slider; redraws the feature map.

    Returns
    -------
    ipywidgets.VBox; its ``cells`` are the nine FloatText boxes (row-major), ``preset`` the Dropdown,
    ``digit`` the IntSlider and ``figure`` the figure last drawn.
    """
    import ipywidgets as widgets
    from IPython.display import display

    cells = [widgets.FloatText(value=float(v), layout=widgets.Layout(width="70px")) for v in KERNELS["vertical edges"].ravel()]
    preset = widgets.Dropdown(options=list(KERNELS), value="vertical edges", description="preset")
    digit = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="digit")
    output = widgets.Output()
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"))
    box = widgets.VBox([widgets.HBox([grid, widgets.VBox([preset, digit])]), output])
    box.cells, box.preset, box.digit, box.figure = cells, preset, digit, None
    state = {"loading": False}

    def redraw(change=None):
        if state["loading"]:
            return
        kernel = np.array([c.value for c in cells]).reshape(3, 3)
        box.figure = plot_feature_map(images[digit.value], kernel, conv_forward, figsize=figsize)
        output.clear_output(wait=True)
        if box.figure is not None:  # None: skipped in the grader
            with output:
                display(box.figure)

    def load(change):
        state["loading"] = True
        for cell, value in zip(cells, KERNELS[preset.value].ravel()):
            cell.value = float(value)
        state["loading"] = False
        redraw()

    for cell in cells:
        cell.observe(redraw, names="value")
    digit.observe(redraw, names="value")
    preset.observe(load, names="value")
    redraw()
    return box


# -- 3. a CNN on the digits -----------------------------------------------------------------------------


def plot_histories(histories, *, figsize=(9, 3.2)):
    """Accuracy per epoch, training (dashed) and validation (solid), one colour per model; and the validation loss."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax_acc, ax_loss = fig.subplots(1, 2)
    for (name, history), colour in zip(histories.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        epochs = np.arange(1, len(history["accuracy"]) + 1)
        ax_acc.plot(epochs, history["accuracy"], "--", color=colour, label=f"{name}, training")
        ax_acc.plot(epochs, history["val_accuracy"], "-", color=colour, label=f"{name}, validation")
        ax_loss.plot(epochs, history["loss"], "--", color=colour, label=f"{name}, training")
        ax_loss.plot(epochs, history["val_loss"], "-", color=colour, label=f"{name}, validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.legend(fontsize=7)
    return fig


@_skipped_under_grading_stubs("the learned filters")
def plot_filters_and_maps(w, b, image, *, figsize=(11, 3)):
    """The filters ``w`` (F, 1, KH, KW) of a trained first layer (top row) and their ReLU feature maps of ``image`` (bottom)."""
    w = np.asarray(w, dtype=np.float64)
    maps = np.maximum(conv.conv2d_forward(np.asarray(image, dtype=np.float64)[None, None], w, np.asarray(b, dtype=np.float64),
                                          1, (w.shape[-1] - 1) // 2)[0][0], 0)  # (F, H, W)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, len(w), squeeze=False)
    for f in range(len(w)):
        limit = np.abs(w[f, 0]).max() or 1.0
        axes[0, f].imshow(w[f, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, f].set_title(f"filter {f}", fontsize=8)
        axes[1, f].imshow(maps[f], cmap="magma")
        for ax in axes[:, f]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("feature map", fontsize=8)
    fig.maps = maps
    return fig
