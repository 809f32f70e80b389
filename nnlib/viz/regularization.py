"""Plots and widgets of chapter 4 (regularization): overfitting curves, the lambda sweep, dropout, the
per-layer gradient norms of deep networks (vanishing gradients) and batch normalization at work.

Every function that takes a student's function (``regularized_loss``, ``minibatch_sgd``,
``dropout_forward``, ``batchnorm_forward``, ``variance_preserving_init``...) falls back to nnlib's
while the student's still raises NotImplementedError, and says whose it drew in the title.
Everything is seeded by an ``rng`` passed in; nothing touches numpy's global state.

Shape letters: N examples, D features (256 for the digits), H hidden units, K classes (10), L layers.
"""

import numpy as np

from nnlib import activations, dense, init, normalization, optim, regularization
from nnlib.losses import softmax_cross_entropy
from nnlib.model import Activation, BatchNorm, Dense, Sequential, train

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("naive", "variance-preserving")


def digits_split(n_train, n_val, *, offset=0):
    """``(x_train, y_train, x_val, y_val)``: the first ``n_train`` digits of the training split after
    ``offset`` and the first ``n_val`` of the test split (held out), flattened to (N, 256) float64."""
    from nnlib.data import load_digits

    d = load_digits()
    x_tr = d["x_train"][offset:offset + n_train].reshape(n_train, -1).astype(np.float64)
    x_va = d["x_test"][:n_val].reshape(n_val, -1).astype(np.float64)
    return x_tr, d["y_train"][offset:offset + n_train], x_va, d["y_test"][:n_val]


def _plt():
    import matplotlib.pyplot as plt

    return plt


# -- references in the student's signatures (the fallbacks) ------------------------------------------


def reference_regularized_loss(params, x, y, lam):
    loss, grads = dense.two_layer_loss(params, x, y)
    loss += regularization.l2_penalty([params["W1"], params["W2"]], lam)
    return loss, {k: g + regularization.l2_penalty_gradient(params[k], lam) if k.startswith("W") else g
                  for k, g in grads.items()}


def reference_minibatch_sgd(loss_fn, params, x, y, lr, batch_size, epochs, rng):
    return optim.minibatch_sgd(loss_fn, params, x, y, lr=lr, batch_size=batch_size, epochs=epochs, rng=rng)


def reference_dropout_forward(x, drop_prob, training, rng):
    return regularization.dropout_forward(x, drop_prob, training=training, rng=rng)


def reference_batchnorm_forward(x, gamma, beta, running, training, momentum=0.9, eps=1e-5):
    return normalization.batchnorm_forward(x, gamma, beta, running, training=training, momentum=momentum, eps=eps)


def reference_init(fan_in, fan_out, activation, rng):
    if activation == "relu":
        return init.he_normal((fan_in, fan_out), rng=rng)
    return init.xavier_normal((fan_in, fan_out), rng=rng)


def _pick(function, reference, *probe):
    """``(function, "yours")`` when the student's function runs on ``probe``, else nnlib's and why.

    Unlike ``student_or_reference`` (built for arrays), it accepts any result (a dict of parameters, a
    cache) and falls back on any exception too: an experiment of many trainings cannot draw with a
    function that raises, and says so in its title instead.
    """
    if function is None:
        return reference, "nnlib's"
    try:
        with np.errstate(all="ignore"):
            function(*probe)
    except NotImplementedError:
        return reference, "nnlib's (yours is not written yet)"
    except Exception as error:  # a broken attempt: draw with nnlib's, and say why
        return reference, f"nnlib's (yours raised {type(error).__name__})"
    return function, "yours"


def _probe_network(rng):
    x = rng.standard_normal((4, 3))
    params = {"W1": rng.standard_normal((3, 5)), "b1": np.zeros(5), "W2": rng.standard_normal((5, 2)), "b2": np.zeros(2)}
    return params, x, np.array([0, 1, 1, 0])


