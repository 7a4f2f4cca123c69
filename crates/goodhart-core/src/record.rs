use serde::{Deserialize, Serialize};

/// How a policy was optimised against the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Best-of-n sampling: no training, KL is `kl_bon(n)`.
    Bon,
    /// Reinforcement learning (PPO); KL is estimated from log-probabilities.
    Rl,
    /// A direct alignment algorithm (DPO, IPO): the policy trained on preference pairs without
    /// a reward model; KL is estimated from log-probabilities, as for RL.
    Daa,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Bon => "bon",
            Method::Rl => "rl",
            Method::Daa => "daa",
        })
    }
}

/// One point of an optimisation curve: how far the policy moved and what each RM thinks of it.
///
/// `kl` is KL(pi || pi_init) in nats; the paper's x-axis is `d = sqrt(kl)`. Scores are recentred
/// so that the initial policy scores 0 on average. `n` is set for best-of-n, `step` for RL and
/// direct alignment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub n: Option<u64>,
    pub step: Option<u64>,
    pub kl: f64,
    pub kl_se: f64,
    pub proxy: f64,
    pub proxy_se: f64,
    pub gold: f64,
    pub gold_se: f64,
    /// A third score of the same samples (the experiments' rubric, the 'human' the gold stands
    /// for), recentred like the others; NaN when not measured.
    #[serde(default = "nan", with = "nan_as_null")]
    pub rubric: f64,
    #[serde(default = "nan", with = "nan_as_null")]
    pub rubric_se: f64,
    /// How often the gold orders two of the optimised policy's samples as the rubric does (1:
    /// always; 0.5: a coin); NaN when not measured.
    #[serde(default = "nan", with = "nan_as_null")]
    pub fidelity: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// Serde for numbers that may be NaN ("not measured"): JSON has no NaN and writes `null`, which
/// reads back as NaN here (`#[serde(with = "goodhart_core::nan_as_null")]`).
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(*x)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// The same for a list of such numbers (`#[serde(with = "goodhart_core::nan_as_null::vec")]`).
    pub mod vec {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(xs: &[f64], s: S) -> Result<S::Ok, S::Error> {
            xs.serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        }
    }
}

impl CurvePoint {
    /// `d = sqrt(KL)`, the paper's distance; negative KL estimates (possible with k1) give `d = 0`.
    pub fn sqrt_kl(&self) -> f64 {
        self.kl.max(0.0).sqrt()
    }
}

/// The result of one optimiser run: points ordered by increasing optimisation (n or step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub method: Method,
    pub points: Vec<CurvePoint>,
}

/// One row of an experiment's results table: a [`CurvePoint`] with the cell it came from.
///
/// These rows are what figure code, reports and users load (as CSV or Parquet). Columns follow
/// the paper: RM size and parameter count, RM data size, policy size, seed, and the point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub experiment: String,
    pub method: Method,
    pub rm_size: String,
    pub rm_params: u64,
    pub data_size: u64,
    pub policy_size: String,
    pub kl_penalty: f64,
    pub seed: u64,
    pub n: Option<u64>,
    pub step: Option<u64>,
    pub kl: f64,
    pub sqrt_kl: f64,
    pub gold: f64,
    pub gold_se: f64,
    pub proxy: f64,
    pub proxy_se: f64,
    /// The rubric's score of the same samples, recentred on the initial policy; NaN when not
    /// measured.
    #[serde(default = "nan", with = "nan_as_null")]
    pub rubric: f64,
    #[serde(default = "nan", with = "nan_as_null")]
    pub rubric_se: f64,
    /// The gold's fidelity to the rubric on the samples of this point ([`CurvePoint::fidelity`]);
    /// NaN when not measured.
    #[serde(default = "nan", with = "nan_as_null")]
    pub fidelity: f64,
}

impl Record {
    /// An empty row for `experiment` and `method`; fill it with the `with_*` builders.
    pub fn new(experiment: impl Into<String>, method: Method) -> Self {
        Record {
            experiment: experiment.into(),
            method,
            rm_size: String::new(),
            rm_params: 0,
            data_size: 0,
            policy_size: String::new(),
            kl_penalty: 0.0,
            seed: 0,
            n: None,
            step: None,
            kl: 0.0,
            sqrt_kl: 0.0,
            gold: f64::NAN,
            gold_se: f64::NAN,
            proxy: f64::NAN,
            proxy_se: f64::NAN,
            rubric: f64::NAN,
            rubric_se: f64::NAN,
            fidelity: f64::NAN,
        }
    }

    pub fn with_n(mut self, n: u64) -> Self {
        self.n = Some(n);
        self
    }

    pub fn with_step(mut self, step: u64) -> Self {
        self.step = Some(step);
        self
    }

    /// Sets `kl` and keeps `sqrt_kl = sqrt(max(kl, 0))` consistent with it.
    pub fn with_kl(mut self, kl: f64) -> Self {
        self.kl = kl;
        self.sqrt_kl = kl.max(0.0).sqrt();
        self
    }

    /// Copies KL, scores, `n` and `step` from a curve point.
    pub fn with_point(self, p: &CurvePoint) -> Self {
        let mut r = self.with_kl(p.kl);
        r.n = p.n;
        r.step = p.step;
        r.gold = p.gold;
        r.gold_se = p.gold_se;
        r.proxy = p.proxy;
        r.proxy_se = p.proxy_se;
        r.rubric = p.rubric;
        r.rubric_se = p.rubric_se;
        r.fidelity = p.fidelity;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_json() {
        let p = CurvePoint {
            n: Some(4),
            step: None,
            kl: 0.636,
            kl_se: 0.0,
            proxy: 0.5,
            proxy_se: 0.01,
            gold: 0.3,
            gold_se: 0.02,
            rubric: 0.2,
            rubric_se: 0.03,
            fidelity: 0.8,
        };
        let r = Record::new("fig1", Method::Bon).with_point(&p);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"method\":\"bon\""));
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.rubric, 0.2);
        assert_eq!(back.fidelity, 0.8);
        assert!((back.sqrt_kl - 0.636f64.sqrt()).abs() < 1e-12);
        // no rubric, so no fidelity: NaN is written as null and read back as NaN
        let unmeasured = Record::new("fig1", Method::Bon).with_point(&CurvePoint {
            rubric: f64::NAN,
            fidelity: f64::NAN,
            ..p
        });
        let json = serde_json::to_string(&unmeasured).unwrap();
        assert!(json.contains("\"fidelity\":null"), "{json}");
        let back: Record = serde_json::from_str(&json).unwrap();
        assert!(back.fidelity.is_nan() && back.rubric.is_nan() && back.gold == 0.3);
    }

    #[test]
    fn negative_kl_estimate_maps_to_zero_distance() {
        let r = Record::new("x", Method::Rl).with_kl(-0.01);
        assert_eq!(r.sqrt_kl, 0.0);
    }
}
