"""`goodhart.findings` against the Rust verdicts: figure 1's checks of the tiny run (pinned by
goodhart-findings' own test), read from its fig1.json and, for the gold's trusted range, from its
Parquet table; and synthetic curves whose verdict is known."""

import json
from pathlib import Path

import numpy as np
import pytest

import goodhart as g
from goodhart import findings

DATA = Path(__file__).resolve().parents[2] / "goodhart-findings" / "tests" / "data"


def pinned():
    return json.loads((DATA / "fig1_tiny_checks.json").read_text())


def test_figure_1s_checks_from_the_json_are_the_rust_verdicts():
    got = findings.fig1_checks(DATA / "fig1_tiny.json")
    want = pinned()
    assert [c.name for c in got] == [w["name"] for w in want]
    for c, w in zip(got, want):
        assert (c.applies, c.passed, c.detail) == (w["applies"], w["passed"], w["detail"]), c.name
    assert str(got[0]).startswith("N/A ") and any(str(c).startswith("FAIL") for c in got)


def test_the_gold_holds_checks_on_the_parquet_table_are_the_rust_verdicts():
    want = {w["name"]: w for w in pinned() if w["name"].startswith("gold holds along")}
    got = findings.check_gold_holds(DATA / "fig1_tiny.parquet")
    assert sorted(c.name for c in got) == sorted(want)
    for c in got:
        w = want[c.name]
        assert (c.applies, c.passed, c.detail) == (w["applies"], w["passed"], w["detail"]), c.name


def test_finding_4_on_the_parquet_table_is_the_rust_verdict():
    want = {w["name"]: w for w in pinned() if w["name"].startswith("F4 ")}
    got = findings.check_rl_spends_more_kl(DATA / "fig1_tiny.parquet")
    assert want and sorted(c.name for c in got) == sorted(want)
    for c in got:
        w = want[c.name]
        assert (c.applies, c.passed, c.detail) == (w["applies"], w["passed"], w["detail"]), c.name


def test_finding_4_fails_where_rl_reaches_the_gold_as_cheaply_as_best_of_n():
    kl = np.array([0.0, 1.0, 2.0, 3.0])
    rows = {
        "method": ["bon"] * 4 + ["rl"] * 4,
        "rm_size": ["p1k"] * 8,
        "kl": np.concatenate([kl, kl]),
        "gold": [0.0, 0.5, 0.8, 0.9] * 2,
        "gold_se": [0.01] * 8,
        "rubric": [0.0, 0.5, 0.8, 0.9] * 2,
        "rubric_se": [0.01] * 8,
    }
    (same,) = findings.check_rl_spends_more_kl(rows)
    assert same.applies and not same.passed and "1.0x" in same.detail, same
    rows["kl"] = np.concatenate([kl, 3.0 * kl])
    (costly,) = findings.check_rl_spends_more_kl(rows)
    assert costly.passed and "3.0x" in costly.detail, costly


def test_trusted_ranges_from_a_data_frame_are_the_ones_the_figure_recorded():
    pl = pytest.importorskip("polars")
    fig = json.loads((DATA / "fig1_tiny.json").read_text())
    recorded = {("bon", r["proxy"]["size"]): r["trusted"] for r in fig["results"]}
    recorded.update({("rl", r["proxy"]["size"]): r["trusted"] for r in fig["rl"]})
    got = findings.trusted_ranges(pl.read_parquet(DATA / "fig1_tiny.parquet"))
    assert set(got) == set(recorded)
    for key, t in got.items():
        assert t.up_to == pytest.approx(recorded[key]["up_to"], abs=1e-12), key
        assert t.measured_to == pytest.approx(recorded[key]["measured_to"], abs=1e-12), key


def curve_table(gold, rubric, se=0.05):
    d = np.arange(len(gold), dtype=float)
    n = len(gold)
    return {
        "method": ["rl"] * n,
        "rm_size": ["p1k"] * n,
        "kl": d**2,
        "gold": np.array(gold, dtype=float),
        "gold_se": np.full(n, se),
        "rubric": np.array(rubric, dtype=float),
        "rubric_se": np.full(n, se),
    }


