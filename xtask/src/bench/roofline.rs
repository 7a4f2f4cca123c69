//! The roofline of `cargo xtask bench`: the machine (CPU model, instruction sets, threads), the
//! rate of our matrix product on the shapes the models use, and what fraction of it each
//! workload reaches.

use goodhart_nn::{GptConfig, Precision};

use super::{measure, Budget};

/// The CPU as `/proc/cpuinfo` (or the target) describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub model: String,
    /// The vector and matrix instruction sets present, of those the kernels could use.
    pub isa: Vec<String>,
    pub threads: usize,
}

/// The instruction-set flags worth naming, as `/proc/cpuinfo` spells them (x86 `flags`, ARM
/// `Features`).
const FLAGS: [&str; 9] =
    ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16", "amx_tile", "asimd"];

/// The machine this runs on.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = super::cpu_model(&cpuinfo).unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, f)| f.split_whitespace().collect())
        .unwrap_or_default();
    let isa = FLAGS.iter().filter(|f| flags.contains(f)).map(|f| f.to_string()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Machine { model, isa, threads }
}

/// The matrix products of one forward pass over `rows` tokens, as `(m, n, k)`: per layer the
/// QKV projection, the attention output, the MLP's two; then the LM head.
pub fn forward_shapes(c: &GptConfig, rows: usize) -> Vec<(usize, usize, usize)> {
    let (d, f) = (c.d_model, c.d_ff);
    let mut shapes = Vec::new();
    for _ in 0..c.n_layers {
        shapes.extend([(rows, 3 * d, d), (rows, d, d), (rows, f, d), (rows, d, f)]);
    }
    shapes.push((rows, c.vocab_size, d));
    shapes
}

/// Floating-point operations of a forward pass over `seqs` sequences of `len` tokens: 2mnk per
/// product, and attention's two T x T products per layer and sequence (4 T^2 d, causal or not,
/// as a dense kernel computes them).
pub fn forward_flops(c: &GptConfig, seqs: usize, len: usize) -> f64 {
    let products: f64 = forward_shapes(c, seqs * len).iter().map(|&(m, n, k)| 2.0 * (m * n * k) as f64).sum();
    products + (4 * c.n_layers * seqs * len * len * c.d_model) as f64
}

/// A training step's operations: forward and a backward of twice its cost.
pub fn train_flops(c: &GptConfig, seqs: usize, len: usize) -> f64 {
    3.0 * forward_flops(c, seqs, len)
}

/// Our matrix product's rate on the forward pass's shapes over `rows` tokens, in GFLOP/s: every
/// shape timed (median of repetitions within `budget`), total operations over total time.
pub fn matmul_gflops(c: &GptConfig, rows: usize, budget: Budget) -> f64 {
    let mut shapes = forward_shapes(c, rows);
    shapes.sort_unstable();
    shapes.dedup();
    let per_layer = |s: &(usize, usize, usize)| if s.1 == c.vocab_size { 1.0 } else { c.n_layers as f64 };
    let (mut flops, mut seconds) = (0.0, 0.0);
    for s @ &(m, n, k) in &shapes {
        let a: Vec<f32> = (0..m * k).map(|i| ((i % 97) as f32 - 48.0) * 1e-2).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i % 89) as f32 - 44.0) * 1e-2).collect();
        let mut out = vec![0.0f32; m * n];
        let t = measure(budget, || goodhart_nn::fused::matmul(m, n, k, &a, &b, &mut out));
        flops += per_layer(s) * 2.0 * (m * n * k) as f64;
        seconds += per_layer(s) * t.median_s;
    }
    flops / seconds / 1e9
}

/// Operations of a workload over `seqs` sequences of `len` tokens.
type Flops = fn(&GptConfig, usize, usize) -> f64;

