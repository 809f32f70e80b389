"""Plots and a widget for chapter 1, activation functions.

Every function draws the student's own functions where they are given and work, and nnlib's
reference otherwise (``nnlib.viz.student_or_reference``); the legend says which: "yours" or
"nnlib's". Figures are built with ``matplotlib.figure.Figure`` (not pyplot), so a notebook cell
that ends with a call shows the figure exactly once and nothing stays open between calls.

- ``plot_activation``: one activation and its derivative, the student's over nnlib's (dashed),
  with red crosses where they disagree;
- ``activation_explorer``: the same as an ipywidgets widget, with a dropdown of activations and
  sliders for the parameter (leaky slope, ELU alpha) and the input range;
- ``plot_vanishing_gradient``: how a product of derivatives shrinks with depth;
- ``plot_gallery``: the six activations of the chapter side by side;
- ``plot_xor``: what a linear model and a small network predict on XOR;
- ``plot_softmax_jacobian``: a softmax output and its Jacobian ``diag(s) - s s^T``.
"""

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from nnlib import activations as ref
from nnlib.viz import GRADING_STUB_TEXT, is_grading_stub, skipped_under_grading_stubs, student_or_reference  # noqa: F401

def _skipped_under_grading_stubs(what):
    """Decorator: the figure ``what`` is skipped, with one line, while the grader stubs nnlib's activations."""
    return skipped_under_grading_stubs(what, "nnlib's activations")


#: Colours: the student's curves, the reference, and disagreements.
YOURS, NNLIB, WRONG = "tab:blue", "0.15", "tab:red"
DERIVATIVE = "tab:orange"

#: Where a student's value counts as different from nnlib's in a picture (looser than the checks:
#: a plot only needs to show visible disagreements, and float32 curves must not light up).
PLOT_RTOL, PLOT_ATOL = 1e-4, 1e-6


@dataclass(frozen=True)
class Activation:
    """An elementwise activation of the chapter: reference pair and its optional parameter."""

    function: object
    derivative: object
    formula: str
    parameter: str = None  # "slope" or "alpha"
    default: float = None
    bounds: tuple = None  # slider range of the parameter


ACTIVATIONS = {
    "sigmoid": Activation(ref.sigmoid, ref.sigmoid_derivative, r"$\sigma(x) = 1 / (1 + e^{-x})$"),
    "tanh": Activation(ref.tanh, ref.tanh_derivative, r"$\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})$"),
    "relu": Activation(ref.relu, ref.relu_derivative, r"$\max(0, x)$"),
    "leaky_relu": Activation(ref.leaky_relu, ref.leaky_relu_derivative, r"$x$ if $x > 0$ else $a x$",
                             "slope", 0.1, (0.0, 0.5)),
    "elu": Activation(ref.elu, ref.elu_derivative, r"$x$ if $x > 0$ else $\alpha (e^x - 1)$",
                      "alpha", 1.0, (0.1, 3.0)),
}


