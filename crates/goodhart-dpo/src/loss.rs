//! The losses of one pair as plain functions of `h` (the difference of the chosen and rejected
//! responses' log-ratios to the reference), with their derivatives, and the batch loss on the
//! training device.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

use crate::DaaLoss;

/// The loss of one pair with log-ratio difference `h` (see the crate docs).
pub fn pair_loss(loss: DaaLoss, beta: f64, h: f64) -> f64 {
    match loss {
        DaaLoss::Dpo => goodhart_core::neg_log_sigmoid(beta * h),
        DaaLoss::Ipo => (h - 1.0 / (2.0 * beta)).powi(2),
    }
}

/// `d pair_loss / d h`.
pub fn pair_loss_grad(loss: DaaLoss, beta: f64, h: f64) -> f64 {
    match loss {
        // d/dh ln(1 + e^{-beta h}) = -beta sigmoid(-beta h)
        DaaLoss::Dpo => -beta / (1.0 + (beta * h).exp()),
        DaaLoss::Ipo => 2.0 * (h - 1.0 / (2.0 * beta)),
    }
}

/// The mean loss of a batch on the training device, from the policy's sequence log-probabilities
/// of the chosen and rejected responses (`[B]`, differentiable) and the reference's (`[B]`).
pub fn batch_loss(
    loss: DaaLoss,
    beta: f64,
    chosen: Tensor<1>,
    rejected: Tensor<1>,
    ref_chosen: Tensor<1>,
    ref_rejected: Tensor<1>,
) -> Tensor<1> {
    let h = (chosen - ref_chosen) - (rejected - ref_rejected);
    match loss {
        DaaLoss::Dpo => log_sigmoid(h.mul_scalar(beta)).neg().mean(),
        DaaLoss::Ipo => h.sub_scalar(1.0 / (2.0 * beta)).powi_scalar(2).mean(),
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The analytic derivative agrees with a central difference.
        #[test]
        fn the_gradient_is_the_derivative(h in -20.0f64..20.0, beta in 0.01f64..2.0, ipo in any::<bool>()) {
            let loss = if ipo { DaaLoss::Ipo } else { DaaLoss::Dpo };
            let eps = 1e-5;
            let fd = (pair_loss(loss, beta, h + eps) - pair_loss(loss, beta, h - eps)) / (2.0 * eps);
            let g = pair_loss_grad(loss, beta, h);
            prop_assert!((fd - g).abs() < 1e-5 * (1.0 + g.abs()), "fd {fd} analytic {g}");
        }

        /// DPO's loss is positive and falls as the chosen response gains; IPO's is minimal at
        /// h = 1 / (2 beta).
        #[test]
        fn the_losses_have_their_shapes(h in -20.0f64..20.0, dh in 0.001f64..5.0, beta in 0.01f64..2.0) {
            prop_assert!(pair_loss(DaaLoss::Dpo, beta, h) > 0.0);
            prop_assert!(pair_loss(DaaLoss::Dpo, beta, h + dh) < pair_loss(DaaLoss::Dpo, beta, h));
            let target = 1.0 / (2.0 * beta);
            prop_assert!(pair_loss(DaaLoss::Ipo, beta, h) >= pair_loss(DaaLoss::Ipo, beta, target));
        }
    }

    #[test]
    fn dpo_stays_finite_far_out() {
        assert!((pair_loss(DaaLoss::Dpo, 1.0, -1000.0) - 1000.0).abs() < 1e-9);
        assert!(pair_loss(DaaLoss::Dpo, 1.0, 1000.0) >= 0.0);
    }

    /// The batch loss on the device and its autodiff gradient equal the host formulas.
    #[test]
    fn the_batch_loss_and_its_gradient_match_the_host_formulas() {
        let device = Device::flex().autodiff();
        let (c, r) = ([-3.0f32, -1.0, -7.5], [-2.0f32, -4.0, -6.0]);
        let (rc, rr) = ([-2.5f32, -1.5, -7.0], [-2.2f32, -3.0, -6.5]);
        let t = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
        for (loss, beta) in [(DaaLoss::Dpo, 0.5), (DaaLoss::Ipo, 0.3)] {
            let chosen = t(&c).require_grad();
            let out = batch_loss(loss, beta, chosen.clone(), t(&r), t(&rc), t(&rr));
            let hs: Vec<f64> = (0..3).map(|i| ((c[i] - rc[i]) - (r[i] - rr[i])) as f64).collect();
            let want: f64 = hs.iter().map(|&h| pair_loss(loss, beta, h)).sum::<f64>() / 3.0;
            let got = out.clone().into_scalar::<f32>() as f64;
            assert!((got - want).abs() < 1e-5, "{loss}: {got} against {want}");
            // and both against central differences of the device loss itself
            for i in 0..3 {
                let eps = 1e-2f32;
                let at = |d: f32| {
                    let mut c2 = c;
                    c2[i] += d;
                    batch_loss(loss, beta, t(&c2), t(&r), t(&rc), t(&rr)).into_scalar::<f32>() as f64
                };
                let fd = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                let want = pair_loss_grad(loss, beta, hs[i]) / 3.0;
                assert!((fd - want).abs() < 1e-3, "{loss} finite difference [{i}]: {fd} against {want}");
            }
            let grads = out.backward();
            let g: Vec<f32> =
                chosen.grad(&grads).unwrap().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            for i in 0..3 {
                let want = pair_loss_grad(loss, beta, hs[i]) / 3.0;
                assert!((g[i] as f64 - want).abs() < 1e-5, "{loss} d/dchosen[{i}]: {} against {want}", g[i]);
            }
        }
    }
}
