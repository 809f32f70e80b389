"""Chapter 5 (convolution): what the shared tests do not cover.

- the notebook: points, the written question (and that its rubric stays out of the release), tags,
  hints and predict prompts;
- the catalogue: blame between conv_forward and conv_backward, calls to numpy's convolutions, the
  encoding of conv_output_size's ValueError, views and dtypes, the tie rule of max pooling, the
  geometry promise (every case tiles);
- the plots and the widget, headless.

The structure every chapter's notebook shares is tested in tests/test_notebook_structure.py; the
notebook itself runs under nbval (``pytest --nbval-lax solutions/05_convolution``).
"""

import io
import re

import matplotlib

matplotlib.use("Agg")

import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_notebook_structure import CHAPTERS, ROOT, cell_with_id, graded_cells, nbgrader, notebook  # noqa: E402

from autograder.checks import Catalogue  # noqa: E402
from autograder.exercises import convolution  # noqa: E402
from nnlib import conv, data  # noqa: E402
from nnlib.viz import convolution as viz  # noqa: E402

pytestmark = pytest.mark.ch05

(CHAPTER,) = [c for c in CHAPTERS if c.name == "05_convolution"]
CATALOGUE = convolution.CATALOGUE
UNGUARDED = Catalogue(CATALOGUE.chapter, CATALOGUE.exercises.values())  # nnlib's functions allowed, to build wrong answers
TOTAL_POINTS = 25
RELEASE = ROOT / "chapters" / "05_convolution" / "05_convolution.ipynb"


def stub(*args, **kwargs):
    raise NotImplementedError


# -- the notebook ---------------------------------------------------------------------------------------


def test_points_add_up_to_the_announced_total():
    nb = notebook(CHAPTER)
    assert sum(nbgrader(c)["points"] for c in graded_cells(nb)) == TOTAL_POINTS
    assert f"{TOTAL_POINTS} points" in cell_with_id(nb, "intro_overview").source


def test_the_written_question_is_a_manually_graded_markdown_cell_after_its_locked_question():
    nb = notebook(CHAPTER)
    answer = cell_with_id(nb, "written_weight_sharing")
    meta = nbgrader(answer)
    assert answer.cell_type == "markdown"
    assert (meta["grade"], meta["solution"], meta["task"], meta["locked"], meta["points"]) == (True, True, False, False, 3)
    assert answer.source.startswith("### BEGIN SOLUTION") and answer.source.endswith("### END SOLUTION")
    assert "**Rubric (3 points):**" in answer.source
    question = nb.cells[nb.cells.index(answer) - 1]
    assert question.cell_type == "markdown" and nbgrader(question)["locked"] and "(3 points, graded by hand)" in question.source


def test_the_release_keeps_the_rubric_and_solutions_out():
    released = RELEASE.read_text()
    assert "Rubric" not in released and "BEGIN SOLUTION" not in released and "BEGIN HIDDEN TESTS" not in released
    assert "YOUR ANSWER HERE" in released
    nb = nbformat.read(str(RELEASE), as_version=4)
    assert sum("raise NotImplementedError()" in c.source for c in nb.cells if c.cell_type == "code") == len(CATALOGUE.exercises)


def test_graded_code_cells_are_tagged_raises_exception():
    for cell in graded_cells(notebook(CHAPTER)):
        if cell.cell_type == "code":
            assert "raises-exception" in cell.metadata.get("tags", []), nbgrader(cell)["grade_id"]


@pytest.mark.parametrize("name", list(CATALOGUE.exercises))
def test_every_statement_has_two_folded_hints_and_no_solution_code(name):
    statement = cell_with_id(notebook(CHAPTER), f"{name}_statement").source
    assert "<details><summary>Hint 1</summary>" in statement and "<details><summary>Hint 2</summary>" in statement
    assert "```" not in statement  # hints give directions and key steps, never code
    assert '\\"' not in statement  # an escaped quote shows its backslash in the rendered markdown


def test_every_experiment_with_a_figure_or_a_measurement_is_preceded_by_a_prediction():
    nb = notebook(CHAPTER)
    experiments = ["viz.plot_riemann(", "viz.plot_kernels(", "viz.plot_shift_equivariance(", "times faster",
                   "nn.train(", "correlate1d(signal", "conv_output_size(16", "ref.max_pool_backward(np.ones",
                   "cnn_scores(x_held, conv_forward_fast"]
    for marker in experiments:
        (index,) = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source]
        before = [c for c in nb.cells[:index] if c.cell_type == "markdown"][-1]
        assert before.source.lstrip().startswith("**Predict.**") or "\n**Predict.**" in before.source, marker


