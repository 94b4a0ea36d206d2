//! The inference log: one schema'd row per LLM call (request id, session, model, prompt template,
//! parameters, masked input/output when capture is on, tokens, cost, latency, outcome) in an
//! embedded SQLite file in WAL mode. Callers only push into a bounded queue; one background thread
//! writes batches in a transaction and applies retention (age, row count). Reads use their own
//! read-only connection, so a user's query can never write or lock out the writer.

use crate::error::{check, Error, Result};
use crate::fork_guard;
use crate::striped::StripedCounter;
use crate::telemetry::log_event::rfc3339;
use crate::telemetry::redact::Redactor;
use crate::telemetry::ring_buffer::{BoundedRing, Overflow};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params, Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const STORE: &str = "inference_log";
pub const OUTCOMES: &[&str] = &[
    "success", "error", "timeout", "rejected", "fallback", "invalid",
];

/// One LLM call. `time_unix_ns = 0` means "now" when recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InferenceRecord {
    pub time_unix_ns: u64,
    pub request_id: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub template: Option<String>,
    /// Request parameters as a JSON object text (temperature, max_tokens, ...).
    pub parameters: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub latency_seconds: Option<f64>,
    pub outcome: String,
    pub error_type: Option<String>,
    pub attempts: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Retention {
    pub max_age_seconds: Option<f64>,
    pub max_rows: Option<u64>,
}

impl Retention {
    pub fn validate(&self) -> Result<()> {
        if let Some(a) = self.max_age_seconds {
            check::finite_positive(STORE, "max_age_seconds", a)?;
        }
        if let Some(r) = self.max_rows {
            check::int_range(STORE, "max_rows", r, 1, i64::MAX as u64)?;
        }
        Ok(())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inference_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_unix_ns INTEGER NOT NULL,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    trace_id TEXT, span_id TEXT, session_id TEXT, user_id TEXT,
    model TEXT, provider TEXT, template TEXT, parameters TEXT,
    input TEXT, output TEXT,
    input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, latency_seconds REAL,
    outcome TEXT NOT NULL, error_type TEXT, attempts INTEGER
);
CREATE INDEX IF NOT EXISTS inference_log_time ON inference_log(time_unix_ns);
CREATE INDEX IF NOT EXISTS inference_log_model_time ON inference_log(model, time_unix_ns);
";

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage {
        store: STORE,
        message: e.to_string(),
    }
}

fn now_unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn open_writer(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).map_err(storage)?;
    c.busy_timeout(Duration::from_secs(5)).map_err(storage)?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(storage)?;
    c.pragma_update(None, "synchronous", "NORMAL")
        .map_err(storage)?;
    c.execute_batch(SCHEMA).map_err(storage)?;
    Ok(c)
}

#[derive(Debug, Default)]
pub struct InferenceLogStats {
    pub written: StripedCounter,
    pub write_errors: StripedCounter,
    pub deleted_by_retention: StripedCounter,
}

struct Writer {
    thread: Thread,
    flush_requested: AtomicU64,
    // A lock + condvar only for `flush()` (before queries, at shutdown), never per record.
    flush_done: Mutex<u64>,
    flushed: Condvar,
    stop: std::sync::atomic::AtomicBool,
}

pub struct InferenceLog {
    path: PathBuf,
    retention: Retention,
    queue: Arc<BoundedRing<InferenceRecord>>,
    stats: Arc<InferenceLogStats>,
    generation: AtomicU64,
    // Locks off the hot path: `writer` is touched to start/restart the writer thread and to flush;
    // `reader` serialises user queries on one read-only connection (rusqlite connections are !Sync).
    writer: Mutex<Option<Arc<Writer>>>,
    reader: Mutex<Option<Reader>>,
    /// Problems the writer thread reports (the host logs them at warning).
    last_error: Arc<Mutex<Option<String>>>,
}