def _spec(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def _params(spec, param):
    if spec.parameter is None:
        return ()
    return (spec.default if param is None else float(param),)


def _evaluate(function, x, params):
    """``(values, None)`` or ``(None, "raised ValueError")``: a broken attempt must not break the plot."""
    try:
        with np.errstate(all="ignore"):
            values = np.asarray(function(x.copy(), *params), dtype=np.float64)
        if values.shape != x.shape:
            return None, f"returned shape {values.shape}, not {x.shape}"
        return values, None
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return None, f"raised {type(error).__name__}"


def disagreements(values, expected):
    """Boolean mask of the points where ``values`` and ``expected`` visibly differ.

    >>> disagreements(np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.5, 3.0])).tolist()
    [False, True, True]
    """
    values, expected = np.asarray(values, np.float64), np.asarray(expected, np.float64)
    with np.errstate(invalid="ignore"):
        close = np.abs(values - expected) <= PLOT_ATOL + PLOT_RTOL * np.abs(expected)
    return ~(close | (np.isnan(values) & np.isnan(expected)))


def _draw_curve(ax, x, function, reference, params, color, label_name):
    """Draw ``function`` over ``reference`` on ``ax``.

    Returns the number of points where they disagree, None when nnlib's is drawn alone, or a sentence
    ("raised ValueError") when the student's function could not be drawn.
    """
    chosen, who = student_or_reference(function, reference, x, *params) if function is not None else (reference, "nnlib's")
    expected = reference(x, *params)
    if who != "yours":
        ax.plot(x, expected, color=color, lw=2, label=f"{label_name} ({who})")
        return None
    values, problem = _evaluate(chosen, x, params)
    ax.plot(x, expected, color=NNLIB, lw=1.3, ls="--", label=f"{label_name} (nnlib's)", zorder=3)
    if problem:
        ax.text(0.03, 0.95, f"yours {problem}", transform=ax.transAxes, va="top", color=WRONG, fontsize=9)
        return f"yours {problem}"
    ax.plot(x, values, color=color, lw=2.2, alpha=0.85, label=f"{label_name} (yours)", zorder=2)
    bad = disagreements(values, expected)
    if bad.any():
        shown = np.where(np.isfinite(values), values, np.nan)
        ax.plot(x[bad], shown[bad], "x", color=WRONG, ms=6, mew=1.5, zorder=4,
                label=f"yours differs ({bad.sum()} of {len(x)} points)")
    return int(bad.sum())


@_skipped_under_grading_stubs("the activation plot")
def plot_activation(name, function=None, derivative=None, *, param=None, x_range=(-5.0, 5.0), num=401,
                    figsize=(8, 3)):
    """Draw an activation and its derivative: yours (solid) over nnlib's (dashed).

    Parameters
    ----------
    name : one of ``ACTIVATIONS`` ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
    function, derivative : your functions (``None``, or one that still raises NotImplementedError,
        draws nnlib's instead and says so)
    param : the slope of leaky ReLU or the alpha of ELU (default 0.1 and 1.0)
    x_range : (low, high) of the inputs drawn; ``num`` points, 0 among them when the range is symmetric

    Returns
    -------
    matplotlib.figure.Figure with two panels; ``fig.disagreements`` maps "function" and
    "derivative" to the number of points where yours differs from nnlib's (None when nnlib's is
    drawn instead of yours, a sentence such as "yours raised ValueError" when yours fails).
    """
    spec = _spec(name)
    params = _params(spec, param)
    x = np.linspace(float(x_range[0]), float(x_range[1]), int(num))
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 2)
    shown = f"{name}({spec.parameter}={params[0]:g})" if params else name
    counts = {
        "function": _draw_curve(axes[0], x, function, spec.function, params, YOURS, name),
        "derivative": _draw_curve(axes[1], x, derivative, spec.derivative, params, DERIVATIVE, f"{name}'"),
    }
    axes[0].set_title(f"{shown}:  {spec.formula}", fontsize=10)
    axes[1].set_title(f"its derivative {name}'(x)", fontsize=10)
    for ax, ylabel in zip(axes, ("f(x)", "f'(x)")):
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_xlabel("x")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
    fig.disagreements = counts
    return fig


def _describe(counts):
    parts = []
    for part, count in counts.items():
        if count is None:
            parts.append(f"{part}: nnlib's (yours is not written yet)")
        elif isinstance(count, str):
            parts.append(f"<b style='color:#d62728'>{part}: {count}</b>")
        elif count == 0:
            parts.append(f"{part}: yours agrees with nnlib's")
        else:
            plural = "s" if count != 1 else ""
            parts.append(f"<b style='color:#d62728'>{part}: yours differs at {count} point{plural} (red crosses)</b>")
    return " &nbsp;|&nbsp; ".join(parts)