def pick_training(regularized_loss=None, minibatch_sgd=None):
    """The student's ``regularized_loss`` and ``minibatch_sgd`` where they run, else nnlib's; and who."""
    params, x, y = _probe_network(np.random.default_rng(0))
    loss_fn, who_loss = _pick(regularized_loss, reference_regularized_loss, params, x, y, 0.1)
    loop, who_loop = _pick(minibatch_sgd, reference_minibatch_sgd, dense.two_layer_loss,
                           params, x, y, 0.1, 2, 1, np.random.default_rng(0))
    return loss_fn, loop, f"{who_loss} regularized_loss, {who_loop} minibatch_sgd"


# -- small networks and their training ------------------------------------------------------------------


def two_layer_params(d, h, k, rng):
    """He-initialised weights, zero biases, the output layer scaled down (first loss near log K)."""
    return {"W1": init.he_normal((d, h), rng=rng), "b1": np.zeros(h),
            "W2": 0.1 * init.he_normal((h, k), rng=rng), "b2": np.zeros(k)}


def two_layer_predict(params, x):
    return np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]


def accuracy(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) == y))


def train_with_curves(loss_fn, minibatch_sgd, params, data, *, lr, epochs, batch_size, rng, predict=two_layer_predict):
    """Epoch by epoch (one ``minibatch_sgd`` call each), the training and validation accuracy."""
    x, y, x_val, y_val = data
    history = {"accuracy": [], "val_accuracy": []}
    for _ in range(epochs):
        params, _ = minibatch_sgd(loss_fn, params, x, y, lr, batch_size, 1, rng)
        history["accuracy"].append(accuracy(predict(params, x), y))
        history["val_accuracy"].append(accuracy(predict(params, x_val), y_val))
    return params, history


