//! The one error type of synctv-api and its HTTP mapping. Every failure a client can see is a
//! JSON body `{"error":{"code","message"}}` with a fitting status; the same code and message
//! go into WebSocket `error` frames. Causes of 5xx errors are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use synctv_core::model::PlaybackError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal with a chosen status, code and message.
    #[error("{message}")]
    Http {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// 429 with the seconds to wait in `Retry-After`.
    #[error("{message}")]
    Throttled {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Core(#[from] synctv_core::Error),
    #[error(transparent)]
    Cluster(#[from] synctv_cluster::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Error::Http {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn room_not_found() -> Self {
        Self::not_found("room_not_found", "no such room")
    }

    pub fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// The message a client may see (internal causes are replaced).
    pub fn public_message(&self) -> String {
        match self.parts() {
            (s, _) if s.is_server_error() => match self {
                Error::Http { message, .. } => message.clone(),
                _ => "internal server error".into(),
            },
            _ => self.to_string(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Http { status, code, .. } => (*status, code),
            Error::Throttled { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            Error::Core(e) | Error::Cluster(synctv_cluster::Error::Store(e)) => core_parts(e),
            Error::Cluster(synctv_cluster::Error::RoomNotFound) => {
                (StatusCode::NOT_FOUND, "room_not_found")
            }
            Error::Cluster(synctv_cluster::Error::Broker(_))
            | Error::Cluster(synctv_cluster::Error::Unavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "broker_unavailable")
            }
            Error::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

fn core_parts(e: &synctv_core::Error) -> (StatusCode, &'static str) {
    use synctv_core::Error as C;
    match e {
        C::NotFound { what } => (
            StatusCode::NOT_FOUND,
            match *what {
                "room" => "room_not_found",
                "movie" => "movie_not_found",
                "member" => "member_not_found",
                _ => "not_found",
            },
        ),
        C::Conflict { code, .. } => (StatusCode::CONFLICT, code),
        C::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        C::BadCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        C::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
        C::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
        C::Database(sqlx::Error::PoolTimedOut) => {
            (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
        }
        C::Config(_) | C::Database(_) | C::Migrate(_) | C::PasswordHash(_) | C::Io(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

impl From<PlaybackError> for Error {
    fn from(e: PlaybackError) -> Self {
        let (status, code) = match &e {
            PlaybackError::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            PlaybackError::NoCurrentMovie => (StatusCode::CONFLICT, "no_current_movie"),
            PlaybackError::MovieNotInPlaylist(_) => (StatusCode::NOT_FOUND, "movie_not_found"),
            PlaybackError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_frame"),
        };
        Error::new(status, code, e.to_string())
    }
}

/// The JSON error shape of every refusal: `{"error":{"code","message"}}`. Also written by
/// the listener itself when it refuses a connection before HTTP is parsed.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({"error": {"code": code, "message": message}})
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, ?status, "request failed");
        }
        let body = error_body(self.code(), &self.public_message());
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let secs = match &self {
                Error::Throttled {
                    retry_after_secs, ..
                } => *retry_after_secs,
                _ => 1,
            };
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_statuses_and_codes() {
        let e: Error = synctv_core::Error::not_found("movie").into();
        assert_eq!(
            (e.status_code(), e.code()),
            (StatusCode::NOT_FOUND, "movie_not_found")
        );
        let e: Error = synctv_core::Error::invalid("name", "empty").into();
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.public_message(), "invalid name: empty");
        let e: Error = synctv_cluster::Error::Store(synctv_core::Error::TokenExpired).into();
        assert_eq!(e.code(), "token_expired");
    }

    #[test]
    fn internal_causes_are_not_leaked() {
        let e: Error = synctv_core::Error::Config("secret path /etc/x".into()).into();
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.public_message(), "internal server error");
    }
}
