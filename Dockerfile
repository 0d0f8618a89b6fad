# syntax=docker/dockerfile:1
# Multi-stage build of the one `ebb` binary onto a minimal, non-root base.
#   docker build -t ebb:dev .
# The builder compiles against glibc; librdkafka is built in and links the system OpenSSL, so the
# runtime image is distroless "base" (glibc, libssl, CA certificates; no shell, no package manager),
# run as UID 65532 with a read-only root filesystem (see deploy/operator.yaml).

FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CARGO_TARGET_DIR=/src/target
RUN cargo build --release --locked -p ebb \
 && strip target/release/ebb \
 && cp target/release/ebb /ebb

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /ebb /usr/local/bin/ebb
USER 65532:65532
EXPOSE 8080 8081 6443 9443
ENTRYPOINT ["/usr/local/bin/ebb"]
CMD ["operator"]
