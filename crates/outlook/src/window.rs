//! The adaptive window of `$batch`es in flight per mailbox (additive increase, multiplicative
//! decrease), and the async gate that admits batches under it.
//!
//! Graph counts a batch's sub-requests one by one against the mailbox's limit of 4 concurrent
//! requests and runs an unordered batch 4 at a time, so whether a second batch in flight fits
//! depends on how long the mailbox takes per item, which no header tells. The window starts at
//! one batch, grows by one after a window's worth of batches answered without any 429, halves on
//! a 429 (the envelope's or any sub-response's), and then stays below the level that throttled
//! until enough clean batches have passed; a level that throttles again is held off for longer.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Clean batches after a 429 before the window may grow back to the level that throttled.
pub const HOLD_BATCHES: usize = 16;
/// The longest hold, reached by doubling when the same level keeps throttling.
pub const MAX_HOLD_BATCHES: usize = 256;

/// The window's arithmetic, without IO or clock: what a batch's outcome does to the number of
/// batches allowed in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aimd {
    max: usize,
    limit: usize,
    /// How far the window may grow now (below `max` while a throttled level is held off).
    ceiling: usize,
    /// Clean batches left before `ceiling` lifts back to `max`.
    hold_left: usize,
    /// The hold the next 429 at the same level imposes.
    hold_len: usize,
    /// The highest window that got a 429 since the window last ran a whole clean window at
    /// that level or above (0: none).
    throttled_at: usize,
    /// Clean batches since the window last changed.
    clean: usize,
    /// Bumped at each decrease: 429s of batches admitted before it were already answered.
    generation: u64,
}

impl Aimd {
    /// A window of one batch that may grow to `max` (at least 1).
    pub fn new(max: usize) -> Aimd {
        let max = max.max(1);
        Aimd {
            max,
            limit: 1,
            ceiling: max,
            hold_left: 0,
            hold_len: HOLD_BATCHES,
            throttled_at: 0,
            clean: 0,
            generation: 0,
        }
    }

    /// Batches allowed in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The current generation, to hand back with the outcome of a batch admitted now.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A batch was answered without any 429.
    pub fn on_clean(&mut self) {
        self.clean += 1;
        if self.hold_left > 0 {
            self.hold_left -= 1;
            if self.hold_left == 0 {
                self.ceiling = self.max;
            }
        }
        if self.clean >= self.limit {
            if self.throttled_at > 0 && self.limit >= self.throttled_at {
                // A whole clean window at the level that throttled: the mailbox has room again.
                self.throttled_at = 0;
                self.hold_len = HOLD_BATCHES;
            }
            if self.limit < self.ceiling {
                self.limit += 1;
                self.clean = 0;
            }
        }
    }

    /// A batch admitted at `generation` got a 429. Only the first 429 of a generation shrinks
    /// the window: the batches that were in flight with it saw the same congestion.
    pub fn on_throttled(&mut self, generation: u64) {
        self.clean = 0;
        if generation != self.generation {
            return;
        }
        let level = self.limit;
        if self.throttled_at > 0 && level <= self.throttled_at {
            // The same level (or a lower one) throttled again: probe it less often.
            self.hold_len = (self.hold_len * 2).min(MAX_HOLD_BATCHES);
        }
        self.throttled_at = self.throttled_at.max(level);
        self.limit = (level / 2).max(1);
        self.ceiling = (level - 1).max(1);
        self.hold_left = self.hold_len;
        self.generation += 1;
    }
}

struct Gate {
    aimd: Aimd,
    in_flight: usize,
}

/// Admits batches while fewer than the window are in flight; shared by every clone of a client.
pub(crate) struct BatchWindow {
    gate: Mutex<Gate>,
    changed: Notify,
}

