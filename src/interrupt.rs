//! Ctrl-C (and SIGTERM, how systemd stops a service) while `send` runs.
//!
//! The first asks for a clean stop: letters already on the wire finish and are recorded, no new
//! letter starts, a waiting run stops waiting, and the command says what is left. The second ends
//! the process at once; the journal then shows any letter caught mid-send as `uncertain`, so even
//! that never sends a letter twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, Once};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);
static WAKE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
static INSTALL: Once = Once::new();

/// The exit status of a process ended by a second Ctrl-C (128 + SIGINT).
const INTERRUPTED: i32 = 130;

/// Catches Ctrl-C and SIGTERM from now on. Safe to call more than once.
pub fn install() {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                crate::console::message(
                    format_args!("\nstopped at once; letters caught mid-send show as uncertain"),
                    true,
                );
                std::process::exit(INTERRUPTED);
            }
            crate::console::message(
                format_args!(
                    "\nstopping: letters on the wire finish first (Ctrl-C again to quit now)"
                ),
                true,
            );
            let _guard = WAKE.0.lock();
            WAKE.1.notify_all();
        });
        if let Err(e) = installed {
            crate::console::message(
                format_args!("warning: Ctrl-C will end the run abruptly ({e})"),
                true,
            );
        }
    });
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Waits `span`, or less when a stop is asked for; true when it was.
pub fn sleep(span: Duration) -> bool {
    let deadline = Instant::now() + span;
    let mut guard = WAKE.0.lock().unwrap_or_else(|e| e.into_inner());
    while !requested() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        guard = match WAKE.1.wait_timeout(guard, left) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
    requested()
}
