"""Tests of nnlib.conv: 1-D convolution, the two 2-D convolution layers, max and average pooling."""

import numpy as np
import pytest

from nnlib import conv
from nnlib.gradcheck import check_backward, rel_error
from nnlib.tolerances import FLOAT32_RTOL, GRAD_RTOL, MATCH_RTOL

CONV_PAIRS = {
    "naive": (conv.conv2d_forward_naive, conv.conv2d_backward_naive),
    "vectorised": (conv.conv2d_forward, conv.conv2d_backward),
}
POOL_PAIRS = {
    "max": (conv.max_pool_forward, conv.max_pool_backward),
    "avg": (conv.avg_pool_forward, conv.avg_pool_backward),
}


def random_conv_inputs(rng, n, c, h, w, f, kh, kw, dtype=np.float64):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    return x, wt, b


# --------------------------------------------------------------------------------------------------
# 1-D convolution and correlation
# --------------------------------------------------------------------------------------------------


def test_convolve1d_hand_computed():
    # (f * g)[n] = sum_k f[k] g[n - k]:  [1, 2] * [1, 10, 100] = [1, 12, 120, 200]
    out = conv.convolve1d([1.0, 2.0], [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(out, [1.0, 12.0, 120.0, 200.0])


def test_correlate1d_hand_computed():
    # c[n] = sum_k f[n + k] g[k]: a difference filter, not flipped
    np.testing.assert_allclose(conv.correlate1d([1.0, 4.0, 9.0, 16.0], [-1.0, 1.0]), [3, 5, 7])


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_1d_agree_with_numpy_for_random_lengths(mode):
    rng = np.random.default_rng(1)
    for len_f in range(1, 8):
        for len_g in range(1, 8):
            f, g = rng.standard_normal(len_f), rng.standard_normal(len_g)
            for ours, theirs in ((conv.convolve1d, np.convolve), (conv.correlate1d, np.correlate)):
                expected = theirs(f, g, mode=mode)
                actual = ours(f, g, mode=mode)
                assert actual.shape == expected.shape, (ours.__name__, len_f, len_g)
                assert rel_error(expected, actual) <= MATCH_RTOL, (ours.__name__, mode, len_f, len_g)


def test_correlate_is_convolve_with_flipped_kernel():
    rng = np.random.default_rng(2)
    f, g = rng.standard_normal(9), rng.standard_normal(4)
    for mode in ("full", "valid"):
        np.testing.assert_allclose(conv.correlate1d(f, g, mode), conv.convolve1d(f, g[::-1], mode), rtol=1e-12)


def test_1d_dtypes_and_validation():
    assert conv.convolve1d(np.ones(3, np.float32), np.ones(2, np.float32)).dtype == np.float32
    assert conv.correlate1d([1, 2, 3], [1, 1]).dtype == np.float64  # integers become float64
    with pytest.raises(ValueError, match="mode must be one of 'full', 'same' or 'valid', got 'middle'"):
        conv.convolve1d([1.0], [1.0], mode="middle")
    with pytest.raises(ValueError, match=r"f must have shape \(len_f,\) \(1-D\), got shape \(2, 2\)"):
        conv.correlate1d(np.ones((2, 2)), [1.0])
    with pytest.raises(ValueError, match="must not be empty, got lengths 3 and 0"):
        conv.convolve1d([1.0, 2.0, 3.0], [])


# --------------------------------------------------------------------------------------------------
# 2-D convolution: hand-computed examples
# --------------------------------------------------------------------------------------------------

X3 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
W2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_hand_computed_3x3_image_2x2_kernel(version):
    forward, backward = CONV_PAIRS[version]
    out, cache = forward(X3, W2, np.array([1.0]))
    # top-left: 1*1 + 2*2 + 4*3 + 5*4 + 1 = 38; each step right adds 1+2+3+4 = 10, each step down 3*10
    np.testing.assert_array_equal(out, [[[[38.0, 48.0], [68.0, 78.0]]]])
    dx, dw, db = backward(np.ones((1, 1, 2, 2)), cache)
    # dw[u, v] = sum of the pixels that kernel entry (u, v) saw; dx[p] = sum of the kernel entries that saw p
    np.testing.assert_array_equal(dw, [[[[12.0, 16.0], [24.0, 28.0]]]])
    np.testing.assert_array_equal(dx, [[[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]])
    np.testing.assert_array_equal(db, [4.0])


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_hand_computed_pad_and_stride(version):
    forward, _ = CONV_PAIRS[version]
    # padded to 5x5, 2x2 windows every 2 pixels: rows/cols 0-1 and 2-3 (the last padded row and column are unused)
    out, _ = forward(X3, np.ones((1, 1, 2, 2)), np.zeros(1), stride=2, pad=1)
    np.testing.assert_array_equal(out, [[[[1.0, 2.0 + 3.0], [4.0 + 7.0, 5.0 + 6.0 + 8.0 + 9.0]]]])


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_stride_that_does_not_tile_floors_and_ignores_the_rest(version):
    forward, backward = CONV_PAIRS[version]
    x = np.random.default_rng(3).standard_normal((2, 1, 4, 4))
    out, cache = forward(x, np.ones((1, 1, 3, 3)), np.zeros(1), stride=2)  # (4 - 3) // 2 + 1 = 1
    assert out.shape == (2, 1, 1, 1)
    np.testing.assert_allclose(out[:, 0, 0, 0], x[:, 0, :3, :3].sum(axis=(1, 2)))
    dx, _, _ = backward(np.ones(out.shape), cache)
    np.testing.assert_array_equal(dx[:, :, 3, :], 0.0)
    np.testing.assert_array_equal(dx[:, :, :, 3], 0.0)


def test_identity_kernel_and_multichannel_sum():
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 4))
    identity = np.zeros((3, 3, 3, 3))
    identity[np.arange(3), np.arange(3), 1, 1] = 1.0  # filter f copies channel f
    out, _ = conv.conv2d_forward(x, identity, np.zeros(3), pad=1)
    np.testing.assert_allclose(out, x, rtol=0, atol=1e-15)
    summing = np.ones((1, 3, 1, 1))  # a 1x1 kernel of ones adds the channels
    out, _ = conv.conv2d_forward(x, summing, np.array([0.5]))
    np.testing.assert_allclose(out[:, 0], x.sum(axis=1) + 0.5, rtol=1e-13)


# --------------------------------------------------------------------------------------------------
# 2-D convolution: vectorised against naive, gradient checks
# --------------------------------------------------------------------------------------------------

# (N, C, H, W, F, KH, KW, stride, pad)
GEOMETRIES = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),
    (2, 3, 7, 6, 4, 3, 2, 2, 1),
    (3, 2, 8, 8, 3, 5, 5, 3, 2),
    (1, 4, 9, 7, 2, 1, 1, 1, 0),
    (2, 1, 6, 5, 2, 3, 3, 2, 0),
    (1, 2, 4, 4, 3, 6, 6, 1, 1),  # kernel larger than the input, not than the padded input
    (2, 2, 11, 13, 5, 4, 3, 3, 2),
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "N{}C{}_{}x{}_F{}_{}x{}_s{}_p{}".format(*g))
def test_vectorised_matches_naive(geometry):
    n, c, h, w, f, kh, kw, stride, pad = geometry
    rng = np.random.default_rng(5)
    x, wt, b = random_conv_inputs(rng, n, c, h, w, f, kh, kw)
    out_naive, cache_naive = conv.conv2d_forward_naive(x, wt, b, stride=stride, pad=pad)
    out_fast, cache_fast = conv.conv2d_forward(x, wt, b, stride=stride, pad=pad)
    assert out_fast.shape == out_naive.shape == (n, f, (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1)
    assert out_fast.flags.c_contiguous
    assert rel_error(out_naive, out_fast) <= MATCH_RTOL
    dout = rng.standard_normal(out_naive.shape)
    for name, g_naive, g_fast, like in zip(
        ("dx", "dw", "db"), conv.conv2d_backward_naive(dout, cache_naive), conv.conv2d_backward(dout, cache_fast), (x, wt, b)
    ):
        assert g_fast.shape == g_naive.shape == like.shape, name
        assert rel_error(g_naive, g_fast) <= MATCH_RTOL, name


@pytest.mark.parametrize("block_values", [1, 100, 10**9])  # one sample per block, a few, the whole batch
def test_vectorised_is_the_same_whatever_the_blocks_of_the_batch(block_values, monkeypatch):
    rng = np.random.default_rng(18)
    x, wt, b = random_conv_inputs(rng, 7, 2, 6, 5, 3, 3, 3)
    out_naive, cache_naive = conv.conv2d_forward_naive(x, wt, b, stride=2, pad=1)
    dout = rng.standard_normal(out_naive.shape)
    monkeypatch.setattr(conv, "_BLOCK_VALUES", block_values)
    out, cache = conv.conv2d_forward(x, wt, b, stride=2, pad=1)
    assert rel_error(out_naive, out) <= MATCH_RTOL
    for g_naive, g_fast in zip(conv.conv2d_backward_naive(dout, cache_naive), conv.conv2d_backward(dout, cache)):
        assert rel_error(g_naive, g_fast) <= MATCH_RTOL


@pytest.mark.parametrize("version", CONV_PAIRS)
@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), (1, 2)])
def test_conv2d_gradient_check(version, stride, pad):
    forward, backward = CONV_PAIRS[version]
    x, wt, b = random_conv_inputs(np.random.default_rng(6), 2, 2, 5, 4, 3, 3, 2)
    errors = check_backward(
        lambda x, w, b: forward(x, w, b, stride=stride, pad=pad), backward, {"x": x, "w": wt, "b": b}, name=version
    )
    assert max(errors.values()) <= GRAD_RTOL


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_gradient_check_input_used_twice(version):
    """x feeds two convolutions whose outputs are added: dx must be the sum of both paths."""
    forward, backward = CONV_PAIRS[version]
    rng = np.random.default_rng(7)
    x, w1, b1 = random_conv_inputs(rng, 2, 2, 5, 5, 3, 3, 3)
    w2 = rng.standard_normal((3, 2, 1, 1))

    def two_convs(x):
        out1, cache1 = forward(x, w1, b1, pad=1)  # (2, 3, 5, 5)
        out2, cache2 = forward(x, w2, np.zeros(3), stride=1)  # (2, 3, 5, 5)
        return out1 + out2, (cache1, cache2)

    def two_convs_backward(dout, caches):
        return backward(dout, caches[0])[0] + backward(dout, caches[1])[0]

    check_backward(two_convs, two_convs_backward, {"x": x}, name=f"{version} fan-out")


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_gradient_check_same_array_as_input_and_kernel(version):
    """The same array as image and as kernel: its gradient is dx + dw."""
    forward, backward = CONV_PAIRS[version]
    a = np.random.default_rng(8).standard_normal((2, 2, 3, 3))  # N = F = 2, H = KH = 3
    b = np.array([0.1, -0.2])

    def self_conv(a):
        return forward(a, a, b, pad=1)

    def self_conv_backward(dout, cache):
        dx, dw, _ = backward(dout, cache)
        return dx + dw

    check_backward(self_conv, self_conv_backward, {"a": a}, name=f"{version} x as its own kernel")


