//! Processes that outlive this command: started in a process group of their own (Ctrl-C in
//! the terminal that ran `just up` does not reach them), stdin from /dev/null, output appended
//! to a log, the pid in a pid file (the conventions of scripts/lib.sh `start_bg`, `stop_pids`,
//! which scripts/up.sh still uses for the services).

use std::{
    fs::OpenOptions,
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nix::{sys::signal, unistd::Pid};

use super::say;

/// Starts `command` detached, appending its output to `log` and writing its pid to `pid_file`.
/// The returned child is only for watching the start: dropping it neither kills nor waits.
pub fn start_detached(mut command: Command, log: &Path, pid_file: &Path) -> std::io::Result<Child> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if let Some(dir) = pid_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    super::instance::remove(pid_file)?;
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()?;
    std::fs::write(pid_file, format!("{}\n", child.id()))?;
    Ok(child)
}

/// `kill -0`, except that a zombie (exited, not yet reaped by its new parent) counts as gone.
pub fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S …": the state follows the last ')'
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn send(pid: u32, sig: signal::Signal) -> bool {
    i32::try_from(pid).is_ok_and(|pid| signal::kill(Pid::from_raw(pid), sig).is_ok())
}

/// SIGTERM, up to `timeout` for the process to end, then SIGKILL; returns once it is gone (its
/// ports are free again).
pub fn stop(name: &str, pid: u32, timeout: Duration) {
    if !send(pid, signal::Signal::SIGTERM) {
        return;
    }
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        if !is_alive(pid) {
            say::ok(&format!("{name} stopped"));
            return;
        }
    }
    say::warn(&format!(
        "{name} (pid {pid}) still running after {}s — SIGKILL",
        timeout.as_secs()
    ));
    send(pid, signal::Signal::SIGKILL);
    for _ in 0..50 {
        if !is_alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
