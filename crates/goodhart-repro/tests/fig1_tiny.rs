//! The whole figure-1 path (best-of-n and PPO) at the tiny preset: what must hold whatever the world.

use burn::prelude::Device;
use goodhart_core::Method;
use goodhart_kl::kl_bon;
use goodhart_repro::fig1::fig1;
use goodhart_repro::plan::fig1_plan;
use goodhart_repro::progress::Event;
use goodhart_repro::report::{records_csv, write_fig1};
use goodhart_repro::store::{Outcome, Stage};
use goodhart_repro::{ExperimentConfig, Pipeline};
use goodhart_world::Split;

mod golden;

#[test]
fn tiny_fig1_runs_end_to_end_and_reuses_its_cache() {
    let runs = tempfile::tempdir().unwrap();
    let config = ExperimentConfig::preset("tiny").unwrap();
    // Every stage the pipeline reports, as (stage, key, computed).
    let reported = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = reported.clone();
    let reporter: goodhart_repro::progress::Reporter = std::sync::Arc::new(move |e| {
        if let Event::Stage { stage, outcome, dir, .. } = e {
            let key = dir.file_name().unwrap().to_string_lossy().into_owned();
            log.lock().unwrap().push((stage, key, outcome == Outcome::Computed));
        }
    });
    let pipeline = Pipeline::new(config.clone(), runs.path(), Device::flex()).with_reporter(reporter.clone());
    // The dry-run plan names the stages the run computes: none is cached before, all are after.
    let plan = fig1_plan(&config, &pipeline.store);
    assert!(plan.iter().all(|s| !s.cached), "{plan:?}");
    let fig = fig1(&pipeline).unwrap();
    // The reporter heard of every planned stage, each computed in this run.
    let heard = std::mem::take(&mut *reported.lock().unwrap());
    for s in &plan {
        assert!(heard.contains(&(s.stage, s.key.clone(), true)), "no report of {s:?} in {heard:?}");
    }
    let plan = fig1_plan(&config, &pipeline.store);
    assert!(plan.iter().all(|s| s.cached && s.estimate_s.is_some()), "{plan:?}");
    let rl_stages = plan.iter().filter(|s| s.stage == Stage::Rl).count();
    assert!(config.rl.trajectories >= 2, "the tiny preset runs several PPO trajectories per cell");
    assert_eq!(rl_stages, config.rl.sizes.len() * config.rl.trajectories);
    // every proxy starts from a pretrained LM of its size (tiny sets proxies.init_lm), and says so
    assert!(config.proxies.init_lm.is_some());
    assert_eq!(plan.iter().filter(|s| s.stage == Stage::Lm).count(), config.proxies.sizes.len());
    assert_eq!(fig.results.len(), config.proxies.sizes.len());
    for r in &fig.results {
        assert!(r.proxy.lm_val_loss.is_some_and(|l| l.is_finite() && l > 0.0), "{:?}", r.proxy);
        // the KL grid is kl_bon(n)
        for (n, kl) in r.ns.iter().zip(&r.kl) {
            assert!((kl - kl_bon(*n).unwrap()).abs() < 1e-12);
        }
        assert_eq!(r.ns[0], 1);
        assert_eq!(*r.ns.last().unwrap(), config.bon.pool as u64);
        // the proxy curve never decreases in n
        for w in r.proxy_score.windows(2) {
            assert!(w[1].mean >= w[0].mean - 1e-9, "{:?}", r.proxy_score);
        }
        assert!(r.gold.iter().chain(&r.proxy_score).all(|e| e.mean.is_finite()));
    }
    // RL: one run per rl size, evaluated from step 0 (the initial policy: KL 0) to the last step.
    assert_eq!(fig.rl.len(), config.rl.sizes.len());
    for r in &fig.rl {
        assert_eq!(r.steps[0], 0);
        assert_eq!(*r.steps.last().unwrap(), config.rl.ppo.total_steps as u64);
        assert!(r.kl[0].mean.abs() < 1e-4, "KL at step 0: {:?}", r.kl[0]);
        assert!(r.kl.iter().all(|k| k.mean >= 0.0), "k3 is non-negative per sequence");
        assert!(r.kl_reached > 0.0, "PPO moved the policy");
        assert!(r.r2.is_finite() && r.alpha_rl.is_finite());
    }
    // every trajectory's rows, told apart by their seed
    let rl_rows: Vec<_> = fig.records.iter().filter(|r| r.method == Method::Rl).collect();
    assert_eq!(rl_rows.len(), config.rl.trajectories * fig.rl.iter().map(|r| r.steps.len()).sum::<usize>());
    let seeds: std::collections::BTreeSet<u64> = rl_rows.iter().map(|r| r.seed).collect();
    assert_eq!(seeds.len(), config.rl.trajectories);
    assert!(fig.rl.iter().all(|r| r.trajectories == config.rl.trajectories));

    // verify: one line per check, each agreeing with the number it reports
    let checks = goodhart_findings::checks::fig1_checks(&fig);
    // 2 RM checks; per BoN size the gold's trusted range, a verdict and the proxy-gold gap; R^2
    // and four trends; per RL size the trusted range, a verdict, KL monotone, rise resolved; R^2,
    // one trend, and per RL size the KL comparison
    let (bon, rl) = (fig.results.len(), fig.rl.len());
    assert_eq!(checks.len(), 2 + 3 * bon + 5 + 4 * rl + 2 + rl, "{checks:#?}");
    // the gold's fidelity is measured at every point of every curve, and each curve has a range
    assert!(fig.records.iter().all(|r| (0.0..=1.0).contains(&r.fidelity)), "{:?}", fig.records);
    assert!(fig.results.iter().all(|r| r.fidelity.len() == r.ns.len() && r.trusted.is_some()));
    assert!(fig.rl.iter().all(|r| r.fidelity.len() == r.steps.len() && r.trusted.is_some()));
    for r in &fig.results {
        let verdict =
            checks.iter().find(|c| c.name.starts_with(&format!("F1 bon {}: gold peaks", r.proxy.size)));
        assert!(
            verdict.is_some_and(|c| c.detail.contains(&r.verdict.to_string())),
            "every size gets a verdict: {checks:#?}"
        );
    }
    // the gold against the rubric and the proxies against the gold, on the same held-out pairs
    let best_proxy = fig.results.iter().map(|r| r.proxy_gold_agreement_held_out.unwrap()).fold(0.0, f64::max);
    let gold_held_out = fig.gold_rubric_agreement_held_out.unwrap();
    let gold_check = checks.iter().find(|c| c.name.starts_with("gold agrees")).unwrap();
    assert_eq!(gold_check.passed, gold_held_out > best_proxy, "{gold_check}");
    let min_r2 = fig.results.iter().map(|r| r.r2).fold(f64::INFINITY, f64::min);
    let r2_check = checks.iter().find(|c| c.name.starts_with("F2 bon fits")).unwrap();
    if r2_check.applies {
        assert_eq!(r2_check.passed, min_r2 >= goodhart_findings::checks::MIN_R2_BON, "{r2_check}");
    } else {
        // read beyond a curve's trusted range: N/A, the number still shown
        assert!(r2_check.detail.contains(&format!("{min_r2:.3}")), "{r2_check}");
        assert!(fig.results.iter().any(|r| r.trusted.is_some_and(|t| !t.covers_curve())));
    }

    // n = 1 is the pool mean: recompute it from the stored pools and scores
    let w = pipeline.world().unwrap();
    let policy = pipeline.policy(&w).unwrap();
    let pools = pipeline.bon_pools(&w, &policy).unwrap();
    let gold = pipeline.gold(&w, &policy).unwrap();
    let gold_scores = pipeline.gold_scores(&w, &pools, &gold).unwrap();
    let pool_mean = gold_scores.iter().map(|s| s.iter().sum::<f64>() / s.len() as f64).sum::<f64>()
        / gold_scores.len() as f64;
    assert!((fig.results[0].gold[0].mean - pool_mean).abs() < 1e-9);

    // The rubric is recorded beside gold and proxy on every curve point.
    assert!(fig.records.iter().all(|r| r.rubric.is_finite() && r.rubric_se.is_finite()), "{:?}", fig.records);
    assert!(fig.results.iter().all(|r| r.rubric.len() == r.ns.len()));
    assert!(fig
        .rl
        .iter()
        .all(|r| r.rubric.len() == r.steps.len() && r.gold_rubric_concordance_end.is_some()));

    // Held-out prompts are never trained on: not in the corpus, not in the proxies' comparisons;
    // and every curve point is measured on them.
    let held: std::collections::HashSet<String> =
        w.world.split(Split::HeldOut).iter().map(|p| p.text()).collect();
    let trained = w.train.iter().chain(&w.val).map(|d| &d.prompt);
    let goodhart_repro::pipeline::ProxyData { train, val, .. } =
        pipeline.proxy_data(&w, &policy, &gold).unwrap();
    for prompt in trained.chain(train.iter().chain(&val).map(|c| &c.prompt)) {
        let text = w.decode(prompt).unwrap();
        assert!(!held.contains(&text), "a held-out prompt in training data: {text}");
    }
    for prompt in &pools.prompts {
        assert!(held.contains(&w.decode(prompt).unwrap()));
    }

    // Outputs exist and parse.
    let out = tempfile::tempdir().unwrap();
    write_fig1(out.path(), &fig, "{}").unwrap();
    let csv = std::fs::read_to_string(out.path().join("fig1.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + fig.records.len());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("fig1.json")).unwrap()).unwrap();
    assert!(json["results"].as_array().unwrap().len() == fig.results.len());
    assert!(std::fs::read_to_string(out.path().join("report.md")).unwrap().contains("alpha_bon"));
    assert!(std::fs::read_to_string(out.path().join("report.md")).unwrap().contains("alpha_RL"));
    let svg = std::fs::read_to_string(out.path().join("fig1.svg")).unwrap();
    assert!(svg.contains("(a) best-of-n") && svg.contains("(b) PPO"));
    assert!(svg.contains(&format!("gold, RM {}", config.proxies.sizes[0])));
    assert!(std::fs::read(out.path().join("fig1.png")).unwrap().starts_with(b"\x89PNG"));
    // the fits table: every proxy's best-of-n gold fit as figure 1 fitted it, with its intervals
    let fits = goodhart_repro::table::read_parquet(&out.path().join("fig1_fits.parquet")).unwrap();
    let col = |name: &str| fits.column(name).unwrap().clone();
    let (method, score, size) = (col("method"), col("score"), col("rm_size"));
    let (alpha, alpha_lo, loss) = (col("alpha"), col("alpha_lo"), col("rm_val_loss"));
    for r in &fig.results {
        let row = (0..fits.height())
            .find(|&i| {
                method.str().unwrap().get(i) == Some("bon")
                    && score.str().unwrap().get(i) == Some("gold")
                    && size.str().unwrap().get(i) == Some(r.proxy.size.as_str())
            })
            .unwrap_or_else(|| panic!("no best-of-n gold fit of {}", r.proxy.size));
        assert!((alpha.f64().unwrap().get(row).unwrap() - r.alpha_bon).abs() < 1e-9, "{}", r.proxy.size);
        assert_eq!(alpha_lo.f64().unwrap().get(row), Some(r.alpha_ci.0));
        assert_eq!(loss.f64().unwrap().get(row), Some(r.proxy.val.loss));
    }
    assert_eq!(fits.height(), goodhart_data::fits_from_records(&fig.records).len());

    // The numbers themselves are pinned by a golden file (see `golden`).
    golden::check("fig1_tiny.csv", &records_csv(&fig.records));
    counter_examples_fail_their_checks(&fig);
    bless_findings_fixture(out.path());

    // A second run finds every stage cached and gives the same numbers.
    let again = fig1(&Pipeline::new(config, runs.path(), Device::flex()).with_reporter(reporter)).unwrap();
    let heard = reported.lock().unwrap();
    assert!(!heard.is_empty() && heard.iter().all(|(_, _, computed)| !computed), "{heard:?}");
    assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&fig).unwrap());
}

