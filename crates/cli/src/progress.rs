//! Progress bars (indicatif) fed by the engine's [`SyncObserver`]. Hidden when standard error is
//! not a terminal or with `--json`.

use std::collections::HashMap;
use std::sync::Mutex;

use crmsync_core::{Kind, Progress, Side, SyncObserver};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<(Kind, u8), ProgressBar>>,
}

fn slot(side: Side) -> u8 {
    match side {
        Side::Zoho => 0,
        Side::Outlook => 1,
    }
}

impl Bars {
    pub fn new(hidden: bool) -> Bars {
        let multi = if hidden {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        } else {
            MultiProgress::new()
        };
        Bars {
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, key: (Kind, u8), make: impl FnOnce() -> ProgressBar) -> ProgressBar {
        let mut g = match self.bars.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.entry(key)
            .or_insert_with(|| self.multi.add(make()))
            .clone()
    }

    /// Clears the bars: the report follows.
    pub fn finish(&self) {
        if let Ok(g) = self.bars.lock() {
            for b in g.values() {
                b.finish_and_clear();
            }
        }
        let _ = self.multi.clear();
    }
}

fn spinner(msg: String) -> ProgressBar {
    let b = ProgressBar::new_spinner();
    b.set_style(
        ProgressStyle::with_template("{spinner} {msg:<28} {pos:>7} read")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    b.set_message(msg);
    b
}

fn writer(msg: String, total: u64) -> ProgressBar {
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template("  {msg:<28} [{bar:30}] {pos:>7}/{len:7} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(msg);
    b
}

impl SyncObserver for Bars {
    fn on_progress(&self, p: &Progress) {
        match p {
            Progress::KindStarted { .. } => {}
            Progress::Reading {
                kind,
                side,
                items,
                full,
            } => {
                let what = if *full { "listing" } else { "changes" };
                let b = self.bar((*kind, slot(*side)), || {
                    spinner(format!("{} {side} {what}", kind.as_str()))
                });
                b.set_position(*items);
                b.tick();
            }
            Progress::Planned { kind, writes, .. } => {
                for s in [0, 1] {
                    if let Some(b) = self
                        .bars
                        .lock()
                        .ok()
                        .and_then(|g| g.get(&(*kind, s)).cloned())
                    {
                        b.finish();
                    }
                }
                let w = *writes;
                self.bar((*kind, 2), || {
                    writer(format!("{} writes", kind.as_str()), w)
                });
            }
            Progress::Writing { kind, done, total } => {
                let t = *total;
                let b = self.bar((*kind, 2), || {
                    writer(format!("{} writes", kind.as_str()), t)
                });
                b.set_length(*total);
                b.set_position(*done);
            }
            Progress::KindFinished { kind } => {
                if let Some(b) = self
                    .bars
                    .lock()
                    .ok()
                    .and_then(|g| g.get(&(*kind, 2)).cloned())
                {
                    b.finish();
                }
            }
        }
    }
}
