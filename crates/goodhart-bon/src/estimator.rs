use std::collections::HashMap;

use goodhart_core::Estimate;

use crate::bootstrap::bootstrap_mean_ci;
use crate::radix::{gather_into, sort_into, Scratch};
use crate::weights::{bon_weights, BonWeights};
use goodhart_core::Interval;

/// Everything that can be wrong with a best-of-n request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BonError {
    /// The grid of n has no value.
    #[error("the grid of n is empty: give at least one n >= 1")]
    EmptyGrid,
    /// The grid holds n = 0.
    #[error("n = 0 in the grid: best-of-n needs n >= 1")]
    ZeroN,
    /// No pool was given.
    #[error("no prompts given: the estimator averages over prompts, pass at least one pool")]
    NoPrompts,
    /// A pool's score columns differ in length.
    #[allow(missing_docs)]
    #[error(
        "prompt {prompt}: proxy has {proxy} scores but {which} has {other}; score every sample with each"
    )]
    LengthMismatch { prompt: usize, which: &'static str, proxy: usize, other: usize },
    /// A pool is smaller than the grid's largest n.
    #[allow(missing_docs)]
    #[error("prompt {prompt}: the pool holds {pool} samples but the grid asks for n = {n}; draw pools of at least {n} samples or shorten the grid")]
    PoolTooSmall { prompt: usize, pool: usize, n: usize },
    /// A score is NaN or infinite.
    #[allow(missing_docs)]
    #[error("prompt {prompt}: {which}[{index}] is {value}, not a finite score (did the RM diverge?)")]
    NonFinite { prompt: usize, which: &'static str, index: usize, value: f64 },
    /// A measurement against a reference score got a pool without one.
    #[allow(missing_docs)]
    #[error(
        "prompt {prompt}: the pool has no reference (extra) scores; add them with PromptPool::with_extra"
    )]
    NoReference { prompt: usize },
}

/// One prompt's pool: the proxy and gold scores of the same `N` samples, in the same order, and
/// optionally a third score of them (`extra`; the experiments' rubric), which the estimator
/// weighs exactly as it weighs the gold.
#[derive(Debug, Clone, Copy)]
pub struct PromptPool<'a> {
    /// The scores best-of-n picks by.
    pub proxy: &'a [f64],
    /// The scores it is judged by.
    pub gold: &'a [f64],
    /// A third score, weighed like the gold.
    pub extra: Option<&'a [f64]>,
}

impl<'a> PromptPool<'a> {
    /// A pool of proxy and gold scores of the same samples.
    pub fn new(proxy: &'a [f64], gold: &'a [f64]) -> Self {
        PromptPool { proxy, gold, extra: None }
    }

    /// This pool with a third score of the same samples.
    pub fn with_extra(self, extra: &'a [f64]) -> Self {
        PromptPool { extra: Some(extra), ..self }
    }

    /// The checks that cost nothing per sample: the columns' lengths and the pool's size.
    pub(crate) fn validate_shape(&self, prompt: usize, max_n: usize) -> Result<(), BonError> {
        let columns = [("gold", Some(self.gold)), ("extra", self.extra)];
        for (which, xs) in columns.iter().filter_map(|(w, xs)| xs.map(|xs| (*w, xs))) {
            if self.proxy.len() != xs.len() {
                let (proxy, other) = (self.proxy.len(), xs.len());
                return Err(BonError::LengthMismatch { prompt, which, proxy, other });
            }
        }
        if self.proxy.len() < max_n {
            return Err(BonError::PoolTooSmall { prompt, pool: self.proxy.len(), n: max_n });
        }
        Ok(())
    }

    /// Every score finite (a pass over the pool, run on the pool's own thread).
    pub(crate) fn validate_values(&self, prompt: usize) -> Result<(), BonError> {
        let columns = [("proxy", Some(self.proxy)), ("gold", Some(self.gold)), ("extra", self.extra)];
        for (which, xs) in columns.iter().filter_map(|(w, xs)| xs.map(|xs| (*w, xs))) {
            // a branch-free pass that vectorises; the index only once something is wrong
            if !xs.iter().fold(true, |ok, v| ok & v.is_finite()) {
                let (index, &value) =
                    xs.iter().enumerate().find(|(_, v)| !v.is_finite()).expect("a non-finite value");
                return Err(BonError::NonFinite { prompt, which, index, value });
            }
        }
        Ok(())
    }
}

