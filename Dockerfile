# syntax=docker/dockerfile:1
# The synctv server image: `docker build -t synctv .` at the repository root.
#
# Two stages: the builder compiles the release binary on the Rust image of the same Debian
# release as the runtime stage (bookworm), so the binary's glibc is the one it runs on; the
# runtime stage is debian-slim with the binary, config.yaml, CA certificates and curl (for
# the HEALTHCHECK), running as an unprivileged user.

# The toolchain the test suite runs on. (At least 1.94, which sqlx 0.9 needs.)
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# Dependency caching: the cargo registry and the target directory live in BuildKit cache
# mounts, so a rebuild after a source change recompiles only the workspace crates, not the
# few hundred dependencies. (The usual alternative, a first build against stub sources,
# needs a stub for every target of all five workspace members, benches included, and breaks
# whenever one is added.) The cache is not part of any layer, so the binary is copied out
# in the same step. --locked: exactly the versions of Cargo.lock.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p synctv-api --bin synctv \
 && install -m 0755 target/release/synctv /usr/local/bin/synctv

FROM debian:${DEBIAN_RELEASE}-slim
# Unpinned on purpose: the release's current packages, security fixes included.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so Kubernetes' runAsNonRoot can check it and volumes can be chowned
# to it. /app/data is the node-local directory (server.data_dir): the SQLite database of a
# single node lives there, so mount a volume on it when running one node alone.
RUN groupadd --system --gid 10001 synctv \
 && useradd --system --uid 10001 --gid synctv --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin synctv \
 && mkdir -p /app/data \
 && chown synctv:synctv /app/data
WORKDIR /app
COPY --from=builder /usr/local/bin/synctv /usr/local/bin/synctv
COPY config.yaml /app/config.yaml
# config.yaml's default bind (127.0.0.1) would be unreachable from outside the container.
# The environment overrides the file, as every SYNCTV__SECTION__KEY does.
ENV SYNCTV__SERVER__BIND=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080
# synctv drains on SIGTERM (server.shutdown_drain_secs, 10s by default) and exits 0. Give it
# longer than the drain before the kill: `docker stop -t 30`, compose's stop_grace_period,
# Kubernetes' terminationGracePeriodSeconds. As PID 1 it needs no init: it handles SIGTERM
# and SIGINT itself and starts no child processes.
STOPSIGNAL SIGTERM
# Liveness only: /health answers while the process serves HTTP. Readiness (/ready: database
# reachable, not draining) is for the orchestrator's own probes, see docker-compose.yml and
# k8s/. The port is the one of SYNCTV__SERVER__BIND above.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "--fail", "--silent", "--output", "/dev/null", "--max-time", "2", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/local/bin/synctv"]
CMD ["--config", "/app/config.yaml"]
