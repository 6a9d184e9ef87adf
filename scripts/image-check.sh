#!/usr/bin/env bash
# Build the edgegw container image on this machine and run it (issue 12).
#
# No image registry is reachable here, so the base is made locally: mmdebstrap writes a
# Debian bookworm rootfs with python3.11, python3-venv and ca-certificates, and buildah
# imports it as localhost/edgegw-base:bookworm. The Dockerfile is built unchanged with
# `buildah bud --isolation chroot --build-arg BASE_IMAGE=...` (users keep the default,
# the official python:3.11-slim-bookworm). `podman run` does not work here, so the image
# runs through `buildah run --isolation chroot`: the image's own USER, ENV and ENTRYPOINT/CMD,
# the host's network (loopback), and host PIDs (so the process's uid is read from /proc).
#
# Checks: image size (limit $IMAGE_MAX_MB, default 1024); USER is uid 10001; `edgegw
# --version` matches pyproject.toml; the bundled model ships in the image; `edgegw validate`
# on every file in configs/; then a gateway (the image's ENTRYPOINT + CMD) against a
# Mosquitto started here on loopback, with stats.http_port set: /healthz answers 200, the
# image's HEALTHCHECK command exits 0, the process runs as uid 10001, a JPEG frame goes
# through the bundled detector and a sensor reading comes back as a state message, and
# SIGTERM stops it with exit code 0.
#
# Needs root (apt-get, mmdebstrap, buildah) and a few minutes. Not part of the test suite.
#   sudo scripts/image-check.sh               # everything, base included
#   sudo scripts/image-check.sh --reuse-base  # keep localhost/edgegw-base:bookworm if present
# Leaves the images localhost/edgegw-base:bookworm and localhost/edgegw:check behind
# (`buildah rmi localhost/edgegw:check localhost/edgegw-base:bookworm` removes them).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
REPO=$PWD

BASE_IMAGE=localhost/edgegw-base:bookworm
IMAGE=localhost/edgegw:check
IMAGE_MAX_MB=${IMAGE_MAX_MB:-1024}
REUSE_BASE=0
for arg in "$@"; do
    case $arg in
        --reuse-base) REUSE_BASE=1 ;;
        -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

WORK=$(mktemp -d /var/tmp/edgegw-image-check.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/log
RESULTS=()
FAILED=0
CTR=""
MOSQ_PID=""
RUN_PID=""

note() { printf '%s\n' "$*" | tee -a "$LOG"; }
pass() { RESULTS+=("PASS  $1"); note "PASS  $1"; }
fail() { RESULTS+=("FAIL  $1"); note "FAIL  $1"; FAILED=$((FAILED + 1)); }

summary() {
    echo
    echo "== edgegw image check: summary"
    printf '%s\n' "${RESULTS[@]}"
    local total=${#RESULTS[@]}
    echo "checks: $((total - FAILED)) passed, $FAILED failed (full log: $LOG)"
}

cleanup() {
    if [[ -n $RUN_PID ]] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null
        wait "$RUN_PID" 2>/dev/null
    fi
    if [[ -n $MOSQ_PID ]] && kill -0 "$MOSQ_PID" 2>/dev/null; then
        kill -TERM "$MOSQ_PID" 2>/dev/null
        wait "$MOSQ_PID" 2>/dev/null
    fi
    if [[ -n $CTR ]]; then
        buildah rm "$CTR" >/dev/null 2>&1
    fi
}
trap cleanup EXIT

# Stop here: a step the checks depend on failed.
abort() {
    fail "$1"
    summary
    exit 1
}

# A TCP port on 127.0.0.1 that nothing listens on, outside the kernel's ephemeral range.
free_port() {
    python3 - <<'EOF'
import random
import socket

for _ in range(200):
    port = random.randint(20000, 29999)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    raise SystemExit("no free port")
EOF
}

# Every descendant of a pid (the processes `buildah run` started).
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1"); do
        echo "$child"
        descendants "$child"
    done
}

# The gateway's own process among them: argv[0] is the venv's python, not buildah's wrappers.
gateway_pid() {
    local pid argv0
    for pid in $(descendants "$1"); do
        argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)
        if [[ $argv0 == /opt/edgegw/bin/python* ]]; then
            echo "$pid"
            return 0
        fi
    done
    return 1
}

in_image() { buildah run --isolation chroot "$@"; }

[[ $(id -u) == 0 ]] || { echo "image-check.sh needs root (apt-get, mmdebstrap, buildah)" >&2; exit 2; }
note "== edgegw image check ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), work dir $WORK)"