def plot_curves(histories, title="", ax=None):
    """Training (dashed) and validation (solid) accuracy per epoch, one colour per entry of ``histories``."""
    plt = _plt()
    fig, ax = (plt.subplots(figsize=(6, 3.5)) if ax is None else (ax.figure, ax))
    for i, (label, h) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = np.arange(1, len(h["accuracy"]) + 1)
        ax.plot(epochs, h["accuracy"], "--", color=color, label=f"{label}: training")
        ax.plot(epochs, h["val_accuracy"], "-", color=color, label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def overfitting_experiment(data, *, hidden=(128, 8), more_data=None, epochs=60, rng):
    """Train MLPs (nnlib's model, Adam) on ``data`` and return ``{label: history}``: one per width in
    ``hidden``, and with ``more_data`` (a larger training set) the widest network on it too."""
    x, y, x_val, y_val = data
    runs = {}
    for h in hidden:
        model = Sequential([Dense(x.shape[1], h, rng=rng), Activation("relu"), Dense(h, 10, rng=rng, init="xavier")])
        runs[f"{len(x)} examples, {h} hidden units"] = train(model, x, y, lr=3e-3, epochs=epochs, batch_size=50, rng=rng,
                                                             x_val=x_val, y_val=y_val, progress=False)
    if more_data is not None:
        xm, ym = more_data
        model = Sequential([Dense(x.shape[1], hidden[0], rng=rng), Activation("relu"),
                            Dense(hidden[0], 10, rng=rng, init="xavier")])
        runs[f"{len(xm)} examples, {hidden[0]} hidden units"] = train(
            model, xm, ym, lr=3e-3, epochs=max(1, epochs * len(x) // len(xm)), batch_size=50, rng=rng,
            x_val=x_val, y_val=y_val, progress=False)
    return runs


# -- the lambda sweep -------------------------------------------------------------------------------------


def lambda_sweep(data, lams, *, regularized_loss=None, minibatch_sgd=None, hidden=128, lr=0.3, epochs=60,
                 batch_size=50, seed=0):
    """Train the same two-layer network (same start, same batches) once per lambda; return a dict with
    ``lams``, ``train`` and ``val`` accuracies, the final ``weights`` per lambda and ``who``."""
    loss_fn, loop, who = pick_training(regularized_loss, minibatch_sgd)
    x, y, x_val, y_val = data
    result = {"lams": list(lams), "train": [], "val": [], "weights": {}, "who": who}
    for lam in lams:
        rng = np.random.default_rng(seed)
        params = two_layer_params(x.shape[1], hidden, 10, rng)
        params, _ = loop(lambda p, xb, yb, lam=lam: loss_fn(p, xb, yb, lam), params, x, y, lr, batch_size, epochs, rng)
        result["train"].append(accuracy(two_layer_predict(params, x), y))
        result["val"].append(accuracy(two_layer_predict(params, x_val), y_val))
        result["weights"][lam] = params["W1"].ravel()
    return result


def plot_lambda_sweep(sweep):
    """Left: training and validation accuracy against lambda (log scale). Right: the first layer's
    weights for the smallest lambda, the best one and the largest."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    lams = np.array(sweep["lams"], dtype=float)
    shown = np.where(lams == 0, lams[lams > 0].min() / 10, lams)
    ax.semilogx(shown, sweep["train"], "o--", label="training")
    ax.semilogx(shown, sweep["val"], "o-", label="validation")
    best = int(np.argmax(sweep["val"]))
    ax.axvline(shown[best], color="gray", lw=0.8)
    ax.set(xlabel="lambda (the leftmost point is lambda = 0)", ylabel="accuracy",
           title=f"best validation {sweep['val'][best]:.1%} at lambda = {lams[best]:g}")
    ax.legend()
    ax.grid(alpha=0.3)
    for lam in dict.fromkeys([lams[0], lams[best], lams[-1]]):
        ax2.hist(sweep["weights"][lam], bins=60, histtype="step", density=True, label=f"lambda = {lam:g}")
    ax2.set(xlabel="W1 entries", ylabel="density", title="the weights shrink as lambda grows")
    ax2.legend()
    fig.suptitle(f"L2 regularization ({sweep['who']})", fontsize=9)
    fig.tight_layout()
    return fig


# -- dropout -----------------------------------------------------------------------------------------------


def dropout_network_loss(dropout_forward, dropout_backward, drop_prob, rng):
    """``loss_fn(params, x, y)`` of affine - ReLU - dropout - affine - softmax cross-entropy (training)."""

    def loss_fn(params, x, y):
        z1 = x @ params["W1"] + params["b1"]
        h1 = np.maximum(z1, 0)
        d1, cache = dropout_forward(h1, drop_prob, True, rng)
        scores = d1 @ params["W2"] + params["b2"]
        loss, dscores = softmax_cross_entropy(scores, y)
        dd1 = dscores @ params["W2"].T
        dz1 = dropout_backward(dd1, cache) * (z1 > 0)
        return loss, {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": d1.T @ dscores, "b2": dscores.sum(axis=0)}

    return loss_fn


def dropout_experiment(data, drop_probs=(0.0, 0.5), *, dropout_forward=None, dropout_backward=None,
                       minibatch_sgd=None, hidden=256, lr=0.3, epochs=60, batch_size=50, seed=0):
    """``({label: history}, who)``: the same network trained with each drop probability."""
    probe = np.ones((3, 4))
    fwd, who_f = _pick(dropout_forward, reference_dropout_forward, probe, 0.5, True, np.random.default_rng(0))
    out, cache = fwd(probe, 0.5, True, np.random.default_rng(0))
    bwd, who_b = _pick(dropout_backward, lambda d, c: regularization.dropout_backward(d, c), probe, cache)
    if who_f != who_b:  # one without the other: a cache one cannot read; use nnlib's pair
        fwd, bwd, who_f = reference_dropout_forward, regularization.dropout_backward, "nnlib's"
    _, loop, who_loop = pick_training(None, minibatch_sgd)
    runs = {}
    for p in drop_probs:
        rng = np.random.default_rng(seed)
        params = two_layer_params(data[0].shape[1], hidden, 10, rng)
        _, runs[f"drop_prob = {p:g}"] = train_with_curves(dropout_network_loss(fwd, bwd, p, rng), loop, params, data,
                                                          lr=lr, epochs=epochs, batch_size=batch_size, rng=rng)
    return runs, f"{who_f} dropout, {who_loop.split(', ')[1]}"


def dropout_statistics(dropout_forward=None, *, drop_prob=0.3, shape=(1000, 100), seed=0):
    """The fraction of units kept and the mean output for x = 1 (train and eval), from the student's dropout."""
    fwd, who = _pick(dropout_forward, reference_dropout_forward, np.ones((2, 3)), 0.5, True, np.random.default_rng(0))
    x = np.ones(shape)
    out, _ = fwd(x, drop_prob, True, np.random.default_rng(seed))
    out_eval, _ = fwd(x, drop_prob, False, np.random.default_rng(seed))
    return {"kept": float(np.mean(out != 0)), "mean_train": float(out.mean()), "mean_eval": float(out_eval.mean()),
            "who": who}


# -- initialisation: the spread of the pre-activations through many layers ------------------------------------


def activation_spread(init_fn, activation, *, width=256, depth=20, n=200, seed=0):
    """Standard deviation of the pre-activations ``z = h @ w`` of each layer (no bias), from standard
    normal inputs of shape (n, width), each w drawn by ``init_fn(fan_in, fan_out, activation, rng)``."""
    rng = np.random.default_rng(seed)
    h, spreads = rng.standard_normal((n, width)), []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(depth):
            z = h @ np.asarray(init_fn(width, width, activation, rng), dtype=np.float64)
            spreads.append(float(np.std(z)))
            h = np.maximum(z, 0) if activation == "relu" else np.tanh(z)
    return np.array(spreads)


def plot_activation_spread(variance_preserving_init=None, *, width=256, depth=20, band=(0.1, 10.0)):
    """The spread of the pre-activations per layer for 0.01 * randn, randn and the variance-preserving
    initialisation (the student's, else nnlib's), for ReLU and tanh; the band the check requires, shaded."""
    plt = _plt()
    init_fn, who = pick_init(variance_preserving_init)
    rules = {"0.01 * randn": _naive_init, "randn": lambda a, b, act, rng: rng.standard_normal((a, b)),
             f"variance-preserving ({who})": init_fn}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), sharey=True)
    fig.spreads = {}
    for ax, act in zip(axes, ("relu", "tanh")):
        for label, rule in rules.items():
            spreads = activation_spread(rule, act, width=width, depth=depth)
            fig.spreads[act, label.split(" (")[0]] = spreads
            ax.semilogy(np.arange(1, depth + 1), np.clip(spreads, 1e-300, 1e300), "o-", ms=3, label=label)
        ax.axhspan(*band, color="green", alpha=0.08)
        ax.set(title=f"{act}, {depth} layers of {width}", xlabel="layer")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("std of the pre-activations")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# -- vanishing gradients: per-layer gradient norms of a deep network ------------------------------------------


