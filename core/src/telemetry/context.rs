//! Context ids that ride along every span and log inside `ferrule.context(...)` / `runInContext`:
//! session (`gen_ai.conversation.id`), user and tags. The host stores the current context in its own
//! context-local slot (contextvars, AsyncLocalStorage); the core owns the values and the rule that
//! one session id belongs to one user.

use crate::striped::StripedCounter;
use crate::telemetry::ids::new_request_id;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The ids a host context carries. Immutable once built; shared by `Arc` with every span inside.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallContext {
    pub session_id: String,
    pub user_id: Option<String>,
    pub tags: Vec<String>,
    /// True when the session id was generated because the caller gave none.
    pub session_generated: bool,
}

impl CallContext {
    /// Builds a context nested in `outer`: given fields override, missing ones are inherited, tags
    /// accumulate (deduplicated, in order). A session id missing everywhere is generated (UUID v7).
    pub fn nested(
        outer: Option<&CallContext>,
        session_id: Option<String>,
        user_id: Option<String>,
        tags: Vec<String>,
    ) -> CallContext {
        let (session_id, session_generated) = match (session_id, outer) {
            (Some(s), _) => (s, false),
            (None, Some(o)) => (o.session_id.clone(), o.session_generated),
            (None, None) => (new_request_id().to_string(), true),
        };
        let user_id = user_id.or_else(|| outer.and_then(|o| o.user_id.clone()));
        let mut all: Vec<String> = outer.map(|o| o.tags.clone()).unwrap_or_default();
        for t in tags {
            if !all.contains(&t) {
                all.push(t);
            }
        }
        CallContext {
            session_id,
            user_id,
            tags: all,
            session_generated,
        }
    }
}

/// A session id seen with two different user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConflict {
    pub session_id: String,
    pub first_user: String,
    pub new_user: String,
}

/// Remembers which user each session id belongs to, up to `capacity` sessions, to report a session
/// id reused by a different user (a bug in the caller's id scheme, or one session leaking into
/// another user's requests).
pub struct SessionRegistry {
    // A lock, not atomics: it is taken once per `context(...)` entry, never per call or span, and a
    // map of strings has no lock-free form worth its complexity here.
    owners: Mutex<HashMap<String, String>>,
    capacity: usize,
    conflicts: StripedCounter,
    /// Sessions not remembered because the map was full (counted, so the gap in checking is visible).
    untracked: StripedCounter,
}

impl SessionRegistry {
    pub fn new(capacity: usize) -> Self {
        Self {
            owners: Mutex::new(HashMap::new()),
            capacity,
            conflicts: StripedCounter::new(),
            untracked: StripedCounter::new(),
        }
    }

    /// Records that `ctx.user_id` uses `ctx.session_id`; returns the conflict if another user did.
    pub fn check(&self, ctx: &CallContext) -> Option<SessionConflict> {
        let user = ctx.user_id.as_ref()?;
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        match owners.get(&ctx.session_id) {
            Some(first) if first != user => {
                self.conflicts.inc();
                Some(SessionConflict {
                    session_id: ctx.session_id.clone(),
                    first_user: first.clone(),
                    new_user: user.clone(),
                })
            }
            Some(_) => None,
            None => {
                if owners.len() >= self.capacity {
                    self.untracked.inc();
                } else {
                    owners.insert(ctx.session_id.clone(), user.clone());
                }
                None
            }
        }
    }

    pub fn conflicts(&self) -> u64 {
        self.conflicts.get()
    }
    pub fn untracked(&self) -> u64 {
        self.untracked.get()
    }
}

/// Shared handle to a context, as spans and log events hold it.
pub type ContextRef = Arc<CallContext>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_inherits_overrides_and_generates() {
        let outer = CallContext::nested(None, None, Some("u1".into()), vec!["a".into()]);
        assert!(outer.session_generated);
        assert_eq!(outer.session_id.len(), 36);
        let inner = CallContext::nested(Some(&outer), None, None, vec!["b".into(), "a".into()]);
        assert_eq!(inner.session_id, outer.session_id);
        assert_eq!(inner.user_id.as_deref(), Some("u1"));
        assert_eq!(inner.tags, vec!["a".to_string(), "b".to_string()]);
        let other = CallContext::nested(Some(&outer), Some("s2".into()), Some("u2".into()), vec![]);
        assert_eq!(other.session_id, "s2");
        assert!(!other.session_generated);
        assert_eq!(other.user_id.as_deref(), Some("u2"));
    }

    #[test]
    fn conflicting_users_on_one_session_are_reported_and_counted() {
        let reg = SessionRegistry::new(2);
        let a = CallContext::nested(None, Some("s".into()), Some("alice".into()), vec![]);
        let b = CallContext::nested(None, Some("s".into()), Some("bob".into()), vec![]);
        assert_eq!(reg.check(&a), None);
        assert_eq!(reg.check(&a), None);
        let c = reg.check(&b).unwrap();
        assert_eq!(
            (c.first_user.as_str(), c.new_user.as_str()),
            ("alice", "bob")
        );
        assert_eq!(reg.conflicts(), 1);
        // No user: nothing to check.
        assert_eq!(
            reg.check(&CallContext::nested(None, Some("s".into()), None, vec![])),
            None
        );
        // Capacity: the third distinct session is not tracked, and that is counted.
        reg.check(&CallContext::nested(
            None,
            Some("t".into()),
            Some("x".into()),
            vec![],
        ));
        reg.check(&CallContext::nested(
            None,
            Some("v".into()),
            Some("y".into()),
            vec![],
        ));
        assert_eq!(reg.untracked(), 1);
    }
}
