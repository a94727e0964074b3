//! Authentication: signed bearer tokens (HS256 JWTs) and password hashing (argon2id).
//! Authorization (who may do what in a room) is `model::role`; this module only answers
//! "who is this?".

mod jwt;
mod password;
mod secret;

pub use jwt::{Claims, TokenKeys};
pub use password::PasswordHasher;
pub use secret::resolve_jwt_secret;
