//! `sqlx::migrate!` embeds libs/outbox/migrations at compile time: a new or changed
//! migration file must rebuild the crate, which cargo does not know without this line.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
