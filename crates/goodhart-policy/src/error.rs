/// Everything that can go wrong while training, sampling or scoring a policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error(transparent)]
    Sampling(#[from] crate::sampling::SamplingError),
    #[error(transparent)]
    Model(#[from] goodhart_nn::NnError),
    #[error("sequence too long: {needed} tokens (prompt {prompt} + up to {new} new) but the model's context is {max}; lower max_new_tokens or use a model with a longer context")]
    TooLong { needed: usize, prompt: usize, new: usize, max: usize },
    #[error("the training loss became {value} at step {step}: lower the learning rate (now {lr}) or check the data; checkpoints written before this step are kept")]
    NonFiniteLoss { step: usize, value: f32, lr: f64 },
    #[error("{what} is empty: {fix}")]
    Empty { what: &'static str, fix: &'static str },
    #[error("token id {id} is outside the model's vocabulary of {vocab}: was the tokenizer retrained after the model?")]
    TokenOutOfRange { id: u32, vocab: usize },
}
