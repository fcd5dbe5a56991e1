//! `sqlx::migrate!` embeds migrations/catalog-like-service at compile time: a new or changed migration file
//! must rebuild the service, which cargo does not know without this line.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/catalog-like-service");
}