/// About `points` log-spaced integers from 1 to `max_n` inclusive, without duplicates.
///
/// `log_grid(12_600, 20)` is the 20-point grid used by the benchmarks.
pub fn log_grid(max_n: u64, points: usize) -> Vec<u64> {
    let max_n = max_n.max(1);
    let steps = points.max(2) - 1;
    let mut grid: Vec<u64> = (0..=steps)
        .map(|k| ((max_n as f64).ln() * k as f64 / steps as f64).exp().round() as u64)
        .map(|n| n.clamp(1, max_n))
        .collect();
    grid.dedup();
    grid
}

/// The best-of-n estimator for a fixed grid of n; see the crate docs for the formula.
#[derive(Debug, Clone)]
pub struct BonEstimator {
    ns: Vec<usize>,
}

/// Weight tables, one `(start, weights)` per n of the grid, for one pool size.
type Table = Vec<BonWeights>;

impl BonEstimator {
    /// An estimator for the grid `ns` (sorted and deduplicated here).
    pub fn new(ns: &[u64]) -> Result<Self, BonError> {
        if ns.is_empty() {
            return Err(BonError::EmptyGrid);
        }
        if ns.contains(&0) {
            return Err(BonError::ZeroN);
        }
        let mut ns: Vec<usize> = ns.iter().map(|&n| n as usize).collect();
        ns.sort_unstable();
        ns.dedup();
        Ok(BonEstimator { ns })
    }

    /// The grid, ascending.
    pub fn ns(&self) -> Vec<u64> {
        self.ns.iter().map(|&n| n as u64).collect()
    }

    fn table(&self, pool: usize) -> Table {
        self.ns.iter().map(|&n| bon_weights(pool, n)).collect()
    }

    /// Expected proxy and gold score of the best of n, for every prompt and every n, with the
    /// means and standard errors across prompts.
    pub fn estimate(&self, pools: &[PromptPool<'_>]) -> Result<BonCurves, BonError> {
        if pools.is_empty() {
            return Err(BonError::NoPrompts);
        }
        let max_n = *self.ns.last().expect("grid is non-empty");
        for (prompt, pool) in pools.iter().enumerate() {
            pool.validate_shape(prompt, max_n)?;
        }
        let mut tables: HashMap<usize, Table> = HashMap::new();
        for pool in pools {
            tables.entry(pool.proxy.len()).or_insert_with(|| self.table(pool.proxy.len()));
        }
        let per_prompt = |scratch: &mut Scratch, (prompt, pool): (usize, &PromptPool<'_>)| {
            pool.validate_values(prompt)?;
            Ok(prompt_values(pool, &tables[&pool.proxy.len()], scratch))
        };

        #[cfg(feature = "parallel")]
        let rows: Vec<Result<PoolValues, BonError>> = {
            use rayon::prelude::*;
            pools.par_iter().enumerate().map_init(Scratch::default, per_prompt).collect()
        };
        #[cfg(not(feature = "parallel"))]
        let rows: Vec<Result<PoolValues, BonError>> = {
            let mut scratch = Scratch::default();
            pools.iter().enumerate().map(|pool| per_prompt(&mut scratch, pool)).collect()
        };
        // the first bad prompt's error, whichever thread found it
        let rows: Vec<PoolValues> = rows.into_iter().collect::<Result<_, _>>()?;

        let cols = self.ns.len();
        let with_extra = pools.iter().all(|p| p.extra.is_some());
        let mut per_prompt_proxy = Vec::with_capacity(rows.len() * cols);
        let mut per_prompt_gold = Vec::with_capacity(rows.len() * cols);
        let mut per_prompt_extra = Vec::with_capacity(if with_extra { rows.len() * cols } else { 0 });
        for row in rows {
            per_prompt_proxy.extend(row.proxy);
            per_prompt_gold.extend(row.gold);
            if with_extra {
                per_prompt_extra.extend(row.extra.expect("every pool has the extra column"));
            }
        }
        let column = |m: &[f64], j: usize| Estimate::from_iterator(m.iter().skip(j).step_by(cols).copied());
        Ok(BonCurves {
            ns: self.ns(),
            kl: self.ns.iter().map(|&n| goodhart_kl::kl_bon(n as u64).expect("n >= 1")).collect(),
            proxy: (0..cols).map(|j| column(&per_prompt_proxy, j)).collect(),
            gold: (0..cols).map(|j| column(&per_prompt_gold, j)).collect(),
            extra: with_extra.then(|| (0..cols).map(|j| column(&per_prompt_extra, j)).collect()),
            per_prompt_proxy,
            per_prompt_gold,
            per_prompt_extra,
            fidelity: None,
        })
    }
}

/// One pool's expected best-of-n scores, one value per n of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolValues {
    /// Expected proxy score of the best of n.
    pub proxy: Vec<f64>,
    /// Expected gold score of the best of n.
    pub gold: Vec<f64>,
    /// Set when the pool has an extra column.
    pub extra: Option<Vec<f64>>,
}

