"""Plots and a widget for chapter 3, backpropagation and gradient descent.

Every function takes the student's own functions and falls back to nnlib's while one is not
written yet (``nnlib.viz.student_or_reference``); titles and legends say which was used. Figures
are ``matplotlib.figure.Figure`` objects (not pyplot), so a cell that ends with a call shows the
figure exactly once and nothing stays open between calls.

- ``plot_neuron_graph``: the computational graph of ``J = (sigmoid(w x + b) - y)**2`` with the
  forward values and the gradients of the chain rule written on it;
- ``plot_decision_boundary``: the class regions a 2-D classifier predicts, over the data;
- ``plot_losses``: loss curves (log scale), e.g. one per learning rate;
- ``train_live``: gradient descent in chunks, redrawing the boundary and the loss curve in place;
- ``plot_training``: the static summary of a run (boundary and loss curve);
- ``compare_learning_rates``: the same network trained with several learning rates, side by side;
- ``learning_rate_widget``: a log-scale learning-rate slider that retrains and redraws;
- ``dead_units``: how many ReLU units of a trained network output 0 everywhere (the learning-rate
  panels say so when every unit died, rather than calling a flat loss "diverged");
- ``EpochRecorder`` and ``train_with_curves``: the digits synthesis, training beside validation
  (held-out) loss and accuracy per epoch.

The two-layer network of the chapter has parameters ``{"W1": (D, H), "b1": (H,), "W2": (H, K),
"b2": (K,)}`` and computes ``scores = relu(x @ W1 + b1) @ W2 + b2``. Shape letters: N points,
D = 2 input features, H hidden units, K classes, G grid points.
"""

import numpy as np
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from nnlib import dense, gradcheck, init, optim
from nnlib.activations import relu, sigmoid
from nnlib.viz import attempted, student_or_reference

#: One colour per class (points), and a light version of it for the regions.
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: How much of white is mixed into a class colour for its region.
REGION_LIGHTNESS = 0.7
#: The loss curves of several runs.
CURVE_COLOURS = ("tab:blue", "tab:green", "tab:red", "tab:purple", "tab:orange", "tab:brown")
#: A run whose loss exceeds this many times its initial loss (or is not finite) has diverged.
DIVERGENCE_FACTOR = 3.0


# -- the student's training functions, or nnlib's (dense.two_layer_loss, optim.gradient_descent) ---


def _probe():
    """A tiny problem to see whether a student's training functions run: (params, x, y)."""
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((2, 3)), "b1": np.zeros(3), "W2": rng.standard_normal((3, 2)), "b2": np.zeros(2)}
    return params, rng.standard_normal((4, 2)), np.array([0, 1, 1, 0])


def training_functions(gradient_descent=None, loss_fn=None):
    """The student's ``(gradient_descent, loss_fn)`` where they run, nnlib's otherwise, and who wrote them.

    Returns
    -------
    gradient_descent, loss_fn : callables
    who : str, e.g. "your gradient_descent and two_layer_loss"

    >>> def stub(*args):
    ...     raise NotImplementedError
    >>> training_functions(stub, stub)[2]
    "nnlib's gradient descent and loss (yours are not written yet)"
    """
    params, x, y = _probe()
    loss_fn, loss_who = (loss_fn, "yours") if loss_fn is not None and attempted(lambda: loss_fn(params, x, y)[0]) \
        else (dense.two_layer_loss, "nnlib's")
    gd_ok = gradient_descent is not None and attempted(lambda: gradient_descent(loss_fn, dict(params), x, y, 0.1, 1)[1])
    gradient_descent, gd_who = (gradient_descent, "yours") if gd_ok else (optim.gradient_descent, "nnlib's")
    if gd_who == loss_who == "yours":
        who = "your gradient_descent and two_layer_loss"
    elif gd_who == loss_who:
        who = "nnlib's gradient descent and loss (yours are not written yet)"
    else:
        who = f"{gd_who} gradient descent, {loss_who} loss"
    return gradient_descent, loss_fn, who


