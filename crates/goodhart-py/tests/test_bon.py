"""The best-of-n estimator against an independent NumPy reference (log-space binomial weights
from scipy's gammaln, ties averaged), and the best-of-n KL against its formulas."""

import numpy as np
import pytest
from scipy.special import gammaln

import goodhart as g


def reference_pool(proxy, gold, n):
    """E[proxy], E[gold] of the best of n drawn without replacement, ties broken at random."""
    order = np.argsort(proxy, kind="stable")
    p, gd = proxy[order], gold[order].astype(np.float64).copy()
    values, starts, counts = np.unique(p, return_index=True, return_counts=True)
    for s, c in zip(starts, counts):
        gd[s : s + c] = gd[s : s + c].mean()
    big_n = len(p)
    i = np.arange(n, big_n + 1)  # 1-based sorted positions that can win
    log_w = (gammaln(i) - gammaln(n) - gammaln(i - n + 1)) - (
        gammaln(big_n + 1) - gammaln(n + 1) - gammaln(big_n - n + 1)
    )
    w = np.exp(log_w)
    return w @ p[n - 1 :], w @ gd[n - 1 :]


def reference(proxy_pools, gold_pools, ns):
    per = np.array([[reference_pool(p, gd, n) for n in ns] for p, gd in zip(proxy_pools, gold_pools)])
    return per[:, :, 0], per[:, :, 1]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimator_matches_log_space_reference(ties, seed):
    rng = np.random.default_rng(seed)
    prompts, samples = 30, 200
    proxy = rng.normal(size=(prompts, samples))
    if ties:
        proxy = np.round(proxy * 2) / 2  # a handful of distinct values: long tied runs
    gold = 0.7 * proxy + rng.normal(size=(prompts, samples))
    ns = g.log_grid(samples, 12)
    c = g.bon_curves(proxy, gold, ns)
    ref_proxy, ref_gold = reference(proxy, gold, ns)
    np.testing.assert_allclose(c.per_prompt_gold, ref_gold, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.per_prompt_proxy, ref_proxy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.gold_mean, ref_gold.mean(axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.gold_se, ref_gold.std(axis=0, ddof=1) / np.sqrt(prompts), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.kl, np.log(ns) - (np.array(ns) - 1) / np.array(ns), rtol=0, atol=1e-12)
    assert list(c.ns) == ns


def test_ties_change_the_gold_but_not_the_proxy():
    # Two samples tie on the proxy; the best of 1 of them picks either, so the gold is their mean.
    proxy, gold = np.array([0.0, 1.0, 1.0]), np.array([5.0, 0.0, 2.0])
    p, gd = g.bon_pool(proxy, gold, [3])
    assert p[0] == 1.0 and gd[0] == pytest.approx(1.0, abs=1e-12)


def test_ragged_pools_and_extra_column():
    rng = np.random.default_rng(3)
    sizes = [50, 80, 64]
    proxy = [rng.normal(size=s) for s in sizes]
    gold = [p + rng.normal(size=len(p)) for p in proxy]
    extra = [-x for x in gold]
    ns = [1, 4, 16, 50]
    c = g.bon_curves(proxy, gold, ns, extra=extra)
    _, ref_gold = reference(proxy, gold, ns)
    np.testing.assert_allclose(c.per_prompt_gold, ref_gold, atol=1e-9, rtol=0)
    np.testing.assert_allclose(c.extra_mean, -c.gold_mean, atol=1e-12, rtol=0)
    assert c.per_prompt_gold.shape == (3, 4)


def test_default_grid_reaches_the_smallest_pool():
    rng = np.random.default_rng(4)
    c = g.bon_curves([rng.normal(size=40), rng.normal(size=30)], [rng.normal(size=40), rng.normal(size=30)])
    assert c.ns[0] == 1 and c.ns[-1] == 30


def test_bootstrap_intervals_bracket_the_mean_and_are_deterministic():
    rng = np.random.default_rng(5)
    proxy = rng.normal(size=(60, 32))
    gold = proxy + rng.normal(size=(60, 32))
    a = g.bon_curves(proxy, gold, [1, 4, 32], bootstrap=300, seed=7)
    b = g.bon_curves(proxy, gold, [1, 4, 32], bootstrap=300, seed=7)
    assert np.all(a.gold_lo <= a.gold_mean) and np.all(a.gold_mean <= a.gold_hi)
    assert np.all(a.proxy_lo <= a.proxy_mean) and np.all(a.proxy_mean <= a.proxy_hi)
    np.testing.assert_array_equal(a.gold_lo, b.gold_lo)
    # The interval's width is about 2 * 1.645 standard errors for a 90% interval.
    width = a.gold_hi - a.gold_lo
    assert np.all(width > 2.0 * a.gold_se) and np.all(width < 5.0 * a.gold_se)


def test_kl_bon_and_its_inverse():
    for n in [1, 2, 10, 1000, 60000]:
        assert g.kl_bon(n) == pytest.approx(np.log(n) - (n - 1) / n, abs=1e-12)
    for kl in [0.1, 1.0, 5.0, 10.0]:
        n = g.n_for_kl_bon(kl)
        assert np.log(n) - (n - 1) / n == pytest.approx(kl, abs=1e-9)


def reference_kl_discrete(probs, n):
    cdf = np.cumsum(probs)
    q = cdf**n - np.concatenate([[0.0], cdf[:-1]]) ** n
    nz = q > 0
    return float(np.sum(q[nz] * np.log(q[nz] / probs[nz])))


def test_kl_bon_discrete_and_from_pool():
    rng = np.random.default_rng(6)
    probs = rng.dirichlet(np.ones(7))
    for n in [1, 2, 5, 40]:
        assert g.kl_bon_discrete(probs, n) == pytest.approx(reference_kl_discrete(probs, n), abs=1e-12)
    scores = rng.integers(0, 5, size=200).astype(float)
    values, counts = np.unique(scores, return_counts=True)
    for n in [2, 8]:
        expected = reference_kl_discrete(counts / counts.sum(), n)
        assert g.kl_bon_from_pool(scores, n) == pytest.approx(expected, abs=1e-12)
        assert g.kl_bon_from_pool(scores, n) < g.kl_bon(n)


def reference_beirami(n, eps):
    rest = (1.0 - eps) ** n
    return rest * (np.log(n) + (n - 1) * np.log1p(-eps) - (n - 1) / n) + (1.0 - rest) * np.log((1.0 - rest) / eps)


def test_kl_bon_beirami_against_numpy_and_the_exact_pool_kl():
    for n, eps in [(2, 0.3), (16, 0.01), (1000, 1e-4), (7, 0.999)]:
        assert g.kl_bon_beirami(n, eps) == pytest.approx(reference_beirami(n, eps), rel=1e-10, abs=1e-12)
        assert 0.0 <= g.kl_bon_beirami(n, eps) <= g.kl_bon(n)
    assert g.kl_bon_beirami(9, 1.0) == 0.0
    # on a pool: the estimate averaged over best-of-n's picks, each atom's eps its pool share
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 6, size=300).astype(float)
    values, counts = np.unique(scores, return_counts=True)
    probs = counts / counts.sum()
    for n in [2, 8, 64]:
        cdf = np.cumsum(probs)
        q = cdf**n - np.concatenate([[0.0], cdf[:-1]]) ** n
        expected = float(np.sum(q * np.array([reference_beirami(n, p) for p in probs])))
        assert g.kl_bon_beirami_from_pool(scores, n) == pytest.approx(expected, rel=1e-9)
        assert g.kl_bon_beirami_from_pool(scores, n) <= g.kl_bon(n)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: g.kl_bon(0), "n >= 1"),
        (lambda: g.kl_bon_beirami(4, 0.0), "eps"),
        (lambda: g.n_for_kl_bon(-1.0), "impossible"),
        (lambda: g.bon_curves(np.zeros((2, 4)), np.zeros((2, 4)), [8]), "holds 4 samples"),
        (lambda: g.bon_curves(np.zeros((2, 4)), np.zeros((3, 4)), [2]), "one pool of each"),
        (lambda: g.bon_curves(np.full((1, 4), np.nan), np.zeros((1, 4)), [2]), "not a finite score"),
        (lambda: g.bon_curves(np.zeros((2, 4)), np.zeros((2, 4)), [0]), "n >= 1"),
        (lambda: g.bon_curves(np.zeros((2, 4)), np.zeros((2, 4)), [2], bootstrap=10, level=1.5), "(0, 1)"),
        (lambda: g.bon_curves(np.zeros(4), np.zeros(4), [2]), "[prompts, samples]"),
        (lambda: g.log_grid(0, 5), "max_n"),
    ],
)
def test_bad_input_raises_goodhart_error_naming_the_problem(call, message):
    with pytest.raises(g.GoodhartError, match=None) as info:
        call()
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def reference_selection(scores, h):
    """Rank selection with ties shared, by NumPy: groups of equal score in increasing order."""
    values, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    cdf = np.cumsum(counts) / len(scores)
    mass = h(cdf) - h(np.concatenate([[0.0], cdf[:-1]]))
    return (mass / counts)[inverse]