/// Best-of-n curves for a single prompt's pool, one value per n of `ns`.
pub fn best_of_n_pool(pool: &PromptPool<'_>, ns: &[u64]) -> Result<PoolValues, BonError> {
    let est = BonEstimator::new(ns)?;
    pool.validate_shape(0, *est.ns.last().expect("grid is non-empty"))?;
    pool.validate_values(0)?;
    let table = est.table(pool.proxy.len());
    Ok(prompt_values(pool, &table, &mut Scratch::default()))
}

/// Replaces every run of tied proxy scores' values in `xs` (sorted along with `proxy`) by the
/// run's mean: the expectation over a uniformly random tie-break.
fn average_ties(proxy: &[f64], xs: &mut [f64]) {
    let mut start = 0;
    for run in proxy.chunk_by(|a, b| a == b) {
        if run.len() > 1 {
            let x = &mut xs[start..start + run.len()];
            let mean = x.iter().sum::<f64>() / x.len() as f64;
            x.fill(mean);
        }
        start += run.len();
    }
}

/// Sorts one pool by proxy (ties: the other scores replaced by the tied run's mean) and applies
/// every weight vector of the table.
fn prompt_values(pool: &PromptPool<'_>, table: &Table, scratch: &mut Scratch) -> PoolValues {
    sort_into(pool.proxy, scratch);
    let Scratch { order, proxy, gold, extra, .. } = scratch;
    gather_into(pool.gold, order, gold);
    average_ties(proxy, gold);
    let (proxy_values, gold_values) =
        table.iter().map(|w| dot2(&w.weights, &proxy[w.start..], &gold[w.start..])).unzip();
    let extra = pool.extra.map(|column| {
        gather_into(column, order, extra);
        average_ties(proxy, extra);
        table.iter().map(|w| dot(&w.weights, &extra[w.start..])).collect()
    });
    PoolValues { proxy: proxy_values, gold: gold_values, extra }
}

/// Independent accumulators of the dot products: eight f64 lanes fill one AVX-512 register.
const LANES: usize = 8;

/// Runs `$body` compiled for AVX-512 or AVX2 where the CPU has them (the plain copy otherwise):
/// the math crates are built for x86-64's baseline, SSE2, whose two f64 lanes left the dot
/// products at a quarter of what the machine does. The sums keep one order in every copy (no
/// fused multiply-add, no reassociation), so every copy computes the same floats.
macro_rules! dispatch {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$meta])*
        #[inline]
        fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// The lanes' sum in a fixed order (pairwise), plus the tail's.
#[inline(always)]
fn reduce(acc: [f64; LANES], tail: f64) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