def test_the_synthesis_states_its_held_out_threshold_and_checks_it():
    nb = notebook(CHAPTER)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "nn.train(" in c.source]
    assert cell.source.startswith("# NBVAL_CHECK_OUTPUT") and "x_val=x_held" in cell.source
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "the CNN reaches 90% held-out accuracy: True" in text and "the CNN beats the MLP on held-out digits: True" in text
    assert re.search(r"CNN: \d+ parameters", text) and re.search(r"MLP: \d+ parameters", text)


# -- the catalogue -------------------------------------------------------------------------------------


def _solutions():
    """Right answers written as a student would (not nnlib's functions)."""

    def conv_forward(x, w, b, stride=1, pad=0):
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((n, f, (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1), dtype=x.dtype)
        for index in np.ndindex(out.shape):
            i, j = index[2] * stride, index[3] * stride
            out[index] = np.sum(xp[index[0], :, i : i + kh, j : j + kw] * w[index[1]]) + b[index[1]]
        return out, (x, w, stride, pad)

    def conv_backward(dout, cache):
        x, w, stride, pad = cache
        _, _, h, wd = x.shape
        kh, kw = w.shape[2:]
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        for n, f, i, j in np.ndindex(dout.shape):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
            dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
        return dxp[:, :, pad : pad + h, pad : pad + wd], dw, dout.sum(axis=(0, 2, 3))

    def max_pool_forward(x, kernel_size=2, stride=2):
        windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::stride, ::stride]
        return windows.max(axis=(4, 5)), (x, kernel_size, stride)

    def max_pool_backward(dout, cache):
        x, k, s = cache
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(dout.shape):
            u, v = np.unravel_index(np.argmax(x[n, c, i * s : i * s + k, j * s : j * s + k]), (k, k))
            dx[n, c, i * s + u, j * s + v] += dout[n, c, i, j]
        return dx

    return locals()


@pytest.mark.parametrize("name", ["conv_backward", "max_pool_backward"])
def test_right_answers_get_no_spurious_note_from_the_numerical_gradient(name):
    ours = _solutions()
    for seed in range(6):
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, ours[name], ours[CATALOGUE[name].forward], seed=seed, hidden=hidden)
            assert report.passed and "disagrees" not in report.message, str(report)


def test_a_right_backward_of_a_wrong_forward_blames_the_forward():
    ours = _solutions()

    def forward_without_bias(x, w, b, stride=1, pad=0):
        out, cache = ours["conv_forward"](x, w, np.zeros_like(b), stride, pad)
        return out, cache

    report = CATALOGUE.evaluate("conv_backward", ours["conv_backward"], forward_without_bias)
    assert report.passed and "conv_forward" in report.message, str(report)
    assert "your conv_forward disagrees with it" in report.message or "your conv_forward is wrong" in report.message


def test_a_wrong_backward_consistent_with_a_wrong_forward_says_fix_the_forward_first():
    ours = _solutions()

    def doubled_forward(x, w, b, stride=1, pad=0):
        out, cache = ours["conv_forward"](x, w, b, stride, pad)
        return 2 * out, cache

    def doubled_backward(dout, cache):
        return tuple(2 * g for g in ours["conv_backward"](dout, cache))

    report = CATALOGUE.evaluate("conv_backward", doubled_backward, doubled_forward)
    assert report.status == "failed" and "fix conv_forward" in report.message, report.message


def test_a_forward_that_returns_no_cache_is_explained():
    report = CATALOGUE.evaluate("conv_forward", lambda x, w, b, stride=1, pad=0: _solutions()["conv_forward"](x, w, b, stride, pad)[0])
    assert report.status == "failed" and "should return a pair (out, cache)" in report.message


