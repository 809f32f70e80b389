"""Numerical tolerances shared by nnlib's tests, the notebooks' checks and the grader.

Everything is stated for float64, the dtype every check runs in.
"""

#: Central-difference step. The truncation error of (f(x+h) - f(x-h)) / 2h is O(h**2) ~ 1e-10
#: and the rounding error is O(eps / h) ~ 1e-11 for float64 values of order 1: h = 1e-5 balances them.
GRAD_STEP = 1e-5

#: Relative error allowed between an analytic gradient and central differences. Correct float64
#: code measures 1e-11 to 1e-9 here; the mistakes students make (a missing factor, a transpose,
#: a sum over the wrong axis) give 1e-2 or more. 1e-7 leaves two orders of margin on each side.
GRAD_RTOL = 1e-7

#: Relative error allowed between two exact formulas of the same quantity in float64 (a student's
#: forward against the reference, the vectorised conv against the loops). Different but correct
#: orders of summation differ by a few ulps times the number of terms, far below 1e-9.
MATCH_RTOL = 1e-9

#: Values whose magnitude is below this are compared absolutely rather than relatively: a relative
#: error of 1e-30 against 1e-31 says nothing about correctness.
ABS_FLOOR = 1e-12

#: float32 cannot do better than about 1e-4 relative error in a central difference (eps32 / h);
#: float32 results are compared against float64 references at this tolerance.
FLOAT32_RTOL = 1e-4

#: A student's result against the reference, elementwise: |actual - expected| <= CHECK_RTOL * |expected|
#: + CHECK_ATOL. Correct but different formulas (exp(x) - 1 instead of expm1, 1 - tanh(x)**2 instead of
#: sech(x)**2, another order of summation) agree to 1e-9 or better; every mistake in the catalogues
#: (a missing factor, a wrong sign, a shift forgotten, the wrong axis) is off by 1e-3 or more.
CHECK_RTOL = 1e-7

#: The absolute part of the check above: results below 1e-12 (sigmoid(-30) is 9e-14) are compared
#: absolutely, so a correct formula is not failed for rounding in values that do not matter.
CHECK_ATOL = ABS_FLOOR

#: The same check for float32 results: float32 carries about 7 digits, and a correct formula that
#: cancels (2 * sigmoid(2x) - 1 near x = 0) loses a few more, so 1e-4 relative and 1e-6 absolute.
FLOAT32_ATOL = 1e-6

#: The absolute part of a student's gradient against central differences of their own forward.
#: A central difference carries a rounding error of about eps * |f| / h ~ 2e-11 for values of f of
#: order 1, so a derivative of 5e-14 (sigmoid at x = 30) reads as 0: such elements agree within 1e-9.
GRAD_ATOL = 1e-9