def network_predictor(params, affine_forward=None, relu_forward=None):
    """``predict(points) -> scores (G, K)`` of the two-layer network, with your layers or nnlib's.

    >>> params = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.array([[1.0, 0.0], [0.0, 1.0]]), "b2": np.zeros(2)}
    >>> network_predictor(params)(np.array([[2.0, -1.0]]))
    array([[2., 0.]])
    """
    affine = dense.affine_forward
    if affine_forward is not None and attempted(lambda: affine_forward(np.zeros((1, 2)), np.eye(2), np.zeros(2))[0]):
        affine = affine_forward
    relu_layer = (lambda z: (relu(z), None))  # noqa: E731
    if relu_forward is not None and attempted(lambda: relu_forward(np.zeros((1, 2)))[0]):
        relu_layer = relu_forward

    def predict(points):
        hidden = relu_layer(affine(points, params["W1"], params["b1"])[0])[0]
        return affine(hidden, params["W2"], params["b2"])[0]

    return predict


def _say_nnlibs(names):
    print(f"(nnlib's {names} used here: yours {'is' if ' and ' not in names else 'are'} not written yet)")


def neuron_functions(neuron_forward, neuron_backward):
    """The student's ``(neuron_forward, neuron_backward)`` once both run, else a pair computed with nnlib's
    sigmoid (and a printed line saying so), so that a cell below an unfinished exercise still runs.

    >>> def stub(*args):
    ...     raise NotImplementedError
    >>> forward, backward = neuron_functions(stub, stub)
    (nnlib's neuron_forward and neuron_backward used here: yours are not written yet)
    >>> backward(forward(0.5, -1.0, 2.0, 1.0)[1])
    (-0.5, -0.25)
    """
    if attempted(lambda: neuron_backward(neuron_forward(0.5, -1.0, 2.0, 1.0)[1])):
        return neuron_forward, neuron_backward
    _say_nnlibs("neuron_forward and neuron_backward")

    def forward(w, b, x, y):
        return _neuron_values(w, b, x, y)["J"], (w, b, x, y)

    def backward(cache):
        v = _neuron_values(*cache)
        return v["dJ/dw"], v["dJ/db"]

    return forward, backward


def gradient_checker(numerical_gradient):
    """The student's ``numerical_gradient`` once it runs, else nnlib's (and a printed line saying so)."""
    if attempted(numerical_gradient, lambda v: float(np.sum(v**2)), np.ones(2), 1e-5):
        return numerical_gradient
    _say_nnlibs("numerical_gradient")
    return gradcheck.numerical_gradient


def affine_functions(affine_forward, affine_backward):
    """The student's ``(affine_forward, affine_backward)`` once both run, else nnlib's (and a printed line)."""
    x, w, b = np.ones((2, 3)), np.ones((3, 2)), np.zeros(2)
    if attempted(lambda: affine_backward(np.ones((2, 2)), affine_forward(x, w, b)[1])):
        return affine_forward, affine_backward
    _say_nnlibs("affine_forward and affine_backward")
    return dense.affine_forward, dense.affine_backward


def loss_function(two_layer_loss):
    """The student's ``two_layer_loss`` once it runs, else nnlib's (and a printed line saying so)."""
    _, loss_fn, _ = training_functions(None, two_layer_loss)
    if loss_fn is not two_layer_loss:
        _say_nnlibs("two_layer_loss")
    return loss_fn


# -- the chain rule on one neuron ----------------------------------------------------------------


def _neuron_values(w, b, x, y):
    z = w * x + b
    y_hat = float(sigmoid(np.float64(z)))
    dj_dyhat = 2 * (y_hat - y)
    dyhat_dz = y_hat * (1 - y_hat)
    return {"z": z, "y_hat": y_hat, "J": (y_hat - y) ** 2, "dJ/dy_hat": dj_dyhat, "dy_hat/dz": dyhat_dz,
            "dJ/dz": dj_dyhat * dyhat_dz, "dJ/dw": dj_dyhat * dyhat_dz * x, "dJ/db": dj_dyhat * dyhat_dz}