impl InferenceLog {
    /// Opens (creating if needed) the database at `path`; fails now if it cannot be opened.
    pub fn open(path: impl Into<PathBuf>, retention: Retention, capacity: usize) -> Result<Self> {
        retention.validate()?;
        let path = path.into();
        {
            let _q = fork_guard::quiesce();
            drop(open_writer(&path)?); // creates the schema, proves the path is writable
        }
        Ok(Self {
            path,
            retention,
            queue: Arc::new(BoundedRing::new(capacity, Overflow::DropNewest)),
            stats: Arc::new(InferenceLogStats::default()),
            generation: AtomicU64::new(0),
            writer: Mutex::new(None),
            reader: Mutex::new(None),
            last_error: Arc::new(Mutex::new(None)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Masks every free-text field; drops input/output unless content capture is on.
    pub fn prepare(
        mut rec: InferenceRecord,
        redactor: &Redactor,
        capture: bool,
    ) -> InferenceRecord {
        if capture {
            rec.input = rec.input.map(|s| redactor.redact(&s).into_owned());
            rec.output = rec.output.map(|s| redactor.redact(&s).into_owned());
        } else {
            rec.input = None;
            rec.output = None;
        }
        // Every column a caller fills with its own text: an email as a user or session id, a key
        // pasted into a template name, a secret inside an error type all get masked here.
        let mask = |v: Option<String>| v.map(|s| redactor.redact(&s).into_owned());
        rec.parameters = mask(rec.parameters);
        rec.user_id = mask(rec.user_id);
        rec.session_id = mask(rec.session_id);
        rec.provider = mask(rec.provider);
        rec.template = mask(rec.template);
        rec.error_type = mask(rec.error_type);
        rec.model = mask(rec.model);
        rec
    }

    pub fn validate(rec: &InferenceRecord) -> Result<()> {
        if !OUTCOMES.contains(&rec.outcome.as_str()) {
            return Err(Error::out_of_range(
                STORE,
                "outcome",
                &rec.outcome,
                format!("one of {}", OUTCOMES.join(", ")),
            ));
        }
        Ok(())
    }

    /// Queues a record; never blocks. Returns false when the queue was full (the record is dropped
    /// and counted).
    pub fn record(&self, mut rec: InferenceRecord) -> bool {
        if rec.time_unix_ns == 0 {
            rec.time_unix_ns = now_unix_ns();
        }
        let g = fork_guard::generation() + 1;
        if self.generation.load(Ordering::Acquire) != g {
            self.start_writer(g);
        }
        self.queue.push(rec)
    }

    fn start_writer(&self, g: u64) {
        // Every lock of this log is taken inside the fork gate, so a child never inherits one
        // held by a parent thread (see `fork_guard::quiesce`).
        let _q = fork_guard::quiesce();
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let running = self.generation.load(Ordering::Acquire);
        if running == g {
            return;
        }
        if running != 0 {
            // Forked child: the parent's writer thread and its connection are not ours to use.
            if let Some(old) = w.take() {
                std::mem::forget(old);
            }
            let mut r = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = r.take() {
                std::mem::forget(c);
            }
            while self.queue.pop().is_some() {}
        }
        let conn = match open_writer(&self.path) {
            Ok(c) => c,
            Err(e) => {
                self.report(e.to_string());
                return;
            }
        };
        let queue = self.queue.clone();
        let stats = self.stats.clone();
        let retention = self.retention;
        let errors = self.last_error.clone();
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Writer>>();
        let spawned = thread::Builder::new()
            .name("ferrule-inference-log".into())
            .spawn(move || {
                let Ok(me) = rx.recv() else { return };
                write_loop(conn, queue, stats, retention, errors, me)
            });
        match spawned {
            Ok(h) => {
                let writer = Arc::new(Writer {
                    thread: h.thread().clone(),
                    flush_requested: AtomicU64::new(0),
                    flush_done: Mutex::new(0),
                    flushed: Condvar::new(),
                    stop: std::sync::atomic::AtomicBool::new(false),
                });
                let _ = tx.send(writer.clone());
                *w = Some(writer);
                self.generation.store(g, Ordering::Release);
            }
            Err(e) => self.report(format!("could not start the writer thread: {e}")),
        }
    }

    fn report(&self, msg: String) {
        let _q = fork_guard::quiesce();
        self.stats.write_errors.inc();
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(msg);
    }

    /// Takes the last writer problem, if any, so the host can log it.
    pub fn take_error(&self) -> Option<String> {
        let _q = fork_guard::quiesce();
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Waits up to `timeout` until every record queued before this call is written.
    pub fn flush(&self, timeout: Duration) -> bool {
        // The gate only around the lock: waiting for the writer while holding it would block a
        // fork that the writer (which takes the gate per batch) waits behind.
        let w = {
            let _q = fork_guard::quiesce();
            self.writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let Some(w) =
            w.filter(|_| self.generation.load(Ordering::Acquire) == fork_guard::generation() + 1)
        else {
            return self.queue.is_empty();
        };
        let want = w.flush_requested.fetch_add(1, Ordering::SeqCst) + 1;
        w.thread.unpark();
        let deadline = Instant::now() + timeout;
        let mut done = w.flush_done.lock().unwrap_or_else(|p| p.into_inner());
        while *done < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = w
                .flushed
                .wait_timeout(done, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Flushes, then stops the writer thread (it restarts on the next record).
    pub fn close(&self) {
        self.flush(Duration::from_secs(5));
        let _q = fork_guard::quiesce();
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = w {
            w.stop.store(true, Ordering::SeqCst);
            w.thread.unpark();
        }
        self.generation.store(0, Ordering::Release);
        *self.reader.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Runs a read-only SQL query with positional parameters, after flushing queued records, and
    /// stops it after `QUERY_TIMEOUT`. Returns column names and rows.
    pub fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>)> {
        self.query_within(sql, params, QUERY_TIMEOUT)
    }

    /// `query` with its own time limit. One `SELECT` (or `WITH ... SELECT`) only: the reader
    /// connection is opened read-only and an authorizer refuses anything but reading tables and
    /// calling functions, so `VACUUM INTO`, `ATTACH`, `PRAGMA` writes and transaction control
    /// (`BEGIN` would pin later queries to a stale snapshot) fail with a clear error. A statement
    /// still running at the deadline is interrupted (a runaway recursive CTE), and the error says so.
    pub fn query_within(
        &self,
        sql: &str,
        params: &[SqlValue],
        timeout: Duration,
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>)> {
        self.flush(Duration::from_secs(5));
        let _q = fork_guard::quiesce();
        let mut guard = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open_reader(&self.path)?);
        }
        let reader = guard.as_mut().expect("opened above");
        let deadline = Instant::now() + timeout;
        *reader.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
        let r = run_query(&reader.conn, sql, params, timeout);
        *reader.deadline.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if !reader.conn.is_autocommit() {
            // Unreachable with the authorizer in place; kept so no query can leave a
            // transaction (and its snapshot) open for the next one.
            let _ = reader.conn.execute_batch("ROLLBACK");
        }
        r
    }

    /// Records filtered by model, start time (Unix seconds) and outcome, newest first.
    pub fn records(
        &self,
        model: Option<&str>,
        since_unix_seconds: Option<f64>,
        outcome: Option<&str>,
        limit: u64,
    ) -> Result<(Vec<String>, Vec<Vec<SqlValue>>)> {
        let mut sql = String::from("SELECT * FROM inference_log WHERE 1=1");
        let mut p: Vec<SqlValue> = Vec::new();
        if let Some(m) = model {
            sql.push_str(" AND model = ?");
            p.push(SqlValue::Text(m.into()));
        }
        if let Some(s) = since_unix_seconds {
            check::finite_non_negative(STORE, "since", s)?;
            sql.push_str(" AND time_unix_ns >= ?");
            p.push(SqlValue::Integer((s * 1e9) as i64));
        }
        if let Some(o) = outcome {
            sql.push_str(" AND outcome = ?");
            p.push(SqlValue::Text(o.into()));
        }
        sql.push_str(" ORDER BY time_unix_ns DESC, id DESC LIMIT ?");
        p.push(SqlValue::Integer(limit.min(i64::MAX as u64) as i64));
        self.query(&sql, &p)
    }

    /// Applies retention now, as of `now_unix_ns`; returns the rows deleted. The writer calls this
    /// periodically; tests call it with a chosen time.
    pub fn apply_retention(&self, now_unix_ns: u64) -> Result<u64> {
        self.flush(Duration::from_secs(5));
        let _q = fork_guard::quiesce();
        let c = open_writer(&self.path)?;
        let n = retain(&c, &self.retention, now_unix_ns).map_err(storage)?;
        self.stats.deleted_by_retention.add(n);
        Ok(n)
    }

    pub fn stats(&self) -> InferenceLogSnapshot {
        InferenceLogSnapshot {
            queued: self.queue.len() as u64,
            dropped: self.queue.lost(),
            written: self.stats.written.get(),
            write_errors: self.stats.write_errors.get(),
            deleted_by_retention: self.stats.deleted_by_retention.get(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceLogSnapshot {
    pub queued: u64,
    pub dropped: u64,
    pub written: u64,
    pub write_errors: u64,
    pub deleted_by_retention: u64,
}

/// The default time limit of `InferenceLog::query`.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many SQLite VM steps run between two deadline checks (a few microseconds of work).
const PROGRESS_STEPS: i32 = 10_000;

struct Reader {
    conn: Connection,
    /// When the running statement must stop; read by the progress handler.
    deadline: Arc<Mutex<Option<Instant>>>,
}

fn open_reader(path: &Path) -> Result<Reader> {
    let mut c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(storage)?;
    c.busy_timeout(Duration::from_secs(5)).map_err(storage)?;
    c.authorizer(Some(|ctx: AuthContext<'_>| match ctx.action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        _ => Authorization::Deny,
    }))
    .map_err(storage)?;
    let deadline: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let d2 = deadline.clone();
    c.progress_handler(
        PROGRESS_STEPS,
        Some(move || {
            d2.lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|d| Instant::now() >= d)
        }),
    )
    .map_err(storage)?;
    Ok(Reader { conn: c, deadline })
}

/// A refused statement is a storage error, like every other failed query: the store refused it.
fn query_refused(sql: &str, why: &str) -> Error {
    let mut shown: String = sql.chars().take(80).collect();
    if shown.len() < sql.len() {
        shown.push('…');
    }
    Error::Storage {
        store: STORE,
        message: format!("query refused: sql={shown:?}: only a read-only SELECT runs here ({why})"),
    }
}

fn refused(sql: &str, e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::AuthorizationForStatementDenied) {
        return query_refused(
            sql,
            "it would write, attach, change settings or open a transaction",
        );
    }
    storage(e)
}

fn interrupted(e: rusqlite::Error, timeout: Duration) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
        return Error::Storage {
            store: STORE,
            message: format!(
                "query stopped after its time limit of {:.3} s (interrupted)",
                timeout.as_secs_f64()
            ),
        };
    }
    storage(e)
}

fn run_query(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    timeout: Duration,
) -> Result<(Vec<String>, Vec<Vec<SqlValue>>)> {
    let mut stmt = conn.prepare(sql).map_err(|e| refused(sql, e))?;
    if !stmt.readonly() {
        return Err(query_refused(
            sql,
            "it would write; only SELECT queries run here",
        ));
    }
    let cols: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let n = cols.len();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(storage)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| interrupted(e, timeout))? {
        let mut r = Vec::with_capacity(n);
        for i in 0..n {
            r.push(match row.get_ref(i).map_err(storage)? {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(v) => SqlValue::Integer(v),
                ValueRef::Real(v) => SqlValue::Real(v),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        out.push(r);
    }
    Ok((cols, out))
}

fn retain(c: &Connection, r: &Retention, now_unix_ns: u64) -> rusqlite::Result<u64> {
    let mut n = 0;
    if let Some(age) = r.max_age_seconds {
        let cutoff = now_unix_ns.saturating_sub((age * 1e9) as u64) as i64;
        n += c.execute(
            "DELETE FROM inference_log WHERE time_unix_ns < ?",
            params![cutoff],
        )? as u64;
    }
    if let Some(max) = r.max_rows {
        n += c.execute(
            "DELETE FROM inference_log WHERE id NOT IN \
             (SELECT id FROM inference_log ORDER BY time_unix_ns DESC, id DESC LIMIT ?)",
            params![max as i64],
        )? as u64;
    }
    Ok(n)
}

fn insert(c: &mut Connection, batch: &[InferenceRecord]) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO inference_log (time_unix_ns, time, request_id, trace_id, span_id, \
             session_id, user_id, model, provider, template, parameters, input, output, \
             input_tokens, output_tokens, cost_usd, latency_seconds, outcome, error_type, attempts) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )?;
        for r in batch {
            st.execute(params![
                r.time_unix_ns as i64,
                rfc3339(r.time_unix_ns),
                r.request_id,
                r.trace_id,
                r.span_id,
                r.session_id,
                r.user_id,
                r.model,
                r.provider,
                r.template,
                r.parameters,
                r.input,
                r.output,
                r.input_tokens,
                r.output_tokens,
                r.cost_usd,
                r.latency_seconds,
                r.outcome,
                r.error_type,
                r.attempts,
            ])?;
        }
    }
    tx.commit()
}

fn write_loop(
    mut conn: Connection,
    queue: Arc<BoundedRing<InferenceRecord>>,
    stats: Arc<InferenceLogStats>,
    retention: Retention,
    errors: Arc<Mutex<Option<String>>>,
    me: Arc<Writer>,
) {
    let mut last_retention = Instant::now() - Duration::from_secs(3600);
    loop {
        let stopping = me.stop.load(Ordering::SeqCst);
        let target = me.flush_requested.load(Ordering::SeqCst);
        loop {
            let batch = queue.drain(512);
            if batch.is_empty() {
                break;
            }
            let _q = fork_guard::quiesce();
            match insert(&mut conn, &batch) {
                Ok(()) => stats.written.add(batch.len() as u64),
                Err(e) => {
                    stats.write_errors.inc();
                    *errors.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("dropped {} records: {e}", batch.len()));
                }
            }
        }
        if (retention.max_age_seconds.is_some() || retention.max_rows.is_some())
            && last_retention.elapsed() >= Duration::from_secs(10)
        {
            last_retention = Instant::now();
            let _q = fork_guard::quiesce();
            match retain(&conn, &retention, now_unix_ns()) {
                Ok(n) => stats.deleted_by_retention.add(n),
                Err(e) => {
                    stats.write_errors.inc();
                    *errors.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("retention failed: {e}"));
                }
            }
        }
        {
            let mut done = me.flush_done.lock().unwrap_or_else(|p| p.into_inner());
            if *done < target {
                *done = target;
                me.flushed.notify_all();
            }
        }
        if stopping {
            return;
        }
        if me.flush_requested.load(Ordering::SeqCst) == target {
            thread::park_timeout(Duration::from_millis(200));
        }
    }
}
