//! The one error type of synctv-core. Callers (the API) map each variant to a status code and
//! a stable snake_case code; variants carry enough to say what went wrong without leaking
//! internals (database causes are logged by the API, never sent to clients).

/// `Result` with synctv-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid; the message names the key.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A referenced entity does not exist (`what` is e.g. "room", "movie").
    #[error("{what} not found")]
    NotFound { what: &'static str },

    /// A uniqueness rule was violated (e.g. a taken username).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    /// Client input failed validation; `field` names the offending field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// Credentials (username/password) did not match.
    #[error("invalid username or password")]
    BadCredentials,

    /// A bearer token is malformed, forged or signed with another secret.
    #[error("invalid token")]
    InvalidToken,

    /// A bearer token was valid but has expired.
    #[error("token expired")]
    TokenExpired,

    /// Hashing or verifying a password failed for a reason other than a mismatch.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),

    /// An I/O error outside the database (e.g. the data directory).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub fn not_found(what: &'static str) -> Self {
        Error::NotFound { what }
    }
}
