//! Bounds on one template render. A merge request controls `templates/`,
//! so a template may loop for ever or build gigabytes of text; sluice must
//! still end promptly, with a finding that names the template.
//!
//! Fuel (minijinja counts instructions) and the output cap end a render
//! with an ordinary `render/template` finding at the template line. They
//! do not bound everything: one instruction can build a 100 MB string
//! (`"x" * 100000000` is within minijinja's own limit), concatenate two
//! such strings, or sum, join or sort a lazily repeated list of 10^8 items
//! without spending fuel. Two backstops cover the rest, for a render that
//! never hands control back: a memory budget counted by the global
//! allocator ([`Metered`]) on the rendering thread, and a deadline kept by
//! a watchdog thread. Either stops sluice at once with exit code 2 and a
//! message naming the template, the stream and the environment.
//!
//! This module reads the clock and counts allocations, but decides nothing
//! about the output: a render within the bounds gives the same bytes.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, RefCell};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

/// Instructions one render of one template may execute. The built-in
/// SparkApplication template spends about 150 per stream, and a template
/// that loops over a few hundred values a few thousand; an endless loop
/// stops after about 3 ms (50 ms in a debug build).
pub const FUEL: u64 = 250_000;

/// Bytes one render of one template may output. The API server refuses
/// objects over about 1.5 MB (etcd's request limit), and a ConfigMap
/// holds at most 1 MiB, so no template that can be applied comes close.
pub const MAX_OUTPUT_BYTES: usize = 4_000_000;

/// Memory one render may hold at once (the values it sees, its variables
/// and its output). Far above what a real render needs (a few hundred
/// kilobytes), and far below what would exhaust a CI runner.
pub const MAX_MEMORY_BYTES: usize = 256_000_000;

/// Wall-clock time one render may take. A render takes well under a
/// millisecond; fuel stops loops long before this.
pub const DEADLINE: Duration = Duration::from_secs(1);

/// Wall-clock time all renders of one run may take together (summed over
/// threads). 10,000 stream renders of the built-in template take about
/// 0.3 s; a template just under every per-render bound, rendered for many
/// streams, would otherwise multiply its cost by their number.
pub const TOTAL: Duration = Duration::from_secs(5);

/// Microseconds of rendering spent so far, by every finished render.
static SPENT_MICROS: AtomicU64 = AtomicU64::new(0);

/// What a finding says when fuel runs out.
pub fn out_of_fuel() -> String {
    format!("the template ran out of fuel ({FUEL} instructions)")
}

/// What a finding says when the output cap is reached.
pub fn output_exceeded() -> String {
    format!(
        "the template's output exceeds {} MB",
        MAX_OUTPUT_BYTES / 1_000_000
    )
}

/// A render's output, refused (with an I/O error that ends the render)
/// once it would pass [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
pub struct Output {
    pub bytes: Vec<u8>,
    /// Whether the render ended because the output was too long.
    pub exceeded: bool,
}

impl io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.exceeded = true;
            return Err(io::Error::other(output_exceeded()));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Which render is running, for the message that stops it.
struct Running {
    id: u64,
    started: Instant,
    who: String,
}

static RUNNING: Mutex<Vec<Running>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static WATCHDOG: Once = Once::new();

thread_local! {
    /// Whether allocations on this thread count against a render's budget.
    static METERED: Cell<bool> = const { Cell::new(false) };
    /// Bytes allocated, and not freed, on this thread since the render began.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    /// The running render, as the stop message names it.
    static WHO: RefCell<String> = const { RefCell::new(String::new()) };
}

/// One render under the memory budget and the deadline, until dropped.
pub struct Watch {
    id: u64,
}

/// Starts watching the render of `template` (its repository path) for
/// `stream` in `environment`, on this thread.
pub fn watch(template: &str, stream: &str, environment: &str) -> Watch {
    start(format!(
        "stream `{stream}` in `{environment}`: template `{template}`"
    ))
}

/// Starts watching the compilation of templates, on this thread: minijinja
/// folds constant expressions as it compiles, so `{{ "x" * 100000000 }}`
/// builds its string here, once per occurrence. One budget and one
/// deadline for all of a repository's templates; [`Watch::compiling`]
/// names the one at work.
pub fn watch_compiling() -> Watch {
    start(String::new())
}

impl Watch {
    pub fn compiling(&self, template: &str) {
        let who = format!("template `{template}`");
        // Allocates outside the borrow: `charge` may need to read it.
        WHO.replace(who.clone());
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = running.iter_mut().find(|r| r.id == self.id) {
            r.who = who;
        }
    }
}