@pytest.mark.parametrize("name, answer", [
    ("riemann_convolve", lambda f, g, dt: dt * np.convolve(f, g)),
    ("convolve1d", lambda x, k, mode="full": np.convolve(x, k, mode)),
    ("correlate1d", lambda x, k, mode="valid": np.correlate(x, k, mode)),
    ("conv_forward_fast", lambda x, w, b, stride=1, pad=0: conv.conv2d_forward(x, w, b, stride, pad)[0]),
    ("conv_output_size", lambda size, kernel_size, stride=1, pad=0: conv.output_size(size, kernel_size, stride, pad, strict=True)),
])
def test_calling_numpys_or_nnlibs_convolution_is_caught(name, answer):
    report = CATALOGUE.evaluate(name, answer)
    assert report.status == "failed" and "calls nnlib's answer" in report.message, report.message


def test_output_size_other_exceptions_and_non_integers_are_reported():
    def asserts(size, kernel_size, stride=1, pad=0):
        assert (size + 2 * pad - kernel_size) % stride == 0
        return (size + 2 * pad - kernel_size) // stride + 1

    report = CATALOGUE.evaluate("conv_output_size", asserts)
    assert report.status == "failed" and "raised AssertionError" in report.message

    def float_division(size, kernel_size, stride=1, pad=0):
        if kernel_size > size + 2 * pad or (size + 2 * pad - kernel_size) % stride:
            raise ValueError("does not fit")
        return (size + 2 * pad - kernel_size) / stride + 1

    report = CATALOGUE.evaluate("conv_output_size", float_division)
    assert report.status == "failed" and "should return an int, got float" in report.message


def test_every_layer_case_tiles_exactly_as_the_statements_promise():
    for name in ("conv_forward", "conv_backward", "conv_forward_fast"):
        for index, case in enumerate(CATALOGUE[name].cases):
            x, w, _, stride, pad, *_ = case.draw(np.random.default_rng(index))
            for axis in (2, 3):
                conv.output_size(x.shape[axis], w.shape[axis], stride, pad, strict=True)
    for name in ("max_pool_forward", "max_pool_backward"):
        for index, case in enumerate(CATALOGUE[name].cases):
            x, kernel_size, stride, *_ = case.draw(np.random.default_rng(index))
            for axis in (2, 3):
                conv.output_size(x.shape[axis], kernel_size, stride, 0, strict=True)


