//! HS256 tokens. Claims carry the user id, display name and whether the identity is a guest;
//! nothing else is trusted from a token. Expiry is always validated (no leeway beyond 5 s).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: UserId,
    /// The user's name at the time the token was issued.
    pub name: String,
    /// Guest identities are not stored; rooms decide whether they may join.
    #[serde(default)]
    pub guest: bool,
    pub iat: u64,
    pub exp: u64,
}

/// Signing and verifying keys derived from the configured secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    /// A token for `user` valid for the configured lifetime.
    pub fn issue(&self, user: &UserId, name: &str, guest: bool) -> Result<String> {
        let now = crate::time::now_ms() / 1000;
        self.encode(&Claims {
            sub: user.clone(),
            name: name.to_string(),
            guest,
            iat: now,
            exp: now + self.ttl_secs,
        })
    }

    /// Sign arbitrary claims (tests use this to mint expired tokens).
    pub fn encode(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|_| Error::InvalidToken)
    }

    pub fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Error::TokenExpired,
                _ => Error::InvalidToken,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let t = keys.issue(&UserId::from("u1"), "alice", false).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!(c.sub, UserId::from("u1"));
        assert_eq!(c.name, "alice");
        assert!(!c.guest);
    }

    #[test]
    fn forged_and_foreign_tokens_are_invalid() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let other = TokenKeys::new(b"another-secret-another-secret-xx", 3600);
        let t = other.issue(&UserId::from("u1"), "alice", false).unwrap();
        assert!(matches!(keys.verify(&t), Err(Error::InvalidToken)));
        assert!(matches!(keys.verify("garbage"), Err(Error::InvalidToken)));
        let good = keys.issue(&UserId::from("u1"), "alice", false).unwrap();
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(keys.verify(&tampered), Err(Error::InvalidToken)));
    }

    #[test]
    fn expired_tokens_say_so() {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let t = keys
            .encode(&Claims {
                sub: UserId::from("u"),
                name: "n".into(),
                guest: false,
                iat: 1,
                exp: 2,
            })
            .unwrap();
        assert!(matches!(keys.verify(&t), Err(Error::TokenExpired)));
    }
}