def test_non_contiguous_input():
    rng = np.random.default_rng(9)
    x, wt, b = random_conv_inputs(rng, 3, 2, 6, 8, 2, 3, 3)
    x_view = x[::-1, :, :, ::2]  # negative and step-2 strides
    out, _ = conv.conv2d_forward(x_view, wt, b, pad=1)
    expected, _ = conv.conv2d_forward(np.ascontiguousarray(x_view), wt, b, pad=1)
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------------------------------
# dtypes, inputs left alone, validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_preserves_float32(version):
    forward, backward = CONV_PAIRS[version]
    x, wt, b = random_conv_inputs(np.random.default_rng(10), 2, 3, 6, 6, 4, 3, 3, dtype=np.float32)
    out, cache = forward(x, wt, b, stride=2, pad=1)
    assert out.dtype == np.float32
    grads = backward(np.ones(out.shape, np.float32), cache)
    assert [g.dtype for g in grads] == [np.float32] * 3
    out64, _ = forward(x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64), stride=2, pad=1)
    assert rel_error(out64, out) <= FLOAT32_RTOL


def test_conv2d_mixed_dtypes_compute_in_float64_and_return_each_gradient_in_its_input_dtype():
    x, wt, b = random_conv_inputs(np.random.default_rng(11), 2, 1, 5, 5, 2, 3, 3)
    out, cache = conv.conv2d_forward(x.astype(np.float32), wt, b)
    assert out.dtype == np.float64
    dx, dw, db = conv.conv2d_backward(np.ones(out.shape), cache)
    assert (dx.dtype, dw.dtype, db.dtype) == (np.float32, np.float64, np.float64)
    out_int, _ = conv.conv2d_forward(np.ones((1, 1, 3, 3), dtype=int), np.ones((1, 1, 2, 2), dtype=int), [0])
    assert out_int.dtype == np.float64


