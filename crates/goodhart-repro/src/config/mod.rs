//! Experiments as data: one serialisable config per experiment, read from TOML experiment files
//! (`data/experiments/<preset>.toml` for the named presets), with single settings overridable.

mod problems;
mod stages;

pub use goodhart_core::precision::Precision;
pub use goodhart_findings::records::Mechanisms;
pub use problems::Problem;
use serde::{Deserialize, Serialize};
pub use stages::*;

use crate::ReproError;

/// Presets, smallest first: `tiny` runs in seconds (tests), `laptop` in minutes on 2 cores
/// (the default), `paper` asks for a GPU.
pub const PRESETS: [&str; 3] = ["tiny", "laptop", "paper"];

/// A whole experiment: every stage's settings and the master seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// The preset this experiment starts from: its default store is `runs/<preset>`.
    pub preset: String,
    /// What matrix products multiply in: `"f32"`, or `"bf16"` (fp32 accumulation) on AMX or AVX512-BF16; f32 where the CPU has neither. Part of every neural stage's key.
    #[serde(default)]
    pub precision: Precision,
    pub world: WorldStage,
    pub policy: PolicyStage,
    pub gold: GoldStage,
    pub proxies: ProxyStage,
    pub bon: BonStage,
    pub rl: RlStage,
    pub sweeps: SweepStage,
    #[serde(default)]
    pub ensembles: EnsembleStage,
    #[serde(default)]
    pub dpo: DaaStage,
}

/// The presets' experiment files, embedded in the binary.
const PRESET_FILES: [(&str, &str); 3] = [
    ("tiny", include_str!("../../../../data/experiments/tiny.toml")),
    ("laptop", include_str!("../../../../data/experiments/laptop.toml")),
    ("paper", include_str!("../../../../data/experiments/paper.toml")),
];

/// A TOML error as `file:line:column: message`.
fn toml_error(source: &str, text: &str, e: &toml::de::Error) -> ReproError {
    let at = e.span().map_or(String::new(), |span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(":{line}:{column}")
    });
    ReproError::Config(format!("{source}{at}: {}", e.message()))
}

/// The first line (1-based) that sets `key`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let sets_leaf =
        |l: &str| l.trim_start().strip_prefix(leaf).is_some_and(|rest| rest.trim_start().starts_with('='));
    // the line under the key's own table header (several tables have a `sizes` or a `seed`) ...
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            current = header.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == section && sets_leaf(l) {
            return Some(i + 1);
        }
    }
    // ... else the first line that sets a key of that name
    text.lines().position(sets_leaf).map(|i| i + 1)
}

impl ExperimentConfig {
    /// The Goodhart mechanisms this experiment's world has.
    pub fn mechanisms(&self) -> Mechanisms {
        Mechanisms {
            extremal: self.world.world.rubric.extremal,
            causal: self.world.world.writer.causal,
            label_noise: self.proxies.label_noise,
        }
    }

    /// This experiment with the mechanisms set as given.
    pub fn with_mechanisms(mut self, m: Mechanisms) -> Self {
        self.world.world = self.world.world.with_mechanisms(m.extremal, m.causal);
        self.proxies.label_noise = m.label_noise;
        self
    }

    /// The named preset (see [`PRESETS`]): its experiment file under `data/experiments/`,
    /// embedded in the binary so that it works outside the repository.
    ///
    /// # Errors
    /// [`ReproError::UnknownPreset`] for another name.
    pub fn preset(name: &str) -> Result<Self, ReproError> {
        let (_, text) = PRESET_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ReproError::UnknownPreset(name.to_string()))?;
        Self::from_toml(text, &format!("data/experiments/{name}.toml"))
    }

    /// An experiment from the text of an experiment file; `source` names the file in errors.
    ///
    /// # Errors
    /// [`ReproError::Config`] naming the file, line and key: TOML that does not parse, a value of
    /// the wrong type, a missing key, or a key the config does not have (a misspelt key is an
    /// error, never ignored).
    pub fn from_toml(text: &str, source: &str) -> Result<Self, ReproError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(source, text, &e))?;
        let mut unknown = Vec::new();
        let parsed: Result<ExperimentConfig, _> =
            serde_ignored::deserialize(de, |path| unknown.push(path.to_string()));
        // an unknown key first: a misspelt key also makes the key it was meant to be missing
        if let Some(key) = unknown.first() {
            let at = line_of_key(text, key).map_or(String::new(), |l| format!(":{l}"));
            return Err(ReproError::Config(format!(
                "{source}{at}: unknown key `{key}`: check its spelling against data/experiments/laptop.toml"
            )));
        }
        let config = parsed.map_err(|e| toml_error(source, text, &e))?;
        if let Some(bad) = config.problems().into_iter().next() {
            let at = line_of_key(text, &bad.key).map_or(String::new(), |l| format!(":{l}"));
            return Err(ReproError::Config(format!("{source}{at}: {bad}")));
        }
        Ok(config)
    }

    /// The experiment file `path`.
    ///
    /// # Errors
    /// [`ReproError::Io`] if it cannot be read, else as [`ExperimentConfig::from_toml`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, ReproError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReproError::io(path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// This experiment with single settings overridden: each `key=value` names a key by its
    /// dotted path (`proxies.sizes`, `rl.ppo.lr`) and gives a TOML value (`3`, `0.5`, `"p1k"`,
    /// `["p1k", "p10k"]`).
    ///
    /// # Errors
    /// [`ReproError::Config`] for a malformed override, an unknown key or a value of the wrong type.
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Self, ReproError> {
        if overrides.is_empty() {
            return Ok(self.clone());
        }
        let bad = |msg: String| ReproError::Config(msg);
        let mut table: toml::Table = toml::Table::try_from(self).map_err(|e| bad(format!("config: {e}")))?;
        for o in overrides {
            let (key, value) = o
                .split_once('=')
                .ok_or_else(|| bad(format!("--set {o:?}: give key=value, e.g. --set rl.ppo.lr=3e-4")))?;
            let key = key.trim();
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {}", value.trim()))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .ok_or_else(|| {
                    bad(format!(
                        "--set {key}={value}: {value:?} is not a TOML value (numbers as 3 or 0.5, text in quotes \"p1k\", lists as [\"p1k\", \"p10k\"])"
                    ))
                })?;
            let mut slot = &mut table;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let unknown = || bad(format!("--set {key}: unknown key `{}`", parts[..=i].join(".")));
                if i + 1 == parts.len() {
                    // a setting that is unset (`None`) is absent from the table: add it, and
                    // let the file check below refuse it if no such key exists
                    let Some(old) = slot.get_mut(*part) else {
                        slot.insert(part.to_string(), value.clone());
                        break;
                    };
                    if old.type_str() != value.type_str() && !(old.is_float() && value.is_integer()) {
                        let a =
                            |t: &str| format!("{} {t}", if t.starts_with(['a', 'i']) { "an" } else { "a" });
                        return Err(bad(format!(
                            "--set {key}={value}: {key} is {}, not {}",
                            a(old.type_str()),
                            a(value.type_str())
                        )));
                    }
                    *old = match (&*old, &value) {
                        (toml::Value::Float(_), toml::Value::Integer(i)) => toml::Value::Float(*i as f64),
                        _ => value.clone(),
                    };
                } else {
                    slot = slot.get_mut(*part).and_then(toml::Value::as_table_mut).ok_or_else(unknown)?;
                }
            }
        }
        let text = toml::to_string(&table).map_err(|e| bad(format!("config: {e}")))?;
        Self::from_toml(&text, &format!("the config with --set {}", overrides.join(" --set ")))
    }
}

