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
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
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
