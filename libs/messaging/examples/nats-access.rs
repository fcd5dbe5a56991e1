//! Prints the NATS users and permissions of libs/messaging/src/access.rs as a nats-server
//! config block. deploy/nats/auth.conf is its output (tests/bus_access.rs checks it is current):
//!
//!   cargo run -q -p messaging --example nats-access > deploy/nats/auth.conf
//!
//! `--namespace NS` renders the names of a namespaced deployment instead (tests, loadgen).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match args.as_slice() {
        [] => messaging::access::deployed_authorization_config(),
        [flag, ns] if flag == "--namespace" => {
            messaging::access::authorization_config(&events::Topology::new(ns.clone()), |user| {
                format!("${}", messaging::access::password_env(user))
            })
        }
        _ => {
            eprintln!("usage: nats-access [--namespace NS]");
            std::process::exit(2);
        }
    };
    print!("{config}");
}