def plot_neuron_graph(w=0.5, b=-1.0, x=2.0, y=1.0, neuron_forward=None, neuron_backward=None, *, figsize=(9, 3.2)):
    """The graph of ``J = (sigmoid(w x + b) - y)**2``: values forward (black), gradients backward (red).

    With your ``neuron_forward``/``neuron_backward`` the J and the two weight gradients shown are
    yours (the title says so); each local derivative is the chain rule's factor on that edge.

    Returns
    -------
    matplotlib.figure.Figure; ``fig.values`` holds the numbers drawn.
    """
    v = _neuron_values(w, b, x, y)
    who = "nnlib's formulas"
    if neuron_forward is not None and neuron_backward is not None and attempted(lambda: neuron_backward(neuron_forward(w, b, x, y)[1])):
        try:
            J, cache = neuron_forward(w, b, x, y)
            dw, db = neuron_backward(cache)
            v.update({"J": float(J), "dJ/dw": float(dw), "dJ/db": float(db)})
            who = "your neuron_forward and neuron_backward"
        except Exception:  # noqa: BLE001 - a broken attempt must not break the picture
            who = "nnlib's formulas (yours raised an error)"
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(-0.2, 10.2)
    ax.set_ylim(-0.6, 4.2)
    ax.axis("off")
    nodes = {"w": (0.5, 3.3), "x": (0.5, 1.9), "b": (0.5, 0.5), "z": (3.6, 1.9), "y_hat": (6.3, 1.9), "J": (9.2, 1.9)}
    labels = {"w": f"w = {w:g}", "x": f"x = {x:g}", "b": f"b = {b:g}", "z": "z = w x + b", "y_hat": "ŷ = σ(z)",
              "J": "J = (ŷ − y)²"}
    values = {"z": f"z = {v['z']:.4g}", "y_hat": f"ŷ = {v['y_hat']:.4g}", "J": f"J = {v['J']:.4g}   (y = {y:g})"}
    box = {"boxstyle": "round,pad=0.35", "fc": "#f2f2f2", "ec": "0.4"}
    for name, (cx, cy) in nodes.items():
        ax.text(cx, cy, labels[name], ha="center", va="center", fontsize=10, bbox=box)
        if name in values:
            ax.text(cx, cy + 0.55, values[name], ha="center", va="bottom", fontsize=9)
    edges = [
        ("w", "z", f"∂z/∂w = x = {x:g}", f"∂J/∂w = {v['dJ/dw']:.4g}"),
        ("x", "z", None, None),
        ("b", "z", "∂z/∂b = 1", f"∂J/∂b = {v['dJ/db']:.4g}"),
        ("z", "y_hat", f"∂ŷ/∂z = ŷ(1−ŷ) = {v['dy_hat/dz']:.4g}", f"∂J/∂z = {v['dJ/dz']:.4g}"),
        ("y_hat", "J", f"∂J/∂ŷ = 2(ŷ−y) = {v['dJ/dy_hat']:.4g}", None),
    ]
    for start, end, local, total in edges:
        (x0, y0), (x1, y1) = nodes[start], nodes[end]
        x0 += 0.75 if start in ("w", "x", "b") else 0.8
        x1 -= 0.85
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 1.3})
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        if local:
            above = start == "w"
            ax.text(mx + (0.35 if start in ("w", "b") else 0), my + (0.3 if above else -0.3 if start == "b" else -0.22),
                    local, ha="center", va="bottom" if above else "top", fontsize=8.5, color="tab:red")
        if total:
            place = {"w": (0.45, 3.3 - 0.55), "b": (0.45, 0.5 - 0.55), "z": (3.6, 1.9 - 0.6)}.get(start)
            if place:
                ax.text(place[0], place[1], total, ha="center", va="top", fontsize=9, color="tab:red", weight="bold")
    ax.set_title(f"Forward values (black) and the chain rule's gradients (red), computed with {who}", fontsize=10)
    fig.values = v
    return fig


# -- numerical gradients -------------------------------------------------------------------------