fn start(who: String) -> Watch {
    WATCHDOG.call_once(|| {
        // Without the thread there is no deadline; everything else holds.
        let _ = std::thread::Builder::new()
            .name("sluice-render-watchdog".to_owned())
            .spawn(watchdog);
    });
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    WHO.replace(who.clone());
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Running {
            id,
            started: Instant::now(),
            who,
        });
    LIVE.set(0);
    METERED.set(true);
    Watch { id }
}

impl Drop for Watch {
    fn drop(&mut self) {
        METERED.set(false);
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = running.iter().position(|r| r.id == self.id) {
            let done = running.swap_remove(i);
            let micros = u64::try_from(done.started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let spent = SPENT_MICROS
                .fetch_add(micros, Ordering::Relaxed)
                .saturating_add(micros);
            if Duration::from_micros(spent) > TOTAL {
                drop(running);
                stop_total(&done.who);
            }
        }
    }
}

fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(late) = running.iter().find(|r| r.started.elapsed() > DEADLINE) {
            stop(
                &late.who,
                &format!("took more than {} s", DEADLINE.as_secs_f64()),
            );
        }
    }
}

/// Ends the process when the renders of this run, together, took longer
/// than [`TOTAL`].
fn stop_total(last: &str) -> ! {
    eprintln!(
        "error[render/template]: rendering took more than {} s in total (the last render: {last}); sluice stopped\n  \
         = note: every render of every template for every stream counts; one render of the built-in template takes well under a millisecond\n  \
         = help: look for a template that sorts, joins or loops over large collections for every stream",
        TOTAL.as_secs_f64()
    );
    std::process::exit(2)
}

/// Ends the process: the render will not hand control back, so no finding
/// can be reported the ordinary way.
fn stop(who: &str, what: &str) -> ! {
    eprintln!(
        "error[render/template]: {who} {what}; sluice stopped\n  \
         = note: one render of a template may take {} s and hold {} MB of memory\n  \
         = help: look for a loop, a repetition (`*`) or a concatenation (`~`) that grows without end",
        DEADLINE.as_secs_f64(),
        MAX_MEMORY_BYTES / 1_000_000
    );
    std::process::exit(2)
}

fn charge(size: usize) {
    if !METERED.get() {
        return;
    }
    let live = LIVE.get().saturating_add(size);
    LIVE.set(live);
    if live > MAX_MEMORY_BYTES {
        // Nothing below may count again (printing allocates).
        METERED.set(false);
        WHO.with_borrow(|who| {
            stop(
                who,
                &format!(
                    "needed more than {} MB of memory",
                    MAX_MEMORY_BYTES / 1_000_000
                ),
            )
        });
    }
}

fn refund(size: usize) {
    if METERED.get() {
        LIVE.set(LIVE.get().saturating_sub(size));
    }
}

/// The global allocator `A`, counting what a watched render holds: an
/// allocation that would take it past [`MAX_MEMORY_BYTES`] stops sluice
/// before the memory is taken. Elsewhere it only reads one thread-local
/// flag per call.
pub struct Metered<A>(pub A);

// SAFETY: every call is passed to `A` unchanged; the bookkeeping around it
// uses const-initialised thread-locals only (no allocation, no unwinding).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refund(layout.size());
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            charge(new_size - layout.size());
        } else {
            refund(layout.size() - new_size);
        }
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn output_stops_at_the_cap_and_keeps_what_fit() {
        let mut out = Output::default();
        out.write_all(&vec![b'a'; MAX_OUTPUT_BYTES - 1]).unwrap();
        assert!(out.write_all(b"bc").is_err());
        assert!(out.exceeded);
        assert_eq!(out.bytes.len(), MAX_OUTPUT_BYTES - 1);
    }

    #[test]
    fn a_watch_counts_only_while_it_lasts() {
        let watch = watch("templates/t.yaml.j2", "orders", "dev");
        assert!(METERED.get());
        charge(1000);
        refund(400);
        assert_eq!(LIVE.get(), 600);
        drop(watch);
        assert!(!METERED.get());
        charge(1000);
        assert_eq!(LIVE.get(), 600);
        assert!(
            RUNNING
                .lock()
                .unwrap()
                .iter()
                .all(|r| !r.who.contains("orders")),
            "unregistered"
        );
    }
}