#[test]
fn the_rubric_as_gold_is_faithful_everywhere_and_labels_at_its_accuracy() {
    let runs = tempfile::tempdir().unwrap();
    let sets = goodhart_repro::config::GoldKind::Rubric.overrides();
    let config = ExperimentConfig::preset("tiny").unwrap().with_overrides(&sets).unwrap();
    assert_eq!(config.gold.kind, goodhart_repro::config::GoldKind::Rubric);
    let pipeline = Pipeline::new(config.clone(), runs.path(), Device::flex());
    let fig = fig1(&pipeline).unwrap();
    // no gold model: the report names the rubric and the temperature of its labels
    assert_eq!((fig.gold.size.as_str(), fig.gold.params), ("rubric", 0));
    let t = fig.gold.label_temperature.expect("a label temperature");
    assert!(t > 0.0 && t.is_finite(), "{t}");
    assert_eq!(fig.gold.val.accuracy, goodhart_repro::config::RUBRIC_GOLD_LABEL_ACCURACY);
    // the gold is the rubric up to an increasing map: it orders every pair as the rubric does,
    // along every curve, so every curve is trusted to its end
    assert!(fig.records.iter().all(|r| r.fidelity == 1.0), "{:?}", fig.records);
    for t in fig.results.iter().map(|r| r.trusted).chain(fig.rl.iter().map(|r| r.trusted)) {
        assert!(t.is_some_and(|t| t.covers_curve()), "{t:?}");
    }
    // its results read back (a curve trusted to its end has no worst point beyond: JSON null)
    let out = tempfile::tempdir().unwrap();
    write_fig1(out.path(), &fig, "{}").unwrap();
    let text = std::fs::read_to_string(out.path().join("fig1.json")).unwrap();
    let back: goodhart_repro::fig1::Fig1 = serde_json::from_str(&text).unwrap();
    assert_eq!(back.results[0].fidelity, fig.results[0].fidelity);
    // the proxies learn from labels that disagree with the rubric about as often as asked
    let w = pipeline.world().unwrap();
    let policy = pipeline.policy(&w).unwrap();
    let gold = pipeline.gold(&w, &policy).unwrap();
    let goodhart_repro::pipeline::ProxyData { train, val, .. } =
        pipeline.proxy_data(&w, &policy, &gold).unwrap();
    let comps: Vec<_> = train.iter().chain(&val).collect();
    let agree = comps
        .iter()
        .filter(|c| w.rubric(&c.prompt, &c.chosen).unwrap() > w.rubric(&c.prompt, &c.rejected).unwrap())
        .count() as f64
        / comps.len() as f64;
    // 400 pairs: se about 0.017
    assert!((agree - goodhart_repro::config::RUBRIC_GOLD_LABEL_ACCURACY).abs() < 0.07, "{agree}");
}

