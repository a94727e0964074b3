//! `/api/auth`: register, login, guest. Register and login are rate limited per client IP
//! (argon2 makes them expensive, and login is the brute-force target). A username may not
//! look like a taken one, and a guest name may not look like any registered username
//! (see `service::identity`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use synctv_core::ids::UserId;
use synctv_core::model::validate;

use crate::client_addr::ClientIp;
use crate::error::{Error, Result};
use crate::extract::JsonBody;
use crate::service::{hash_password, identity, verify_password};
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/me", axum::routing::delete(delete_account))
        .route_layer(middleware::from_fn_with_state(state, rate_limit));
    Router::new()
        .merge(limited)
        .route("/api/auth/guest", post(guest))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn register(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response> {
    let username = validate::username("username", &body.username)?;
    validate::password(&body.password, state.config.auth.min_password_len)?;
    let phc = hash_password(&state, body.password).await?;
    let user_id = state.store.create_user(&username, &phc).await?;
    let token = state.tokens.issue(&user_id, &username, false)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user_id": user_id, "token": token})),
    )
        .into_response())
}

async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Json<serde_json::Value>> {
    let user = state.store.find_user_by_name(&body.username).await?;
    // Verify against a real hash even for unknown names, so timing does not reveal them.
    let (phc, user) = match user {
        Some(u) => (u.password_hash.clone(), Some(u)),
        None => (dummy_hash(&state).await?, None),
    };
    let ok = verify_password(&state, body.password, phc).await?;
    match user {
        Some(u) if ok => {
            let token = state.tokens.issue(&u.user_id, &u.username, false)?;
            Ok(Json(json!({"user_id": u.user_id, "token": token})))
        }
        _ => Err(synctv_core::Error::BadCredentials.into()),
    }
}

#[derive(Deserialize)]
struct Confirm {
    password: String,
}

/// `DELETE /api/auth/me` `{password}`: delete the caller's account. Its memberships go, its
/// open sockets close with 4007 on every node, and its tokens stop working at once.
async fn delete_account(
    State(state): State<AppState>,
    actor: crate::extract::Actor,
    JsonBody(body): JsonBody<Confirm>,
) -> Result<StatusCode> {
    if actor.guest {
        return Err(Error::forbidden(
            "guest identities have no account to delete",
        ));
    }
    let user = state
        .store
        .find_user_by_name(&actor.username)
        .await?
        .filter(|u| u.user_id == actor.user_id);
    let Some(user) = user else {
        return Err(synctv_core::Error::BadCredentials.into());
    };
    if !verify_password(&state, body.password, user.password_hash).await? {
        return Err(synctv_core::Error::BadCredentials.into());
    }
    state.store.delete_user(&actor.user_id).await?;
    state.cluster.user_deleted(&actor.user_id).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn dummy_hash(state: &AppState) -> Result<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| hash_password(state, "synctv-dummy-password".into()))
        .await
        .cloned()
}

#[derive(Deserialize)]
struct GuestRequest {
    #[serde(default)]
    name: Option<String>,
}

async fn guest(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<GuestRequest>,
) -> Result<Json<serde_json::Value>> {
    state.throttles.guest(client)?;
    let user_id = UserId::generate();
    let name = match body.name {
        Some(n) => {
            identity::require_guest_name(&state, "name", &n).await?;
            n
        }
        None => format!("guest-{}", &user_id.as_str()[user_id.as_str().len() - 6..]),
    };
    let token = state.tokens.issue(&user_id, &name, true)?;
    Ok(Json(json!({"user_id": user_id, "token": token})))
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| state.proxies.client(c.0.ip(), req.headers()));
    if let (Some(limiter), Some(ip)) = (&state.auth_limiter, peer)
        && limiter.check_key(&ip).is_err()
    {
        return Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many authentication attempts; retry shortly",
        )
        .into_response();
    }
    next.run(req).await
}