impl BatchWindow {
    /// A window of one batch that may grow to `max`.
    pub(crate) fn new(max: usize) -> BatchWindow {
        BatchWindow {
            gate: Mutex::new(Gate {
                aimd: Aimd::new(max),
                in_flight: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Batches allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.lock().aimd.limit()
    }

    /// Waits for room in the window and takes it until the admission is finished or dropped.
    pub(crate) async fn admit(&self) -> Admission<'_> {
        loop {
            // Registered before the check, so a release between the check and the wait is seen.
            let changed = self.changed.notified();
            {
                let mut g = self.lock();
                if g.in_flight < g.aimd.limit() {
                    g.in_flight += 1;
                    return Admission {
                        window: self,
                        generation: g.aimd.generation(),
                        open: true,
                    };
                }
            }
            changed.await;
        }
    }

    fn release(&self, outcome: Option<(u64, bool)>) {
        {
            let mut g = self.lock();
            g.in_flight -= 1;
            match outcome {
                Some((gen, true)) => g.aimd.on_throttled(gen),
                Some((_, false)) => g.aimd.on_clean(),
                None => {}
            }
        }
        self.changed.notify_waiters();
    }
}

/// A batch's place in the window. Finishing it reports the outcome; dropping it (an error, a
/// cancelled sync) frees the place without one.
pub(crate) struct Admission<'a> {
    window: &'a BatchWindow,
    generation: u64,
    open: bool,
}

impl Admission<'_> {
    /// The batch was answered: `throttled` if the envelope or any sub-response was a 429.
    pub(crate) fn finish(mut self, throttled: bool) {
        self.open = false;
        self.window.release(Some((self.generation, throttled)));
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.open {
            self.window.release(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(a: &mut Aimd, n: usize) {
        for _ in 0..n {
            a.on_clean();
        }
    }

    #[test]
    fn grows_by_one_per_clean_window_up_to_the_ceiling() {
        let mut a = Aimd::new(4);
        assert_eq!(a.limit(), 1);
        clean(&mut a, 1);
        assert_eq!(a.limit(), 2);
        clean(&mut a, 1);
        assert_eq!(a.limit(), 2, "a window of 2 needs 2 clean batches");
        clean(&mut a, 1);
        assert_eq!(a.limit(), 3);
        clean(&mut a, 3);
        assert_eq!(a.limit(), 4);
        clean(&mut a, 100);
        assert_eq!(a.limit(), 4, "never above the ceiling");
    }

    #[test]
    fn halves_on_a_429_once_per_generation_and_holds_below_the_level() {
        let mut a = Aimd::new(4);
        clean(&mut a, 6);
        assert_eq!(a.limit(), 4);
        let g = a.generation();
        a.on_throttled(g);
        assert_eq!(a.limit(), 2);
        // The other batches of the same window come back throttled too: no further halving.
        a.on_throttled(g);
        a.on_throttled(g);
        assert_eq!(a.limit(), 2);
        // It grows back to 3, not to 4, until the hold has passed.
        clean(&mut a, 2);
        assert_eq!(a.limit(), 3);
        clean(&mut a, HOLD_BATCHES - 3);
        assert_eq!(a.limit(), 3);
        clean(&mut a, 3);
        assert_eq!(a.limit(), 4);
    }

    #[test]
    fn never_below_one_and_a_level_that_throttles_again_is_held_off_longer() {
        let mut a = Aimd::new(4);
        clean(&mut a, 1);
        assert_eq!(a.limit(), 2);
        a.on_throttled(a.generation());
        assert_eq!(a.limit(), 1);
        a.on_throttled(a.generation());
        assert_eq!(a.limit(), 1, "floor of one batch");
        // Level 1 throttled last: the hold doubled.
        clean(&mut a, 2 * HOLD_BATCHES - 1);
        assert_eq!(a.limit(), 1);
        clean(&mut a, 1);
        assert_eq!(a.limit(), 2);
        // Level 2 throttles again: held at 1 for 4 × the base hold now.
        a.on_throttled(a.generation());
        assert_eq!(a.limit(), 1);
        clean(&mut a, 4 * HOLD_BATCHES - 1);
        assert_eq!(a.limit(), 1);
        clean(&mut a, 1);
        assert_eq!(a.limit(), 2);
        // A clean window at the level that throttled resets the hold.
        clean(&mut a, 2);
        assert_eq!(a.limit(), 3);
        a.on_throttled(a.generation());
        assert_eq!(a.limit(), 1);
        clean(&mut a, HOLD_BATCHES - 1);
        assert_eq!(a.limit(), 2, "held below 3 for the base hold");
        clean(&mut a, 1);
        assert_eq!(a.limit(), 3);
    }

    #[tokio::test]
    async fn admits_up_to_the_window_and_wakes_a_waiter_on_release() {
        let w = BatchWindow::new(4);
        let first = w.admit().await;
        // The window is 1: a second admission waits until the first finishes.
        let second = w.admit();
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        first.finish(false);
        let second = second.await;
        assert_eq!(w.limit(), 2);
        let third = w.admit().await;
        drop(second);
        drop(third);
        assert_eq!(w.limit(), 2, "dropped admissions report no outcome");
        let a = w.admit().await;
        let b = w.admit().await;
        a.finish(true);
        assert_eq!(w.limit(), 1);
        b.finish(true);
        assert_eq!(w.limit(), 1);
    }
}
