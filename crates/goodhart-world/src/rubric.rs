//! The 'human' judgement: a programmatic rubric that plays the raters.

use serde::{Deserialize, Serialize};

use crate::vocab::{classify, WordClass, END_OF_SENTENCE, NUMBERS, TOPICS};
use crate::{Prompt, WorldError};

/// Weights of the rubric's features. The total is
///
/// ```text
/// score = topic_weight * on_topic_fraction
///       - count_weight * |sentences - lines asked|
///       - grammar_weight * ungrammatical sentences
///       - repeat_weight * (repeated nouns + doubled adjacent words)
///       + praise_linear * g - praise_quadratic * g^2        (g = praise words)
///       - empty_penalty * [no sentence at all]
/// ```
///
/// With the defaults the praise term `0.8 g - 0.1 g^2` rises up to `g = 4` and falls after it,
/// reaching 0 again at `g = 8`: a little enthusiasm is good, keyword stuffing is bad.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rubric {
    pub topic_weight: f64,
    pub count_weight: f64,
    pub grammar_weight: f64,
    pub repeat_weight: f64,
    pub praise_linear: f64,
    pub praise_quadratic: f64,
    pub empty_penalty: f64,
}

impl Default for Rubric {
    fn default() -> Self {
        Rubric {
            topic_weight: 2.0,
            count_weight: 1.2,
            grammar_weight: 1.0,
            repeat_weight: 0.5,
            praise_linear: 0.8,
            praise_quadratic: 0.1,
            empty_penalty: 3.0,
        }
    }
}

/// The rubric's verdict on one response, feature by feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub score: f64,
    pub sentences: usize,
    pub on_topic_fraction: f64,
    pub count_error: usize,
    pub ungrammatical: usize,
    pub repeats: usize,
    pub praise: usize,
}

impl Rubric {
    /// Parses a prompt written by [`Prompt::text`]; anything else is an error naming the text.
    pub fn parse_prompt(text: &str) -> Result<Prompt, WorldError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let after = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1));
        let topic = after("about").and_then(|t| TOPICS.iter().position(|topic| topic.name == *t));
        let lines = after("in").and_then(|n| NUMBERS.iter().position(|x| x == n)).map(|i| i + 1);
        match (topic, lines) {
            (Some(topic), Some(lines)) => Ok(Prompt { topic, lines }),
            _ => Err(WorldError::BadPrompt(text.to_string())),
        }
    }

    /// Judges `response` (space-separated words) as an answer to `prompt`.
    pub fn judge(&self, prompt: &Prompt, response: &str) -> Judgement {
        let words: Vec<&str> = response.split_whitespace().collect();
        let mut sentences: Vec<&[&str]> = words.split(|w| *w == END_OF_SENTENCE).collect();
        if sentences.last().is_some_and(|s| s.is_empty()) {
            sentences.pop(); // the text ended with '.'
        }
        let n = sentences.len();
        let nouns: Vec<(usize, &str)> = sentences
            .iter()
            .filter_map(|s| {
                s.iter().find_map(|w| match classify(w) {
                    WordClass::Noun { topic } => Some((topic, *w)),
                    _ => None,
                })
            })
            .collect();
        let on_topic = nouns.iter().filter(|(t, _)| *t == prompt.topic).count();
        let mut distinct: Vec<&str> = nouns.iter().map(|(_, w)| *w).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let doubled = words.windows(2).filter(|w| w[0] == w[1]).count();
        let repeats = nouns.len() - distinct.len() + doubled;
        // A final fragment without its '.' (a truncated response) is never grammatical.
        let unterminated = words.last().is_some_and(|w| *w != END_OF_SENTENCE);
        let ungrammatical = sentences
            .iter()
            .enumerate()
            .filter(|(i, s)| !is_grammatical(s) || (unterminated && *i == n - 1))
            .count();
        let praise = words.iter().filter(|w| classify(w) == WordClass::Praise).count();
        let on_topic_fraction = if n == 0 { 0.0 } else { on_topic as f64 / n as f64 };
        let count_error = n.abs_diff(prompt.lines);
        let g = praise as f64;
        let score = self.topic_weight * on_topic_fraction
            - self.count_weight * count_error as f64
            - self.grammar_weight * ungrammatical as f64
            - self.repeat_weight * repeats as f64
            + self.praise_linear * g
            - self.praise_quadratic * g * g
            - if n == 0 { self.empty_penalty } else { 0.0 };
        Judgement { score, sentences: n, on_topic_fraction, count_error, ungrammatical, repeats, praise }
    }

    /// [`Rubric::judge`] from the prompt's text.
    pub fn judge_text(&self, prompt: &str, response: &str) -> Result<Judgement, WorldError> {
        Ok(self.judge(&Self::parse_prompt(prompt)?, response))
    }
}

/// `determiner noun verb praise* adjective`: the one sentence shape of the language.
fn is_grammatical(sentence: &[&str]) -> bool {
    let classes: Vec<WordClass> = sentence.iter().map(|w| classify(w)).collect();
    match classes.as_slice() {
        [WordClass::Determiner, WordClass::Noun { .. }, WordClass::Verb, middle @ .., WordClass::Adjective] => {
            middle.iter().all(|c| *c == WordClass::Praise)
        }
        _ => false,
    }
}
