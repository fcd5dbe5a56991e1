//! `--name value` options, validated before anything starts.

use std::{collections::HashMap, path::PathBuf, str::FromStr};

use anyhow::{anyhow, bail};

pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parses `--name value` pairs; `known` lists the accepted names.
    pub fn parse(raw: &[String], known: &[&str]) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut it = raw.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| anyhow!("expected --option, got {flag:?}"))?;
            if !known.contains(&name) {
                bail!("unknown option --{name} (known: --{})", known.join(", --"));
            }
            let value = it.next().ok_or_else(|| anyhow!("--{name} needs a value"))?;
            values.insert(name.to_string(), value.clone());
        }
        Ok(Self { values })
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| anyhow!("--{name} {v:?}: {e}")),
        }
    }

    pub fn bin_dir(&self) -> PathBuf {
        PathBuf::from(
            self.values
                .get("bin-dir")
                .cloned()
                .unwrap_or_else(|| "target/release".into()),
        )
    }
}
