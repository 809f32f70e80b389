"""Plots, a widget and the experiments of the recurrent-networks chapter.

Every function takes the student's own functions and falls back to nnlib's while one is not written
yet (``nnlib.viz.student_or_reference``); titles and legends say which was used. Figures are
``matplotlib.figure.Figure`` objects (not pyplot).

- ``rnn_functions``: the student's ``(rnn_forward, rnn_backward)`` or nnlib's, and who wrote them;
- ``jacobian_norms``: ``||dh_T / dh_{T-L}||`` for every lag L, measured by the student's BPTT;
- ``sequence_jacobian_norms``: the same along a given sequence with given weights (a trained network);
- ``plot_gradient_norms``: those norms against the lag, one curve per spectral radius, log scale;
- ``spectral_radius_widget``: the same plot with the spectral radius (and the input scale) on sliders;
- ``sequence_loss_with``: the chapter's regression loss built from the student's forward and BPTT;
- ``train_with_heldout``: truncated BPTT epoch by epoch, with the held-out loss after each epoch;
- ``plot_training_curves``: training beside held-out loss for several runs (clipping or not);
- ``plot_predictions``: a held-out wave, its noisy inputs and the network's one-step predictions.

Shape letters: N sequences, T time steps, D inputs, H hidden units, M outputs, L lag.
"""

import numpy as np
from matplotlib.figure import Figure

from nnlib import rnn
from nnlib.viz import attempted

#: The spectral radii of the measurement: below, at and above 1.
RADII = (0.8, 1.0, 1.2)
RADIUS_COLOURS = {0.8: "tab:blue", 1.0: "tab:green", 1.2: "tab:red"}


def _nnlib_forward(x, h0, w_x, w_h, b, activation="tanh"):
    return rnn.rnn_forward(x, h0, w_x, w_h, b, activation=activation)


def _probe_sequence():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((2, 3, 2)), np.zeros((2, 3)), rng.standard_normal((2, 3)),
            0.5 * rng.standard_normal((3, 3)), np.zeros(3))


def rnn_functions(rnn_forward=None, rnn_backward=None):
    """The student's ``(rnn_forward, rnn_backward)`` where both run, else nnlib's, and who wrote them.

    >>> def stub(*args):
    ...     raise NotImplementedError
    >>> rnn_functions(stub, stub)[2]
    "nnlib's (yours is not written yet)"
    """
    probe = _probe_sequence()

    def both(*args):
        h, cache = rnn_forward(*args)
        return (h, *rnn_backward(np.ones_like(h), cache))

    if rnn_forward is not None and rnn_backward is not None and attempted(both, *probe, "tanh"):
        return rnn_forward, rnn_backward, "yours"
    return _nnlib_forward, rnn.rnn_backward, "nnlib's (yours is not written yet)"


def recurrent_weights(radius, H, rng):
    """``radius`` times a random orthogonal (H, H) matrix: every eigenvalue has modulus ``radius``.

    >>> w = recurrent_weights(0.5, 4, np.random.default_rng(0))
    >>> float(np.round(np.abs(np.linalg.eigvals(w)).max(), 6))
    0.5
    """
    q, r = np.linalg.qr(rng.standard_normal((H, H)))
    return radius * q * np.sign(np.diag(r))


def jacobian_norms(radius, rnn_forward=None, rnn_backward=None, *, T=40, H=16, D=4, input_scale=0.0,
                   activation="tanh", seed=0):
    """``||dh_T / dh_{T-L}||`` (spectral norm) for L = 1 .. T, with your forward and BPTT.

    One sequence of T steps is run with ``w_h`` of spectral radius ``radius``, input weights of
    standard deviation ``input_scale`` and ``b = 0`` from ``h_0 = 0``. For each lag L, the last L
    steps are run again from the state they started from, as a batch of H copies; a gradient
    ``e_i`` on the last state of copy i makes BPTT's ``dh0`` row i of the (H, H) Jacobian.

    Returns
    -------
    norms : ndarray of shape (T,), ``norms[L - 1]`` for lag L
    """
    rng = np.random.default_rng(seed)
    w_h = recurrent_weights(radius, H, rng)
    w_x = input_scale * rng.standard_normal((D, H))
    x = rng.standard_normal((1, T, D))
    return sequence_jacobian_norms(x, w_x, w_h, np.zeros(H), rnn_forward, rnn_backward, activation=activation)