dispatch! {
    /// `(w . x, w . y)` in one pass over `w`, with [`LANES`] independent accumulators per product
    /// so that it vectorises.
    fn dot2(w: &[f64], x: &[f64], y: &[f64]) -> (f64, f64) {
        let (wc, xc, yc) = (w.chunks_exact(LANES), x.chunks_exact(LANES), y.chunks_exact(LANES));
        let mut tail = (0.0, 0.0);
        for ((a, b), c) in wc.remainder().iter().zip(xc.remainder()).zip(yc.remainder()) {
            tail.0 += a * b;
            tail.1 += a * c;
        }
        let (mut ax, mut ay) = ([0.0f64; LANES], [0.0f64; LANES]);
        for ((a, b), c) in wc.zip(xc).zip(yc) {
            for k in 0..LANES {
                ax[k] += a[k] * b[k];
                ay[k] += a[k] * c[k];
            }
        }
        (reduce(ax, tail.0), reduce(ay, tail.1))
    }
}

dispatch! {
    /// `w . x` with [`LANES`] independent accumulators, as [`dot2`] does for two products.
    fn dot(w: &[f64], x: &[f64]) -> f64 {
        let (wc, xc) = (w.chunks_exact(LANES), x.chunks_exact(LANES));
        let tail: f64 = wc.remainder().iter().zip(xc.remainder()).map(|(a, b)| a * b).sum();
        let mut acc = [0.0f64; LANES];
        for (a, b) in wc.zip(xc) {
            for k in 0..LANES {
                acc[k] += a[k] * b[k];
            }
        }
        reduce(acc, tail)
    }
}

/// Best-of-n curves over a set of prompts.
#[derive(Debug, Clone, PartialEq)]
pub struct BonCurves {
    /// The grid of n, ascending.
    pub ns: Vec<u64>,
    /// `kl_bon(n)` for each n.
    pub kl: Vec<f64>,
    /// Mean proxy score of the best of n across prompts, with its standard error.
    pub proxy: Vec<Estimate>,
    /// Mean gold score of the best of n across prompts, with its standard error.
    pub gold: Vec<Estimate>,
    /// Row-major `[prompt, n]` per-prompt expected proxy score.
    pub per_prompt_proxy: Vec<f64>,
    /// Row-major `[prompt, n]` per-prompt expected gold score.
    pub per_prompt_gold: Vec<f64>,
    /// Mean extra score of the best of n, when every pool had an extra column.
    pub extra: Option<Vec<Estimate>>,
    /// Row-major `[prompt, n]` per-prompt expected extra score (empty without one).
    pub per_prompt_extra: Vec<f64>,
    /// The gold's fidelity to the extra score at each n ([`crate::bon_fidelity`]), when
    /// measured ([`crate::BestOfN`] measures it whenever it has a rubric).
    pub fidelity: Option<Vec<f64>>,
}

impl BonCurves {
    /// Number of prompts averaged.
    pub fn num_prompts(&self) -> usize {
        self.per_prompt_gold.len() / self.ns.len()
    }

    /// Percentile bootstrap intervals over prompts for the mean gold and proxy at each n:
    /// `(gold, proxy)`, deterministic for a given `seed`.
    pub fn bootstrap(&self, resamples: usize, level: f64, seed: u64) -> BonIntervals {
        let cols = self.ns.len();
        BonIntervals {
            gold: bootstrap_mean_ci(&self.per_prompt_gold, cols, resamples, level, seed),
            proxy: bootstrap_mean_ci(&self.per_prompt_proxy, cols, resamples, level, seed),
        }
    }
}