def test_a_vectorised_forward_that_assumes_a_contiguous_input_fails_on_the_view():
    def assumes_contiguous(x, w, b, stride=1, pad=0):
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x  # no copy when there is no padding
        n, c, h, wd = xp.shape
        kh, kw = w.shape[2:]
        item = xp.itemsize
        windows = np.lib.stride_tricks.as_strided(  # strides computed as if xp were C-contiguous
            xp, shape=(n, c, (h - kh) // stride + 1, (wd - kw) // stride + 1, kh, kw),
            strides=(c * h * wd * item, h * wd * item, stride * wd * item, stride * item, wd * item, item))
        return np.einsum("nchwuv,fcuv->nfhw", windows, w) + b[:, None, None]

    report = CATALOGUE.evaluate("conv_forward_fast", assumes_contiguous)
    assert report.status == "failed" and "transposed (non-contiguous) view" in report.message, report.message
    report = CATALOGUE.evaluate("conv_forward_fast", lambda x, w, b, stride=1, pad=0: assumes_contiguous(np.ascontiguousarray(x), w, b, stride, pad))
    assert report.passed, str(report)  # the same code on a contiguous copy is right


def test_a_float64_result_for_float32_inputs_is_rejected():
    ours = _solutions()

    def float64_forward(x, w, b, stride=1, pad=0):
        out, cache = ours["conv_forward"](x.astype(np.float64), w, b, stride, pad)
        return out, cache

    report = CATALOGUE.evaluate("conv_forward", float64_forward)
    assert report.status == "failed" and "dtype float32" in report.message


def test_the_tie_rule_is_checked_on_the_visible_cases():
    """Every tie receiving the gradient is caught by the visible check, on a case with ties."""
    every_tie = convolution.MAX_POOL_BACKWARD_MISTAKES[0].implementation
    report = UNGUARDED.evaluate("max_pool_backward", every_tie, conv.max_pool_forward)
    assert report.status == "failed" and "ties" in report.message and "first maximum" in report.message


def test_an_unflipped_kernel_is_named_in_both_directions():
    report = UNGUARDED.evaluate("convolve1d", lambda x, k, mode="full": conv.correlate1d(x, k, mode))
    assert "this is a cross-correlation" in report.message
    report = UNGUARDED.evaluate("correlate1d", lambda x, k, mode="valid": conv.convolve1d(x, k, mode))
    assert "that was a convolution" in report.message


# -- the plots and the widget, headless --------------------------------------------------------------


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digit():
    return data.load_digits()["x_train"][0, 0].astype(np.float64)


def test_riemann_errors_shrink_like_dt_for_boxes_and_reach_rounding_for_gaussians():
    fig = viz.plot_riemann(stub, dts=[0.4, 0.2, 0.1, 0.05])
    box = fig.errors["box * box"]
    assert np.all(np.diff(box) < 0)
    slope = np.polyfit(np.log(fig.dts), np.log(box), 1)[0]
    assert 0.8 < slope < 1.2
    assert fig.errors["Gaussian * Gaussian"][2] < 1e-12
    assert "nnlib's" in fig.axes[2].get_title()
    _png(fig)
    mine = viz.plot_riemann(lambda f, g, dt: dt * np.convolve(f, g), dts=[0.2, 0.1])
    assert "yours" in mine.axes[2].get_title()
    missing_dt = viz.plot_riemann(lambda f, g, dt: np.convolve(f, g), dts=[0.2, 0.1])
    assert np.all(missing_dt.errors["box * box"] > 1)  # a wrong answer shows in the plot


def test_kernel_maps_use_the_students_forward_or_fall_back(digit):
    fig = viz.plot_kernels(digit, stub)
    assert "nnlib's" in fig._suptitle.get_text()
    np.testing.assert_allclose(fig.maps["identity"], digit, atol=1e-12)
    np.testing.assert_allclose(fig.maps["blur"][5, 5], digit[4:7, 4:7].mean(), rtol=1e-12)
    _png(fig)
    doubled = lambda x, w, b, stride=1, pad=0: (2 * conv.conv2d_forward(x, w, b, stride, pad)[0], None)  # noqa: E731
    fig = viz.plot_kernels(digit, doubled)
    assert "yours" in fig._suptitle.get_text()
    np.testing.assert_allclose(fig.maps["identity"], 2 * digit, atol=1e-12)


def test_shift_equivariance_holds_for_a_convolution_and_not_for_a_position_dependent_map(digit):
    fig = viz.plot_shift_equivariance(digit, stub)
    assert fig.gap < 1e-12
    _png(fig)

    def position_dependent(x, w, b, stride=1, pad=0):
        out, cache = conv.conv2d_forward(x, w, b, stride, pad)
        return out * np.linspace(0.5, 1.5, out.shape[-1]), cache

    assert viz.shift_equivariance(digit, position_dependent)[2] > 1e-3


def test_kernel_widget_redraws_with_the_typed_kernel_and_the_presets(digit):
    pytest.importorskip("ipywidgets")
    images = np.stack([digit, digit[::-1]])
    box = viz.kernel_widget(images, stub)
    first = box.figure
    np.testing.assert_allclose(first.feature_map, viz._feature_map(conv.conv2d_forward, digit, viz.KERNELS["vertical edges"]))
    box.preset.value = "identity"
    np.testing.assert_allclose(box.figure.feature_map, digit, atol=1e-12)
    box.cells[4].value = 2.0  # the centre
    np.testing.assert_allclose(box.figure.feature_map, 2 * digit, atol=1e-12)
    box.digit.value = 1
    np.testing.assert_allclose(box.figure.feature_map, 2 * digit[::-1], atol=1e-12)
    _png(box.figure)


def test_histories_and_filters_plots():
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.7]}
    fig = viz.plot_histories({"CNN": history, "MLP": history})
    assert len(fig.axes[0].get_lines()) == 4
    _png(fig)
    rng = np.random.default_rng(0)
    fig = viz.plot_filters_and_maps(rng.standard_normal((4, 1, 3, 3)), np.zeros(4), rng.uniform(0, 1, (16, 16)))
    assert fig.maps.shape == (4, 16, 16) and np.all(fig.maps >= 0)
    _png(fig)