def _naive_init(fan_in, fan_out, activation, rng):
    return 0.01 * rng.standard_normal((fan_in, fan_out))


def pick_init(variance_preserving_init=None):
    return _pick(variance_preserving_init, reference_init, 4, 3, "relu", np.random.default_rng(0))


def pick_batchnorm(batchnorm_forward=None, batchnorm_backward=None):
    """The student's batchnorm pair where both run, else nnlib's."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    running = {"mean": np.zeros(3), "var": np.ones(3)}
    fwd, who_f = _pick(batchnorm_forward, reference_batchnorm_forward, x, np.ones(3), np.zeros(3), running, True)
    if who_f == "yours":
        _, cache, _ = fwd(x, np.ones(3), np.zeros(3), running, True)
        bwd, who_b = _pick(batchnorm_backward, normalization.batchnorm_backward, np.ones((4, 3)), cache)
        if who_b == "yours":
            return fwd, bwd, "yours"
    return reference_batchnorm_forward, normalization.batchnorm_backward, "nnlib's"


def deep_network(depth, width, d, k, activation, init_name, batchnorm, rng, init_fn=None):
    """The parameters of ``depth`` hidden layers of ``width`` units (and an output layer of ``k``)."""
    draw = (init_fn or reference_init) if init_name == "variance-preserving" else _naive_init
    rule = "relu" if activation == "relu" else "tanh"  # sigmoid: the tanh (Xavier) rule
    params, fan_in = {}, d
    for layer in range(1, depth + 1):
        params[f"W{layer}"] = np.asarray(draw(fan_in, width, rule, rng), dtype=np.float64)
        params[f"b{layer}"] = np.zeros(width)
        if batchnorm:
            params[f"gamma{layer}"], params[f"beta{layer}"] = np.ones(width), np.zeros(width)
        fan_in = width
    params["W_out"] = np.asarray(draw(fan_in, k, "tanh", rng), dtype=np.float64)
    params["b_out"] = np.zeros(k)
    return params


def deep_loss(params, x, y, activation, *, batchnorm_pair=None):
    """Loss and gradients of the deep network (training mode, batch statistics)."""
    depth = sum(1 for k in params if k.startswith("W") and k != "W_out")
    caches, h = [], x
    for layer in range(1, depth + 1):
        z, c_aff = dense.affine_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        c_bn = None
        if f"gamma{layer}" in params:
            fwd = batchnorm_pair[0]
            running = {"mean": np.zeros(z.shape[1]), "var": np.ones(z.shape[1])}
            z, c_bn, _ = fwd(z, params[f"gamma{layer}"], params[f"beta{layer}"], running, True)
        h, c_act = activations.elementwise_forward(z, activation)
        caches.append((c_aff, c_bn, c_act))
    scores, c_out = dense.affine_forward(h, params["W_out"], params["b_out"])
    loss, dscores = softmax_cross_entropy(scores, y)
    grads = {}
    dh, grads["W_out"], grads["b_out"] = dense.affine_backward(dscores, c_out)
    for layer in range(depth, 0, -1):
        c_aff, c_bn, c_act = caches[layer - 1]
        dz = activations.elementwise_backward(dh, c_act)
        if c_bn is not None:
            dz, grads[f"gamma{layer}"], grads[f"beta{layer}"] = batchnorm_pair[1](dz, c_bn)
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = dense.affine_backward(dz, c_aff)
    return loss, grads


def gradient_norms(x, y, *, depth=10, width=64, activation="sigmoid", init_name="variance-preserving",
                   batchnorm=False, seed=0, init_fn=None, batchnorm_pair=None):
    """``||dJ/dW_l||`` for the hidden layers l = 1..depth of a freshly initialised network, on one batch."""
    rng = np.random.default_rng(seed)
    params = deep_network(depth, width, x.shape[1], int(y.max()) + 1, activation, init_name, batchnorm, rng, init_fn)
    pair = batchnorm_pair or (reference_batchnorm_forward, normalization.batchnorm_backward)
    _, grads = deep_loss(params, x, y, activation, batchnorm_pair=pair)
    return np.array([np.linalg.norm(grads[f"W{layer}"]) for layer in range(1, depth + 1)])


def plot_gradient_norms(x, y, *, depth=10, width=64, variance_preserving_init=None, batchnorm_forward=None,
                        batchnorm_backward=None, seed=0):
    """One panel per activation; per panel, the per-layer gradient norms for the naive and the
    variance-preserving initialisation, each with and without batch normalization (log scale)."""
    plt = _plt()
    init_fn, who_init = pick_init(variance_preserving_init)
    *pair, who_bn = pick_batchnorm(batchnorm_forward, batchnorm_backward)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    fig.norms = {}
    for ax, act in zip(axes, ACTIVATIONS):
        for i, init_name in enumerate(INITS):
            for bn in (False, True):
                norms = gradient_norms(x, y, depth=depth, width=width, activation=act, init_name=init_name,
                                       batchnorm=bn, seed=seed, init_fn=init_fn, batchnorm_pair=tuple(pair))
                fig.norms[act, init_name, bn] = norms
                ax.semilogy(np.arange(1, depth + 1), np.maximum(norms, 1e-30), "o-" if bn else "s--", color=f"C{i}",
                            ms=3, label=f"{init_name}{' + batchnorm' if bn else ''}")
        ax.set(title=act, xlabel="layer (1 = next to the input)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("||dJ/dW|| of the layer")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"gradient norms per layer, {depth} layers of {width} (init: {who_init} variance_preserving_init, "
                 f"batchnorm: {who_bn})", fontsize=9)
    fig.tight_layout()
    return fig


def gradient_norms_widget(x, y, *, variance_preserving_init=None, batchnorm_forward=None, batchnorm_backward=None):
    """Depth, activation, initialisation and batchnorm on/off; redraws the per-layer gradient norms
    from the student's functions (nnlib's while they are unsolved)."""
    import ipywidgets as widgets
    from IPython.display import display

    plt = _plt()
    init_fn, who_init = pick_init(variance_preserving_init)
    *pair, who_bn = pick_batchnorm(batchnorm_forward, batchnorm_backward)
    depth = widgets.IntSlider(value=10, min=2, max=30, description="depth")
    act = widgets.Dropdown(options=ACTIVATIONS, value="sigmoid", description="activation")
    init_name = widgets.Dropdown(options=INITS, value="naive", description="init")
    bn = widgets.Checkbox(value=False, description="batchnorm")
    out = widgets.Output()

    def redraw(*_):
        norms = gradient_norms(x, y, depth=depth.value, activation=act.value, init_name=init_name.value,
                               batchnorm=bn.value, init_fn=init_fn, batchnorm_pair=tuple(pair))
        box.norms = norms
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3))
            ax.bar(np.arange(1, depth.value + 1), np.maximum(norms, 1e-30), log=True)
            ax.set(xlabel="layer", ylabel="||dJ/dW||",
                   title=f"first/last layer ratio {norms[0] / max(norms[-1], 1e-300):.1e} "
                         f"(init: {who_init}, batchnorm: {who_bn})")
            plt.show()
            box.figure = fig

    for w in (depth, act, init_name, bn):
        w.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox([depth, act]), widgets.HBox([init_name, bn]), out])
    redraw()
    display(box)
    return box


# -- batch normalization rescues a deep sigmoid network ----------------------------------------------------


def deep_sigmoid_experiment(data, *, depth=10, width=64, epochs=8, lr=0.5, batch_size=50, seed=0):
    """``{label: history}``: the same deep sigmoid network (Xavier init, plain SGD), without and with
    batch normalization after every hidden affine layer (nnlib's model)."""
    x, y, x_val, y_val = data
    runs = {}
    for bn in (False, True):
        rng = np.random.default_rng(seed)
        layers, fan_in = [], x.shape[1]
        for _ in range(depth):
            layers += [Dense(fan_in, width, rng=rng, init="xavier")] + ([BatchNorm(width)] if bn else [])
            layers += [Activation("sigmoid")]
            fan_in = width
        model = Sequential(layers + [Dense(fan_in, 10, rng=rng, init="xavier")])
        runs["with batchnorm" if bn else "without batchnorm"] = train(
            model, x, y, optimizer="sgd", lr=lr, epochs=epochs, batch_size=batch_size, rng=rng,
            x_val=x_val, y_val=y_val, progress=False)
    return runs


# -- the synthesis -----------------------------------------------------------------------------------------


def digits_network_accuracy(params, x_train, x_val, y_val):
    """Held-out accuracy of affine - batchnorm - ReLU - affine in evaluation mode, the batchnorm statistics
    being the mean and variance of the first layer's outputs over the whole training set (dropout off)."""
    z = x_train @ params["W1"] + params["b1"]
    running = {"mean": z.mean(axis=0), "var": z.var(axis=0)}
    h, _, _ = normalization.batchnorm_forward(x_val @ params["W1"] + params["b1"], params["gamma"], params["beta"],
                                              running, training=False)
    return accuracy(np.maximum(h, 0) @ params["W2"] + params["b2"], y_val)
