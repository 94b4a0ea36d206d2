//! A per-test directory under the system temp dir holding one SQLite file, removed with everything
//! in it (the `-wal` / `-shm` files too) when the test drops it, so runs leave nothing behind.

use std::path::{Path, PathBuf};

pub struct ScratchDb {
    dir: PathBuf,
    file: PathBuf,
}

impl ScratchDb {
    /// `{temp}/ferrule-{prefix}-{pid}-{name}/{file}`, empty.
    pub fn new(prefix: &str, name: &str, file: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ferrule-{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(file);
        Self { dir, file }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl std::ops::Deref for ScratchDb {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.file
    }
}

impl AsRef<Path> for ScratchDb {
    fn as_ref(&self) -> &Path {
        &self.file
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