/// The roofline table: for each preset, our matrix product's rate on its shapes (measured now)
/// and PyTorch's (`torch_peaks`, from the twin, when it ran), and the rate that forward and
/// training reach with the fraction of their own library's matrix-product rate (ours, and
/// PyTorch's where the twin ran).
pub fn report(rows: &[super::Row], torch_peaks: &[(String, f64)], budget: Budget) -> String {
    use goodhart_policy::bench::{self as workload, SEQS, SEQ_LEN};
    let m = machine();
    let isa = if m.isa.is_empty() { "none of AVX2, AVX-512, AMX, NEON".to_string() } else { m.isa.join(" ") };
    let mut s = format!("roofline on {} ({} threads; {isa}):\n\n", m.model, m.threads);
    let in_effect = goodhart_core::precision::current();
    s.push_str(&format!(
        "| preset | matmul f32 (ours, GFLOP/s) | matmul bf16 (ours) | matmul (PyTorch) | workload | ours GFLOP/s | of our {in_effect} matmul | PyTorch GFLOP/s | of its matmul |\n",
    ));
    s.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for (name, c) in workload::presets() {
        let [f32_peak, bf16_peak] = [Precision::F32, Precision::Bf16].map(|p| {
            let effective = goodhart_nn::use_precision(p);
            let peak = (effective == p).then(|| matmul_gflops(&c, SEQS * SEQ_LEN, budget));
            if let Some(peak) = peak {
                eprintln!("  matmul {name:<7} {p:<4} {peak:>8.1} GFLOP/s on the model's shapes");
            }
            peak
        });
        goodhart_nn::use_precision(in_effect);
        let f32_peak = f32_peak.expect("f32 is always available");
        let peak = if in_effect == Precision::Bf16 { bf16_peak.unwrap_or(f32_peak) } else { f32_peak };
        let bf16_shown = bf16_peak.map_or("- (no AMX or AVX512-BF16)".to_string(), |g| format!("{g:.1}"));
        let torch_peak = torch_peaks.iter().find(|(p, _)| p == name).map(|(_, g)| *g);
        let workloads: [(String, Flops); 2] = [
            (format!("forward_{SEQS}x{SEQ_LEN}"), forward_flops),
            (format!("train_{SEQS}x{SEQ_LEN}"), train_flops),
        ];
        for (key, flops) in workloads {
            let Some(r) = rows.iter().find(|r| r.preset == name && r.key == key) else { continue };
            let per_token = flops(&c, SEQS, SEQ_LEN) / (SEQS * SEQ_LEN) as f64;
            let ours = r.ours * per_token / 1e9;
            let torch = match (r.torch, torch_peak) {
                (Some(t), Some(tp)) => {
                    format!("{:.1} | {:.0}%", t * per_token / 1e9, 100.0 * t * per_token / 1e9 / tp)
                }
                (Some(t), None) => format!("{:.1} | -", t * per_token / 1e9),
                _ => "- | -".to_string(),
            };
            let torch_peak = torch_peak.map_or("-".to_string(), |tp| format!("{tp:.1}"));
            s.push_str(&format!(
                "| {name} | {f32_peak:.1} | {bf16_shown} | {torch_peak} | {} | {ours:.1} | {:.0}% | {torch} |\n",
                r.label,
                100.0 * ours / peak
            ));
        }
    }
    s.push_str(
        "\n(operations: 2mnk per matrix product, 4 T^2 d per layer for attention, training 3x forward)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_pass_costs_about_twice_the_parameters_per_token() {
        let c =
            GptConfig { vocab_size: 100, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 256, max_seq_len: 64 };
        // per layer 3d^2 + d^2 + 2 d f weights, plus the head's d V
        let weights = (2 * (3 * 64 * 64 + 64 * 64 + 2 * 64 * 256) + 64 * 100) as f64;
        let (seqs, len) = (4, 16);
        let attention = (4 * 2 * seqs * len * len * 64) as f64;
        assert_eq!(forward_flops(&c, seqs, len), 2.0 * weights * (seqs * len) as f64 + attention);
        assert_eq!(train_flops(&c, seqs, len), 3.0 * forward_flops(&c, seqs, len));
        assert_eq!(forward_shapes(&c, 8).len(), 2 * 4 + 1);
    }
}
