# syntax=docker/dockerfile:1
# One image for every paymsa binary. compose.yaml builds it once per service with
# `--build-arg SERVICE=<binary>`; the builder stage and the layer holding the binaries are the
# same for all of them, so the workspace compiles once.
#   docker build --build-arg SERVICE=order-service -t paymsa/order-service .

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
 && mkdir -p /out \
 && find target/release -maxdepth 1 -type f -executable -exec cp {} /out/ \;

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home paymsa
COPY --from=builder /out/ /usr/local/bin/
ARG SERVICE=""
ENV SERVICE=${SERVICE} \
    HOST=0.0.0.0 \
    LOG_FORMAT=json
USER paymsa
# exec: the service itself is PID 1 and gets SIGTERM from `docker stop` (graceful shutdown).
ENTRYPOINT ["/bin/sh", "-c", "[ -n \"$SERVICE\" ] && [ -x \"/usr/local/bin/$SERVICE\" ] || { echo \"set SERVICE to one of: $(ls /usr/local/bin | tr '\\n' ' ')\" >&2; exit 2; }; exec \"/usr/local/bin/$SERVICE\" \"$@\"", "--"]
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=12 \
    CMD curl -fsS "http://127.0.0.1:${PORT:-8080}/health/ready" >/dev/null || exit 1
