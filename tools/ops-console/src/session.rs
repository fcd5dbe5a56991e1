//! Who may use the console: whoever presents a credential the services accept as admin — the
//! `ADMIN_TOKEN` in open mode, an admin's JWT in jwt mode (libs/service-kit/src/admin.rs). The
//! login checks it against the payments service's admin API; the credential then stays on the
//! server, in the session, and is what the console presents to the services for this operator.
//! The browser holds only a random session id in an `HttpOnly; SameSite=Strict` cookie, and
//! every form carries the session's CSRF token.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use poem::Request;

pub const COOKIE: &str = "paymsa_ops";

/// A logged-in operator as a handler sees it.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    /// The admin bearer token the services accepted at login.
    pub credential: String,
    /// Must come back in every form the console receives.
    pub csrf: String,
}

struct Entry {
    session: Session,
    last_seen: Instant,
}

pub struct Sessions {
    idle: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// 244 random bits (two v4 UUIDs, from the OS's CSPRNG through `getrandom`).
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a consistent map (every write is one insert
        // or remove), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `credential`; expired ones are dropped on the way.
    pub fn create(&self, credential: String) -> Session {
        let session = Session {
            id: random_token(),
            credential,
            csrf: random_token(),
        };
        let mut entries = self.lock();
        let idle = self.idle;
        entries.retain(|_, e| e.last_seen.elapsed() < idle);
        entries.insert(
            session.id.clone(),
            Entry {
                session: session.clone(),
                last_seen: Instant::now(),
            },
        );
        session
    }

    /// The session of the request's cookie, if it is live (and marks it used).
    pub fn of(&self, req: &Request) -> Option<Session> {
        let id = cookie(req, COOKIE)?;
        let mut entries = self.lock();
        let entry = entries.get_mut(&id)?;
        if entry.last_seen.elapsed() >= self.idle {
            entries.remove(&id);
            return None;
        }
        entry.last_seen = Instant::now();
        Some(entry.session.clone())
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` of a login. No `Secure`: the console is served on plain HTTP on
/// 127.0.0.1 by `just console`; behind TLS, the proxy adds it (docs/operations.md).
pub fn set_cookie(session: &Session) -> String {
    format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", session.id)
}

pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether a form's CSRF token is the session's, compared without leaking through timing
/// how much of it was right.
pub fn csrf_ok(session: &Session, given: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_found_by_cookie_and_expire() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let s = sessions.create("tok".into());
        let req = Request::builder()
            .header("cookie", format!("other=1; {COOKIE}={}", s.id))
            .finish();
        assert_eq!(sessions.of(&req).map(|s| s.credential), Some("tok".into()));
        assert!(csrf_ok(&s, &s.csrf) && !csrf_ok(&s, "x"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.of(&req).is_none());
        let stranger = Request::builder()
            .header("cookie", format!("{COOKIE}=guess"))
            .finish();
        assert!(sessions.of(&stranger).is_none());
    }
}
