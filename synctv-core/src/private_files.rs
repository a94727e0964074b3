//! Files and directories only the server's own user may read: the data directory (mode
//! 0700), the SQLite database with its `-wal`, `-shm` and `-journal` files, and the
//! generated JWT secret (mode 0600). They hold password hashes, chat, room passwords'
//! hashes and the key that signs every token; a umask of 022 would make them readable by
//! every local user.
//!
//! Files are created private rather than tightened afterwards, so there is no moment at
//! which they are readable. Files and directories that already exist are left alone,
//! except the database files, which are tightened to 0600 (an installation from before
//! this rule had them 0644): a looser data directory is reported in the log, not changed,
//! because an operator may have opened it on purpose (a backup group). Elsewhere than Unix
//! these are plain creations.

use std::io;
use std::path::Path;

/// Create `dir` (and missing parents) with mode 0700; warn if it exists and others may
/// enter it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_open(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Create an empty file with mode 0600 if `path` does not exist (SQLite accepts an empty
/// file as a new database, and gives its `-wal` and `-shm` files the database file's
/// mode); tighten it to 0600 if it exists.
pub fn create_file(path: &Path) -> io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    restrict(path)
}

/// Set an existing file to mode 0600 (nothing if it does not exist or already is).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if meta.permissions().mode() & 0o777 != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            tracing::info!(path = %path.display(), "made the file private (mode 0600)");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn warn_if_open(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %dir.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the data directory is open to other users; chmod 700 it unless that is intended"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_loose_files_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let f = dir.join("x.db");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        restrict(&dir.join("missing")).unwrap();
    }
}
