//! The `sluice` binary: parse the command line, run, exit with its code.

// Rendering thousands of streams allocates many small trees; mimalloc
// roughly halves the time glibc's allocator spends on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
