//! funboost-edge cron component: exports the cron trigger's `handle-cron-event` and runs one
//! `funboost_edge::tick::run` with Spin's Redis, key-value store and variables.
//!
//! By default it exports `spin:cron@3.0.0` (an `async func`; trigger-cron plugin 0.5 and
//! later, what `spin plugins install trigger-cron` installs). With the cargo feature `cron-v2`
//! it exports `fermyon:spin-cron@2.0.0` instead (sync; trigger-cron 0.3.0 to 0.4.2). One .wasm
//! cannot export both: the two worlds export the same name.

// Spin-only: natively (cargo build --workspace) this crate is empty.
#![cfg(target_arch = "wasm32")]

#[cfg(not(feature = "cron-v2"))]
spin_sdk::wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../wit/cron-v3",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

#[cfg(feature = "cron-v2")]
spin_sdk::wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../wit/cron-v2",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

// `Metadata` and `Error` are generated at the crate root by the world's `use cron-types.{..}`.

struct Ticker;

#[cfg(not(feature = "cron-v2"))]
impl Guest for Ticker {
    async fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        tick(metadata)
    }
}

#[cfg(feature = "cron-v2")]
impl Guest for Ticker {
    fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        tick(metadata)
    }
}

/// One tick: what is due now, then each fire of the next moments on its instant (the
/// invocation waits for them). `metadata.timestamp` (the trigger's wall clock, Unix seconds)
/// is not used: the tick takes "now" from the Redis server so that replicas with skewed
/// clocks agree.
fn tick(metadata: Metadata) -> Result<(), Error> {
    let _ = metadata.timestamp;
    let report = funboost_spin_adapter::with_services(|services| funboost_edge::tick::run_with(services, funboost_edge::tick::TickOptions::on_time()))
        .map_err(|e| Error::Other(format!("configuration error: {e:#}")))?
        .map_err(|e| Error::Other(format!("tick failed: {e:#}")))?;
    if report.fired > 0 || report.missed > 0 {
        println!("funboost-edge tick: fired {}, missed {}", report.fired, report.missed);
    }
    for error in &report.errors {
        eprintln!("funboost-edge tick: {error}");
    }
    Ok(())
}

export!(Ticker);