def sequence_jacobian_norms(x, w_x, w_h, b, rnn_forward=None, rnn_backward=None, *, activation="tanh"):
    """``||dh_T / dh_{T-L}||`` for L = 1 .. T along one given sequence ``x`` of shape (1, T, D), from
    ``h_0 = 0``, with your forward and BPTT (nnlib's while yours are not written).

    Returns
    -------
    norms : ndarray of shape (T,), ``norms[L - 1]`` for lag L
    """
    forward, backward, _ = rnn_functions(rnn_forward, rnn_backward)
    _, T, _ = x.shape
    H = w_h.shape[0]
    h0 = np.zeros((1, H))
    h, _ = forward(x, h0, w_x, w_h, b, activation)
    norms = np.empty(T)
    for lag in range(1, T + 1):
        start = h0 if lag == T else h[:, T - lag - 1]  # the state the last `lag` steps start from
        xs, hs = np.repeat(x[:, T - lag:], H, axis=0), np.repeat(start, H, axis=0)
        out, cache = forward(xs, hs, w_x, w_h, b, activation)
        dout = np.zeros_like(out)
        dout[:, -1] = np.eye(H)
        jacobian = backward(dout, cache)[1]  # (H, H): row i is e_i^T dh_T/dh_{T-L}
        norms[lag - 1] = np.linalg.norm(jacobian, 2)
    return norms


