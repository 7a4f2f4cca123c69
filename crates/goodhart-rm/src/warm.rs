//! Weight-averaged reward models (WARM; Ramé et al. 2024, "WARM: On the Benefits of Weight
//! Averaged Reward Models"): K reward models fine-tuned from one shared initialisation (the same
//! pretrained language model), averaged parameter by parameter into one model. Averaging weights
//! only makes sense for models that share their initialisation and so lie in one linearly
//! connected basin; members started from different pretrained models do not qualify.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use goodhart_nn::ScalarModel;

/// Why the members cannot be averaged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WarmError {
    #[error("weight averaging needs at least one member")]
    NoMembers,
    #[error(
        "member {member} has another architecture than member 0 ({what}): only models fine-tuned from one \
         shared initialisation can be averaged"
    )]
    Architecture { member: usize, what: String },
}

/// Every float parameter of a model, in the order the module visits them: values and shape.
struct Collect(Vec<(Vec<f32>, Vec<usize>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let values = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 parameters");
        self.0.push((values, shape));
    }
}

/// Puts the given values into a model's float parameters, in visiting order.
struct Replace(std::vec::IntoIter<(Vec<f32>, Vec<usize>)>);

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let device = param.val().device();
        let (values, shape) = self.0.next().expect("one value per parameter");
        Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), &device))
    }
}

fn parameters(model: &ScalarModel) -> Vec<(Vec<f32>, Vec<usize>)> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// The members' parameter-wise mean (each element summed in f64 in member order, then divided
/// by K): one model of member 0's architecture. Deterministic; one member gives itself back.
///
/// # Errors
/// [`WarmError::NoMembers`]; [`WarmError::Architecture`] when a member's configuration or
/// parameter shapes differ from member 0's.
pub fn average_weights(members: &[&ScalarModel]) -> Result<ScalarModel, WarmError> {
    let first = members.first().ok_or(WarmError::NoMembers)?;
    let all: Vec<Vec<(Vec<f32>, Vec<usize>)>> = members.iter().map(|m| parameters(m)).collect();
    for (k, (m, params)) in members.iter().zip(&all).enumerate().skip(1) {
        if m.config() != first.config() {
            return Err(WarmError::Architecture { member: k, what: format!("{:?}", m.config()) });
        }
        let shapes_match =
            params.len() == all[0].len() && params.iter().zip(&all[0]).all(|(a, b)| a.1 == b.1);
        if !shapes_match {
            return Err(WarmError::Architecture { member: k, what: "parameter shapes differ".into() });
        }
    }
    let k = members.len() as f64;
    let means: Vec<(Vec<f32>, Vec<usize>)> = (0..all[0].len())
        .map(|i| {
            let values = (0..all[0][i].0.len())
                .map(|j| (all.iter().map(|p| p[i].0[j] as f64).sum::<f64>() / k) as f32)
                .collect();
            (values, all[0][i].1.clone())
        })
        .collect();
    Ok((*first).clone().map(&mut Replace(means.into_iter())))
}

#[cfg(test)]
mod tests {
    use goodhart_nn::GptConfig;

    use super::*;

    fn model(seed: u64, d_model: usize) -> ScalarModel {
        let config = GptConfig { vocab_size: 12, d_model, n_layers: 1, n_heads: 2, d_ff: 16, max_seq_len: 8 };
        config.init_scalar(&Device::flex(), seed)
    }

    #[test]
    fn the_average_is_the_parameter_wise_mean() {
        let (a, b) = (model(1, 8), model(2, 8));
        let avg = average_weights(&[&a, &b]).unwrap();
        let (pa, pb, pm) = (parameters(&a), parameters(&b), parameters(&avg));
        assert_eq!(pm.len(), pa.len());
        for ((x, y), m) in pa.iter().zip(&pb).zip(&pm) {
            assert_eq!(m.1, x.1, "shapes kept");
            for ((x, y), m) in x.0.iter().zip(&y.0).zip(&m.0) {
                assert_eq!(*m, ((*x as f64 + *y as f64) / 2.0) as f32);
            }
        }
        // the members differ, so the average is neither of them
        assert_ne!(pm[0].0, pa[0].0);
        // one member (or the same member twice) gives itself back, bit for bit
        assert_eq!(parameters(&average_weights(&[&a]).unwrap()), pa);
        assert_eq!(parameters(&average_weights(&[&a, &a]).unwrap()), pa);
    }

    #[test]
    fn members_of_other_architectures_are_refused() {
        let (a, wide) = (model(1, 8), model(1, 16));
        let err = average_weights(&[&a, &wide]).unwrap_err();
        assert!(matches!(err, WarmError::Architecture { member: 1, .. }), "{err}");
        assert_eq!(average_weights(&[]).unwrap_err(), WarmError::NoMembers);
    }
}