@_skipped_under_grading_stubs("the explorer")
def activation_explorer(functions=None, *, figsize=(8, 3)):
    """A widget: pick an activation, move its parameter and the input range, see yours over nnlib's.

    Parameters
    ----------
    functions : dict name -> (function, derivative), your functions (missing names, ``None`` or
        stubs draw nnlib's)

    Returns
    -------
    ipywidgets.VBox with the controls, a status line and the plot. Its ``figure`` attribute is
    the figure last drawn, ``status`` the status widget, ``controls`` a dict of the controls.
    """
    import ipywidgets as widgets
    from IPython.display import display

    functions = dict(functions or {})
    names = list(ACTIVATIONS)
    choice = widgets.Dropdown(options=names, value=names[0], description="activation")
    param = widgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.01, description="parameter",
                                continuous_update=False, readout_format=".2f")
    x_range = widgets.FloatRangeSlider(value=(-5.0, 5.0), min=-50.0, max=50.0, step=0.5, description="x range",
                                       continuous_update=False, readout_format=".1f",
                                       layout=widgets.Layout(width="420px"))
    status = widgets.HTML()
    output = widgets.Output()
    box = widgets.VBox([widgets.HBox([choice, param]), x_range, status, output])
    box.controls = {"activation": choice, "parameter": param, "x_range": x_range}
    box.status = status
    box.figure = None

    def configure_parameter(name):
        spec = ACTIVATIONS[name]
        if spec.parameter is None:
            param.disabled, param.description = True, "(no parameter)"
            return
        low, high = spec.bounds
        param.unobserve(redraw, "value")
        param.min, param.max = min(low, param.min), max(high, param.max)  # widen first: min must stay <= max
        param.value = spec.default
        param.min, param.max = low, high
        param.observe(redraw, "value")
        param.disabled, param.description = False, spec.parameter

    def redraw(_=None):
        name = choice.value
        function, derivative = functions.get(name, (None, None))
        low, high = x_range.value
        if high - low < 1e-9:
            low, high = low - 1.0, high + 1.0
        fig = plot_activation.__wrapped__(name, function, derivative, param=None if param.disabled else param.value,
                              x_range=(low, high), figsize=figsize)
        box.figure = fig
        status.value = _describe(fig.disagreements)
        output.clear_output(wait=True)
        with output:
            display(fig)

    def on_choice(change):
        configure_parameter(change["new"])
        redraw()

    choice.observe(on_choice, "value")
    param.observe(redraw, "value")
    x_range.observe(redraw, "value")
    configure_parameter(choice.value)
    redraw()
    return box


def _typical_log_derivative(derivative):
    """E[log f'(z)] for z ~ N(0, 1), by quadrature on a fine grid (deterministic, no random draws)."""
    z = np.linspace(-6.0, 6.0, 4001)
    weights = np.exp(-0.5 * z**2)
    weights /= weights.sum()
    with np.errstate(divide="ignore"):
        return float(np.sum(weights * np.log(np.asarray(derivative(z), dtype=np.float64))))