#[test]
fn gold_rounds_chain_on_their_predecessor_and_train_on_every_round_so_far() {
    use goodhart_repro::pipeline::{snapshot_steps, GoldRoundReport, RoundComparisons};
    use goodhart_repro::schedule::run_plan;
    let sets = ["gold.rounds={count=2,pairs=64,snapshots=2}".to_string()];
    let config = ExperimentConfig::preset("tiny").unwrap().with_overrides(&sets).unwrap();
    let runs = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::new(config.clone(), runs.path(), Device::flex());
    // the plan names both rounds, each after the one it starts from, and the scheduler computes them
    let plan = fig1_plan(&config, &pipeline.store);
    let rounds: Vec<_> = plan.iter().filter(|s| s.stage == Stage::GoldRound).collect();
    assert_eq!(rounds.len(), 2);
    run_plan(&pipeline, &plan, 2, 2, &|_| pipeline.reporter.clone()).unwrap();
    assert!(
        fig1_plan(&config, &pipeline.store).iter().all(|s| s.cached),
        "the plan's keys are the pipeline's"
    );
    let w = pipeline.world().unwrap();
    let policy = pipeline.policy(&w).unwrap();
    let gold = pipeline.gold(&w, &policy).unwrap();
    assert_eq!(gold.key, rounds[1].key, "later stages read the last round's gold");
    assert_eq!(gold.rounds.len(), 2);
    let first = pipeline.gold_upto(&w, &policy, 0).unwrap();
    assert!(first.rounds.is_empty() && first.key != gold.key);
    let read = |i: usize| {
        let dir = &gold.rounds[i];
        let report: GoldRoundReport =
            serde_json::from_str(&std::fs::read_to_string(dir.join("round.json")).unwrap()).unwrap();
        let comps: RoundComparisons =
            serde_json::from_str(&std::fs::read_to_string(dir.join("comparisons.json")).unwrap()).unwrap();
        (report, comps)
    };
    let ((r1, c1), (r2, c2)) = (read(0), read(1));
    let steps: Vec<usize> = r1.snapshots.iter().map(|s| s.step).collect();
    assert_eq!(steps, snapshot_steps(config.rl.ppo.total_steps, 2));
    for (r, c) in [(&r1, &c1), (&r2, &c2)] {
        // 64 pairs less the rubric's ties, 10% held out
        let n = c.train.len() + c.val.len();
        assert!((32..=64).contains(&n) && !c.val.is_empty(), "{n}");
        assert!(r.snapshots.iter().all(|s| s.kl.is_finite() && s.rubric.n == 32));
        assert!((0.0..=1.0).contains(&r.agreement_after), "{}", r.agreement_after);
    }
    // each round retrains on the first data plus every round's comparisons so far
    assert_eq!(r2.train_pairs, r1.train_pairs + c2.train.len());
    assert_eq!(gold.eval.train_pairs, r2.train_pairs);
    assert_eq!(r1.train_pairs, first.eval.train_pairs + c1.train.len());
    // a round's samples come from PPO against the gold before it: the rounds' samples differ
    assert_ne!(c1.train[0], c2.train[0]);
}

