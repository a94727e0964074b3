//! synctv-api integration tests: real servers on loopback, real HTTP and WebSocket clients,
//! real SQLite files and PostgreSQL databases. One test binary keeps link time down.

mod common;

mod access;
mod binary;
mod browser;
mod cluster;
mod content;
mod deploy;
mod files;
mod hardening_http;
mod hardening_input;
mod http_auth;
mod http_playlist;
mod http_rooms;
mod identity;
mod limits;
mod ops;
mod persistence;
mod retention;
mod throttle;
mod web;
mod ws_backpressure;
mod ws_errors;
mod ws_resume;
mod ws_sync;