@_skipped_under_grading_stubs("the vanishing-gradient plot")
def plot_vanishing_gradient(sigmoid_derivative=None, tanh_derivative=None, relu_derivative=None, *, max_depth=20,
                            figsize=(9, 3.2)):
    """Why deep sigmoid networks stop learning: the chain rule multiplies one derivative per layer.

    Left: the three derivatives; sigmoid's never exceeds 0.25. Right, on a log scale, the factor by
    which the activation factors alone multiply the gradient after L layers (the weights multiply in
    as well): at best ``0.25**L`` for sigmoid, and typically ``exp(L * E[log f'(z)])`` for
    pre-activations z ~ N(0, 1); 1 along a path of active ReLUs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.linspace(-6.0, 6.0, 601)
    given = {"sigmoid": (sigmoid_derivative, ref.sigmoid_derivative, "tab:blue"),
             "tanh": (tanh_derivative, ref.tanh_derivative, "tab:green"),
             "relu": (relu_derivative, ref.relu_derivative, "tab:purple")}
    chosen = {}
    for name, (function, reference, color) in given.items():
        f, who = student_or_reference(function, reference, x) if function is not None else (reference, "nnlib's")
        if who == "yours" and _evaluate(f, x, ())[1]:
            f, who = reference, "nnlib's (yours raised an error)"
        chosen[name] = (f, who, color)

    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.25))
    for name, (f, who, color) in chosen.items():
        left.plot(x, np.asarray(f(x), dtype=np.float64), color=color, lw=2, label=f"{name}' ({who})")
    left.axhline(0.25, color="tab:blue", ls=":", lw=1)
    left.annotate("0.25", (x[0], 0.25), xytext=(2, 3), textcoords="offset points", color="tab:blue", fontsize=9)
    left.set(xlabel="pre-activation z", ylabel="f'(z)", title="one layer's factor f'(z)", ylim=(-0.05, 1.6))
    left.legend(fontsize=8, loc="upper left")

    depth = np.arange(1, max_depth + 1)
    sig, sig_who, sig_color = chosen["sigmoid"]
    best = float(np.max(np.asarray(sig(np.linspace(-10, 10, 2001)), dtype=np.float64)))
    right.semilogy(depth, best**depth, "o-", color=sig_color, ms=3.5, lw=2,
                   label=f"sigmoid's factors alone, best case: {best:.2f}$^L$")
    right.semilogy(depth, np.exp(depth * _typical_log_derivative(sig)), "--", color=sig_color, lw=1.5,
                   label="sigmoid, typical z ~ N(0, 1)")
    tanh_f = chosen["tanh"][0]
    right.semilogy(depth, np.exp(depth * _typical_log_derivative(tanh_f)), "--", color=chosen["tanh"][2], lw=1.5,
                   label="tanh, typical z ~ N(0, 1)")
    right.semilogy(depth, np.ones_like(depth, dtype=float), "-", color=chosen["relu"][2], lw=2,
                   label="ReLU, a path of active units: 1")
    if max_depth >= 10:
        value = best**10
        right.annotate(f"10 layers: {best:.2f}$^{{10}}$ = {value:.1e}\n(activation factors only)", (10, value), xytext=(12, 30),
                       textcoords="offset points", fontsize=9, arrowprops={"arrowstyle": "->", "color": "0.3"})
    right.set(xlabel="depth L (layers)", ylabel="gradient factor (log scale)",
              title=f"product of L derivatives (sigmoid: {sig_who})")
    right.set_xticks(depth[::max(1, len(depth) // 10)])
    right.yaxis.set_minor_locator(NullLocator())  # no unlabelled minor ticks (and a faster draw)
    right.grid(True, which="major", color="0.9")
    right.legend(fontsize=8, loc="lower left")
    return fig


@_skipped_under_grading_stubs("the gallery")
def plot_gallery(functions=None, softmax=None, *, figsize=(10, 5.2)):
    """The chapter's six activations side by side: each function (solid) and its derivative (dotted).

    Parameters
    ----------
    functions : dict name -> (function, derivative) of your elementwise activations
    softmax : your softmax (drawn as probabilities of 4 logits, at two temperatures)

    Returns
    -------
    matplotlib.figure.Figure
    """
    functions = dict(functions or {})
    x = np.linspace(-4.0, 4.0, 401)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    for ax, (name, spec) in zip(axes, ACTIVATIONS.items()):
        params = _params(spec, None)
        function, derivative = functions.get(name, (None, None))
        whose = []
        for given, reference, color, style, part in ((function, spec.function, YOURS, "-", "f"),
                                                     (derivative, spec.derivative, DERIVATIVE, ":", "f'")):
            chosen, who = (student_or_reference(given, reference, x, *params) if given is not None
                           else (reference, "nnlib's"))
            values, problem = _evaluate(chosen, x, params)
            if problem:
                chosen, who, values = reference, "nnlib's", reference(x, *params)
            ax.plot(x, values, color=color, ls=style, lw=2, label=part)
            whose.append("yours" if who == "yours" and not problem else "nnlib's")
        label = whose[0] if whose[0] == whose[1] else f"{whose[0]} / {whose[1]}"
        shown = f"{name} ({spec.parameter}={params[0]:g})" if params else name
        ax.set_title(f"{shown}: {label}", fontsize=10)
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        ax.set_ylim(-1.25, 2.25)
        ax.set_xlabel("x", labelpad=0)
        ax.legend(fontsize=8, loc="upper left")

    ax = axes[-1]
    logits = np.array([[2.0, 1.0, 0.2, -1.0]])
    chosen, who = student_or_reference(softmax, ref.softmax, logits) if softmax is not None else (ref.softmax, "nnlib's")
    values, problem = _evaluate(chosen, logits, ())
    if problem:
        chosen, who, values = ref.softmax, "nnlib's", ref.softmax(logits)
    sharper, _ = _evaluate(chosen, 3 * logits, ())
    positions = np.arange(logits.shape[1])
    ax.bar(positions - 0.2, values[0], width=0.4, color=YOURS, label="softmax(z)")
    ax.bar(positions + 0.2, sharper[0], width=0.4, color="tab:cyan", label="softmax(3z)")
    ax.set_xticks(positions, [f"z={v:g}" for v in logits[0]], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"softmax: {'yours' if who == 'yours' and not problem else 'nnlib' + chr(39) + 's'}", fontsize=10)
    ax.set_ylabel("probability", labelpad=0)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_xor(predictors, samples=None, *, figsize=(8, 3.4)):
    """What each model predicts over the plane, with the four XOR points and their targets.

    Parameters
    ----------
    predictors : dict title -> ``predict(X)`` taking X of shape (N, 2) and returning N outputs
    samples : optional (X (N, 2), y (N,)), e.g. from ``nnlib.data.xor``, drawn as small dots

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    targets = np.array([0.0, 1.0, 1.0, 0.0])
    grid = np.linspace(-0.5, 1.5, 121)
    gx, gy = np.meshgrid(grid, grid)
    plane = np.column_stack([gx.ravel(), gy.ravel()])
    fig = Figure(figsize=figsize, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(predictors)))
    image = None
    for ax, (title, predict) in zip(axes, predictors.items()):
        surface = np.asarray(predict(plane), dtype=np.float64).reshape(gx.shape)
        image = ax.imshow(surface, origin="lower", extent=(-0.5, 1.5, -0.5, 1.5), cmap="coolwarm", vmin=-0.25,
                          vmax=1.25)
        if surface.min() < 0.5 < surface.max():  # a constant prediction has no 0.5 line to draw
            ax.contour(gx, gy, surface, levels=[0.5], colors="k", linewidths=1)
        if samples is not None:
            sx, sy = np.asarray(samples[0]), np.asarray(samples[1])
            ax.scatter(sx[:, 0], sx[:, 1], s=7, c=np.where(sy == 1, "black", "white"), edgecolors="0.3",
                       linewidths=0.4, alpha=0.7, zorder=2)
        at_points = np.asarray(predict(points), dtype=np.float64).ravel()
        for (px, py), t, p in zip(points, targets, at_points):
            ax.scatter(px, py, s=90, c="white" if t == 0 else "black", edgecolors="k", zorder=3)
            ax.annotate(f"target {t:g}\npredicted {p:.2f}", (px, py), xytext=(0, -10 if py < 0.5 else 10),
                        textcoords="offset points", ha="center", va="top" if py < 0.5 else "bottom", fontsize=7.5,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
        ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xticks=[0, 1], yticks=[0, 1], xlim=(-0.5, 1.5),
               ylim=(-0.5, 1.5))
    fig.colorbar(image, ax=list(axes), shrink=0.85, label="prediction (black line: 0.5)")
    return fig