#[test]
fn stages_computed_at_once_give_the_figure_of_stages_computed_one_after_another() {
    use goodhart_repro::schedule::run_plan;
    let config = ExperimentConfig::preset("tiny").unwrap();
    let figure = |jobs: usize| {
        let runs = tempfile::tempdir().unwrap();
        let computed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = computed.clone();
        let reporter: goodhart_repro::progress::Reporter = std::sync::Arc::new(move |e| {
            if let Event::Stage { outcome: Outcome::Computed, .. } = e {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let pipeline = Pipeline::new(config.clone(), runs.path(), Device::flex());
        let plan = fig1_plan(&config, &pipeline.store);
        let timings = run_plan(&pipeline, &plan, jobs, 2, &|_| reporter.clone()).unwrap();
        assert_eq!(timings.stages.len(), plan.len(), "every stage computed once");
        assert!(timings.stages.iter().all(|&(_, worker, _)| worker < jobs));
        // the scheduled stages are the figure's: drawing it computes nothing more
        let before = computed.load(std::sync::atomic::Ordering::SeqCst);
        let fig = fig1(&pipeline.with_reporter(reporter.clone())).unwrap();
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), before);
        records_csv(&fig.records)
    };
    let one_by_one = figure(1);
    assert_eq!(figure(3), one_by_one, "three jobs at once, one thread each, changed the figure");
}

#[test]
fn a_byte_flipped_in_every_cached_stage_is_healed_and_the_figure_is_unchanged() {
    let runs = tempfile::tempdir().unwrap();
    let config = ExperimentConfig::preset("tiny").unwrap();
    let pipeline = Pipeline::new(config.clone(), runs.path(), Device::flex());
    let before = records_csv(&fig1(&pipeline).unwrap().records);
    // one byte flipped in place in the largest file of every stage (its size unchanged)
    let plan = fig1_plan(&config, &pipeline.store);
    for s in &plan {
        let dir = pipeline.store.dir(s.stage, &s.key);
        let largest = walk(&dir).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
        let mut bytes = std::fs::read(&largest).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&largest, bytes).unwrap();
    }
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let heard = notes.clone();
    let reporter: goodhart_repro::progress::Reporter = std::sync::Arc::new(move |e| {
        if let Event::Note(n) = e {
            heard.lock().unwrap().push(n.to_string());
        }
    });
    let healed = fig1(&Pipeline::new(config, runs.path(), Device::flex()).with_reporter(reporter)).unwrap();
    assert_eq!(records_csv(&healed.records), before, "the healed stages gave other numbers");
    let notes = notes.lock().unwrap();
    for s in &plan {
        let said = format!("{}/{} is damaged", s.stage, s.key);
        assert!(notes.iter().any(|n| n.contains(&said)), "no note that {said}: {notes:?}");
        assert!(pipeline.store.is_intact(s.stage, &s.key), "{s:?}");
    }
}