def plot_difference_errors(numerical_gradient=None, *, x0=1.0, figsize=(7, 3.2)):
    """Error of the central difference (yours) and of the forward difference, against the step h.

    The derivative of ``sin`` at ``x0`` is known exactly (``cos(x0)``); the errors fall like ``h``
    (forward) and ``h**2`` (central) until rounding, about ``eps / h``, takes over.

    Returns
    -------
    matplotlib.figure.Figure; ``fig.errors`` maps "central" and "forward" to arrays over ``fig.steps``.
    """
    f = lambda v: float(np.sum(np.sin(v)))  # noqa: E731
    x = np.array([float(x0)])
    ours, who = student_or_reference(numerical_gradient, gradcheck.numerical_gradient, f, x.copy(), 1e-5) \
        if numerical_gradient is not None else (gradcheck.numerical_gradient, "nnlib's")
    steps = np.logspace(-13, -1, 37)
    exact = np.cos(x0)
    central, forward = [], []
    for h in steps:
        try:
            central.append(abs(float(np.asarray(ours(f, x.copy(), h)).ravel()[0]) - exact))
        except Exception:  # noqa: BLE001 - a broken attempt must not break the plot
            central.append(np.nan)
        forward.append(abs((np.sin(x0 + h) - np.sin(x0)) / h - exact))
    central, forward = np.maximum(central, 1e-17), np.maximum(forward, 1e-17)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.loglog(steps, forward, "o-", ms=3, color="tab:orange", label="forward  (f(x+h) - f(x)) / h")
    ax.loglog(steps, central, "o-", ms=3, color="tab:blue", label=f"central  (f(x+h) - f(x-h)) / 2h  ({who})")
    ax.axvline(1e-5, color="0.5", ls=":", lw=1)
    ax.text(1.5e-5, 0.93, "h = 1e-5 (the course's step)", fontsize=8, color="0.4", va="top",
            transform=ax.get_xaxis_transform())
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of d sin(x)/dx at x = 1")
    ax.set_title("Central differences are far more accurate, until rounding errors (~eps/h) take over", fontsize=10)
    ax.grid(True, which="major", color="0.9")
    ax.legend(fontsize=8, loc="lower right")
    fig.errors, fig.steps = {"central": central, "forward": forward}, steps
    return fig


# -- 2-D classifiers -------------------------------------------------------------------------------


def _light(colour):
    return tuple(REGION_LIGHTNESS + (1 - REGION_LIGHTNESS) * c for c in to_rgb(colour))


def _labels(predict, points):
    """Predicted classes of ``points`` (G, 2): argmax of the scores, or the labels themselves."""
    with np.errstate(all="ignore"):
        out = np.asarray(predict(points))
    return out.argmax(axis=1) if out.ndim == 2 else out.astype(int)


