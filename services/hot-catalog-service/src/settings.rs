//! The service's own variables, read once at start and validated there (a typo stops the
//! process naming the variable instead of silently ranking with a wrong weight).
//!
//! `HOT_WEIGHT_LIKE` (2), `HOT_WEIGHT_REVIEW` (3), `HOT_WEIGHT_STAR` (5 per star),
//! `HOT_WEIGHT_PAID_LINE` (10), `HOT_HALF_LIFE_SECS` (86400).

use std::time::Duration;

use service_kit::{ConfigError, ServiceConfig};

use crate::score::{ScoreModel, Weights, DEFAULT_HALF_LIFE};

/// Weights beyond this would only serve to push stored values towards the f64 limit.
const MAX_WEIGHT: f64 = 1e6;

fn weight(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: f64,
) -> Result<f64, ConfigError> {
    let Some(raw) = lookup(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && (0.0..=MAX_WEIGHT).contains(&w) => Ok(w),
        _ => Err(ConfigError::new(
            name,
            format!("must be a number from 0 to {MAX_WEIGHT} (got {raw:?})"),
        )),
    }
}

/// The score model from `lookup` (a service's `extra_var`).
pub fn score_model_from(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ScoreModel, ConfigError> {
    let defaults = Weights::default();
    let weights = Weights {
        like: weight(lookup, "HOT_WEIGHT_LIKE", defaults.like)?,
        review: weight(lookup, "HOT_WEIGHT_REVIEW", defaults.review)?,
        star: weight(lookup, "HOT_WEIGHT_STAR", defaults.star)?,
        paid_line: weight(lookup, "HOT_WEIGHT_PAID_LINE", defaults.paid_line)?,
    };
    let half_life = match lookup("HOT_HALF_LIFE_SECS") {
        None => DEFAULT_HALF_LIFE,
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| ConfigError::new("HOT_HALF_LIFE_SECS", format!("{e} (got {raw:?})")))?,
    };
    ScoreModel::new(weights, half_life).map_err(|e| ConfigError::new("HOT_HALF_LIFE_SECS", e))
}

pub fn score_model(config: &ServiceConfig) -> Result<ScoreModel, ConfigError> {
    score_model_from(&|name| config.extra_var(name).filter(|v| !v.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<ScoreModel, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        score_model_from(&|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_design_weights_and_a_day() {
        let model = from(&[]).expect("defaults are valid");
        assert_eq!(model.weights, Weights::default());
        assert_eq!(model.half_life_ms(), 86_400_000);
    }

    #[test]
    fn overrides_apply_and_bad_values_name_their_variable() {
        let model = from(&[("HOT_WEIGHT_LIKE", "1.5"), ("HOT_HALF_LIFE_SECS", "3600")])
            .expect("valid overrides");
        assert_eq!(model.weights.like, 1.5);
        assert_eq!(model.half_life_ms(), 3_600_000);
        for (name, value) in [
            ("HOT_WEIGHT_LIKE", "-1"),
            ("HOT_WEIGHT_REVIEW", "NaN"),
            ("HOT_WEIGHT_STAR", "inf"),
            ("HOT_WEIGHT_PAID_LINE", "ten"),
            ("HOT_HALF_LIFE_SECS", "0"),
            ("HOT_HALF_LIFE_SECS", "1.5"),
        ] {
            let err = from(&[(name, value)]).expect_err("invalid value must be rejected");
            assert_eq!(err.variable, name, "{err}");
        }
    }
}
