//! Request extractors whose rejections are the API's JSON errors: the authenticated caller,
//! JSON bodies (strict in shape, lenient in content type), path segments, query strings and
//! pagination.

mod strict;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use synctv_core::auth::Claims;
use synctv_core::ids::UserId;
use synctv_core::store::PageRequest;

use crate::error::Error;
use crate::state::AppState;

/// Who is calling: from a verified bearer token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub guest: bool,
    /// The client's address (behind trusted proxies), when known: for per-client limits.
    pub client: Option<std::net::IpAddr>,
    /// When the token expires (ms since the epoch): open sockets close then.
    pub expires_at_ms: u64,
}

impl From<Claims> for Actor {
    fn from(c: Claims) -> Self {
        Actor {
            user_id: c.sub,
            username: c.name,
            guest: c.guest,
            client: None,
            expires_at_ms: c.exp.saturating_mul(1000),
        }
    }
}

impl Actor {
    /// Verify a raw token.
    pub fn from_token(state: &AppState, token: Option<&str>) -> Result<Actor, Error> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::unauthorized("missing_token", "a bearer token is required"))?;
        Ok(state.tokens.verify(token)?.into())
    }
}

impl Actor {
    /// A registered user's token is only good while the account exists (tokens are not
    /// revocable otherwise, and outlive a deleted account by up to their lifetime).
    pub async fn ensure_account(&self, state: &AppState) -> Result<(), Error> {
        if self.guest || state.cluster.cached_user_exists(&self.user_id).await? {
            Ok(())
        } else {
            Err(Error::unauthorized(
                "invalid_token",
                "the account of this token no longer exists",
            ))
        }
    }
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let mut actor = Actor::from_token(state, bearer(parts))?;
        actor.client = state.proxies.of(parts);
        actor.ensure_account(state).await?;
        Ok(actor)
    }
}

/// A JSON body, read whatever the content type (clients often omit it). It must be a JSON
/// object of the right shape, at every depth ([`strict`]): an empty body or malformed JSON is
/// a 400 `invalid_json`; well-formed JSON of the wrong shape (a list, a scalar, a field of the
/// wrong type) is a 422 `invalid_body`; an oversized body is a 413 `payload_too_large`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body too large",
                )
            } else {
                Error::bad_request("invalid_body", r.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request(
                "invalid_json",
                "the request body is empty; send a JSON object",
            ));
        }
        strict::from_slice(&bytes).map(JsonBody).map_err(|e| {
            if e.is_data() {
                Error::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    e.to_string(),
                )
            } else {
                Error::bad_request("invalid_json", format!("malformed JSON: {e}"))
            }
        })
    }
}

/// Path parameters. axum's own rejection is a text/plain answer; here a segment that does
/// not decode (`%FF` is not UTF-8) is a 400 `invalid_path` in the JSON error shape.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParams(v))
            .map_err(|r| {
                if r.status().is_client_error() {
                    Error::bad_request("invalid_path", r.body_text())
                } else {
                    // A handler asking for parameters its route does not have: our bug.
                    Error::new(r.status(), "internal_error", r.body_text())
                }
            })
    }
}

/// A query string; a malformed one is a 400 `invalid_query`.
pub struct Qs<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Qs<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Qs(v))
            .map_err(|r| Error::bad_request("invalid_query", r.body_text()))
    }
}

#[derive(Deserialize)]
struct RawPaging {
    page: Option<String>,
    per_page: Option<String>,
}

/// `?page=&per_page=`: pages count from 1; `per_page` defaults to 20 and is capped at 100.
#[derive(Debug, Clone, Copy)]
pub struct Paging(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let Qs(raw) = Qs::<RawPaging>::from_request_parts(parts, state).await?;
        let num = |name: &str, v: Option<String>, default: u32| -> Result<u32, Error> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(default),
                Some(s) => s.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::bad_request(
                        "invalid_query",
                        format!("{name} must be a positive integer"),
                    )
                }),
            }
        };
        Ok(Paging(PageRequest {
            page: num("page", raw.page, 1)?,
            per_page: num("per_page", raw.per_page, 20)?.min(100),
        }))
    }
}

/// The list envelope of the contract: `{items, page, per_page, total}`.
pub fn page_json<T: serde::Serialize>(
    items: Vec<T>,
    page: PageRequest,
    total: u64,
) -> serde_json::Value {
    serde_json::json!({
        "items": items,
        "page": page.page,
        "per_page": page.per_page,
        "total": total,
    })
}

#[derive(Deserialize)]
struct PasswordQuery {
    password: Option<String>,
}

/// A room password for REST calls on password rooms: the `X-Room-Password` header or the
/// `password` query parameter.
pub struct RoomPassword(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RoomPassword {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        if let Some(v) = parts.headers.get("x-room-password") {
            let v = v.to_str().map_err(|_| {
                Error::bad_request("invalid_header", "X-Room-Password must be text")
            })?;
            return Ok(RoomPassword(Some(v.to_string())));
        }
        let Qs(q) = Qs::<PasswordQuery>::from_request_parts(parts, state).await?;
        Ok(RoomPassword(q.password))
    }
}