# --- tools ------------------------------------------------------------------------------
note "== installing buildah, mmdebstrap, mosquitto, mosquitto-clients, curl"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    buildah mmdebstrap mosquitto mosquitto-clients curl ca-certificates; } >>"$LOG" 2>&1; then
    abort "apt-get install of the tools (see $LOG)"
fi
note "buildah $(buildah --version | awk '{print $3}'), mmdebstrap $(mmdebstrap --version | awk '{print $2}')"

# --- base image -------------------------------------------------------------------------
if [[ $REUSE_BASE == 1 ]] && buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    note "== base: reusing $BASE_IMAGE"
else
    note "== base: mmdebstrap bookworm (python3.11, python3-venv, ca-certificates) -> $BASE_IMAGE"
    # As the official Debian images do: apt leaves no package caches or translations behind
    # (the Dockerfile's apt-get relies on it), no docs or man pages. Not Dir::Cache::pkgcache "":
    # with it, mmdebstrap's own cleanup misses the 70 MB of caches it made.
    cat >"$WORK/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Acquire::Languages "none";
EOF
    start=$SECONDS
    if ! mmdebstrap --variant=minbase --include=python3.11,python3-venv,ca-certificates \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook="copy-in $WORK/docker-clean /etc/apt/apt.conf.d" \
        bookworm "$WORK/base.tar" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" >>"$LOG" 2>&1; then
        abort "mmdebstrap of the base (see $LOG)"
    fi
    base_ctr=$(buildah from scratch) || abort "buildah from scratch"
    if ! { buildah add "$base_ctr" "$WORK/base.tar" / &&
        buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            --env LANG=C.UTF-8 --cmd python3 "$base_ctr" &&
        buildah commit --rm "$base_ctr" "$BASE_IMAGE"; } >>"$LOG" 2>&1; then
        buildah rm "$base_ctr" >/dev/null 2>&1
        abort "importing the base rootfs into buildah (see $LOG)"
    fi
    rm -f "$WORK/base.tar"
    note "base made in $((SECONDS - start)) s"
fi

# --- build ------------------------------------------------------------------------------
# pip inside the build reaches the package index with this machine's CA bundle and pip
# config, mounted read-only for the RUN steps only; nothing of them stays in the image.
mounts=()
[[ -d /etc/ssl/certs ]] && mounts+=(-v /etc/ssl/certs:/etc/ssl/certs:ro)
[[ -f /etc/pip.conf ]] && mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
note "== build: buildah bud --isolation chroot --format docker --build-arg BASE_IMAGE=$BASE_IMAGE ${mounts[*]} -t $IMAGE ."
start=$SECONDS
if ! nice -n 10 buildah bud --isolation chroot --format docker --build-arg BASE_IMAGE="$BASE_IMAGE" \
    "${mounts[@]}" -t "$IMAGE" "$REPO" >>"$LOG" 2>&1; then
    abort "buildah bud (see $LOG)"
fi
note "built in $((SECONDS - start)) s"

CTR=$(buildah from "$IMAGE" 2>>"$LOG") || abort "buildah from $IMAGE"
buildah inspect --type image "$IMAGE" >"$WORK/image.json"
image_field() { python3 -c "import json,sys; c=json.load(open('$WORK/image.json'))['Docker']['config']; print(json.dumps(c.get('$1')))"; }

# --- checks: the image ------------------------------------------------------------------
size_h=$(buildah images --format '{{.Size}}' "$IMAGE" | head -n 1)
base_h=$(buildah images --format '{{.Size}}' "$BASE_IMAGE" | head -n 1)
size_mb=$(python3 -c "
v, u = '$size_h'.split()
print(round(float(v) * {'B': 1e-6, 'kB': 1e-3, 'MB': 1, 'GB': 1e3}[u]))")
if ((size_mb <= IMAGE_MAX_MB)); then
    pass "image size $size_h (limit $IMAGE_MAX_MB MB; base $base_h)"
else
    fail "image size $size_h is over the limit of $IMAGE_MAX_MB MB (base $base_h)"
fi

declared_user=$(image_field User | tr -d '"')
uid=$(in_image "$CTR" -- id -u 2>>"$LOG")
if [[ $uid == 10001 ]]; then
    pass "USER $declared_user is uid $uid"
else
    fail "USER $declared_user is uid '${uid}', not 10001"
fi

want_version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -n 1)
got_version=$(in_image "$CTR" -- edgegw --version 2>>"$LOG")
if [[ $got_version == "edgegw $want_version" ]]; then
    pass "edgegw --version: $got_version"
else
    fail "edgegw --version: '$got_version', want 'edgegw $want_version'"
fi

