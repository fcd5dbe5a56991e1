//! The faults of a chaos run and how each is done to the running stack.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{
    amnesia::{self, Repair},
    client::Client,
    poison::{self, Poison},
    stack::Stack,
};

/// One scheduled fault: when (a share of the payments done) and what.
pub enum Fault {
    Kill(&'static str, Duration),
    RestartNats(Duration),
    Poison(&'static str),
    SandboxMode {
        approve_before_timeout: bool,
    },
    /// Every PSP call slower than order-service's timeout for this long.
    PspOutage(Duration),
    /// The broker's store copied, and restored from that copy this much later.
    Amnesia(Duration),
}

/// Latency of the PSP outage: above order-service's `PSP_TIMEOUT_MS` (1 s in the chaos stack).
const OUTAGE_LATENCY_MS: u64 = 1500;

pub struct Injector {
    pub client: Client,
    pub started: Instant,
    approve_before_timeout: bool,
    pub poisons: Vec<Poison>,
    pub repair: Option<JoinHandle<anyhow::Result<Repair>>>,
    /// Longest PSP outage injected.
    pub outage: Option<Duration>,
}

impl Injector {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            started: Instant::now(),
            approve_before_timeout: true,
            poisons: Vec::new(),
            repair: None,
            outage: None,
        }
    }

    pub fn log(&self, what: String) {
        eprintln!("\n[{:>6.1}s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// The sandbox's global faults as the run wants them now (the same as its environment,
    /// with the current approve-before-timeout mode).
    fn sandbox_faults(&self, latency_ms: u64) -> Value {
        let mut faults = json!({
            "latencyMs": latency_ms, "errorRate": 0.05, "errorCode": "PROVIDER_ERROR",
            "timeoutRate": 0.03, "timeoutMs": 1500,
            "approveBeforeTimeout": self.approve_before_timeout,
        });
        crate::payouts::add_sandbox_faults(&mut faults);
        faults
    }

    async fn put_sandbox_faults(&self, latency_ms: u64) -> anyhow::Result<()> {
        let body = self.sandbox_faults(latency_ms);
        let answer = self
            .client
            .call(
                "psp-sandbox",
                Method::PUT,
                "/sandbox/faults",
                Some(&body),
                &[],
            )
            .await?;
        anyhow::ensure!(
            answer.status == 200,
            "PUT /sandbox/faults: {} {}",
            answer.status,
            answer.body
        );
        Ok(())
    }

    pub async fn apply(&mut self, stack: &mut Stack, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::Kill(service, down) => {
                let psp = service == "psp-sandbox";
                stack.kill(service, 0).await?;
                self.log(format!("SIGKILL {service}; restarting after {down:?}"));
                tokio::time::sleep(down).await;
                stack.restart(service, 0).await?;
                if psp {
                    // Global faults live in the sandbox's memory; put the run's back.
                    self.put_sandbox_faults(0).await?;
                }
                self.log(format!("{service} ready again"));
            }
            Fault::RestartNats(down) => {
                stack.broker.kill(0).await?;
                self.log(format!("nats-server killed; restarting after {down:?}"));
                tokio::time::sleep(down).await;
                stack.broker.restart(0).await?;
                self.log("nats-server ready again".into());
            }
            Fault::Poison(subject) => {
                let n = self.poisons.len();
                // JetStream may still be electing after the restart; try for a while.
                let mut tries = 0;
                let poison = loop {
                    match poison::inject(stack, subject, n).await {
                        Ok(p) => break p,
                        Err(e) if tries < 20 => {
                            tries += 1;
                            self.log(format!("poison on {subject} not published yet: {e:#}"));
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        Err(e) => return Err(e),
                    }
                };
                self.log(format!(
                    "poison event on {subject} ({} consumers read it)",
                    poison.consumers.len()
                ));
                self.poisons.push(poison);
            }
            Fault::SandboxMode {
                approve_before_timeout,
            } => {
                self.approve_before_timeout = approve_before_timeout;
                self.put_sandbox_faults(0).await?;
                self.log(format!(
                    "sandbox: timed-out confirms now {}",
                    if approve_before_timeout {
                        "charge"
                    } else {
                        "do not charge"
                    }
                ));
            }
            Fault::PspOutage(down) => {
                self.put_sandbox_faults(OUTAGE_LATENCY_MS).await?;
                self.log(format!(
                    "PSP outage: every call takes {OUTAGE_LATENCY_MS} ms (> PSP_TIMEOUT_MS) for {down:?}"
                ));
                tokio::time::sleep(down).await;
                self.put_sandbox_faults(0).await?;
                self.outage = Some(self.outage.unwrap_or_default().max(down));
                self.log("PSP answers in time again".into());
            }
            Fault::Amnesia(after) => {
                let snapshot = amnesia::snapshot(stack).await?;
                self.log(format!(
                    "JetStream store copied; forgetting what follows in {after:?}"
                ));
                tokio::time::sleep(after).await;
                amnesia::forget(stack, &snapshot).await?;
                let order = stack.db("order-service").await?;
                self.repair = Some(amnesia::watch(order, Duration::from_secs(300)).await?);
                self.log(format!(
                    "nats-server restarted on the store of {after:?} ago; re-drive must repair it"
                ));
            }
        }
        Ok(())
    }
}
