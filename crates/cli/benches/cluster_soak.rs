//! Soak run of the cluster: the test suite's ten-kills scenario (two real
//! `keva-sync serve` processes on PostgreSQL against the sandbox, the portal's
//! owner SIGKILLed and replaced ten times while customers are created and
//! edited; then every edit must be in Keva and HubSpot, with one contact per
//! customer) run `SOAK_RUNS` times (10) in a row, to catch what fails one run
//! in many. Prints each run's outcome and the tally; exits non-zero if any run
//! failed. Needs KEVA_TEST_POSTGRES_URL like the tests:
//! `cargo bench -p keva-sync --bench cluster_soak`.

#[allow(dead_code)] // the other scenarios' helpers are the tests'
#[path = "../tests/cluster.rs"]
mod cluster;

fn main() {
    let runs: usize = std::env::var("SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut passed = 0;
    for run in 1..=runs {
        let started = std::time::Instant::now();
        // A failing run panics (with what was missing); count it and go on.
        let outcome = runtime.block_on(async { tokio::spawn(cluster::ten_kills_in_a_row()).await });
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("cluster_soak: run {run}: 10 kills, no lost edit, no duplicate contact, {secs:.1} s");
            }
            Err(e) => println!("cluster_soak: run {run}: FAILED after {secs:.1} s: {e}"),
        }
    }
    println!("cluster_soak: {passed} of {runs} runs passed");
    if passed != runs {
        std::process::exit(1);
    }
}
