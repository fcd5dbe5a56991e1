//! What a run costs beside the services: CPU of every process with a given name (Postgres
//! backends, nats-server) and of the load generator itself, read from `/proc`, and resident
//! memory sampled while the load runs (the no-leak check of a long run).

/// Linux reports CPU time in clock ticks; 100 per second on every x86_64 kernel we run on.
const TICKS_PER_SECOND: f64 = 100.0;

fn ticks(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces) start at ")"; utime and stime are
    // fields 14 and 15 of the whole line, i.e. 12 and 13 after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU seconds used so far by the live processes whose command name is `comm` (backends that
/// ended during the run are not counted: pools keep theirs open).
pub fn cpu_seconds_of(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let total: u64 = dir
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let path = e.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            (name.trim() == comm)
                .then(|| std::fs::read_to_string(path.join("stat")).ok())
                .flatten()
                .and_then(|s| ticks(&s))
        })
        .sum();
    total as f64 / TICKS_PER_SECOND
}

/// CPU seconds used so far by this process (the load generator).
pub fn own_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0.0, |t| t as f64 / TICKS_PER_SECOND)
}

/// Current resident memory of `pid` in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_read_past_a_command_name_with_spaces() {
        let stat = "42 (tokio worker) S 1 42 42 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 8 0";
        assert_eq!(ticks(stat), Some(267));
        assert_eq!(ticks("42 (x) S 1"), None);
        assert!(rss_mib(std::process::id()).is_some_and(|m| m > 0.0));
        assert!(rss_mib(u32::MAX).is_none());
    }
}