def plot_gradient_norms(rnn_forward=None, rnn_backward=None, radii=RADII, *, T=40, input_scale=0.0,
                        activation="tanh", ax=None, figsize=(6, 3.6)):
    """``||dh_T/dh_{T-L}||`` against the lag L, one curve per spectral radius, on a log scale.

    The figure's ``norms`` attribute maps each radius to its array of norms.
    """
    _, _, who = rnn_functions(rnn_forward, rnn_backward)
    fig = None
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    norms = {}
    lags = np.arange(1, T + 1)
    for radius in radii:
        with np.errstate(all="ignore"):
            norms[radius] = jacobian_norms(radius, rnn_forward, rnn_backward, T=T, input_scale=input_scale,
                                           activation=activation)
        ax.semilogy(lags, np.maximum(norms[radius], 1e-300), color=RADIUS_COLOURS.get(radius),
                    label=f"spectral radius {radius:g}")
    ax.set_xlabel("lag T - t (steps back in time)")
    ax.set_ylabel(r"$\|\partial h_T / \partial h_t\|$")
    ax.set_title(f"{activation}, input scale {input_scale:g}; forward and BPTT: {who}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    target = fig if fig is not None else ax.figure
    target.norms = norms
    return target


def spectral_radius_widget(rnn_forward=None, rnn_backward=None, *, T=40, radius=1.0, figsize=(6, 3.6)):
    """Sliders for the spectral radius (0.5 to 1.5) and the input scale, a menu for the activation;
    each change measures ``||dh_T/dh_t||`` again with your functions and redraws, beside the
    radii 0.8, 1 and 1.2 in grey.

    Returns
    -------
    ipywidgets.VBox; its ``slider``, ``scale`` and ``activation`` attributes are the controls and
    ``figure`` the figure last drawn.
    """
    import ipywidgets as widgets
    from IPython.display import display

    slider = widgets.FloatSlider(value=radius, min=0.5, max=1.5, step=0.05, description="radius ρ",
                                 continuous_update=False)
    scale = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="input scale",
                                continuous_update=False)
    activation = widgets.Dropdown(options=["tanh", "sigmoid"], value="tanh", description="activation")
    output = widgets.Output()
    box = widgets.VBox([widgets.HBox([slider, scale, activation]), output])
    box.slider, box.scale, box.activation, box.figure = slider, scale, activation, None

    def redraw(change=None):
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
        lags = np.arange(1, T + 1)
        with np.errstate(all="ignore"):
            for reference in RADII:
                norms = jacobian_norms(reference, rnn_forward, rnn_backward, T=T, input_scale=scale.value,
                                       activation=activation.value)
                ax.semilogy(lags, np.maximum(norms, 1e-300), color="0.75", lw=1)
                ax.annotate(f"{reference:g}", (lags[-1], max(norms[-1], 1e-300)), fontsize=7, color="0.5")
            norms = jacobian_norms(slider.value, rnn_forward, rnn_backward, T=T, input_scale=scale.value,
                                   activation=activation.value)
        ax.semilogy(lags, np.maximum(norms, 1e-300), color="tab:purple", lw=2, label=f"ρ = {slider.value:.2f}")
        ax.set_xlabel("lag T - t")
        ax.set_ylabel(r"$\|\partial h_T / \partial h_t\|$")
        ax.set_title(f"{activation.value}, input scale {scale.value:g}; forward and BPTT: "
                     f"{rnn_functions(rnn_forward, rnn_backward)[2]}", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.norms = norms
        box.figure = fig
        output.clear_output(wait=True)
        with output:
            display(fig)

    for control in (slider, scale, activation):
        control.observe(redraw, names="value")
    redraw()
    return box


# -- training on a sequence task ---------------------------------------------------------------------


def sequence_loss_with(rnn_forward=None, rnn_backward=None, *, fallback=True):
    """``(loss_fn, who)``: the regression loss of ``nnlib.rnn.rnn_regression_loss`` computed with your
    forward and BPTT (nnlib's while yours are not written), ``loss_fn(params, x, target, h0) ->
    (loss, grads, h_last)``.

    With ``fallback=False`` the given functions are used as they are, written or not: a graded
    synthesis must train with the student's own pieces, and an unwritten one then raises its
    ``NotImplementedError`` (the check says which is not written) instead of calling nnlib's.
    """
    if fallback:
        forward, backward, who = rnn_functions(rnn_forward, rnn_backward)
    else:
        forward, backward, who = rnn_forward, rnn_backward, "yours"

    def sequence_loss(params, x, target, h0):
        h, cache = forward(x, h0, params["w_x"], params["w_h"], params["b"], "tanh")  # (N, T, H)
        N, T, H = h.shape
        pred = h @ params["w_y"] + params["b_y"]  # (N, T, M)
        diff = pred - target
        loss = float(np.mean(diff * diff))
        dpred = 2 * diff / diff.size
        grads = {"w_y": h.reshape(N * T, H).T @ dpred.reshape(N * T, -1), "b_y": dpred.sum(axis=(0, 1))}
        _, _, grads["w_x"], grads["w_h"], grads["b"] = backward(dpred @ params["w_y"].T, cache)
        return loss, grads, h[:, -1]

    return sequence_loss, who


def _reference_train(loss_fn, params, x, target, lr, chunk, num_epochs, max_norm=None):
    return rnn.train_tbptt(loss_fn, params, x, target, lr=lr, chunk=chunk, num_epochs=num_epochs, max_norm=max_norm)


def train_with_heldout(train_tbptt, loss_fn, params, x, target, x_heldout, target_heldout, *, lr, chunk,
                       num_epochs, max_norm=None):
    """Train one epoch at a time with ``train_tbptt`` (yours, or nnlib's while yours is not written)
    and measure the held-out loss after each epoch (every held-out sequence run from h = 0).

    Returns
    -------
    params : the trained parameters
    train : ndarray of shape (num_epochs,), the mean chunk loss of each epoch
    heldout : ndarray of shape (num_epochs,)
    who : str
    """
    probe = (loss_fn, params, x[:1, :2], target[:1, :2], 0.0, 2, 1, None)
    if train_tbptt is not None and attempted(lambda *a: train_tbptt(*a)[1], *probe):
        train_fn, who = train_tbptt, "yours"
    else:
        train_fn, who = _reference_train, "nnlib's (yours is not written yet)"
    H = np.shape(params["w_h"])[0]
    train, heldout = [], []
    with np.errstate(all="ignore"):
        for _ in range(num_epochs):
            params, losses = train_fn(loss_fn, params, x, target, lr, chunk, 1, max_norm)
            train.append(np.mean(losses))
            loss = loss_fn(params, x_heldout, target_heldout, np.zeros((len(x_heldout), H)))[0]
            heldout.append(loss if np.isfinite(loss) else np.inf)
    return params, np.array(train), np.array(heldout), who


def plot_training_curves(curves, *, baseline=None, threshold=None, title="Training and held-out loss",
                         figsize=(7, 3.6)):
    """Training (dashed) beside held-out (solid) loss per epoch, one colour per run, log scale.

    ``curves`` maps a label to ``(train, heldout)`` arrays; a run whose loss became inf or NaN is cut
    where it diverged and marked with an x. ``baseline`` and ``threshold`` draw horizontal lines.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    colours = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")
    for (label, (train, heldout)), colour in zip(curves.items(), colours):
        for values, style, kind in ((train, "--", "training"), (heldout, "-", "held-out")):
            values = np.asarray(values, dtype=np.float64)
            finite = np.isfinite(values) & (values < 1e6)
            stop = len(values) if finite.all() else int(np.argmin(finite))
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs[:stop], values[:stop], style, color=colour, label=f"{label}, {kind}")
            if stop < len(values):
                ax.plot([epochs[stop - 1] if stop else 1], [values[stop - 1] if stop else 1.0], "x", color=colour,
                        markersize=10, mew=2)
                ax.annotate("diverged", (epochs[stop - 1] if stop else 1, values[stop - 1] if stop else 1.0),
                            color=colour, fontsize=8, xytext=(5, 5), textcoords="offset points")
    if baseline is not None:
        ax.axhline(baseline, color="0.5", lw=1, ls=":", label=f"predict x_t (no model): {baseline:.3f}")
    if threshold is not None:
        ax.axhline(threshold, color="black", lw=1, label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def fit_with(fit_sine, x, target, rng):
    """``(params, who)``: ``fit_sine(x, target, rng)``, or, while it is not written, a network trained by
    nnlib's pieces (16 hidden units, spectral radius 0.9, chunks of 20 steps, 40 epochs, clipped at 0.5),
    so that the plots below the synthesis draw something.

    >>> def stub(x, target, rng):
    ...     raise NotImplementedError
    >>> x = np.zeros((2, 4, 1))
    >>> fit_with(stub, x, x, np.random.default_rng(0))[1]
    "nnlib's training (your fit_sine is not written yet)"
    """
    try:
        return fit_sine(x, target, rng), "your fit_sine"
    except NotImplementedError:
        pass
    H = 16
    params = {"w_x": 0.5 * rng.standard_normal((x.shape[2], H)), "w_h": recurrent_weights(0.9, H, rng),
              "b": np.zeros(H), "w_y": rng.standard_normal((H, target.shape[2])) / np.sqrt(H),
              "b_y": np.zeros(target.shape[2])}
    with np.errstate(all="ignore"):
        params, _ = rnn.train_tbptt(rnn.rnn_regression_loss, params, x, target, lr=0.5, chunk=20, num_epochs=40,
                                    max_norm=0.5)
    return params, "nnlib's training (your fit_sine is not written yet)"


def plot_predictions(params, x, target, *, index=0, figsize=(7, 3)):
    """One held-out wave: its noisy inputs, the next values to predict and the network's predictions."""
    H = np.shape(params["w_h"])[0]
    xs, ts = x[index:index + 1], target[index:index + 1]
    h, _ = rnn.rnn_forward(xs, np.zeros((1, H)), params["w_x"], params["w_h"], params["b"])
    pred = h @ params["w_y"] + params["b_y"]
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    steps = np.arange(xs.shape[1])
    ax.plot(steps, xs[0, :, 0], ".", color="0.6", label="input x_t (noisy)")
    ax.plot(steps, ts[0, :, 0], color="black", lw=1, label="next value y_t")
    ax.plot(steps, pred[0, :, 0], color="tab:red", label="prediction")
    ax.set_xlabel("t")
    ax.set_title(f"a held-out wave: squared error {np.mean((pred - ts) ** 2):.4f}", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_memory_horizon(params, x, rnn_forward=None, rnn_backward=None, *, index=0, figsize=(6, 3.2)):
    """``||dh_T/dh_{T-L}||`` of a trained network along one of the sequences ``x`` (N, T, D), log scale:
    how far back a gradient still reaches. The figure's ``norms`` attribute holds the values."""
    _, _, who = rnn_functions(rnn_forward, rnn_backward)
    with np.errstate(all="ignore"):
        norms = sequence_jacobian_norms(x[index:index + 1], params["w_x"], params["w_h"], params["b"],
                                        rnn_forward, rnn_backward)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    lags = np.arange(1, len(norms) + 1)
    ax.semilogy(lags, np.maximum(norms, 1e-300), color="tab:red")
    radius = np.abs(np.linalg.eigvals(params["w_h"])).max()
    ax.set_xlabel("lag T - t")
    ax.set_ylabel(r"$\|\partial h_T / \partial h_t\|$")
    ax.set_title(f"the trained network (spectral radius of w_h {radius:.2f}); forward and BPTT: {who}", fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.norms = norms
    return fig
