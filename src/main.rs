//! The `sluice` binary: parse the command line, run, exit with its code.

// Rendering thousands of streams allocates many small trees; mimalloc
// roughly halves the time glibc's allocator spends on them. `Metered`
// holds a template render to its memory budget.
#[global_allocator]
static ALLOCATOR: sluice::render::guard::Metered<mimalloc::MiMalloc> =
    sluice::render::guard::Metered(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
