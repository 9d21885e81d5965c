# switchboard container image.
#
#   docker build -t switchboard .
#   docker run -d -p 8887:8887 -v switchboard-data:/var/lib/switchboard \
#     -e SWITCHBOARD_ADMIN_PASSWORD=... switchboard
#
# Runs as an unprivileged user (uid 10001) with the event log, keys and
# snapshots in the /var/lib/switchboard volume. Kubernetes: mount a
# PersistentVolume there, use /healthz (liveness) and /readyz (readiness);
# the SWITCHBOARD_PORT/SERVICE_HOST variables Kubernetes injects for a
# Service named `switchboard` are logged as ignored, not fatal.
# Checked by scripts/check-deploy.sh (no Docker engine is needed for that).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin switchboard

FROM debian:bookworm-slim
# ca-certificates: webhook receivers behind HTTPS (the OS trust store).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/switchboard --shell /usr/sbin/nologin switchboard \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/switchboard
COPY --from=build /src/target/release/switchboard /usr/local/bin/switchboard
ENV SWITCHBOARD_DATA_DIR=/var/lib/switchboard \
    SWITCHBOARD_LISTEN=0.0.0.0:8887 \
    SWITCHBOARD_LOG_FORMAT=json
VOLUME ["/var/lib/switchboard"]
WORKDIR /var/lib/switchboard
USER 10001:10001
EXPOSE 8887
# SIGTERM: in-flight requests finish (shutdown_grace_secs), the log is
# flushed. Give `docker stop` more than that: `docker stop -t 45`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