@_skipped_under_grading_stubs("the softmax Jacobian")
def plot_softmax_jacobian(logits, softmax=None, *, figsize=(8, 3)):
    """The softmax ``s`` of one row of logits (K,) and its Jacobian ``D[i, j] = ds_i / dx_j = s_i (delta_ij - s_j)``.

    ``softmax`` is yours (nnlib's is drawn while yours is not written yet).

    Returns
    -------
    matplotlib.figure.Figure
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(1, -1)
    chosen, who = student_or_reference(softmax, ref.softmax, logits) if softmax is not None else (ref.softmax, "nnlib's")
    s, problem = _evaluate(chosen, logits, ())
    if problem:
        s, who = ref.softmax(logits), "nnlib's"
    s = s.ravel()
    jacobian = np.diag(s) - np.outer(s, s)
    k = len(s)
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.3))
    left.bar(np.arange(k), s, color=YOURS)
    left.set(title=f"s = softmax(x) ({who})", xlabel="class i", ylabel="$s_i$", xticks=np.arange(k), ylim=(0, 1))
    limit = np.abs(jacobian).max()
    image = right.imshow(jacobian, cmap="PuOr", vmin=-limit, vmax=limit)
    if k <= 8:
        for i in range(k):
            for j in range(k):
                value = jacobian[i, j] if abs(jacobian[i, j]) >= 0.005 else 0.0  # no "-0.00"
                dark = abs(value) > 0.6 * limit
                right.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if dark else "black")
    right.set(title=r"Jacobian $D_{ij} = \partial s_i / \partial x_j = s_i(\delta_{ij} - s_j)$", xlabel="input j",
              ylabel="output i", xticks=np.arange(k), yticks=np.arange(k))
    fig.colorbar(image, ax=right, shrink=0.9)
    return fig