def plot_decision_boundary(predict, x, y, ax=None, *, title=None, resolution=150, margin=0.15, figsize=(4.5, 4)):
    """Colour the plane by the class ``predict`` gives, and draw the points ``x`` coloured by ``y``.

    Parameters
    ----------
    predict : ``predict(points (G, 2)) -> scores (G, K)`` or labels (G,)
    x : ndarray of shape (N, 2); y : ndarray of shape (N,), int labels
    ax : a matplotlib Axes to draw on (a new figure when None)

    Returns
    -------
    the Figure (or the Axes' figure); ``fig.accuracy`` is the fraction of ``x`` classified as ``y``.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
    k = int(max(np.max(y) + 1, 2))
    low, high = x.min(axis=0), x.max(axis=0)
    pad = margin * (high - low)
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])  # (G, 2)
    regions = _labels(predict, grid).reshape(gx.shape)
    colours = [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(k)]
    ax.pcolormesh(gx, gy, regions, cmap=ListedColormap([_light(c) for c in colours]), vmin=-0.5, vmax=k - 0.5,
                  shading="auto", rasterized=True)
    ax.contour(gx, gy, regions, levels=np.arange(k) + 0.5, colors="0.35", linewidths=0.7)
    ax.scatter(x[:, 0], x[:, 1], c=[colours[i] for i in y], s=14, edgecolors="0.1", linewidths=0.4)
    accuracy = float(np.mean(_labels(predict, x) == y))
    ax.set_title(f"{title + ': ' if title else ''}accuracy {accuracy:.0%}", fontsize=10)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    fig = fig or ax.figure
    fig.accuracy = accuracy
    return fig


def _finite_prefix(losses):
    losses = np.asarray(losses, dtype=np.float64)
    bad = ~np.isfinite(losses)
    return losses[: np.argmax(bad)] if bad.any() else losses


def diverged(losses):
    """True if the loss became non-finite or rose above ``DIVERGENCE_FACTOR`` times its start.

    >>> diverged([1.1, 0.9, 0.5]), diverged([1.1, 5.0, 30.0]), diverged([1.0, float("nan")])
    (False, True, True)
    """
    losses = np.asarray(losses, dtype=np.float64)
    return bool(len(losses) and (not np.all(np.isfinite(losses)) or losses.max() > DIVERGENCE_FACTOR * losses[0]))


def plot_losses(curves, ax=None, *, title="Training loss", log="auto", figsize=(5, 3.2)):
    """Loss against step, one curve per entry of ``curves`` (a dict label -> losses, or one list).

    ``log``: a log-scale loss axis (True), linear (False), or "auto": log when the losses span more
    than a factor of 10, where a linear axis would flatten the end of training.

    Returns the figure (or the Axes' figure).
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.subplots()
    if not isinstance(curves, dict):
        curves = {None: curves}
    for i, (label, losses) in enumerate(curves.items()):
        shown = _finite_prefix(losses)
        ax.plot(np.arange(len(shown)), shown, color=CURVE_COLOURS[i % len(CURVE_COLOURS)], lw=1.6, label=label)
    if log == "auto":
        finite = np.concatenate([_finite_prefix(v) for v in curves.values()] or [np.ones(1)])
        finite = finite[finite > 0]
        log = finite.size > 0 and finite.max() > 10 * finite.min()
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ax.set_xlabel("step")
    ax.set_ylabel("loss J")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", color="0.9")
    if any(label is not None for label in curves):
        ax.legend(fontsize=8)
    return fig or ax.figure


def _minor_label(value, _):
    """Label the minor ticks 2 and 5 of each decade of a log axis, plainly (0.2, 5), not as 2x10^-1."""
    leading = f"{value:.0e}"[0]
    return f"{value:g}" if leading in "25" else ""


def plot_training(params, losses, x, y, *, predict=None, title=None, figsize=(9, 3.6)):
    """A run's summary: the decision boundary of ``params`` and the loss curve, side by side."""
    fig = Figure(figsize=figsize, layout="constrained")
    ax_boundary, ax_loss = fig.subplots(1, 2)
    _draw_training(ax_boundary, ax_loss, predict or network_predictor(params), losses, x, y, title)
    return fig


def _draw_training(ax_boundary, ax_loss, predict, losses, x, y, title, total_steps=None):
    ax_boundary.clear()
    ax_loss.clear()
    plot_decision_boundary(predict, x, y, ax_boundary, title=title)
    plot_losses(list(losses), ax_loss, title=f"loss after {len(losses)} steps: {float(losses[-1]):.3f}" if len(losses) else "loss")
    if total_steps:
        ax_loss.set_xlim(0, total_steps)


def train_live(gradient_descent, loss_fn, params, x, y, *, lr, steps, every, show=True, figsize=(9, 3.6)):
    """Run ``gradient_descent`` for ``steps`` steps in chunks of ``every``, redrawing after each chunk.

    Parameters
    ----------
    gradient_descent : ``gradient_descent(loss_fn, params, x, y, lr, num_steps) -> (params, losses)``
        (yours; nnlib's while yours is not written)
    loss_fn : ``loss_fn(params, x, y) -> (loss, grads)`` (your ``two_layer_loss``, or nnlib's)
    params : dict of the two-layer network's parameters (not modified)
    show : update a figure in the notebook's output (IPython's ``display``) as training runs

    Returns
    -------
    params : the trained parameters
    losses : ndarray of shape (steps,), the loss before each step
    """
    gd, loss_fn, who = training_functions(gradient_descent, loss_fn)
    fig = Figure(figsize=figsize, layout="constrained")
    ax_boundary, ax_loss = fig.subplots(1, 2)
    handle = None
    if show:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            handle = display(fig, display_id=True)
    losses = []
    with np.errstate(all="ignore"):
        for start in range(0, int(steps), int(every)):
            params, chunk = gd(loss_fn, params, x, y, lr, min(int(every), int(steps) - start))
            losses.extend(float(v) for v in chunk)
            if handle is not None:
                _draw_training(ax_boundary, ax_loss, network_predictor(params), losses, x, y,
                               f"step {len(losses)}", total_steps=steps)
                handle.update(fig)
    return params, np.asarray(losses)


def _train_quietly(gd, loss_fn, params, x, y, lr, steps):
    with np.errstate(all="ignore"):
        new, losses = gd(loss_fn, params, x, y, lr, steps)
    return new, np.asarray(losses, dtype=np.float64)


def compare_learning_rates(gradient_descent, loss_fn, params, x, y, lrs=(0.01, 1.0, 20.0), *, steps=300,
                           names=("too small", "good", "too large"), figsize=(9, 5.6)):
    """Train from the same ``params`` with each learning rate; boundaries on top, loss curves below.

    Returns
    -------
    matplotlib.figure.Figure; ``fig.losses`` maps each learning rate to its losses.
    """
    gd, loss_fn, who = training_functions(gradient_descent, loss_fn)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, len(lrs), height_ratios=(1.25, 1))
    runs = {}
    for i, lr in enumerate(lrs):
        trained, losses = _train_quietly(gd, loss_fn, params, x, y, lr, steps)
        runs[lr] = losses
        name = f" ({names[i]})" if names and i < len(names) else ""
        plot_decision_boundary(network_predictor(trained), x, y, axes[0, i], title=f"η = {lr:g}{name}")
        plot_losses(losses, axes[1, i], title=_run_title(trained, losses, x), log=True)
        axes[1, i].lines[0].set_color(CURVE_COLOURS[i % len(CURVE_COLOURS)])
    low = min(np.nanmin(_finite_prefix(v)) for v in runs.values())
    high = max(np.nanmax(_finite_prefix(v)) for v in runs.values())
    for ax in axes[1]:
        ax.set_ylim(max(low * 0.8, 1e-4), high * 1.25)
    fig.suptitle(f"{steps} steps of gradient descent from the same start ({who})", fontsize=10)
    fig.losses = runs
    return fig


