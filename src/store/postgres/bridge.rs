//! The bridge from the synchronous `StateStore` to the async driver: the store owns a small
//! tokio runtime of its own, where the connections' I/O tasks run, and each call polls its
//! future to completion on the calling thread inside that runtime's context.
//!
//! Why not the caller's runtime: `StateStore` is synchronous and is called from
//! `spawn_blocking` threads and, in `sync`, straight from async code; a nested `block_on` on
//! the caller's runtime would panic there, and a current-thread runtime would deadlock waiting
//! on I/O that only it could drive. On the store's own runtime neither can happen: the caller's
//! thread waits (as it does on a SQLite lock) while the store's threads drive the sockets.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking between wake-ups. The future's I/O
/// must be driven elsewhere (the store's runtime, entered by the caller).
///
/// The future runs outside tokio's cooperative budget: when the caller is a tokio task that
/// has used up its budget, every tokio resource (the pool's semaphore, a timer, a channel)
/// would otherwise answer `Pending` and wake at once, for as long as the task does not yield,
/// which it cannot do while it waits here: the thread would spin forever.
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(tokio::task::coop::unconstrained(future));
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_out_of_cooperative_budget_still_gets_its_answer() {
        let (done, answer) = std::sync::mpsc::channel();
        // On a thread of its own, so a wait that never ends fails the test instead of hanging it.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                // Use up this task's budget without yielding, as a long stretch of work does.
                let mut cx = Context::from_waker(Waker::noop());
                for _ in 0..10_000 {
                    if pin!(tokio::task::coop::consume_budget())
                        .poll(&mut cx)
                        .is_pending()
                    {
                        break;
                    }
                }
                assert!(!tokio::task::coop::has_budget_remaining());
                let (tx, rx) = tokio::sync::oneshot::channel();
                std::thread::spawn(move || tx.send(7));
                let _ = done.send(block_on(rx).ok());
            });
        });
        assert_eq!(
            answer.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(Some(7))
        );
    }

    #[test]
    fn a_future_woken_from_another_thread_completes() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = std::thread::spawn(move || {
            std::thread::yield_now();
            tx.send(7).unwrap();
        });
        assert_eq!(block_on(rx).unwrap(), 7);
        sender.join().unwrap();
    }
}