@pytest.mark.parametrize("pool", POOL_PAIRS)
def test_pools_preserve_float32(pool):
    forward, backward = POOL_PAIRS[pool]
    x = np.random.default_rng(12).standard_normal((2, 3, 6, 6)).astype(np.float32)
    out, cache = forward(x)
    assert out.dtype == np.float32
    assert backward(np.ones(out.shape), cache).dtype == np.float32  # float64 dout: dx still in x's dtype


def test_inputs_unchanged():
    rng = np.random.default_rng(13)
    x, wt, b = random_conv_inputs(rng, 2, 2, 5, 5, 3, 3, 3)
    dout = rng.standard_normal((2, 3, 3, 3))
    dout_pool = rng.standard_normal((2, 2, 2, 2))
    arrays = (x, wt, b, dout, dout_pool)
    copies = [a.copy() for a in arrays]
    for forward, backward in CONV_PAIRS.values():
        out, cache = forward(x, wt, b, stride=2, pad=1)
        backward(dout, cache)
    for forward, backward in POOL_PAIRS.values():
        out, cache = forward(x)
        backward(dout_pool, cache)
    for a, original in zip(arrays, copies):
        np.testing.assert_array_equal(a, original)


@pytest.mark.parametrize("forward", [conv.conv2d_forward, conv.conv2d_forward_naive])
def test_conv2d_validation_messages(forward):
    x, wt, b = np.zeros((2, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4)
    cases = [
        ((np.zeros((3, 5, 5)), wt, b), {}, r"x must have shape \(N, C, H, W\) \(4-D\), got shape \(3, 5, 5\) \(3-D\)"),
        ((x, np.zeros((4, 3, 3)), b), {}, r"w must have shape \(F, C, KH, KW\) \(4-D\), got shape \(4, 3, 3\) \(3-D\)"),
        ((x, np.zeros((4, 2, 3, 3)), b), {}, r"x has 3 channels \(x.shape\[1\]\) but w expects 2 \(w.shape\[1\]\)"),
        ((x, wt, np.zeros(3)), {}, r"b must have shape \(F,\) = \(4,\), one bias per filter of w, got shape \(3,\)"),
        ((x, wt, np.zeros((4, 1))), {}, r"b must have shape \(F,\) = \(4,\)"),
        ((x, np.zeros((4, 3, 8, 3)), b), {"pad": 1}, r"larger than the padded input along the height.*8 > 5 \+ 2\*1 = 7"),
        ((x, np.zeros((4, 3, 3, 6)), b), {}, r"larger than the padded input along the width.*6 > 5 \+ 2\*0 = 5"),
        ((x, wt, b), {"stride": 0}, "stride must be a positive integer, got 0"),
        ((x, wt, b), {"stride": 1.5}, "stride must be a positive integer, got 1.5"),
        ((x, wt, b), {"pad": -1}, "pad must be a non-negative integer, got -1"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            forward(*args, **kwargs)


@pytest.mark.parametrize("version", CONV_PAIRS)
def test_conv2d_backward_rejects_wrong_dout_shape(version):
    forward, backward = CONV_PAIRS[version]
    _, cache = forward(np.zeros((2, 1, 4, 4)), np.zeros((3, 1, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 2, 2\), got shape \(2, 3, 4, 4\)"):
        backward(np.zeros((2, 3, 4, 4)), cache)


@pytest.mark.parametrize("pool", POOL_PAIRS)
def test_pool_validation_messages(pool):
    forward, backward = POOL_PAIRS[pool]
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, H, W\) \(4-D\), got shape \(4, 4\) \(2-D\)"):
        forward(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"larger than the padded input along the height \(kernel_size vs H\): 3 > 2"):
        forward(np.zeros((1, 1, 2, 8)), kernel_size=3)
    with pytest.raises(ValueError, match="kernel_size must be a positive integer, got 0"):
        forward(np.zeros((1, 1, 4, 4)), kernel_size=0)
    with pytest.raises(ValueError, match="stride must be a positive integer, got -2"):
        forward(np.zeros((1, 1, 4, 4)), stride=-2)
    _, cache = forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must have shape \(1, 1, 2, 2\), got shape \(1, 1, 4, 4\)"):
        backward(np.zeros((1, 1, 4, 4)), cache)


# --------------------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------------------


def test_max_pool_hand_computed():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, -1.0, -2.0], [0.0, 0.0, 7.0, 8.0], [9.0, 0.0, 6.0, 5.0]]]])
    out, cache = conv.max_pool_forward(x)
    np.testing.assert_array_equal(out, [[[[5.0, 2.0], [9.0, 8.0]]]])
    dx = conv.max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 0, 1], expected[0, 0, 0, 2], expected[0, 0, 3, 0], expected[0, 0, 2, 3] = 1.0, 2.0, 3.0, 4.0
    np.testing.assert_array_equal(dx, expected)