# Every model under gateway/inference/bundled/ must be in the image (package data).
shipped=$(in_image "$CTR" -- edgegw models list 2>>"$LOG" | awk '$NF ~ /\/site-packages\/gateway\/inference\/bundled\// && $(NF-1) == "yes" {print $1}')
missing=()
for model in "$REPO"/gateway/inference/bundled/*.tflite; do
    [[ -e $model ]] || continue
    in_image "$CTR" -- test -f "/opt/edgegw/lib/python3.11/site-packages/gateway/inference/bundled/$(basename "$model")" \
        || missing+=("$(basename "$model")")
done
if [[ ${#missing[@]} == 0 && -n $shipped ]]; then
    pass "bundled model(s) in the image: $(echo "$shipped" | paste -sd' ')"
else
    fail "bundled models: missing ${missing[*]:-none}; listed present: ${shipped:-none}"
fi

# --- checks: edgegw validate ------------------------------------------------------------
for file in "$REPO"/configs/*.yaml; do
    name=configs/$(basename "$file")
    out=$(in_image -v "$REPO/configs:/examples:ro" "$CTR" -- edgegw validate "/examples/$(basename "$file")" 2>&1)
    rc=$?
    echo "$out" >>"$LOG"
    if [[ $rc == 0 ]]; then
        pass "edgegw validate $name"
        continue
    fi
    # An example that needs secrets from the environment: give it dummy ones, and say so.
    unset_vars=$(echo "$out" | sed -n 's/.*environment variable \([A-Z0-9_]*\) is not set.*/\1/p' | sort -u)
    if [[ -n $unset_vars ]]; then
        envs=()
        for var in $unset_vars; do envs+=(--env "$var=image-check"); done
        out=$(in_image "${envs[@]}" -v "$REPO/configs:/examples:ro" "$CTR" -- edgegw validate "/examples/$(basename "$file")" 2>&1)
        rc=$?
        echo "$out" >>"$LOG"
        if [[ $rc == 0 ]]; then
            pass "edgegw validate $name (only with $(echo "$unset_vars" | tr '\n' ' ')set: it fails as shipped)"
            continue
        fi
    fi
    fail "edgegw validate $name: $(echo "$out" | tail -n 1)"
done

# --- checks: a gateway against Mosquitto ------------------------------------------------
MQTT_PORT=$(free_port)
HTTP_PORT=$(free_port)
while [[ $HTTP_PORT == "$MQTT_PORT" ]]; do HTTP_PORT=$(free_port); done
mkdir -p "$WORK/run"
cat >"$WORK/run/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
cat >"$WORK/run/gateway.yaml" <<EOF
# scripts/image-check.sh: one sensor, one MQTT camera on the bundled person detector.
gateway: {id: imagecheck}
mqtt: {broker: external, host: 127.0.0.1, port: $MQTT_PORT}
stats: {interval_s: 5, http_port: $HTTP_PORT}
sensors:
  - id: room
    topic: imagecheck/room
    decoder: json
    decoder_options: {device: room, fields: {temperature: temp}}
    window_s: 1
cameras:
  - id: cam
    source: mqtt:imagecheck/cam/jpeg
    model: person
    motion: {enabled: false}
    # Face redaction needs blazeface_full, fetched with `edgegw models fetch` into /data;
    # the image ships only the person detector, and this check runs without a fetch.
    privacy: {redact_faces: false}
models:
  - id: person
    name: person_ssdlite
    num_threads: 1
EOF
chmod 644 "$WORK/run/gateway.yaml"

mosquitto -c "$WORK/run/mosquitto.conf" >"$WORK/run/mosquitto.log" 2>&1 &
MOSQ_PID=$!
broker_up=0
for _ in $(seq 50); do
    if mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t imagecheck/ping -m up 2>/dev/null; then
        broker_up=1
        break
    fi
    sleep 0.2
done
((broker_up)) || abort "Mosquitto on 127.0.0.1:$MQTT_PORT did not start (see $WORK/run/mosquitto.log)"

