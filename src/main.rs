//! The `lettermerge` command: a thin shell over the library (see `lettermerge::cmd`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    lettermerge::cmd::main()
}

// Letters are many small strings merged on every core: mimalloc's per-thread heaps keep the
// threads from contending for glibc's allocator lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