def plot_learning_rate(gradient_descent, loss_fn, params, x, y, lr, *, steps=300, figsize=(9, 3.6)):
    """One run at learning rate ``lr``: the boundary reached and the loss curve."""
    gd, loss_fn, who = training_functions(gradient_descent, loss_fn)
    trained, losses = _train_quietly(gd, loss_fn, params, x, y, lr, steps)
    fig = Figure(figsize=figsize, layout="constrained")
    ax_boundary, ax_loss = fig.subplots(1, 2)
    plot_decision_boundary(network_predictor(trained), x, y, ax_boundary, title=f"η = {lr:.3g}, {steps} steps")
    plot_losses(losses, ax_loss, title=f"{_run_title(trained, losses, x)} ({who})")
    fig.losses = losses
    return fig


def learning_rate_widget(gradient_descent, loss_fn, params, x, y, *, steps=300, lr=1.0, figsize=(9, 3.6)):
    """A log-scale learning-rate slider (1e-3 to 1e2): each value retrains from ``params`` and redraws.

    Returns
    -------
    ipywidgets.VBox(slider, output); its ``slider`` attribute is the FloatLogSlider and ``figure``
    the figure last drawn.
    """
    import ipywidgets as widgets
    from IPython.display import display

    slider = widgets.FloatLogSlider(value=lr, base=10, min=-3, max=2, step=0.25, description="η (lr)",
                                    continuous_update=False, readout_format=".3g")
    output = widgets.Output()
    box = widgets.VBox([slider, output])
    box.slider, box.figure = slider, None

    def redraw(change=None):
        box.figure = plot_learning_rate(gradient_descent, loss_fn, params, x, y, slider.value, steps=steps, figsize=figsize)
        output.clear_output(wait=True)
        with output:
            display(box.figure)

    slider.observe(redraw, names="value")
    redraw()
    return box


# -- held-out data: the digits synthesis -----------------------------------------------------------


def dead_units(params, x):
    """How many hidden units of the two-layer network output 0 for every row of ``x`` (dead ReLUs).

    A dead unit passes no gradient back (the ReLU's derivative is 0 wherever its input is <= 0), so
    its weights stop changing: once every unit is dead, only ``b2`` still moves.

    >>> params = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([0.0, -5.0]), "W2": np.ones((2, 2)), "b2": np.zeros(2)}
    >>> dead_units(params, np.array([[1.0], [2.0]]))
    1
    """
    z1 = np.asarray(x, dtype=np.float64) @ params["W1"] + params["b1"]  # (N, H)
    return int(np.sum(~np.any(z1 > 0, axis=0)))


def _run_title(trained, losses, x):
    """A loss panel's title that says truthfully what happened to the run."""
    hidden = np.shape(trained["b1"])[0]
    if not np.all(np.isfinite(losses)):
        return "diverged: the loss overflowed"
    if dead_units(trained, x) == hidden:
        return f"every ReLU dead, loss stuck at {losses[-1]:.3g}"
    return ("diverged: " if diverged(losses) else "") + f"final loss {losses[-1]:.3g}"


