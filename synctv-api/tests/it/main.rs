//! synctv-api integration tests: real servers on loopback, real HTTP and WebSocket clients,
//! real SQLite files and PostgreSQL databases. One test binary keeps link time down.

mod common;

mod http_auth;
mod ws_sync;
