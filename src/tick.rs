//! One tick: publish every due job's messages (work in progress).

use crate::api::Services;

#[derive(Clone, Debug, Default)]
pub struct TickReport {
    pub fired: u64,
    pub missed: u64,
}

pub fn run(services: &Services) -> anyhow::Result<TickReport> {
    let _ = services;
    Ok(TickReport::default())
}