class EpochRecorder:
    """An ``on_epoch(params)`` hook: the loss and accuracy of the two-layer network on the training
    and the validation data after each epoch, computed with nnlib's network (whoever trained it).

    Attributes ``train_loss``, ``val_loss``, ``train_accuracy``, ``val_accuracy``: lists, one entry
    per epoch.
    """

    def __init__(self, x_train, y_train, x_val, y_val):
        self.data = {"train": (x_train, y_train), "val": (x_val, y_val)}
        self.train_loss, self.val_loss, self.train_accuracy, self.val_accuracy = [], [], [], []

    def __call__(self, params):
        for split, (x, y) in self.data.items():
            scores = network_predictor(params)(x)  # (N, K)
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            getattr(self, f"{split}_loss").append(float(-np.mean(log_probs[np.arange(len(y)), y])))
            getattr(self, f"{split}_accuracy").append(float(np.mean(np.argmax(scores, axis=1) == y)))

    def __len__(self):
        return len(self.val_accuracy)


def _reference_train_digits(x, y, rng, on_epoch=None):
    """nnlib's answer to chapter 3's train_digits: 8 epochs of minibatch SGD on a 256-64-10 network."""
    params = {"W1": init.he_normal((x.shape[1], 64), rng=rng), "b1": np.zeros(64),
              "W2": 0.1 * init.he_normal((64, 10), rng=rng), "b2": np.zeros(10)}
    return optim.minibatch_sgd(dense.two_layer_loss, params, x, y, lr=0.5, batch_size=50, epochs=8, rng=rng,
                               on_epoch=on_epoch)[0]


def train_with_curves(train_digits, x_train, y_train, x_val, y_val, *, seed=0, threshold=None, figsize=(9, 3.4)):
    """Train with ``train_digits(x, y, rng, on_epoch)`` (yours; nnlib's while yours is not written),
    recording after each epoch, and draw training beside validation: loss on the left, accuracy on the right.

    Returns
    -------
    matplotlib.figure.Figure with attributes ``params`` (the trained parameters), ``recorder``
    (an ``EpochRecorder``) and ``who`` (whose training ran).
    """
    recorder = EpochRecorder(x_train, y_train, x_val, y_val)
    trained, who = None, "your train_digits"
    why = "your train_digits is not written yet"
    if train_digits is not None:
        try:
            trained = train_digits(x_train, y_train, np.random.default_rng(seed), on_epoch=recorder)
            if not isinstance(trained, dict) or not {"W1", "b1", "W2", "b2"} <= set(trained):
                why, trained = "your train_digits did not return a dict of W1, b1, W2, b2", None
            else:
                network_predictor(trained)(x_val[:1])  # shapes that fit the data, or an exception
        except NotImplementedError:
            trained = None
        except Exception as error:  # noqa: BLE001 - a broken attempt must not break the plot
            why, trained = f"your train_digits raised {type(error).__name__}", None
    if trained is None:
        recorder = EpochRecorder(x_train, y_train, x_val, y_val)
        trained, who = _reference_train_digits(x_train, y_train, np.random.default_rng(seed), recorder), \
            f"nnlib's training ({why})"
    note = ""
    if len(recorder) == 0:  # on_epoch was never called: show the final state only
        recorder(trained)
        note = " (on_epoch was not called: the final state only)"
    fig = Figure(figsize=figsize, layout="constrained")
    ax_loss, ax_accuracy = fig.subplots(1, 2)
    epochs = np.arange(1, len(recorder) + 1)
    for ax, what, label in ((ax_loss, "loss", "loss J"), (ax_accuracy, "accuracy", "accuracy")):
        ax.plot(epochs, getattr(recorder, f"train_{what}"), "o-", color="tab:blue", lw=1.6, label="training")
        ax.plot(epochs, getattr(recorder, f"val_{what}"), "o-", color="tab:orange", lw=1.6, label="validation (held out)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, color="0.9")
    if threshold is not None:
        ax_accuracy.axhline(threshold, color="0.4", ls="--", lw=1, label=f"{threshold:.0%} needed")
    ax_loss.set_title("Loss: training and validation", fontsize=10)
    ax_accuracy.set_title(f"validation accuracy {recorder.val_accuracy[-1]:.1%}, training {recorder.train_accuracy[-1]:.1%}",
                          fontsize=10)
    ax_accuracy.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{who}{note}", fontsize=10)
    fig.params, fig.recorder, fig.who = trained, recorder, who
    return fig
