//! `sqlx::migrate!` embeds migrations/hot-catalog-service at compile time: a new or changed migration file
//! must rebuild the service, which cargo does not know without this line.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/hot-catalog-service");
}