/// Every file under `dir` except `stage.json`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.file_name().unwrap() != "stage.json" {
            out.push(path);
        }
    }
    out
}

/// Synthetic counter-examples on a real figure, each failing the check it names (the checks whose
/// rules are not functions of plain numbers tested beside them).
/// With `GOODHART_BLESS`, the tiny figure's `fig1.json` and `fig1.parquet` become the fixture
/// on which `goodhart-findings`' test pins figure 1's checks and the Python package's tests
/// compare its checks on a table with the Rust verdicts (`crates/goodhart-findings/tests/data/`).
fn bless_findings_fixture(results: &std::path::Path) {
    if std::env::var_os("GOODHART_BLESS").is_none() {
        return;
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../goodhart-findings/tests/data");
    std::fs::create_dir_all(&data).unwrap();
    for (from, to) in [("fig1.json", "fig1_tiny.json"), ("fig1.parquet", "fig1_tiny.parquet")] {
        std::fs::copy(results.join(from), data.join(to)).unwrap();
    }
    eprintln!("blessed {}: rerun goodhart-findings' tests with GOODHART_BLESS=1", data.display());
}

fn counter_examples_fail_their_checks(fig: &goodhart_repro::fig1::Fig1) {
    use goodhart_findings::checks::{fig1_checks, Check};
    use goodhart_findings::stats::Verdict;
    use goodhart_repro::fig1::Fig1;
    // the gold trusted everywhere, so that no check is N/A for reading beyond it
    let mut trusted = fig.clone();
    trusted.results.iter_mut().for_each(|r| r.trusted = None);
    trusted.rl.iter_mut().for_each(|r| r.trusted = None);
    let find = |f: &Fig1, name: &str| -> Check {
        fig1_checks(f).into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name:?}"))
    };
    // F2: fits of R^2 0.5 fail, of 0.99 pass
    for (r2, passes) in [(0.5, false), (0.99, true)] {
        let mut f = trusted.clone();
        f.results.iter_mut().for_each(|r| r.r2 = r2);
        f.rl.iter_mut().for_each(|r| r.r2 = r2);
        for name in ["F2 bon fits: R^2 of d(alpha - beta d)", "F2 rl fits: R^2 of d(alpha - beta ln d)"] {
            assert_eq!(find(&f, name).passed, passes, "R^2 {r2}: {}", find(&f, name));
        }
    }
    // the precondition: a gold that agrees with the rubric less than a proxy with the gold
    let name = "gold agrees with the rubric better than any proxy with the gold";
    let mut f = trusted.clone();
    f.gold_rubric_agreement_held_out = Some(0.7);
    f.results.iter_mut().for_each(|r| r.proxy_gold_agreement_held_out = Some(0.6));
    assert!(find(&f, name).passed, "{}", find(&f, name));
    f.results[0].proxy_gold_agreement_held_out = Some(0.8);
    assert!(find(&f, name).fails(), "{}", find(&f, name));
    // F1 rl: a gold that peaks and falls is not enough when the proxy does not rise
    let size = trusted.rl[0].proxy.size.clone();
    let name = format!("F1 rl {size}: gold peaks while proxy rises (paper: every size)");
    let mut f = trusted.clone();
    f.rl[0].verdict = Verdict::PeaksAndFalls;
    f.rl[0].proxy_rises = true;
    assert!(find(&f, &name).passed, "{}", find(&f, &name));
    f.rl[0].proxy_rises = false;
    assert!(find(&f, &name).fails(), "{}", find(&f, &name));
    // the rise: a peak at the second evaluation is not resolved
    let mut f = trusted.clone();
    f.rl[0].fall.peak = 1;
    let name = format!("rl {size}: the rise is resolved (>= 8 evaluations before the peak)");
    assert!(find(&f, &name).fails(), "{}", find(&f, &name));
    // F4: a PPO gold rising from best-of-n's start past its peak; reaching best-of-n's level at a
    // millionth of PPO's measured KL fails, at a million times passes
    if let Some(bon) = trusted.results.iter().find(|b| b.proxy.size == size) {
        let name = format!("F4 rl {size}: more KL than best-of-n for the same gold");
        let (first, top) = (bon.gold[0].mean, bon.gold.iter().map(|g| g.mean).fold(f64::MIN, f64::max));
        let evals = trusted.rl[0].gold.len();
        for (scale, passes) in [(1e-6, false), (1e6, true)] {
            let mut f = trusted.clone();
            for (i, g) in f.rl[0].gold.iter_mut().enumerate() {
                g.mean = first + (top - first + 1.0) * i as f64 / (evals - 1) as f64;
            }
            f.rl[0].kl.iter_mut().enumerate().for_each(|(i, k)| k.mean = scale * i as f64);
            assert_eq!(find(&f, &name).passed, passes, "KL x {scale}: {}", find(&f, &name));
        }
    }
}
