//! The HTTP side of the public API the tool uses: health, identities (guest or registered)
//! and room creation. Failures carry the node's JSON error so a refused setup says why.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::{Client, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

/// A member's identity: what the socket URL needs and how its chat is recognized.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: String,
    pub token: String,
}

#[derive(Deserialize)]
struct TokenReply {
    user_id: String,
    token: String,
}

#[derive(Deserialize)]
struct RoomReply {
    room_id: String,
}

#[derive(Clone)]
pub struct Api {
    http: Client,
    timeout: Duration,
}

impl Api {
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = Client::builder()
            .timeout(timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, timeout })
    }

    /// `GET /health`: the node is up (fail fast before creating anything).
    pub async fn health(&self, node: &str) -> Result<()> {
        let r = self
            .http
            .get(format!("{node}/health"))
            .send()
            .await
            .with_context(|| format!("{node} does not answer /health"))?;
        expect(r, StatusCode::OK, "GET /health").await.map(drop)
    }

    /// A guest identity (`POST /api/auth/guest`): no password hashing, no rate limit.
    pub async fn guest(&self, node: &str, name: &str) -> Result<Identity> {
        let r = self
            .http
            .post(format!("{node}/api/auth/guest"))
            .json(&json!({ "name": name }))
            .send()
            .await
            .context("POST /api/auth/guest")?;
        let t: TokenReply = expect(r, StatusCode::OK, "POST /api/auth/guest")
            .await?
            .json()
            .await?;
        Ok(Identity {
            user_id: t.user_id,
            token: t.token,
        })
    }

    /// A registered user (`POST /api/auth/register`). Register is rate limited per IP
    /// unless the node disables it: a 429 is waited out (its `Retry-After`) until the
    /// setup timeout.
    pub async fn register(&self, node: &str, username: &str) -> Result<Identity> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let r = self
                .http
                .post(format!("{node}/api/auth/register"))
                .json(&json!({ "username": username, "password": "load-tool-pw" }))
                .send()
                .await
                .context("POST /api/auth/register")?;
            if r.status() == StatusCode::TOO_MANY_REQUESTS && tokio::time::Instant::now() < deadline
            {
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait.max(1))).await;
                continue;
            }
            let t: TokenReply = expect(r, StatusCode::CREATED, "POST /api/auth/register")
                .await?
                .json()
                .await?;
            return Ok(Identity {
                user_id: t.user_id,
                token: t.token,
            });
        }
    }

    /// A hidden room (`POST /api/rooms`) owned by `owner`, so runs do not fill the public
    /// room list.
    pub async fn create_room(&self, node: &str, owner: &Identity, name: &str) -> Result<String> {
        let r = self
            .http
            .post(format!("{node}/api/rooms"))
            .bearer_auth(&owner.token)
            .json(&json!({ "name": name, "settings": { "hidden": true } }))
            .send()
            .await
            .context("POST /api/rooms")?;
        let room: RoomReply = expect(r, StatusCode::CREATED, "POST /api/rooms")
            .await?
            .json()
            .await?;
        Ok(room.room_id)
    }
}

/// The response if it has the wanted status, else an error quoting the node's answer.
async fn expect(r: Response, want: StatusCode, what: &str) -> Result<Response> {
    if r.status() == want {
        return Ok(r);
    }
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or(body);
    bail!("{what}: {status}: {reason}")
}
