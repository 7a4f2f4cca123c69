//! The best-of-n estimator at the scale of a public reproduction (Coste et al. 2023):
//! 1000 prompts, N = 12,600 samples per prompt, the 20-point log grid of n up to N.
//!
//! Reference points on a 2-core machine: exact big-integer binomials in Python, ~19 s per n;
//! vectorised NumPy in log space, ~0.03 s per n. Target: the whole grid in under 0.3 s.
//!
//! Run: `cargo bench --bench bon_estimator`.

use criterion::{criterion_group, criterion_main, Criterion};
use goodhart::bon::{log_grid, BonEstimator, PromptPool};
use goodhart::core::SplitMix64;

const PROMPTS: usize = 1000;
const POOL: usize = 12_600;

fn bench(c: &mut Criterion) {
    // gold = proxy + independent noise, as in the paper's regressional-Goodhart picture.
    let mut rng = SplitMix64::new(2022);
    let mut normal = move || rng.next_gaussian();
    let pools: Vec<(Vec<f64>, Vec<f64>)> = (0..PROMPTS)
        .map(|_| {
            let gold: Vec<f64> = (0..POOL).map(|_| normal()).collect();
            let proxy = gold.iter().map(|g| g + 0.7 * normal()).collect();
            (proxy, gold)
        })
        .collect();
    let views: Vec<PromptPool<'_>> = pools.iter().map(|(p, g)| PromptPool::new(p, g)).collect();
    let grid = log_grid(POOL as u64, 20);
    let estimator = BonEstimator::new(&grid).unwrap();

    let mut group = c.benchmark_group("bon_estimator");
    group.sample_size(10);
    group.bench_function("1000_prompts_N12600_grid20", |b| {
        b.iter(|| estimator.estimate(std::hint::black_box(&views)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
