//! Where structured log lines go: stderr, stdout, a size-rotated file, or a host callback (Python's
//! `logging` logger `ferrule`, a Node function). A sink receives finished, masked JSON lines.

use crate::error::{Error, Result};
use crate::telemetry::log_event::Level;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A host callback; `Err` means the host failed to take the line (counted by the logger).
pub type LogCallback = Arc<dyn Fn(Level, &str) -> std::result::Result<(), String> + Send + Sync>;

pub enum LogSink {
    Null,
    Stderr,
    Stdout,
    File(RotatingFile),
    Callback(LogCallback),
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSink::Null => f.write_str("null"),
            LogSink::Stderr => f.write_str("stderr"),
            LogSink::Stdout => f.write_str("stdout"),
            LogSink::File(r) => write!(f, "file:{}", r.path.display()),
            LogSink::Callback(_) => f.write_str("callback"),
        }
    }
}

impl LogSink {
    /// Writes one line (without its newline).
    pub fn write(&self, level: Level, line: &str) -> std::result::Result<(), String> {
        match self {
            LogSink::Null => Ok(()),
            LogSink::Stderr => {
                let mut e = std::io::stderr().lock();
                e.write_all(line.as_bytes())
                    .and_then(|_| e.write_all(b"\n"))
                    .map_err(|e| e.to_string())
            }
            LogSink::Stdout => {
                let mut o = std::io::stdout().lock();
                o.write_all(line.as_bytes())
                    .and_then(|_| o.write_all(b"\n"))
                    .and_then(|_| o.flush())
                    .map_err(|e| e.to_string())
            }
            LogSink::File(f) => f.write_line(line).map_err(|e| e.to_string()),
            LogSink::Callback(cb) => cb(level, line),
        }
    }

    /// Writes one line that already ends in `\n` (the logger renders it so), letting the stream
    /// and file sinks hand the bytes to the OS as they are, without a copy.
    pub fn write_with_newline(
        &self,
        level: Level,
        line_nl: &str,
    ) -> std::result::Result<(), String> {
        debug_assert!(line_nl.ends_with('\n'));
        let bare = line_nl.strip_suffix('\n').unwrap_or(line_nl);
        match self {
            LogSink::Null => Ok(()),
            LogSink::Stderr => std::io::stderr()
                .lock()
                .write_all(line_nl.as_bytes())
                .map_err(|e| e.to_string()),
            LogSink::Stdout => {
                let mut o = std::io::stdout().lock();
                o.write_all(line_nl.as_bytes())
                    .and_then(|_| o.flush())
                    .map_err(|e| e.to_string())
            }
            LogSink::File(f) => f.write_bytes(line_nl.as_bytes()).map_err(|e| e.to_string()),
            LogSink::Callback(cb) => cb(level, bare),
        }
    }
}

/// A log file that rotates at `max_bytes`: `app.log` → `app.log.1` → ... → `app.log.{backups}`.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    backups: u32,
    /// Only regular files rotate (not `/dev/null` or a pipe); decided once at open.
    regular: bool,
    // A lock: lines from many threads must not interleave inside one file, and rotation renames
    // files. Ferrule events are rare (retries, trips, drops), never one per successful call.
    // The third field is the line buffer, reused so a write allocates nothing.
    state: Mutex<(File, u64, Vec<u8>)>,
}

impl RotatingFile {
    pub fn open(path: impl Into<PathBuf>, max_bytes: u64, backups: u32) -> Result<Self> {
        let path = path.into();
        if max_bytes < 1024 {
            return Err(Error::out_of_range(
                "configure",
                "log_max_bytes",
                max_bytes,
                "an integer >= 1024",
            ));
        }
        let file = open_append(&path)?;
        let meta = file.metadata().ok();
        let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            path,
            max_bytes,
            backups,
            regular: meta.is_some_and(|m| m.is_file()),
            state: Mutex::new((file, size, Vec::with_capacity(512))),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn write_line(&self, line: &str) -> std::io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *st;
        let mut buf = std::mem::take(&mut st.2);
        buf.clear();
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let r = Self::write_locked(self, st, &buf);
        st.2 = buf;
        r
    }

    /// One line, newline included.
    fn write_bytes(&self, line_nl: &[u8]) -> std::io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.write_locked(&mut st, line_nl)
    }

    fn write_locked(&self, st: &mut (File, u64, Vec<u8>), line_nl: &[u8]) -> std::io::Result<()> {
        let n = line_nl.len() as u64;
        if self.regular && st.1 > 0 && st.1 + n > self.max_bytes {
            self.rotate()?;
            st.0 = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            st.1 = 0;
        }
        // One write per line, so a crash never leaves half a line buffered in memory.
        if let Err(e) = st.0.write_all(line_nl) {
            // A full disk (ENOSPC, EFBIG) can take part of the line: cut the file back to the
            // last whole line, so readers of a JSON-lines file never meet half a line.
            if self.regular {
                let _ = st.0.set_len(st.1);
            }
            return Err(e);
        }
        st.1 += n;
        Ok(())
    }

    fn rotate(&self) -> std::io::Result<()> {
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.backups == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(name(self.backups));
        for i in (1..self.backups).rev() {
            let from = name(i);
            if from.exists() {
                std::fs::rename(&from, name(i + 1))?;
            }
        }
        std::fs::rename(&self.path, name(1))
    }
}

fn open_append(path: &std::path::Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            Error::out_of_range(
                "configure",
                "log_sink",
                path.display(),
                format!("a writable file path ({e})"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_size_and_keeps_backups() {
        let dir = std::env::temp_dir().join(format!("ferrule-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("app.log");
        let f = RotatingFile::open(&p, 1024, 2).unwrap();
        let line = "x".repeat(99); // 100 bytes with the newline
        for _ in 0..35 {
            f.write_line(&line).unwrap();
        }
        let size = |q: &std::path::Path| std::fs::metadata(q).map(|m| m.len()).unwrap_or(0);
        assert!(size(&p) <= 1024);
        assert_eq!(size(&dir.join("app.log.1")), 1000);
        assert_eq!(size(&dir.join("app.log.2")), 1000);
        assert!(!dir.join("app.log.3").exists());
        assert_eq!(size(&p), 500);
        assert!(RotatingFile::open(&p, 10, 1).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