def test_a_forward_with_loops_over_the_output_positions_fails_the_vectorised_exercise():
    loops = _solutions()["conv_forward"]

    def fast_in_name_only(x, w, b, stride=1, pad=0):
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((n, f, (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1), dtype=x.dtype)
        for i in range(out.shape[2]):  # the batch and the filters vectorised, the positions looped
            for j in range(out.shape[3]):
                window = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                out[:, :, i, j] = np.einsum("ncuv,fcuv->nf", window, w) + b
        return out

    before = __import__("sys").gettrace()
    for hidden in (False, True):
        report = CATALOGUE.evaluate("conv_forward_fast", fast_in_name_only, hidden=hidden)
        assert report.status == "failed" and "lines of Python" in report.message and "many output positions" in report.message, str(report)
    assert __import__("sys").gettrace() is before  # the line counter leaves the tracer as it was
    report = CATALOGUE.evaluate("conv_forward_fast", lambda x, w, b, stride=1, pad=0: loops(x, w, b, stride, pad)[0])
    assert report.status == "failed" and "lines of Python" in report.message


def test_a_max_pool_that_assumes_a_contiguous_input_fails_on_the_view():
    def assumes_contiguous(x, kernel_size=2, stride=2):
        n, c, h, w = x.shape
        item = x.itemsize
        windows = np.lib.stride_tricks.as_strided(  # strides computed as if x were C-contiguous
            x, shape=(n, c, (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1, kernel_size, kernel_size),
            strides=(c * h * w * item, h * w * item, stride * w * item, stride * item, w * item, item))
        return windows.max(axis=(4, 5)), None

    for hidden in (False, True):
        report = CATALOGUE.evaluate("max_pool_forward", assumes_contiguous, hidden=hidden)
        assert report.status == "failed" and "transposed" in report.message, report.message


# -- wrong answers found by a second reviewer (each passed some check or grade before its fix) ----------


def _passes_anywhere(name, function, forward=None, seeds=(None, 1, 2, 3, 4, 5)):
    """Whether ``function`` passes the visible or the hidden cases for any of a few seeds."""
    for hidden in (False, True):
        for seed in seeds:
            options = {} if seed is None else {"seed": seed}
            if UNGUARDED.evaluate(name, function, forward, hidden=hidden, **options).status == "passed":
                return True
    return False


def test_an_output_size_that_returns_minus_one_instead_of_raising_fails():
    def returns_minus_one(size, kernel_size, stride=1, pad=0):
        span = size + 2 * pad - kernel_size
        if span < 0 or span % stride:
            return -1  # the old encoding of "raised ValueError"
        return span // stride + 1

    assert not _passes_anywhere("conv_output_size", returns_minus_one)
    report = CATALOGUE.evaluate("conv_output_size", returns_minus_one)
    assert "raised ValueError (1 if it did, 0 if not) is wrong: expected 1, got 0" in report.message


def test_an_output_size_without_an_explicit_test_of_a_large_kernel_fails():
    def modulo_only(size, kernel_size, stride=1, pad=0):  # stride 1 and span -2 gave -1, read as a ValueError
        span = size + 2 * pad - kernel_size
        if span % stride:
            raise ValueError("the stride does not fit")
        return span // stride + 1

    assert not _passes_anywhere("conv_output_size", modulo_only)


def test_an_output_size_that_compares_the_kernel_with_the_unpadded_input_fails_on_every_seed():
    def ignores_pad(size, kernel_size, stride=1, pad=0):
        if kernel_size > size:
            raise ValueError("the kernel is too large")
        span = size + 2 * pad - kernel_size
        if span % stride:
            raise ValueError("the stride does not fit")
        return span // stride + 1

    assert not _passes_anywhere("conv_output_size", ignores_pad)
    report = CATALOGUE.evaluate("conv_output_size", ignores_pad)
    assert "compared with the input without its padding" in report.message


def _negative_end_slices(flip):
    def wrong(x, k, mode="full"):
        kk = k if flip else k[::-1]
        full = np.zeros(len(x) + len(k) - 1)
        for n in range(full.size):
            for m in range(len(x)):
                if 0 <= n - m < len(k):
                    full[n] += x[m] * kk[n - m]
        if mode == "full":
            return full
        if mode == "valid":
            return full[len(k) - 1 : -(len(k) - 1)]  # empty for a one-sample kernel
        start = (len(k) - 1) // 2
        return full[start : -(len(k) - 1 - start)]

    return wrong


@pytest.mark.parametrize("name, flip", [("convolve1d", True), ("correlate1d", False)])
def test_slices_that_end_at_minus_zero_fail_the_visible_check(name, flip):
    """A one-sample kernel was only in a hidden 'valid' case and in no 'same' case: full marks locally, points lost."""
    report = CATALOGUE.evaluate(name, _negative_end_slices(flip))
    assert report.status == "failed" and "one-sample kernel" in report.message
    assert "which is 0, and the slice is empty" in report.message
    assert not _passes_anywhere(name, _negative_end_slices(flip))


# -- the experiments in the grader, where nnlib's convolutions are stubs ------------------------------------


@pytest.fixture
def grading_stubs(tmp_path, monkeypatch):
    """nnlib.conv's functions replaced by the grading sandbox's own stubs (autograder.sandbox.stub_sources)."""
    import importlib.util

    from autograder import sandbox

    overlays, stubbed, _ = sandbox.stub_sources(CATALOGUE, tmp_path)
    (stub_file,) = overlays.values()
    spec = importlib.util.spec_from_file_location("stubbed_conv", stub_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for qualified in stubbed:
        name = qualified.rsplit(".", 1)[1]
        monkeypatch.setattr(conv, name, getattr(module, name))
    return stubbed


def test_nnlib_available_is_false_only_under_the_grading_stubs(grading_stubs):
    assert "nnlib.conv.conv2d_forward" in grading_stubs and "nnlib.conv.max_pool_forward" in grading_stubs
    assert viz.nnlib_available() is False


def test_nnlib_available_does_not_hide_a_real_error(monkeypatch):
    assert viz.nnlib_available() is True

    def broken(*args, **kwargs):
        raise RuntimeError("a real bug")

    monkeypatch.setattr(conv, "conv2d_forward", broken)
    with pytest.raises(RuntimeError, match="a real bug"):
        viz.nnlib_available()


def test_the_experiments_on_nnlibs_layers_say_they_are_skipped_under_the_grading_stubs(grading_stubs, capsys):
    """Every code cell but the checks runs (the solutions standing for the student's answers); the cells built on
    nnlib's layers print one line each instead of raising the stubs' RuntimeError."""
    nb = notebook(CHAPTER)
    namespace = {"display": lambda *args: None}
    for cell in nb.cells:
        if cell.cell_type != "code" or re.search(r"^(check|grade)\(", cell.source, re.M):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        exec(compile(source, f"cell {cell.get('id')}", "exec"), namespace)
    assert namespace["nnlib_runs"] is False
    printed = capsys.readouterr().out
    assert printed.count("skipped while this chapter is graded") == 5, printed
    for what in ("the CNN-vs-MLP experiment", "the training curves", "the learned filters",
                 "the trained network run by your layers", "nnlib's max-pool on a channel of 1s"):
        assert f"{what}: skipped while this chapter is graded" in printed


def _numerical_backward(forward, names):
    """A backward that differentiates the student's forward numerically with nnlib's gradcheck (in float64, so that
    the float32 cases pass too): it passed conv_backward's visible and hidden cases before the check looked for it."""
    from nnlib.gradcheck import numerical_gradient_array

    def backward(dout, cache):
        arrays = [np.asarray(a, dtype=np.float64) for a in cache[: len(names)]]
        rest = cache[len(names) :]
        grads = []
        for k in range(len(names)):
            def out(v, k=k):
                args = arrays[:k] + [v] + arrays[k + 1 :]
                return forward(*args, *rest)[0]

            grads.append(numerical_gradient_array(out, arrays[k].copy(), dout.astype(np.float64)).astype(cache[k].dtype))
        return tuple(grads) if len(grads) > 1 else grads[0]

    return backward


def _own_differences(forward):
    """The same with the student's own central differences: the forward runs twice per element of x, w and b."""

    def backward(dout, cache):
        x, w, b, stride, pad = (np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in cache)
        grads = []
        for k, value in enumerate((x, w, b)):
            grad = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                args = [x.copy(), w.copy(), b.copy()]
                args[k][index] += 1e-5
                plus = forward(*args, stride, pad)[0]
                args[k][index] -= 2e-5
                grad[index] = np.sum((plus - forward(*args, stride, pad)[0]) * dout) / 2e-5
            grads.append(grad.astype(cache[k].dtype))
        return tuple(grads)

    return backward


def _conv_forward_caching_b(x, w, b, stride=1, pad=0):
    out, (x, w, stride, pad) = _solutions()["conv_forward"](x, w, b, stride, pad)
    return out, (x, w, b, stride, pad)


def test_a_backward_that_differentiates_the_forward_numerically_fails():
    conv_forward = _conv_forward_caching_b
    for name, backward, forward in (
        ("conv_backward", _numerical_backward(conv_forward, ("x", "w", "b")), conv_forward),
        ("conv_backward", _own_differences(conv_forward), conv_forward),
        ("max_pool_backward", _numerical_backward(_solutions()["max_pool_forward"], ("x",)), _solutions()["max_pool_forward"]),
    ):
        for hidden in (False, True):
            report = CATALOGUE.evaluate(name, backward, forward, hidden=hidden)
            assert report.status == "failed" and "that is a numerical gradient" in report.message, report.message


def test_a_backward_that_calls_its_forward_once_is_not_blamed():
    solutions = _solutions()

    def recomputes(dout, cache):
        solutions["max_pool_forward"](cache[0], *cache[1:])
        return solutions["max_pool_backward"](dout, cache)

    assert CATALOGUE.evaluate("max_pool_backward", recomputes, solutions["max_pool_forward"]).status == "passed"


def test_an_unfinished_release_runs_every_ungraded_cell_under_the_grading_stubs(grading_stubs, capsys):
    """In the grader an unwritten exercise has no nnlib fallback either: its figures print one line, nothing raises."""
    import matplotlib.pyplot as plt

    nb = nbformat.read(RELEASE, as_version=4)
    namespace = {"display": lambda *args: None}
    for cell in nb.cells:
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        exec(compile(source, f"cell {cell.get('id')}", "exec"), namespace)
    plt.close("all")
    printed = capsys.readouterr().out
    for what in ("the Riemann-sum figure", "nnlib's correlation and convolution of the ramp", "the hand-made kernels",
                 "the shift-equivariance figure", "the feature map", "the CNN-vs-MLP experiment"):
        assert f"{what}" in printed and "skipped while this chapter is graded" in printed, what


def test_a_figure_does_not_hide_a_real_error_of_nnlib(monkeypatch, digit):
    def broken(*args, **kwargs):
        raise RuntimeError("a real bug")

    monkeypatch.setattr(conv, "conv2d_forward", broken)
    with pytest.raises(RuntimeError, match="a real bug"):
        viz.plot_kernels(digit, None)


def test_no_cell_after_the_backward_hands_over_its_index_formulas():
    """The commentary after exercise 6 once gave dw[f, c, u, v] and dx as sums over indices: code to type in."""
    text = "\n".join(c.source for c in nbformat.read(RELEASE, as_version=4).cells if c.cell_type == "markdown")
    assert r"dw[f, c, u, v] = \sum" not in text
    assert r"w[f, c, h - iS, w - jS]" not in text


def _backward_with_windows_at(dx_step, dw_step):
    """A conv_backward by loops whose windows move dx_step (for dx) and dw_step (for dw) instead of the stride."""

    def backward(dout, cache):
        x, w, b, stride, pad = cache
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        kh, kw = w.shape[2:]
        for n, f, i, j in np.ndindex(dout.shape):
            a, c = (i * (dx_step or stride), j * (dx_step or stride))
            dxp[n, :, a : a + kh, c : c + kw] += dout[n, f, i, j] * w[f]
            a, c = (i * (dw_step or stride), j * (dw_step or stride))
            dw[f] += dout[n, f, i, j] * xp[n, :, a : a + kh, c : c + kw]
        return dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3)).astype(b.dtype)

    return backward


@pytest.mark.parametrize("dx_step, dw_step, cause", [
    (1, None, "dx ignores the stride"), (None, 1, "dw ignores the stride"), (1, 1, "the backward ignores the stride")])
def test_a_backward_that_ignores_the_stride_is_named(dx_step, dw_step, cause):
    report = CATALOGUE.evaluate("conv_backward", _backward_with_windows_at(dx_step, dw_step), _conv_forward_caching_b)
    assert report.status == "failed" and f"Likely cause: {cause}" in report.message, report.message


def _helper_answers():
    """Right answers copied from the catalogue's own helpers and nnlib's private ones (each passed before they were
    forbidden: full marks without writing a line of convolution)."""
    c = convolution

    def conv_forward(x, w, b, stride=1, pad=0):
        return c._conv_loops(x, w, b, stride, pad), (x, w, b, stride, pad)

    def max_pool_forward(x, kernel_size=2, stride=2):
        return c._pool_loops(x, kernel_size, stride, lambda win: win.max(axis=(2, 3))), (x, kernel_size, stride)

    def conv_output_size(size, kernel_size, stride=1, pad=0):
        if (size + 2 * pad - kernel_size) % stride:
            raise ValueError("the stride does not fit")
        return conv._out_size(size, kernel_size, stride, pad, "this axis")

    return [
        ("riemann_convolve", lambda f, g, dt: dt * c._full_by_loops(f, g), None),
        ("convolve1d", lambda x, k, mode="full": c._crop(c._full_by_loops(x, k), len(x), len(k), mode), None),
        ("conv_output_size", conv_output_size, None),
        ("conv_forward", conv_forward, None),
        ("conv_forward_fast", c._fast_mistake(), None),
        ("max_pool_forward", max_pool_forward, None),
        ("max_pool_backward", lambda dout, cache: c.max_pool_backward_expected(cache[0], cache[1], cache[2], dout),
         max_pool_forward),
    ]


@pytest.mark.parametrize("name, answer, forward", _helper_answers(), ids=[a[0] for a in _helper_answers()])
def test_answers_built_on_the_catalogues_or_nnlibs_private_helpers_are_caught(name, answer, forward):
    for hidden in (False, True):
        report = CATALOGUE.evaluate(name, answer, forward, hidden=hidden)
        assert report.status == "failed" and "calls nnlib's answer" in report.message, report.message


def test_a_backward_built_from_two_calls_of_the_forward_passes():
    """dx as the forward applied to the dilated, padded dout with the flipped, transposed filters; dw as the forward
    applied to the input with the batch as channels: a derivation, not a numerical gradient."""
    forward = _conv_forward_caching_b

    def backward(dout, cache):
        x, w, b, stride, pad = cache
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        dil = np.zeros((n, f, (dout.shape[2] - 1) * stride + 1, (dout.shape[3] - 1) * stride + 1), dtype=dout.dtype)
        dil[:, :, ::stride, ::stride] = dout
        spread = np.pad(dil, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        dxp = forward(spread, w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1], np.zeros(c, dtype=x.dtype), 1, 0)[0]
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dw = forward(xp.transpose(1, 0, 2, 3), dil.transpose(1, 0, 2, 3), np.zeros(f, dtype=x.dtype), 1, 0)[0]
        return dxp[:, :, pad : pad + h, pad : pad + wd], dw.transpose(1, 0, 2, 3), dout.sum(axis=(0, 2, 3)).astype(b.dtype)

    for hidden in (False, True):
        report = CATALOGUE.evaluate("conv_backward", backward, forward, hidden=hidden)
        assert report.passed, report.message


def _einsum_forward(x, w, b, stride=1, pad=0):
    from numpy.lib.stride_tricks import sliding_window_view

    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, KH, KW)
    return np.einsum("nchwuv,fcuv->nfhw", windows, w) + b[:, None, None]


@pytest.mark.parametrize("style", ["einsum", "a loop over the batch", "as_strided and tensordot"])
def test_right_vectorised_forwards_in_unusual_styles_get_full_marks(style):
    def as_strided_forward(x, w, b, stride=1, pad=0):
        from numpy.lib.stride_tricks import as_strided

        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out_h, out_w = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
        s = xp.strides
        windows = as_strided(xp, (n, c, out_h, out_w, kh, kw), (s[0], s[1], s[2] * stride, s[3] * stride, s[2], s[3]))
        return np.tensordot(windows, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None]

    answer = {
        "einsum": _einsum_forward,
        "a loop over the batch": lambda x, w, b, stride=1, pad=0: np.stack(
            [_einsum_forward(x[i : i + 1], w, b, stride, pad)[0] for i in range(len(x))]),
        "as_strided and tensordot": as_strided_forward,
    }[style]
    for hidden in (False, True):
        for seed in (0, 1):
            assert CATALOGUE.evaluate("conv_forward_fast", answer, seed=seed, hidden=hidden).passed
