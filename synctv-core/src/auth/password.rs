//! argon2id password hashing. Hashing is CPU- and memory-heavy by design: callers run it on
//! a blocking thread (`spawn_blocking`), never on the async executor.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl PasswordHasher {
    /// argon2id with `memory_kib` of memory, 2 passes, 1 lane (OWASP's baseline at 19456 KiB).
    pub fn new(memory_kib: u32) -> Result<Self> {
        let params = Params::new(memory_kib, 2, 1, None)
            .map_err(|e| Error::Config(format!("auth.password_hash_memory_kib: {e}")))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::PasswordHash(e.to_string()))
    }

    /// Whether `password` matches `phc`. The parameters stored in `phc` are used, so hashes
    /// made with older settings keep verifying.
    pub fn verify(&self, password: &str, phc: &str) -> Result<bool> {
        let parsed = PasswordHash::new(phc).map_err(|e| Error::PasswordHash(e.to_string()))?;
        Ok(self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = PasswordHasher::new(1024).unwrap();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify("correct horse", &phc).unwrap());
        assert!(!h.verify("wrong horse", &phc).unwrap());
        assert_ne!(phc, h.hash("correct horse").unwrap(), "salts differ");
    }

    #[test]
    fn hashes_made_with_other_params_still_verify() {
        let phc = PasswordHasher::new(2048).unwrap().hash("pw").unwrap();
        assert!(
            PasswordHasher::new(1024)
                .unwrap()
                .verify("pw", &phc)
                .unwrap()
        );
    }
}
