//! Soak run of the cluster: two real `keva-sync serve` processes on PostgreSQL
//! against the sandbox, the portal's owner SIGKILLed and replaced ten times
//! while customers are created and edited; then every edit must be in Keva and
//! HubSpot, with one contact per customer. It lives here rather than in the test
//! suite while it still fails now and then (see the scenario's comment in
//! tests/cluster.rs). Needs KEVA_TEST_POSTGRES_URL like the tests.

#[allow(dead_code)] // the other scenarios' helpers are the tests'
#[path = "../tests/cluster.rs"]
mod cluster;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    runtime.block_on(cluster::ten_kills_in_a_row_lose_no_edit_and_duplicate_no_contact());
    println!(
        "cluster_soak: 10 kills, no lost edit, no duplicate contact, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