# The image's ENTRYPOINT + CMD, with the config where CMD expects it.
mapfile -t gw_cmd < <(python3 -c "
import json
c = json.load(open('$WORK/image.json'))['Docker']['config']
print('\n'.join((c.get('Entrypoint') or []) + (c.get('Cmd') or [])))")
note "== gateway: ${gw_cmd[*]} (MQTT 127.0.0.1:$MQTT_PORT, stats.http_port $HTTP_PORT)"
in_image -v "$WORK/run/gateway.yaml:/config/gateway.yaml:ro" "$CTR" -- "${gw_cmd[@]}" >"$WORK/run/gateway.log" 2>&1 &
RUN_PID=$!

healthz=""
code=""
for _ in $(seq 120); do
    kill -0 "$RUN_PID" 2>/dev/null || break
    code=$(curl -s -o "$WORK/run/healthz" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")
    [[ $code == 200 ]] && break
    sleep 0.5
done
healthz=$(cat "$WORK/run/healthz" 2>/dev/null)
if [[ $code == 200 ]]; then
    pass "gateway up: /healthz 200 $healthz"
else
    fail "gateway: /healthz answered '${code}' ${healthz} (log: $WORK/run/gateway.log)"
    tail -n 20 "$WORK/run/gateway.log" | tee -a "$LOG"
fi

# The HEALTHCHECK exactly as the image declares it, run inside the image.
mapfile -t hc_test < <(python3 -c "
import json
c = json.load(open('$WORK/image.json'))['Docker']['config']
print('\n'.join((c.get('Healthcheck') or {}).get('Test') or []))")
case ${hc_test[0]:-} in
    CMD-SHELL) hc_run=(sh -c "${hc_test[1]}") ;;
    CMD) hc_run=("${hc_test[@]:1}") ;;
    *) hc_run=() ;;
esac
if ((${#hc_run[@]} == 0)); then
    fail "HEALTHCHECK: none declared in the image"
elif in_image --env "EDGEGW_HEALTH_PORT=$HTTP_PORT" "$CTR" -- "${hc_run[@]}" >>"$LOG" 2>&1; then
    pass "HEALTHCHECK command exits 0 (EDGEGW_HEALTH_PORT=$HTTP_PORT)"
else
    fail "HEALTHCHECK command failed (EDGEGW_HEALTH_PORT=$HTTP_PORT)"
fi

GW_PID=$(gateway_pid "$RUN_PID")
if [[ -n $GW_PID ]]; then
    ids=$(awk '/^Uid:/ {print $2 "/" $3} /^Gid:/ {print $2}' "/proc/$GW_PID/status" | paste -sd' ')
    uid_real=${ids%%/*}
    if [[ $uid_real == 10001 && ${ids%% *} == 10001/10001 ]]; then
        pass "gateway process $GW_PID runs as uid 10001 (real/effective $(echo "$ids" | cut -d' ' -f1), gid $(echo "$ids" | cut -d' ' -f2))"
    else
        fail "gateway process $GW_PID runs as uid/gid $ids, not 10001"
    fi
else
    fail "gateway process not found under buildah run ($RUN_PID)"
fi

# A frame through the bundled detector, and a sensor reading back as a state message.
in_image "$CTR" -- python -c "
import sys, cv2, numpy as np
img = np.full((240, 320, 3), 128, np.uint8)
cv2.rectangle(img, (100, 40), (180, 220), (40, 40, 200), -1)
ok, buf = cv2.imencode('.jpg', img)
sys.stdout.buffer.write(buf.tobytes())" >"$WORK/run/frame.jpg" 2>>"$LOG"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t edgegw/imagecheck/sensors/room/state -C 1 -W 20 \
    >"$WORK/run/state" 2>>"$LOG" &
SUB_PID=$!
sleep 0.5 # the subscription is in place before the reading goes out
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t imagecheck/cam/jpeg -f "$WORK/run/frame.jpg"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t imagecheck/room -m '{"temp": 21.5}'
calls=0
for _ in $(seq 40); do
    calls=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^edgegw_camera_detector_calls_total\{camera="cam"\}/ {print int($2)}')
    [[ ${calls:-0} -ge 1 ]] && break
    sleep 0.5
done
if [[ ${calls:-0} -ge 1 ]]; then
    p50=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^edgegw_camera_inference_ms_p50\{camera="cam"\}/ {print $2}')
    pass "camera frame through the bundled detector (detector calls $calls, inference p50 ${p50} ms)"
else
    fail "camera frame: no detector call counted"
fi
wait "$SUB_PID"
if grep -q '"temperature"' "$WORK/run/state"; then
    pass "sensor reading -> state message $(cut -c1-60 "$WORK/run/state")..."
else
    fail "sensor reading: no state message on edgegw/imagecheck/sensors/room/state"
fi

# docker stop: SIGTERM to the gateway, which ends cleanly.
if [[ -n $GW_PID ]]; then
    kill -TERM "$GW_PID"
    stopped=0
    for _ in $(seq 30); do
        if ! kill -0 "$RUN_PID" 2>/dev/null; then
            stopped=1
            break
        fi
        sleep 0.5
    done
    if ((stopped)); then
        wait "$RUN_PID"
        rc=$?
        RUN_PID=""
        if [[ $rc == 0 ]]; then
            pass "SIGTERM: gateway stopped, exit code 0"
        else
            fail "SIGTERM: gateway exit code $rc"
        fi
    else
        fail "SIGTERM: gateway still running after 15 s"
    fi
fi
cat "$WORK/run/gateway.log" >>"$LOG"

summary
((FAILED == 0))
