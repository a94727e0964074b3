//! synctv-api integration tests: real servers on loopback, real HTTP and WebSocket clients,
//! real SQLite files and PostgreSQL databases. One test binary keeps link time down.

mod common;

mod binary;
mod cluster;
mod content;
mod files;
mod http_auth;
mod http_playlist;
mod http_rooms;
mod identity;
mod ops;
mod persistence;
mod retention;
mod ws_backpressure;
mod ws_errors;
mod ws_resume;
mod ws_sync;