/// Bootstrap intervals of the mean best-of-n scores, one per n of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct BonIntervals {
    /// Of the mean gold score.
    pub gold: Vec<Interval>,
    /// Of the mean proxy score.
    pub proxy: Vec<Interval>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodhart_core::SplitMix64;
    use proptest::prelude::*;

    /// Brute force: enumerate every n-subset; its winner is the max proxy, ties broken uniformly
    /// at random, so it contributes the mean gold of its tied maximisers.
    fn brute_force(proxy: &[f64], gold: &[f64], n: usize) -> (f64, f64) {
        let big_n = proxy.len();
        let (mut sp, mut sg, mut count) = (0.0, 0.0, 0u64);
        for mask in 0u32..(1 << big_n) {
            if mask.count_ones() as usize != n {
                continue;
            }
            let members: Vec<usize> = (0..big_n).filter(|i| mask & (1 << i) != 0).collect();
            let best = members.iter().map(|&i| proxy[i]).fold(f64::NEG_INFINITY, f64::max);
            let winners: Vec<usize> = members.iter().copied().filter(|&i| proxy[i] == best).collect();
            sp += best;
            sg += winners.iter().map(|&i| gold[i]).sum::<f64>() / winners.len() as f64;
            count += 1;
        }
        (sp / count as f64, sg / count as f64)
    }

    fn pool_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (1usize..=12).prop_flat_map(|n| {
            (
                // few distinct values, so ties are common
                prop::collection::vec((0i32..6).prop_map(|x| x as f64 * 0.5), n),
                prop::collection::vec(-3.0f64..3.0, n),
            )
        })
    }

    proptest! {
        #[test]
        fn equals_brute_force_enumeration((proxy, gold) in pool_strategy(), shift in -2.0f64..2.0) {
            let ns: Vec<u64> = (1..=proxy.len() as u64).collect();
            // a third column: the gold reversed and shifted, so it ties where the gold does not
            let extra: Vec<f64> = gold.iter().rev().map(|g| (g + shift).round()).collect();
            let v = best_of_n_pool(&PromptPool::new(&proxy, &gold).with_extra(&extra), &ns).unwrap();
            let e = v.extra.unwrap();
            for (k, &n) in ns.iter().enumerate() {
                let (bp, bg) = brute_force(&proxy, &gold, n as usize);
                let (_, be) = brute_force(&proxy, &extra, n as usize);
                prop_assert!((v.proxy[k] - bp).abs() < 1e-10, "n={n}: proxy {} vs {bp}", v.proxy[k]);
                prop_assert!((v.gold[k] - bg).abs() < 1e-10, "n={n}: gold {} vs {bg}", v.gold[k]);
                prop_assert!((e[k] - be).abs() < 1e-10, "n={n}: extra {} vs {be}", e[k]);
            }
        }

        #[test]
        fn proxy_curve_is_non_decreasing(seed in any::<u64>(), pool in 2usize..3000) {
            let mut rng = SplitMix64::new(seed);
            let proxy: Vec<f64> = (0..pool).map(|_| rng.next_f64() * 4.0 - 2.0).collect();
            let gold: Vec<f64> = (0..pool).map(|_| rng.next_f64()).collect();
            let grid = log_grid(pool as u64, 25);
            let p = best_of_n_pool(&PromptPool::new(&proxy, &gold), &grid).unwrap().proxy;
            for w in p.windows(2) {
                prop_assert!(w[1] >= w[0] - 1e-12, "{:?}", w);
            }
        }
    }

    #[test]
    fn n_one_is_the_pool_mean_and_n_max_is_the_top_sample() {
        let mut rng = SplitMix64::new(3);
        let proxy: Vec<f64> = (0..500).map(|_| rng.next_f64()).collect();
        let gold: Vec<f64> = (0..500).map(|_| rng.next_f64()).collect();
        let PoolValues { proxy: p, gold: g, extra } =
            best_of_n_pool(&PromptPool::new(&proxy, &gold), &[1, 500]).unwrap();
        assert_eq!(extra, None);
        assert!((p[0] - proxy.iter().sum::<f64>() / 500.0).abs() < 1e-12);
        assert!((g[0] - gold.iter().sum::<f64>() / 500.0).abs() < 1e-12);
        let top = (0..500).max_by(|&a, &b| proxy[a].total_cmp(&proxy[b])).unwrap();
        assert!((g[1] - gold[top]).abs() < 1e-12);
    }

    #[test]
    fn averages_over_prompts_with_standard_errors() {
        let a = ([0.0, 1.0], [1.0, 3.0]);
        let b = ([0.0, 1.0], [5.0, 7.0]);
        let est = BonEstimator::new(&[2, 1]).unwrap();
        let c = est.estimate(&[PromptPool::new(&a.0, &a.1), PromptPool::new(&b.0, &b.1)]).unwrap();
        assert_eq!(c.ns, vec![1, 2]);
        assert_eq!(c.num_prompts(), 2);
        assert_eq!(c.per_prompt_gold, vec![2.0, 3.0, 6.0, 7.0]);
        assert_eq!((c.extra.as_ref(), c.per_prompt_extra.len()), (None, 0));
        let e = est
            .estimate(&[
                PromptPool::new(&a.0, &a.1).with_extra(&a.1),
                PromptPool::new(&b.0, &b.1).with_extra(&b.0),
            ])
            .unwrap();
        assert_eq!(e.per_prompt_extra, vec![2.0, 3.0, 0.5, 1.0]);
        assert_eq!(e.extra.unwrap()[1].mean, 2.0);
        assert!((c.gold[0].mean - 4.0).abs() < 1e-12 && (c.gold[0].se - 2.0).abs() < 1e-12);
        assert!((c.gold[1].mean - 5.0).abs() < 1e-12);
        let gold_ci = c.bootstrap(500, 0.9, 1).gold;
        assert!(gold_ci[0].lo >= 2.0 && gold_ci[0].hi <= 6.0 && gold_ci[0].lo < gold_ci[0].hi);
        assert_eq!(c.bootstrap(500, 0.9, 1), c.bootstrap(500, 0.9, 1));
    }

    #[test]
    fn bad_input_says_what_to_fix() {
        let est = BonEstimator::new(&[1, 4]).unwrap();
        let e = est.estimate(&[PromptPool::new(&[0.0; 3], &[0.0; 3])]).unwrap_err();
        assert_eq!(e, BonError::PoolTooSmall { prompt: 0, pool: 3, n: 4 });
        assert!(e.to_string().contains("at least 4"));
        let e = est.estimate(&[PromptPool::new(&[0.0; 4], &[0.0, f64::NAN, 0.0, 0.0])]).unwrap_err();
        assert!(e.to_string().contains("gold[1]"));
        assert_eq!(est.estimate(&[]).unwrap_err(), BonError::NoPrompts);
        assert_eq!(BonEstimator::new(&[]).unwrap_err(), BonError::EmptyGrid);
        assert_eq!(BonEstimator::new(&[0, 3]).unwrap_err(), BonError::ZeroN);
        let e = best_of_n_pool(&PromptPool::new(&[0.0; 4], &[0.0; 3]), &[1]).unwrap_err();
        assert!(matches!(e, BonError::LengthMismatch { which: "gold", .. }), "{e}");
        let pool = PromptPool::new(&[0.0; 4], &[0.0; 4]).with_extra(&[0.0; 5]);
        let e = best_of_n_pool(&pool, &[1]).unwrap_err();
        assert!(e.to_string().contains("extra has 5"), "{e}");
        let pool = PromptPool::new(&[0.0; 4], &[0.0; 4]).with_extra(&[0.0, 0.0, f64::INFINITY, 0.0]);
        assert!(est.estimate(&[pool]).unwrap_err().to_string().contains("extra[2]"));
        // many prompts checked on many threads: the first bad prompt is named, whichever thread
        // found which
        let good = [0.5; 8];
        let mut bad_proxy = [0.5; 8];
        bad_proxy[6] = f64::NEG_INFINITY;
        let mut pools = vec![PromptPool::new(&good, &good); 64];
        pools[41] = PromptPool::new(&good, &bad_proxy);
        pools[17] = PromptPool::new(&bad_proxy, &good);
        let e = est.estimate(&pools).unwrap_err();
        assert_eq!(e, BonError::NonFinite { prompt: 17, which: "proxy", index: 6, value: f64::NEG_INFINITY });
    }

    #[test]
    fn log_grid_spans_the_range() {
        let g = log_grid(12_600, 20);
        assert_eq!(g.first(), Some(&1));
        assert_eq!(g.last(), Some(&12_600));
        assert!(g.len() == 20 && g.windows(2).all(|w| w[0] < w[1]), "{g:?}");
        assert_eq!(log_grid(3, 20), vec![1, 2, 3]);
    }
}
