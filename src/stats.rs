//! Time spent per stage, summed over all threads, for `-v` and the
//! benchmark. The stages stay pure: this only watches them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Stage {
    pub name: &'static str,
    nanos: AtomicU64,
}

impl Stage {
    const fn new(name: &'static str) -> Stage {
        Stage {
            name,
            nanos: AtomicU64::new(0),
        }
    }

    pub fn time<R>(&self, f: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let r = f();
        self.nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }

    pub fn millis(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 / 1e6
    }
}

pub static PARSE: Stage = Stage::new("parse");
pub static MERGE: Stage = Stage::new("merge");
pub static VALIDATE: Stage = Stage::new("validate");
pub static RULES: Stage = Stage::new("rules");
pub static RENDER: Stage = Stage::new("render");
pub static CHECK: Stage = Stage::new("check");

/// `parse 12.1 ms, merge 30.0 ms, ...` (CPU time summed over threads).
pub fn summary() -> String {
    [&PARSE, &MERGE, &VALIDATE, &RULES, &RENDER, &CHECK]
        .iter()
        .map(|s| format!("{} {:.1} ms", s.name, s.millis()))
        .collect::<Vec<_>>()
        .join(", ")
}
