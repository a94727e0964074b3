//! Where the JWT secret comes from. A configured secret always wins. A single node (SQLite,
//! no Redis) without one generates a random secret once and keeps it in the data directory,
//! so tokens survive restarts; nodes sharing a database must share a configured secret
//! (enforced by config validation). The directory is created 0700 and the file 0600
//! (`private_files`).

use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::{Error, Result};

const SECRET_FILE: &str = "jwt_secret";

pub fn resolve_jwt_secret(config: &Config) -> Result<Vec<u8>> {
    if !config.auth.jwt_secret.is_empty() {
        return Ok(config.auth.jwt_secret.as_bytes().to_vec());
    }
    let dir = &config.server.data_dir;
    crate::private_files::create_dir(dir)?;
    let path = dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {
            return Err(Error::Config(format!(
                "auth.jwt_secret: {} holds a secret shorter than 32 characters",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a JWT secret for this single node");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.server.data_dir = dir.path().join("data");
        let a = resolve_jwt_secret(&c).unwrap();
        let b = resolve_jwt_secret(&c).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn configured_secret_wins() {
        let mut c = Config::default();
        c.auth.jwt_secret = "s".repeat(40);
        assert_eq!(resolve_jwt_secret(&c).unwrap(), "s".repeat(40).into_bytes());
    }
}
