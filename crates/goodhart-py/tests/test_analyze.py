"""`analyze` on the repository's example tables, from a path and from columns, cross-checked
against the estimator and the fits called directly."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import goodhart as g

EXAMPLES = Path(__file__).resolve().parents[3] / "data" / "examples"


def read_columns(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) if k != "prompt_id" else r[k] for r in rows] for k in rows[0]}


def test_the_best_of_n_example_from_a_path_and_from_columns_agree(tmp_path):
    path = EXAMPLES / "bon_pools.csv"
    a = g.analyze(path, tmp_path / "out", bootstrap=50)
    b = g.analyze(read_columns(path), bootstrap=50)
    assert a.kind == b.kind == "best-of-n"
    assert a.prompts == b.prompts == 100
    np.testing.assert_allclose(a.records["gold"], b.records["gold"], atol=1e-12)
    np.testing.assert_allclose(a.fits["alpha"], b.fits["alpha"], atol=1e-12)
    for name in ["analysis.csv", "analysis.parquet", "analysis_fits.parquet", "analysis.json", "report.md"]:
        assert (tmp_path / "out" / name).exists(), name
    assert "best-of-n" in a.report


def test_analyze_matches_the_estimator_and_the_fit():
    cols = read_columns(EXAMPLES / "bon_pools.csv")
    ids = np.array(cols["prompt_id"])
    proxy, gold = np.array(cols["proxy"]), np.array(cols["gold"])
    prompts = list(dict.fromkeys(ids))
    pools = [(proxy[ids == p], gold[ids == p]) for p in prompts]
    a = g.analyze(cols, bootstrap=20)
    ns = [n for n in a.records["n"]]
    curves = g.bon_curves([p for p, _ in pools], [gd for _, gd in pools], ns)
    offset = next(o for o in a.offsets)[1]
    np.testing.assert_allclose(np.array(a.records["gold"]) + offset, curves.gold_mean, atol=1e-9)
    gold_fit = [i for i, s in enumerate(a.fits["score"]) if s == "gold"][0]
    law = g.fit("bon", np.sqrt(a.records["kl"]), a.records["gold"])
    assert a.fits["alpha"][gold_fit] == pytest.approx(law.alpha, abs=1e-9)
    assert a.fits["beta"][gold_fit] == pytest.approx(law.beta, abs=1e-9)


def test_the_ppo_example():
    rows = [json.loads(line) for line in open(EXAMPLES / "ppo_log.jsonl") if line.strip()]
    a = g.analyze(EXAMPLES / "ppo_log.jsonl", bootstrap=20)
    assert a.kind == "ppo"
    assert set(a.records["rm_size"]) == {r["run"] for r in rows}
    assert set(a.fits["form"]) == {"rl"}


@pytest.mark.parametrize(
    "source, message",
    [
        ({"prompt_id": ["a", "b"], "proxy": [1.0]}, "every column needs one value per row"),
        ({"prompt_id": ["a", "a"], "proxy": [1.0, 2.0], "gold": [True, False]}, "boolean"),
        ({"prompt_id": ["a", "a", "b", "b"], "proxy": [1.0, 2.0, 1.0, 2.0]}, "gold"),
        ("no/such/file.csv", "no/such/file.csv"),
        (42, "cannot analyse a int"),
    ],
)
def test_bad_tables(source, message):
    with pytest.raises(g.GoodhartError) as info:
        g.analyze(source)
    assert message in str(info.value)


@pytest.mark.parametrize("library", ["polars", "pandas"])
def test_a_data_frame_gives_what_its_file_gives(library):
    frames = pytest.importorskip(library)
    path = EXAMPLES / "bon_pools.csv"
    frame = frames.read_csv(path)
    a = g.analyze(frame, bootstrap=20)
    b = g.analyze(path, bootstrap=20)
    assert a.file == "<DataFrame>"
    np.testing.assert_allclose(a.records["gold"], b.records["gold"], atol=1e-12)
    np.testing.assert_allclose(a.fits["alpha"], b.fits["alpha"], atol=1e-12)