#[cfg(test)]
mod tests {
    use super::line_of_key;

    #[test]
    fn a_key_is_found_under_its_own_table() {
        let text = "[ensembles]\nsizes = [\"p1k\"]\n\n[proxies]\npairs = 3\nsizes = [\"p9z\"]\n\n[rl.ppo]\nseed = 1\n";
        assert_eq!(line_of_key(text, "proxies.sizes"), Some(6));
        assert_eq!(line_of_key(text, "ensembles.sizes"), Some(2));
        assert_eq!(line_of_key(text, "rl.ppo.seed"), Some(9));
        // a key under no header of that name: the first line that sets it
        assert_eq!(line_of_key(text, "sweeps.sizes"), Some(2));
        assert_eq!(line_of_key(text, "nowhere"), None);
    }

    #[test]
    fn the_rubric_as_gold_needs_a_label_accuracy_and_only_it_takes_one() {
        let tiny = super::ExperimentConfig::preset("tiny").unwrap();
        let with =
            |sets: &[&str]| tiny.with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let rubric = super::GoldKind::Rubric.overrides();
        let ok = tiny.with_overrides(&rubric).unwrap();
        assert_eq!(
            (ok.gold.kind, ok.gold.label_accuracy),
            (super::GoldKind::Rubric, Some(super::RUBRIC_GOLD_LABEL_ACCURACY))
        );
        // counter-examples: no accuracy, a coin's accuracy, an accuracy on a learned gold
        for (sets, needle) in [
            (vec!["gold.kind=\"rubric\""], "gold.label_accuracy = missing"),
            (vec!["gold.kind=\"rubric\"", "gold.label_accuracy=0.5"], "gold.label_accuracy = 0.5"),
            (vec!["gold.label_accuracy=0.8"], "no value unless gold.kind"),
        ] {
            let err = with(&sets).expect_err("refused").to_string();
            assert!(err.contains(needle), "{sets:?}: {err}");
        }
        assert!(with(&["gold.kind=\"oracle\""]).is_err());
        // a learned gold's key does not name its kind: stores made before it stay valid
        assert!(!serde_json::to_string(&tiny.gold).unwrap().contains("kind"));
        assert!(serde_json::to_string(&ok.gold).unwrap().contains("\"kind\":\"rubric\""));
    }

    #[test]
    fn gold_rounds_teach_only_a_learned_gold_and_leave_the_first_gold_keyed_as_before() {
        let tiny = super::ExperimentConfig::preset("tiny").unwrap();
        let with =
            |sets: &[&str]| tiny.with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let ok = with(&["gold.rounds={count=2,pairs=64,snapshots=2}"]).unwrap();
        assert_eq!(ok.gold.round_count(), 2);
        assert_eq!(ok.gold.first_round(), tiny.gold, "the first gold is the gold without rounds");
        assert!(!serde_json::to_string(&tiny.gold).unwrap().contains("rounds"));
        for (sets, needle) in [
            (vec!["gold.rounds={count=0,pairs=64,snapshots=2}"], "gold.rounds.count = 0"),
            (vec!["gold.rounds={count=1,pairs=7,snapshots=2}"], "gold.rounds.pairs"),
            (
                vec![
                    "gold.kind=\"rubric\"",
                    "gold.label_accuracy=0.8",
                    "gold.rounds={count=1,pairs=64,snapshots=2}",
                ],
                "no rounds with gold.kind",
            ),
        ] {
            let err = with(&sets).expect_err("refused").to_string();
            assert!(err.contains(needle), "{sets:?}: {err}");
        }
    }
}
