//! A cap on notifications per sink per window, against alert fatigue: beyond `max` in one window a
//! notification is held back and counted; when the window ends, one digest says how many were held.

/// `max` notifications per `window_nanos`, fixed windows aligned on the first notification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapConfig {
    pub max: u32,
    pub window_nanos: u64,
}

impl Default for CapConfig {
    /// Five per 15 minutes per sink: a storm produces a handful and a digest, not a pager melt-down.
    fn default() -> Self {
        Self {
            max: 5,
            window_nanos: 15 * 60 * 1_000_000_000,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NotifyCap {
    window_start: u64,
    sent: u32,
    held: u64,
    /// Held notifications over the cap's life (for metrics).
    pub held_total: u64,
    pub digests_total: u64,
}

impl NotifyCap {
    /// Whether a notification may go out at `now`; if not it is counted for the next digest.
    pub fn admit(&mut self, cfg: &CapConfig, now: u64) -> bool {
        if self.sent == 0 && self.held == 0 {
            self.window_start = now;
        }
        if now.saturating_sub(self.window_start) >= cfg.window_nanos && self.held == 0 {
            self.window_start = now;
            self.sent = 0;
        }
        if self.sent < cfg.max {
            self.sent += 1;
            true
        } else {
            self.held += 1;
            self.held_total += 1;
            false
        }
    }

    /// At the end of a window with held notifications: their count (the digest to send), and a
    /// fresh window. The digest itself is not capped.
    pub fn digest_due(&mut self, cfg: &CapConfig, now: u64) -> Option<u64> {
        if self.held == 0 || now.saturating_sub(self.window_start) < cfg.window_nanos {
            return None;
        }
        let held = self.held;
        self.held = 0;
        self.sent = 0;
        self.window_start = now;
        self.digests_total += 1;
        Some(held)
    }

    /// When the pending digest is due (for the timer), if one is pending.
    pub fn next_due(&self, cfg: &CapConfig) -> Option<u64> {
        (self.held > 0).then(|| self.window_start.saturating_add(cfg.window_nanos))
    }

    pub fn held(&self) -> u64 {
        self.held
    }
}
