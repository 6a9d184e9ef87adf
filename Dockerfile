# edgegw gateway image: linux/amd64 and linux/arm64 (Raspberry Pi 4/5, Jetson).
#   docker buildx build --platform linux/amd64,linux/arm64 -t edgegw .
#   docker run -v $PWD/gateway.yaml:/config/gateway.yaml:ro -v edgegw-data:/data edgegw
# Every dependency ships wheels for both architectures (ai-edge-litert, numpy,
# opencv-python-headless, aiohttp, pydantic-core); nothing is compiled here.
# Only linux/amd64 is built and run by this repository (scripts/image-check.sh, buildah on
# an x86_64 machine with no emulator): the linux/arm64 image has not been built here.
#
# BASE_IMAGE: any Debian bookworm with Python 3.11, `python3` and the venv module.
# scripts/image-check.sh passes a base it makes with mmdebstrap, as no image registry is
# reachable where it runs; users keep the official image.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY gateway ./gateway
COPY devices ./devices
COPY cloud_bridge ./cloud_bridge
COPY edgegw ./edgegw
COPY refcloud ./refcloud
COPY lab ./lab
COPY apps ./apps
RUN python3 -m venv /opt/edgegw \
 && /opt/edgegw/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM ${BASE_IMAGE}
# libgomp1: OpenMP runtime some LiteRT/OpenCV builds link against on arm64.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin edgegw \
 && mkdir -p /config /data && chown edgegw /data
COPY --from=build /opt/edgegw /opt/edgegw
ENV PATH=/opt/edgegw/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    EDGEGW_DATA_DIR=/data \
    EDGEGW_HEALTH_PORT=9108
USER edgegw
VOLUME ["/data"]
# The config must set stats.http_port (9108 by default here) for the health check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os,urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['EDGEGW_HEALTH_PORT'], timeout=4); sys.exit(0)" || exit 1
ENTRYPOINT ["edgegw"]
CMD ["run", "-c", "/config/gateway.yaml"]
