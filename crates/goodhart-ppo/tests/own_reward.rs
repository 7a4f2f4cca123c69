//! The `own_reward` example at small settings: a user's closure reward runs through best-of-n
//! and PPO by the public traits alone.

#[path = "../examples/own_reward.rs"]
mod example;

#[test]
fn a_closure_reward_is_optimised_by_best_of_n_and_ppo() {
    let (bon, ppo) = example::run(&example::Settings { prompts: 16, pool: 32, ppo_steps: 8 }).unwrap();
    // Best-of-n: the proxy of the best of n rises with n; KL is the analytic one.
    assert_eq!(bon.points.first().unwrap().n, Some(1));
    assert!(bon.points.windows(2).all(|w| w[1].proxy >= w[0].proxy - 1e-12), "{bon:?}");
    assert!(bon.points.last().unwrap().proxy > bon.points[0].proxy);
    assert!((bon.points.last().unwrap().kl - goodhart_kl::kl_bon(32).unwrap()).abs() < 1e-12);
    // PPO: starts at the initial policy, moves away from it, and reports the gold at every step.
    assert_eq!(ppo.points.first().unwrap().step, Some(0));
    assert!(ppo.points[0].kl.abs() < 1e-4);
    assert!(ppo.points.last().unwrap().kl > 0.0);
    assert!(ppo.points.iter().all(|p| p.gold.is_finite() && p.proxy.is_finite()));
}
