"""The paper's fits against scipy.optimize.curve_fit, and peaks, extrapolation, trends and
iterated RLHF against their formulas."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

import goodhart as g

TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=100_000)


def bon(d, a, b):
    return d * (a - b * d)


def rl(d, a, b):
    return d * (a - b * np.log(d))


def bon_power(d, a, b, c):
    return d * (a - b * d**c)


def noisy(f, params, seed, d=None):
    rng = np.random.default_rng(seed)
    d = np.linspace(0.2, 4.0, 25) if d is None else d
    return d, f(d, *params) + rng.normal(scale=0.03, size=len(d))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name, f, truth", [("bon", bon, (1.0, 0.25)), ("rl", rl, (0.8, 0.4))])
def test_two_parameter_fits_match_curve_fit(name, f, truth, seed):
    d, r = noisy(f, truth, seed)
    ours = g.fit(name, d, r)
    theirs, _ = curve_fit(f, d, r, p0=(0.5, 0.5), **TIGHT)
    np.testing.assert_allclose(ours.params, theirs, rtol=0, atol=1e-6)
    residual = r - f(d, *theirs)
    assert ours.rmse == pytest.approx(np.sqrt(np.mean(residual**2)), abs=1e-9)
    assert ours.r2 == pytest.approx(1 - np.sum(residual**2) / np.sum((r - r.mean()) ** 2), abs=1e-9)


def test_weighted_and_fixed_alpha_fits_match_curve_fit():
    d, r = noisy(bon, (1.0, 0.25), 3)
    w = np.linspace(0.5, 2.0, len(d))
    ours = g.fit("bon", d, r, weights=w)
    theirs, _ = curve_fit(bon, d, r, p0=(0.5, 0.5), sigma=1 / np.sqrt(w), **TIGHT)
    np.testing.assert_allclose(ours.params, theirs, rtol=0, atol=1e-6)
    fixed = g.fit("rl", d, r, fixed_alpha=0.9)
    beta, _ = curve_fit(lambda x, b: rl(x, 0.9, b), d, r, p0=(0.3,), **TIGHT)
    assert fixed.alpha == 0.9 and fixed.beta == pytest.approx(beta[0], abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_bon_power_matches_curve_fit(seed):
    d, r = noisy(bon_power, (1.0, 0.2, 1.4), seed)
    ours = g.fit("bon_power", d, r)
    theirs, _ = curve_fit(bon_power, d, r, p0=(1.0, 0.3, 1.0), **TIGHT)
    np.testing.assert_allclose(ours.params, theirs, rtol=0, atol=1e-4)


def test_shared_alpha_matches_curve_fit():
    betas = (0.5, 0.35, 0.25)
    curves = [noisy(rl, (1.0, b), 10 + i) for i, b in enumerate(betas)]
    shared = g.fit_shared_alpha("rl", curves)
    d_all = np.concatenate([d for d, _ in curves])
    r_all = np.concatenate([r for _, r in curves])
    which = np.concatenate([np.full(len(d), i) for i, (d, _) in enumerate(curves)])

    def model(_, a, *bs):
        return d_all * (a - np.asarray(bs)[which] * np.log(d_all))

    theirs, _ = curve_fit(model, d_all, r_all, p0=(0.5, 0.3, 0.3, 0.3), **TIGHT)
    assert shared.alpha == pytest.approx(theirs[0], abs=1e-4)
    np.testing.assert_allclose([law.beta for law in shared.laws], theirs[1:], rtol=0, atol=1e-4)
    assert all(law.alpha == shared.alpha for law in shared.laws)


def test_peaks_in_closed_form_and_numerically():
    p = g.peak("bon", [1.0, 0.25])
    assert (p.d, p.r) == pytest.approx((2.0, 1.0), abs=1e-12)
    p = g.peak("rl", [1.0, 0.5])
    assert (p.d, p.r) == pytest.approx((np.e, 0.5 * np.e), abs=1e-12)
    assert g.peak("bon", [1.0, -0.1]) is None  # no interior maximum
    grid = np.linspace(0, 5, 200_001)
    values = bon_power(grid, 1.0, 0.2, 1.4)
    p = g.peak("bon_power", [1.0, 0.2, 1.4], within=(0.0, 5.0))
    assert p.d == pytest.approx(grid[values.argmax()], abs=1e-4)
    assert p.r == pytest.approx(values.max(), abs=1e-8)


def test_evaluate_and_the_fitted_law_call():
    d = np.array([0.0, 0.5, 2.0])
    np.testing.assert_allclose(g.evaluate("rl", [1.0, 0.5], d), [0.0, *rl(d[1:], 1.0, 0.5)], atol=1e-15)
    law = g.fit("bon", *noisy(bon, (1.0, 0.25), 4))
    np.testing.assert_allclose(law(d), bon(d, law.alpha, law.beta), atol=1e-15)
    assert set(g.FORMS) == {"bon", "rl", "rl_log1p", "bon_power"}
    assert g.FORMS["bon_power"][1] == ("alpha", "beta", "gamma")


def test_extrapolation_scores_the_held_out_points():
    d, r = noisy(rl, (1.0, 0.4), 5)
    ex = g.extrapolate("rl", d, r, d_cut=2.0)
    inside, beyond = d <= 2.0, d > 2.0
    fitted = g.fit("rl", d[inside], r[inside])
    np.testing.assert_allclose(ex.fit.params, fitted.params, atol=1e-12)
    errors = rl(d[beyond], *fitted.params) - r[beyond]
    assert ex.n_beyond == beyond.sum()
    assert ex.rmse_beyond == pytest.approx(np.sqrt(np.mean(errors**2)), abs=1e-12)
    assert ex.max_abs_error_beyond == pytest.approx(np.abs(errors).max(), abs=1e-12)


def test_log_linear_regression_matches_polyfit():
    sizes = np.array([3e6, 1.2e7, 4.5e7, 1.2e8, 1e9])
    coef = 0.1 + 0.05 * np.log10(sizes) + np.random.default_rng(6).normal(scale=0.01, size=5)
    line = g.log_linear_regression(sizes, coef)
    slope, intercept = np.polyfit(np.log10(sizes), coef, 1)
    assert (line.slope, line.intercept) == pytest.approx((slope, intercept), abs=1e-12)
    np.testing.assert_allclose(line.predict(sizes), intercept + slope * np.log10(sizes), atol=1e-12)


def test_iterated_rl():
    d = np.array([0.0, 0.5, 3.0])
    np.testing.assert_allclose(g.iterated_rl(1.0, 0.4, d, 1), [0.0, *rl(d[1:], 1.0, 0.4)], atol=1e-15)
    gain = g.iterated_rl(1.0, 0.4, d, 4) - g.iterated_rl(1.0, 0.4, d, 1)
    np.testing.assert_allclose(gain, 0.4 * d * np.log(4), atol=1e-14)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: g.fit("quadratic", [1.0, 2.0], [1.0, 2.0]), "not one of"),
        (lambda: g.fit("bon", [1.0], [1.0]), "too few points"),
        (lambda: g.fit("bon", [1.0, 2.0], [1.0]), "mismatched lengths"),
        (lambda: g.fit("bon", [-1.0, 2.0, 3.0], [1.0, 2.0, 1.0]), "negative d"),
        (lambda: g.fit("bon", [1.0, 2.0, 3.0], [1.0, np.nan, 1.0]), "non-finite"),
        (lambda: g.evaluate("bon", [1.0], [1.0]), "takes 2 parameters"),
        (lambda: g.fit_shared_alpha("bon_power", [([1.0, 2.0], [1.0, 1.0])]), "linear"),
        (lambda: g.iterated_rl(1.0, 0.4, [1.0], 0), "k >= 1"),
        (lambda: g.log_linear_regression([1e6], [0.1]), "2"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(g.GoodhartError) as info:
        call()
    assert message in str(info.value)