def test_avg_pool_hand_computed():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = conv.avg_pool_forward(x)
    np.testing.assert_array_equal(out, [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = conv.avg_pool_backward(np.array([[[[4.0, 8.0], [0.0, -4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, -1, -1], [0, 0, -1, -1]])


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = np.array([[[[7.0, 7.0, 0.0, 3.0], [7.0, 7.0, 3.0, 3.0]]]])  # window 1: all tie; window 2: three 3s
    out, cache = conv.max_pool_forward(x)
    np.testing.assert_array_equal(out, [[[[7.0, 3.0]]]])
    dx = conv.max_pool_backward(np.array([[[[1.0, 2.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[1.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]]]])
    # the same rule as np.argmax over each flattened window, on random ties
    x = np.random.default_rng(14).integers(0, 3, size=(2, 3, 6, 6)).astype(float)
    _, cache = conv.max_pool_forward(x, kernel_size=3, stride=3)
    dx = conv.max_pool_backward(np.ones((2, 3, 2, 2)), cache)
    windows = x.reshape(2, 3, 2, 3, 2, 3).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 2, 9)
    first = np.zeros_like(windows)
    np.put_along_axis(first, windows.argmax(axis=-1)[..., None], 1.0, axis=-1)
    np.testing.assert_array_equal(dx, first.reshape(2, 3, 2, 2, 3, 3).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape))


def test_max_pool_overlapping_windows_accumulate():
    x = np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    out, cache = conv.max_pool_forward(x, kernel_size=2, stride=1)  # four windows, all with 9 as their maximum
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 9.0))
    dx = conv.max_pool_backward(np.ones((1, 1, 2, 2)), cache)
    assert dx[0, 0, 1, 1] == 4.0 and dx.sum() == 4.0


@pytest.mark.parametrize("pool", POOL_PAIRS)
@pytest.mark.parametrize("kernel_size, stride", [(2, 2), (3, 1), (3, 2), (2, 3)])
def test_pool_gradient_check(pool, kernel_size, stride):
    forward, backward = POOL_PAIRS[pool]
    # a permutation of spread-out values: no two elements within a gradient-check step of each other
    x = np.random.default_rng(15).permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1
    check_backward(lambda x: forward(x, kernel_size=kernel_size, stride=stride), backward, {"x": x}, name=f"{pool} pool")


@pytest.mark.parametrize("pool", POOL_PAIRS)
def test_pool_of_a_constant_is_the_constant(pool):
    forward, _ = POOL_PAIRS[pool]
    for kernel_size, stride in [(2, 2), (3, 1), (3, 3)]:
        out, _ = forward(np.full((2, 3, 7, 7), 0.3), kernel_size=kernel_size, stride=stride)
        assert out.shape == (2, 3, (7 - kernel_size) // stride + 1, (7 - kernel_size) // stride + 1)
        np.testing.assert_allclose(out, 0.3, rtol=1e-15)


def test_avg_pool_is_a_conv_with_a_constant_kernel():
    x = np.random.default_rng(16).standard_normal((2, 3, 8, 8))
    out, _ = conv.avg_pool_forward(x, kernel_size=2, stride=2)
    kernel = np.zeros((3, 3, 2, 2))
    kernel[np.arange(3), np.arange(3)] = 0.25
    expected, _ = conv.conv2d_forward(x, kernel, np.zeros(3), stride=2)
    np.testing.assert_allclose(out, expected, rtol=1e-13)


def test_max_pool_output_is_the_max_of_each_window():
    x = np.random.default_rng(17).standard_normal((3, 2, 9, 9))
    out, _ = conv.max_pool_forward(x, kernel_size=3, stride=2)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            np.testing.assert_array_equal(out[:, :, i, j], x[:, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(2, 3)))


@pytest.mark.parametrize("pool", POOL_PAIRS)
def test_pool_accepts_the_old_keyword_size_until_every_caller_uses_kernel_size(pool):
    forward, _ = POOL_PAIRS[pool]
    x = np.random.default_rng(19).standard_normal((2, 1, 6, 6))
    np.testing.assert_array_equal(forward(x, size=3, stride=1)[0], forward(x, kernel_size=3, stride=1)[0])
    np.testing.assert_array_equal(forward(x, 3, 1)[0], forward(x, kernel_size=3, stride=1)[0])  # positional, as model.MaxPool calls it
    assert forward(x)[0].shape == (2, 1, 3, 3)  # default window 2, stride 2
    with pytest.raises(ValueError, match="give the window's side once, as kernel_size"):
        forward(x, kernel_size=2, size=2)


# --------------------------------------------------------------------------------------------------
# output sizes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, kernel_size, stride, pad", [(5, 3, 1, 0), (7, 3, 2, 1), (16, 5, 1, 2), (9, 9, 1, 0), (8, 3, 2, 0), (4, 6, 1, 1)])
def test_output_size_matches_the_layers(size, kernel_size, stride, pad):
    out, _ = conv.conv2d_forward(np.zeros((1, 1, size, size)), np.zeros((1, 1, kernel_size, kernel_size)), np.zeros(1), stride=stride, pad=pad)
    assert conv.output_size(size, kernel_size, stride, pad) == out.shape[2]


def test_output_size_strict_rejects_a_stride_that_does_not_fit():
    assert conv.output_size(7, 3, stride=2, strict=True) == 3
    assert conv.output_size(9, 3, stride=2, pad=1, strict=True) == 5  # 9 + 2 - 3 = 8, a multiple of 2
    with pytest.raises(ValueError, match=r"the stride does not fit: \(size \+ 2\*pad - kernel_size\) = 8 \+ 2\*0 - 3 = 5 is not a multiple of stride = 2"):
        conv.output_size(8, 3, stride=2, strict=True)
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.output_size(3, 6, pad=1)
    with pytest.raises(ValueError, match="stride must be a positive integer, got 0"):
        conv.output_size(5, 3, stride=0)
