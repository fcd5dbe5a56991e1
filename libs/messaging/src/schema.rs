//! [`Schema`]: what an event-driven service's database holds, said once per service. The
//! libraries own their tables (service-kit's `updated_at` helpers, libs/outbox's outbox,
//! this crate's processed events and dead letters, each a `migrations/` directory with its
//! `MIGRATOR`); a service says which of them it needs and names its own directory, and
//! [`crate::ServiceRuntime::start`] applies them in that order (`service_kit::db::migrate`).

use sqlx::migrate::Migrator;

pub struct Schema {
    /// The service publishes events: libs/outbox's table.
    pub outbox: bool,
    /// The service consumes events: `processed_events` and `dead_letters` (this crate's).
    pub consumers: bool,
    /// The service's own migrations, `&sqlx::migrate!("../../migrations/<service>")`.
    pub own: &'static Migrator,
}

impl Schema {
    /// The migrators in the order they run: service-kit's, the outbox's, this crate's, the
    /// service's own (a library's tables exist before a service's migration refers to them).
    pub fn migrators(&self) -> Vec<&'static Migrator> {
        let mut all = vec![&service_kit::db::MIGRATOR];
        if self.outbox {
            all.push(&outbox::MIGRATOR);
        }
        if self.consumers {
            all.push(&crate::MIGRATOR);
        }
        all.push(self.own);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::Schema;

    static OWN: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

    #[test]
    fn libraries_first_in_a_fixed_order_and_only_those_asked_for() {
        let count = |outbox, consumers| {
            Schema {
                outbox,
                consumers,
                own: &OWN,
            }
            .migrators()
            .len()
        };
        assert_eq!(count(true, true), 4);
        assert_eq!(count(true, false), 3);
        assert_eq!(count(false, true), 3);
        let all = Schema {
            outbox: true,
            consumers: true,
            own: &OWN,
        }
        .migrators();
        assert!(std::ptr::eq(all[0], &service_kit::db::MIGRATOR));
        assert!(std::ptr::eq(all[1], &outbox::MIGRATOR));
        assert!(std::ptr::eq(all[2], &crate::MIGRATOR));
        assert!(std::ptr::eq(all[3], &OWN));
    }
}
