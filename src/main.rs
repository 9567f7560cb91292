//! The `sluice` binary: parse the command line, run, exit with its code.

// Rendering thousands of streams allocates many small trees; mimalloc
// roughly halves the time glibc's allocator spends on them. `Metered`
// holds a template render to its memory budget.
#[global_allocator]
static ALLOCATOR: sluice::render::guard::Metered<mimalloc::MiMalloc> =
    sluice::render::guard::Metered(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    // A run lives for a second or less: a transparent huge page costs the
    // kernel 2 MiB of zeroing on first touch, and turns a 100 MB run into
    // a 160 MB one (mimalloc asks for them on its arenas). Off, for this
    // process only; a kernel without the setting just keeps its default.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    sluice::cli::main()
}