def test_a_gold_that_climbs_while_the_rubric_falls_is_trusted_only_before_they_part():
    t = findings.trusted_range([0, 1, 2, 3], [0, 1, 1.5, 2], [0.05] * 4, [0, 1, 0.2, -1], [0.05] * 4)
    assert t.up_to == 1.0 and t.measured_to == 3.0 and not t.covers_curve
    assert t.worst_beyond > 2
    [c] = findings.check_gold_holds(curve_table([0, 1, 1.5, 2], [0, 1, 0.2, -1]))
    assert c.applies and not c.passed and "only up to d = 1.00" in c.detail


def test_a_gold_that_moves_with_the_rubric_is_trusted_along_the_whole_curve():
    [c] = findings.check_gold_holds(curve_table([0, 1, 1.5, 1.0], [0, 0.8, 1.4, 0.7]))
    assert c.applies and c.passed
    # within noise, opposite moves are no disagreement
    t = findings.trusted_range([0, 1, 2], [0, 1, 1.1], [0.1] * 3, [0, 1, 0.9], [0.1] * 3)
    assert t.covers_curve


def test_a_cells_trajectories_are_read_together_with_the_spread_between_them():
    mean, se = findings.over_runs([[1.0, 2.0], [3.0, 2.0]], [[0.01, 0.01], [0.01, 0.01]])
    np.testing.assert_allclose(mean, [2.0, 2.0])
    np.testing.assert_allclose(se, [1.0, 0.01 * np.sqrt(2) / 2])  # between runs; else within
    # two trajectories (seeds) of one cell: the table's rows of each, read as one curve
    one = curve_table([0, 1, 1.5, 2], [0, 1, 1.4, 1.9])
    two = curve_table([0, 1, 1.5, 2], [0, 1, 1.2, 1.7])
    both = {k: list(one[k]) + list(two[k]) for k in one}
    both["seed"] = [0] * 4 + [1009] * 4
    [(key, c)] = findings.curves(both).items()
    assert c["runs"][0] == 2
    np.testing.assert_allclose(c["rubric"], [0, 1, 1.3, 1.8])
    [check] = findings.check_gold_holds(both)
    assert check.passed
    uneven = {k: v[:-1] for k, v in both.items()}
    with pytest.raises(g.GoodhartError, match="one schedule"):
        findings.curves(uneven)


def test_without_rubric_scores_the_check_does_not_apply():
    [c] = findings.check_gold_holds(curve_table([0, 1, 2], [float("nan")] * 3))
    assert not c.applies and "not measured" in c.detail
    assert findings.trusted_range([0, 1], [0, 1], [0.1, 0.1], [np.nan, np.nan], [0.1, 0.1]) is None


def test_bad_tables_and_curves_are_refused_with_the_fix():
    table = curve_table([0, 1], [0, 1])
    del table["rubric_se"]
    with pytest.raises(g.GoodhartError, match="rubric_se"):
        findings.check_gold_holds(table)
    twice = curve_table([0, 1], [0, 1])
    twice["data_size"] = [100, 200]
    with pytest.raises(g.GoodhartError, match="select one"):
        findings.trusted_ranges(twice)
    with pytest.raises(g.GoodhartError, match="one per point"):
        findings.trusted_range([0, 1, 2], [0, 1], [0.1, 0.1], [0, 1], [0.1, 0.1])
    with pytest.raises(g.GoodhartError, match="d must be finite"):
        findings.trusted_range([0, -1], [0, 1], [0.1, 0.1], [0, 1], [0.1, 0.1])
    with pytest.raises(g.GoodhartError, match="fig1.json"):
        findings.fig1_checks(DATA / "no-such-file.json")


def hill_reference(x):
    x = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    n = len(x)
    k = min(max(int(round(np.sqrt(n))), 2), n // 2)
    top = x[::-1][: k + 1] - np.median(x)
    gamma = np.mean(np.log(top[:k] / top[k]))
    return gamma, k


def test_the_tail_index_is_hills_estimator_as_numpy_computes_it():
    rng = np.random.default_rng(0)
    for x in [rng.standard_normal(10_000), (1 - rng.random(5_000)) ** -0.5, rng.standard_t(3, size=(40, 50))]:
        t = findings.tail_index(x)
        gamma, k = hill_reference(x.ravel())
        assert t.k == k and t.n == x.size
        assert t.gamma == pytest.approx(gamma, rel=1e-12)
        assert t.lo < t.gamma < t.hi
    heavy = findings.tail_index((1 - rng.random(40_000)) ** -0.5)
    light = findings.tail_index(rng.standard_normal(40_000))
    assert heavy.lo > light.hi
    assert findings.tail_index([1.0] * 10) is None
