//! The `lettermerge` command: a thin shell over the library (see `lettermerge::cmd`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    // Typst's layout recurses deeply; the 2 MB that worker threads get by default can run out.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build_global();
    lettermerge::cmd::main()
}

// Letters are many small strings merged on every core: mimalloc's per-thread heaps keep the
// threads from contending for glibc's allocator lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
