"""KL estimators against NumPy formulas and their unbiasedness on categorical toys."""

import numpy as np
import pytest

import goodhart as g


def test_token_estimators_match_their_formulas():
    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    log_r = q - p
    np.testing.assert_allclose(g.kl_token(p, q, "k1"), -log_r, rtol=0, atol=1e-15)
    np.testing.assert_allclose(g.kl_token(p, q, "k2"), 0.5 * log_r**2, rtol=1e-15, atol=0)
    np.testing.assert_allclose(g.kl_token(p, q, "k3"), np.expm1(log_r) - log_r, rtol=1e-12, atol=1e-15)


def test_sequence_kl_sums_the_masked_tokens():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(5, 9)).astype(np.float32)
    q = rng.normal(size=(5, 9)).astype(np.float32)
    mask = rng.random((5, 9)) < 0.6
    log_r = q.astype(np.float64) - p.astype(np.float64)
    for k, f in [("k1", -log_r), ("k2", 0.5 * log_r**2), ("k3", np.expm1(log_r) - log_r)]:
        expected = (f * mask).sum(axis=1)
        np.testing.assert_allclose(g.kl_sequences(p, q, mask, k), expected, rtol=1e-12, atol=1e-12)
        e = g.kl_batch(p, q, mask, k)
        assert e.mean == pytest.approx(expected.mean(), abs=1e-12)
        assert e.se == pytest.approx(expected.std(ddof=1) / np.sqrt(5), abs=1e-12)
        assert e.n == 5


def sample_tokens(p_pol, rng, size):
    return rng.choice(len(p_pol), size=size, p=p_pol)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k1_and_k3_are_unbiased_and_k2_is_not(seed):
    rng = np.random.default_rng(seed)
    vocab, batch, seq = 6, 4000, 3
    policy = rng.dirichlet(np.ones(vocab) * 0.7)
    reference = rng.dirichlet(np.ones(vocab) * 0.7)
    exact = g.kl_categorical(policy, reference)
    x = sample_tokens(policy, rng, (batch, seq))
    lp = np.log(policy)[x].astype(np.float32)
    lq = np.log(reference)[x].astype(np.float32)
    summary = g.kl_summary(lp, lq)
    true_sequence_kl = seq * exact  # independent tokens: the KLs add up
    for est in (summary.k1, summary.k3):
        assert abs(est.mean - true_sequence_kl) < 4.5 * est.se
    # k2's bias: its expectation is E[(log r)^2] / 2 per token, computed exactly.
    log_r = np.log(reference) - np.log(policy)
    k2_expectation = seq * float(np.sum(policy * 0.5 * log_r**2))
    assert abs(summary.k2.mean - k2_expectation) < 4.5 * summary.k2.se
    assert abs(k2_expectation - true_sequence_kl) > 1e-3


def test_kl_categorical_matches_numpy():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(10)), rng.dirichlet(np.ones(10))
    p[2] = 0.0
    p /= p.sum()
    nz = p > 0
    assert g.kl_categorical(p, q) == pytest.approx(float(np.sum(p[nz] * np.log(p[nz] / q[nz]))), abs=1e-14)
    assert g.kl_categorical(p, p) == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: g.kl_token(np.zeros(3), np.zeros(3), "k4"), "k1"),
        (lambda: g.kl_token(np.zeros(3), np.zeros(4), "k1"), "shape"),
        (lambda: g.kl_sequences(np.zeros((2, 3)), np.zeros((2, 4))), "one shape"),
        (lambda: g.kl_sequences(np.full((2, 3), np.nan), np.zeros((2, 3))), "not a finite number"),
        (lambda: g.kl_categorical(np.array([0.5, 0.6]), np.array([0.5, 0.5])), "not a probability distribution"),
        (lambda: g.kl_sequences(np.zeros(3), np.zeros(3)), "[batch, seq_len]"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(g.GoodhartError) as info:
        call()
    assert message in str(info.value)
