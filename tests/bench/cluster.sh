#!/usr/bin/env bash
# make bench, the cluster variant: one Redis (Debian's redis-server, on
# loopback, no persistence) and gateways using it.
#
#  1. cost: one gateway, a limit never reached, scope=local against
#     scope=cluster sync=100ms and sync=strict: req/s and p99 as ratios
#     to scope=local (wrk, rounds alternating, median);
#  2. accuracy: three gateways (three nginx, zones of their own) with one
#     cluster limit, clients spread over them at 2x and 10x the limit
#     (wrk's delay() paces each connection): what was admitted against
#     the quota, and the most admitted in any second against nginx's
#     limit_req (rate + burst + 1) and the README's bound.
#
#   tests/bench/cluster.sh NGINX_BIN MODULE_SO BUILD_DIR

set -euo pipefail

nginx=$1
module=$2
dir=$3/bench-cluster

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-16}
acc_seconds=${BENCH_CLUSTER_SECONDS:-10}

redis_port=19399
fn_port=19401

rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/redis"

cleanup() {
    for pid in "$dir"/*.pid; do
        [ -s "$pid" ] || continue
        kill -QUIT "$(cat "$pid")" 2>/dev/null || true
    done
    [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
}
trap cleanup EXIT

redis-server --port $redis_port --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$dir/redis" --logfile "$dir/redis/log" \
    --daemonize no &
redis_pid=$!

cat > "$dir/fn.conf" <<EOF
worker_processes 1;
error_log logs/fn.error.log warn;
pid $dir/fn.pid;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$fn_port;
        keepalive_requests 1000000;
        location / { return 200 '{"ok":true}'; }
    }
}
EOF

# conf NAME PORT LIMIT [ACCESS_LOG]
conf() {
    cat > "$dir/$1.conf" <<EOF
load_module $module;
worker_processes 1;
error_log logs/$1.error.log warn;
pid $dir/$1.pid;
events { worker_connections 4096; }
http {
    ${4:-access_log off;}
    upstream fn { server 127.0.0.1:$fn_port; keepalive 32; }
    gateway_zone gw-$1 16m;
    gateway_store redis://127.0.0.1:$redis_port timeout=50ms;
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://fn/;
        rate_limit $3 per=service;
    }

    server {
        listen 127.0.0.1:$2;
        keepalive_requests 1000000;
        location / {
            gateway_route /call/ fn strip;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass \$gateway_target;
        }
    }
}
EOF
}

start() { "$nginx" -p "$dir/" -c "$dir/$1.conf"; sleep 0.3; }
stop() { "$nginx" -p "$dir/" -c "$dir/$1.conf" -s quit 2>/dev/null || true;
         sleep 0.5; }

measure() {
    wrk -t1 -c"$conns" -d"${duration}s" --latency "$@" \
        | awk '/Requests\/sec/ { r = $2 } /Non-2xx/ { bad = 1 }
               /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
               END { print (bad ? 0 : r), p50, p99 }'
}

# wrk's latency as microseconds
us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
        else print n * 1000000 }'
}

median() {
    printf '%s\n' $1 | sort -n \
        | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

start fn

big="1000000r/s burst=100000"
conf local 19402 "$big"
conf sync 19403 "$big scope=cluster sync=100ms"
conf strict 19404 "$big scope=cluster sync=strict"

declare -A rps p99s rr pr

echo "cost: one gateway, one worker, a limit never reached, wrk" \
     "-c$conns ${duration}s"
printf '%-8s %5s %11s %9s %9s\n' variant round 'req/s' p50 p99

for round in $(seq 1 "$rounds"); do
    for v in local sync strict; do
        start $v
        read -r r p50 p99 < <(measure \
            "http://127.0.0.1:$(sed -n 's/.*listen 127.0.0.1:\([0-9]*\).*/\1/p' \
                                "$dir/$v.conf")/call/x")
        stop $v
        rps[$v]="${rps[$v]:-} $r"
        p99s[$v]="${p99s[$v]:-} $(us "$p99")"
        printf '%-8s %5s %11s %9s %9s\n' $v "$round" "$r" "$p50" "$p99"
    done

    for v in sync strict; do
        rr[$v]="${rr[$v]:-} $(awk -v a="${rps[$v]##* }" \
                              -v b="${rps[local]##* }" \
                              'BEGIN { printf "%.3f", b ? a / b : 0 }')"
        pr[$v]="${pr[$v]:-} $(awk -v a="${p99s[$v]##* }" \
                              -v b="${p99s[local]##* }" \
                              'BEGIN { printf "%.3f", b ? a / b : 0 }')"
    done
done

echo
echo "median of $rounds rounds, as a ratio to scope=local of the same round:"
printf '  %-28s %9s %9s\n' variant 'req/s' p99
for v in sync strict; do
    name="scope=cluster sync=100ms"
    [ $v = strict ] && name="scope=cluster sync=strict"
    printf '  %-28s %9s %9s\n' "$name" "$(median "${rr[$v]}")" \
        "$(median "${pr[$v]}")"
done


# accuracy: 3 gateways, 200r/s burst=20 for all, clients over the three

rate=200
burst=20
interval_ms=100

for i in 1 2 3; do
    conf "acc$i" $((19410 + i)) \
        "${rate}r/s burst=$burst scope=cluster sync=${interval_ms}ms" \
        "log_format t '\$msec \$status'; access_log $dir/logs/acc$i.log t;"
done

# LOAD CONNS DELAY_MS: each connection waits DELAY_MS after an answer
cat > "$dir/delay.lua" <<'EOF'
local d = tonumber(os.getenv("WRK_DELAY_MS"))
function delay() return d end
EOF

echo
echo "accuracy: 3 gateways, rate_limit ${rate}r/s burst=$burst" \
     "scope=cluster sync=${interval_ms}ms, ${acc_seconds}s"

for load in 2 10; do
    redis-cli -p $redis_port flushall > /dev/null
    for i in 1 2 3; do start "acc$i"; done
    : > "$dir/logs/acc-all.log"
    for i in 1 2 3; do : > "$dir/logs/acc$i.log"; done

    # rate * load spread over 3 gateways of 4 connections: each
    # connection one request every DELAY ms (less the answer's time)
    delay=$(awk -v r=$rate -v l=$load 'BEGIN { printf "%d", 12000 / (r * l) }')
    pids=""
    for i in 1 2 3; do
        WRK_DELAY_MS=$delay wrk -t1 -c4 -d"${acc_seconds}s" \
            -s "$dir/delay.lua" "http://127.0.0.1:$((19410 + i))/call/x" \
            > "$dir/logs/wrk-acc$i.txt" 2>&1 &
        pids="$pids $!"
    done
    wait $pids
    for i in 1 2 3; do stop "acc$i"; done

    cat "$dir"/logs/acc[123].log | sort -n > "$dir/logs/acc-all.log"

    awk -v rate=$rate -v burst=$burst -v iv=$interval_ms -v load=$load '
        { t[NR] = $1; s[NR] = $2; n++ }
        END {
            if (n == 0) { print "  no requests"; exit }
            span = t[n] - t[1]
            for (i = 1; i <= n; i++) if (s[i] == 200) ok++
            quota = rate * span + burst + 1
            # the most admitted in any window of 1 s
            j = 1; w = 0; best = 0
            for (i = 1; i <= n; i++) {
                if (s[i] == 200) w++
                while (t[i] - t[j] >= 1) { if (s[j] == 200) w--; j++ }
                if (w > best) best = w
            }
            lr = rate + burst + 1
            bound = lr + rate * iv / 1000 + burst + 1 + 3
            printf "  %2dx offered (%.0f req/s): %d admitted of a quota of" \
                   " %.0f over %.1f s: %+.1f%%; most in a second %d" \
                   " (limit_req %d, over it %+d; the bound %d, +%d)\n",
                   load, n / span, ok, quota, span,
                   100 * (ok - quota) / quota, best, lr, best - lr, bound,
                   bound - lr
        }' "$dir/logs/acc-all.log"
done
