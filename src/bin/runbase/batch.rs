//! Runs a batch of files on worker threads and hands the results back in input order, as
//! they become ready, so output streams and stays deterministic.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// How far workers may run ahead of the output (bounds the results held in memory).
const WINDOW: usize = 256;

/// The results waiting for their turn, and how many were handed out.
struct Shared<T> {
    ready: BTreeMap<usize, T>,
    emitted: usize,
}

/// Computes `work(state, i)` for every `i < count` on `jobs` threads (each with its own
/// `state` from `make_state`) and calls `emit(i, result)` on this thread in order. An
/// error from `emit` stops the batch and is returned.
pub(crate) fn run_ordered<S, T, M, W, E>(
    count: usize,
    jobs: usize,
    make_state: M,
    work: W,
    mut emit: E,
) -> io::Result<()>
where
    T: Send,
    M: Fn() -> S + Sync,
    W: Fn(&mut S, usize) -> T + Sync,
    E: FnMut(usize, T) -> io::Result<()>,
{
    let jobs = jobs.clamp(1, count.max(1));
    if jobs == 1 {
        let mut state = make_state();
        for i in 0..count {
            emit(i, work(&mut state, i))?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let shared = Mutex::new(Shared {
        ready: BTreeMap::new(),
        emitted: 0,
    });
    let result_ready = Condvar::new();
    let output_moved = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                // A worker that panics must not leave the output waiting for its result.
                let _guard = StopOnPanic {
                    stop: &stop,
                    wake: &result_ready,
                };
                let mut state = make_state();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    {
                        let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                        while i >= guard.emitted.saturating_add(WINDOW)
                            && !stop.load(Ordering::Relaxed)
                        {
                            guard = output_moved
                                .wait(guard)
                                .unwrap_or_else(PoisonError::into_inner);
                        }
                    }
                    let result = work(&mut state, i);
                    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    guard.ready.insert(i, result);
                    result_ready.notify_one();
                }
            });
        }
        let outcome = (|| {
            for i in 0..count {
                let result = {
                    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    loop {
                        if let Some(result) = guard.ready.remove(&i) {
                            break result;
                        }
                        if stop.load(Ordering::Relaxed) {
                            return Err(io::Error::other("a worker thread failed"));
                        }
                        guard = result_ready
                            .wait(guard)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                };
                emit(i, result)?;
                let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                guard.emitted = i.saturating_add(1);
                output_moved.notify_all();
            }
            Ok(())
        })();
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
            let _guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
            output_moved.notify_all();
        }
        outcome
    })
}

/// Stops the batch when dropped during a panic.
struct StopOnPanic<'a> {
    stop: &'a AtomicBool,
    wake: &'a Condvar,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Relaxed);
            self.wake.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        for jobs in [1, 2, 7] {
            let mut seen = Vec::new();
            run_ordered(
                1000,
                jobs,
                || 0u64,
                |calls, i| {
                    *calls += 1;
                    // Uneven work so that threads finish out of order.
                    std::thread::sleep(std::time::Duration::from_micros((i % 7) as u64 * 20));
                    i * 2
                },
                |i, v| {
                    seen.push((i, v));
                    Ok(())
                },
            )
            .unwrap();
            let expected: Vec<(usize, usize)> = (0..1000).map(|i| (i, i * 2)).collect();
            assert_eq!(seen, expected, "jobs = {jobs}");
        }
    }

    #[test]
    fn an_output_error_stops_the_batch() {
        let done = AtomicUsize::new(0);
        let result = run_ordered(
            100_000,
            2,
            || (),
            |_, i| {
                done.fetch_add(1, Ordering::Relaxed);
                i
            },
            |i, _| {
                if i == 10 {
                    Err(io::Error::other("closed"))
                } else {
                    Ok(())
                }
            },
        );
        assert!(result.is_err());
        // The workers stopped within the window, not after the whole batch.
        assert!(done.load(Ordering::Relaxed) < 10 + WINDOW + 8);
    }
}