def test_the_best_of_n_family_on_a_pool_matches_numpy():
    rng = np.random.default_rng(8)
    scores = rng.integers(0, 20, size=300).astype(float)
    for n in [1, 4, 32]:
        q = g.pool_selection(scores, "bon", n)
        np.testing.assert_allclose(q, reference_selection(scores, lambda f: f**n), atol=1e-12)
        assert g.kl_from_pool_selection(q) == pytest.approx(g.kl_bon_from_pool(scores, n), abs=1e-12)
    for mu in [0.0, 3.0, 40.0]:
        q = g.pool_selection(scores, "poisson", mu)
        np.testing.assert_allclose(q, reference_selection(scores, lambda f: f * np.exp(mu * (f - 1))), atol=1e-12)
    for lam in [0.1, 1.0, 10.0]:
        w = np.exp((scores - scores.max()) / lam)
        np.testing.assert_allclose(g.pool_selection(scores, "soft", lam), w / w.sum(), atol=1e-12)
    # soft best-of-n spans the base (KL 0) to the pool's best samples
    assert g.kl_from_pool_selection(g.pool_selection(scores, "soft", 1e9)) < 1e-9
    top = np.sum(scores == scores.max())
    cold = g.kl_from_pool_selection(g.pool_selection(scores, "soft", 1e-4))
    assert cold == pytest.approx(np.log(len(scores) / top), abs=1e-9)
    # the continuous Best-of-Poisson KL by SciPy quadrature
    from scipy.integrate import quad

    for mu in [0.5, 5.0, 50.0]:
        dens = lambda u: (1 + mu * u) * np.exp(mu * (u - 1))
        expected, _ = quad(lambda u: dens(u) * np.log(dens(u)), 0, 1, limit=200)
        assert g.kl_best_of_poisson(mu) == pytest.approx(expected, abs=1e-8)
    with pytest.raises(g.GoodhartError, match="lambda"):
        g.pool_selection(scores, "soft", 0.0)
    with pytest.raises(g.GoodhartError, match="method"):
        g.pool_selection(scores, "greedy", 1.0)
