#!/usr/bin/env bash
# make bench: the gateway against bare nginx proxy_pass to the same
# function, on loopback, with wrk; then instructions per request of both,
# and of the gateway's phases, with callgrind.  Bounded: a few minutes;
# leaves nothing running (a worker under callgrind writes its pid file
# too, so the trap stops it).
#
#   tests/bench/run.sh NGINX_BIN MODULE_SO BUILD_DIR
#
# Absolute numbers on a shared 2-core machine are noise: read the ratios
# of each round, gateway / bare, and their median.

set -euo pipefail

nginx=$1
module=$2
dir=$3/bench
here=$(cd "$(dirname "$0")/../.." && pwd)

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-16}
fn_port=19301

rm -rf "$dir"
mkdir -p "$dir/logs"

cleanup() {
    for pid in "$dir"/*.pid; do
        [ -s "$pid" ] && kill -QUIT "$(cat "$pid")" 2>/dev/null || true
    done
}
trap cleanup EXIT

token=$(cd "$here" && perl -It/inc -MGatewayJWT -e \
    'print jwt(alg => "RS256", claims => { sub => "bench", aud => "fn",
                                           exp => time + 3600 })')

cat > "$dir/consumers.json" <<EOF
{"consumers": [{"id": "bench", "services": ["*"], "jwt_subject": "bench",
  "keys": ["sha256:$(printf '%s' bench-key | sha256sum | cut -d' ' -f1)"]}]}
EOF

# variant NAME PORT JWT_CACHE ROUTES: one nginx instance each
conf() {
    local name=$1 port=$2 cache=$3 routes=$4

    {
        [ "$name" != bare ] && echo "load_module $module;"
        cat <<EOF
worker_processes 1;
error_log logs/$name.error.log warn;
pid $dir/$name.pid;
events { worker_connections 1024; }
http {
    access_log off;
    upstream fn { server 127.0.0.1:$fn_port; keepalive 32; }
EOF
        if [ "$name" = bare ]; then
            cat <<EOF
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://fn;
        }
    }
}
EOF
            return
        fi
        cat <<EOF
    gateway_zone gw 16m;
    gateway_consumers $dir/consumers.json;
    gateway_jwks $here/t/data/jwks.json;
    gateway_jwt_cache $cache;

    gateway_service fn {
        endpoint http://fn/;
        auth jwt apikey;
        jwt_audience fn;
        rate_limit 1000000r/s burst=100000;
        breaker failure_rate=50% min_requests=20 window=10s open=30s;
        retries 2 backoff=25ms:1s;
    }

    server {
        listen 127.0.0.1:$port;
        location / {
EOF
        for i in $(seq 1 $((routes - 1))); do
            echo "            gateway_route GET /fn$i/ fn strip;"
        done
        cat <<EOF
            gateway_route GET /call/ fn strip;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass \$gateway_target;
        }
    }
}
EOF
    } > "$dir/$name.conf"
}

cat > "$dir/fn.conf" <<EOF
worker_processes 1;
error_log logs/fn.error.log warn;
pid $dir/fn.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$fn_port;
        keepalive_requests 100000;
        location / { return 200 '{"ok":true}'; }
    }
}
EOF

start() { "$nginx" -p "$dir/" -c "$dir/$1.conf"; sleep 0.3; }
stop() { "$nginx" -p "$dir/" -c "$dir/$1.conf" -s quit 2>/dev/null; sleep 0.5; }

# wrk's requests/s and 50%/99% latency, as "rps p50 p99"
measure() {
    wrk -t1 -c"$conns" -d"${duration}s" --latency "$@" \
        | awk '/Requests\/sec/ { r = $2 }
               /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
               END { print r, p50, p99 }'
}

start fn

conf bare 19300 0 1
conf gw 19302 1024 10
conf gw10k 19303 1024 10000
conf nocache 19304 0 10

printf '%-30s %5s %11s %9s %9s %7s\n' variant round 'req/s' p50 p99 ratio

for variant in gw gw10k nocache; do
    ratios=()

    for round in $(seq 1 "$rounds"); do
        start bare
        read -r b_rps b_p50 b_p99 < <(measure \
            -H "Authorization: Bearer $token" http://127.0.0.1:19300/call/x)
        stop bare

        port=$(sed -n 's/.*listen 127.0.0.1:\([0-9]*\);/\1/p' \
               "$dir/$variant.conf")
        start "$variant"
        read -r g_rps g_p50 g_p99 < <(measure \
            -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/call/x")
        stop "$variant"

        ratio=$(awk -v g="$g_rps" -v b="$b_rps" 'BEGIN { printf "%.3f", g / b }')
        ratios+=("$ratio")

        printf '%-30s %5s %11s %9s %9s %7s\n' "bare proxy_pass" "$round" \
            "$b_rps" "$b_p50" "$b_p99" ""
        printf '%-30s %5s %11s %9s %9s %7s\n' "$variant" "$round" \
            "$g_rps" "$g_p50" "$g_p99" "$ratio"
    done

    median=$(printf '%s\n' "${ratios[@]}" | sort -n \
             | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    printf '%-30s %5s %11s %9s %9s %7s\n' "$variant: median ratio" "" \
        "" "" "" "$median"
done

# instructions per request under callgrind: the whole event loop of one
# worker (startup excluded), bare and gateway, each over the same request;
# requests are counted in an access log, as wrk's own count is of a
# valgrind-slowed server.  Then the gateway's own functions, inclusive.

seconds=${BENCH_CALLGRIND_SECONDS:-10}

# callgrind NAME PORT: prints the Ir per request of that variant
callgrind() {
    local name=$1 port=$2 total answered vg

    sed -e 's/^worker_processes 1;/master_process off; daemon off;/' \
        -e "s|access_log off;|access_log $dir/logs/cg-$name.access.log;|" \
        "$dir/$name.conf" > "$dir/cg-$name.conf"

    valgrind --tool=callgrind \
        --toggle-collect=ngx_process_events_and_timers \
        --callgrind-out-file="$dir/callgrind-$name.out" \
        "$nginx" -p "$dir/" -c "$dir/cg-$name.conf" \
        > "$dir/logs/callgrind-$name.log" 2>&1 &
    vg=$!

    for i in $(seq 1 50); do
        curl -s -o /dev/null -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/call/x" && break
        sleep 0.2
    done

    wrk -t1 -c1 -d"${seconds}s" -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/call/x" > /dev/null

    kill -QUIT $vg 2>/dev/null || true
    wait $vg 2>/dev/null || true

    answered=$(grep -c '" 200 ' "$dir/logs/cg-$name.access.log" || true)

    callgrind_annotate --inclusive=yes --threshold=100 \
        "$dir/callgrind-$name.out" 2>/dev/null > "$dir/callgrind-$name.txt" \
        || true

    total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' \
            "$dir/callgrind-$name.txt")

    echo "$answered $((total / (answered > 0 ? answered : 1)))"
}

read -r bare_n bare_ir < <(callgrind bare 19300)
read -r gw_n gw_ir < <(callgrind gw 19302)

stop fn

echo
echo "instructions per request (callgrind, one worker, one keepalive"
echo "connection, the same request with its RS256 token; the gateway's"
echo "token cached):"
printf '  %-40s %10d   (%d requests)\n' "bare proxy_pass, whole request" \
    "$bare_ir" "$bare_n"
printf '  %-40s %10d   (%d requests)\n' "gateway, whole request" \
    "$gw_ir" "$gw_n"
printf '  %-40s %10d   (ratio bare/gateway %s)\n' "gateway's cost" \
    $((gw_ir - bare_ir)) \
    "$(awk -v b="$bare_ir" -v g="$gw_ir" 'BEGIN { printf "%.3f", b / g }')"

echo "  of which, by phase (inclusive):"

for fn in ngx_http_gateway_handler ngx_gateway_route_match \
          ngx_http_gateway_authenticate ngx_http_gateway_rate_limit_check \
          ngx_http_gateway_breaker_admit ngx_http_gateway_retries_begin \
          ngx_http_gateway_set_variables ngx_http_gateway_breaker_done
do
    ir=$(grep -E ":$fn( |$)" "$dir/callgrind-gw.txt" | head -1 \
         | awk '{ gsub(",", "", $1); print $1 }' || true)
    if [ -n "$ir" ] && [ "$gw_n" -gt 0 ]; then
        printf '    %-38s %10d\n' "$fn" $((ir / gw_n))
    fi
done
