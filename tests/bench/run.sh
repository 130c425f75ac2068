#!/usr/bin/env bash
# make bench: the gateway against bare nginx proxy_pass to the same
# function, on loopback, with wrk, with 1 and with 2 workers; in the same
# rounds a peer, HAProxy (tests/bench/haproxy.cfg: RS256 jwt_verify, exp
# and aud checks, a stick-table rate limit, retries).  Then, with
# callgrind, instructions and lock acquisitions per request, and with
# gdb, the bytes the gateway allocates per request.  Bounded: a few
# minutes; leaves nothing running (a worker under callgrind writes its
# pid file too, so the trap stops it).
#
#   tests/bench/run.sh NGINX_BIN MODULE_SO BUILD_DIR
#
#   BENCH_BASELINE_MODULE=SO   also measure another build of the module
#                              (a "before"), in the same rounds
#
# Absolute numbers on a shared 2-core machine are noise: read the ratios
# of each round, variant / bare, and their median.  Instruction, call
# and byte counts do not depend on the load.

set -euo pipefail

nginx=$1
module=$2
dir=$3/bench
here=$(cd "$(dirname "$0")/../.." && pwd)
baseline=${BENCH_BASELINE_MODULE:-}

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-16}
fn_port=19301

rm -rf "$dir"
mkdir -p "$dir/logs"

cleanup() {
    for pid in "$dir"/*.pid; do
        [ -s "$pid" ] || continue
        case $pid in
        */haproxy*.pid) kill -TERM "$(cat "$pid")" 2>/dev/null || true ;;
        *) kill -QUIT "$(cat "$pid")" 2>/dev/null || true ;;
        esac
    done
}
trap cleanup EXIT

token() {
    (cd "$here" && perl -It/inc -MGatewayJWT -e \
        'print jwt(alg => $ARGV[0], claims => { sub => "bench", aud => "fn",
                                                exp => time + 3600 })' "$1")
}

rs256=$(token RS256)
es256=$(token ES256)

cat > "$dir/consumers.json" <<EOF
{"consumers": [{"id": "bench", "services": ["*"], "jwt_subject": "bench",
  "keys": ["sha256:$(printf '%s' bench-key | sha256sum | cut -d' ' -f1)"]}]}
EOF

# the peer verifies with the public key of the JWKS's RS256 key
openssl pkey -in "$here/t/data/keys/rsa1.pem" -pubout \
    -out "$dir/rsa1.pub.pem" 2>/dev/null

# conf NAME PORT JWT_CACHE ROUTES WORKERS [MODULE]: one nginx instance each;
# a NAME starting with gwcap is gw with a concurrency cap it never reaches
conf() {
    local name=$1 port=$2 cache=$3 routes=$4 workers=$5 so=${6:-$module}
    local cap=

    [ "${name#gwcap}" != "$name" ] \
        && cap="concurrency 100000 queue=100 queue_timeout=1s;"

    {
        [ "${name%2}" != bare ] && echo "load_module $so;"
        cat <<EOF
worker_processes $workers;
error_log logs/$name.error.log warn;
pid $dir/$name.pid;
events { worker_connections 1024; }
http {
    access_log off;
    upstream fn { server 127.0.0.1:$fn_port; keepalive 32; }
EOF
        if [ "${name%2}" = bare ]; then
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
        $cap
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

# hconf NAME PORT THREADS: the peer, from tests/bench/haproxy.cfg
hconf() {
    sed -e "s|@THREADS@|$3|" -e "s|@PORT@|$2|" -e "s|@FN_PORT@|$fn_port|" \
        -e "s|@PIDFILE@|$dir/$1.pid|" -e "s|@KEY@|$dir/rsa1.pub.pem|" \
        "$here/tests/bench/haproxy.cfg" > "$dir/$1.conf"
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

start() {
    case $1 in
    haproxy*) haproxy -D -f "$dir/$1.conf" ;;
    *) "$nginx" -p "$dir/" -c "$dir/$1.conf" ;;
    esac
    sleep 0.3
}

stop() {
    case $1 in
    haproxy*) kill -TERM "$(cat "$dir/$1.pid")" 2>/dev/null || true
              rm -f "$dir/$1.pid" ;;
    *) "$nginx" -p "$dir/" -c "$dir/$1.conf" -s quit 2>/dev/null || true ;;
    esac
    sleep 0.5
}

port_of() {
    sed -n 's/.*\(listen\|bind\) 127.0.0.1:\([0-9]*\).*/\2/p' \
        "$dir/$1.conf" | head -1
}

# wrk's requests/s and 50%/99% latency, as "rps p50 p99"; a run with
# any answer but 200 is reported as 0 requests/s, not as a speed
measure() {
    local threads=$1
    shift
    wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$@" \
        | awk '/Requests\/sec/ { r = $2 } /Non-2xx/ { bad = 1 }
               /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
               END { print (bad ? 0 : r), p50, p99 }'
}

start fn

# name port jwt_cache routes workers
conf bare 19300 0 1 1
conf gw 19302 1024 10 1
conf gw10k 19303 1024 10000 1
conf nocache 19304 0 10 1
conf nocache-es256 19306 0 10 1
hconf haproxy 19305 1
conf gwcap 19320 1024 10 1
conf bare2 19310 0 1 2
conf gw2 19312 1024 10 2
conf nocache2 19314 0 10 2
conf gwcap2 19322 1024 10 2
hconf haproxy2 19315 2

variants1="gw gwcap gw10k nocache nocache-es256 haproxy"
variants2="gw2 gwcap2 nocache2 haproxy2"

if [ -n "$baseline" ]; then
    conf gw-before 19307 1024 10 1 "$baseline"
    conf nocache-before 19308 0 10 1 "$baseline"
    conf nocache-es256-before 19309 0 10 1 "$baseline"
    conf gw2-before 19317 1024 10 2 "$baseline"
    variants1="$variants1 gw-before nocache-before nocache-es256-before"
    variants2="$variants2 gw2-before"
fi

declare -A ratios rps direct last

# each variant right after bare proxy_pass, so that the ratio is of two
# runs a few seconds apart, whatever else the machine does
printf '%-24s %5s %11s %11s %9s %9s %7s\n' variant round 'bare req/s' \
    'req/s' p50 p99 ratio

for round in $(seq 1 "$rounds"); do
    for workers in 1 2; do
        if [ "$workers" = 1 ]; then
            bare=bare variants=$variants1
        else
            bare=bare2 variants=$variants2
        fi

        for v in $variants; do
            start $bare
            read -r b_rps b_p50 b_p99 < <(measure "$workers" \
                -H "Authorization: Bearer $rs256" \
                "http://127.0.0.1:$(port_of $bare)/call/x")
            stop $bare

            tok=$rs256
            [ "${v#nocache-es256}" != "$v" ] && tok=$es256

            start "$v"
            read -r g_rps g_p50 g_p99 < <(measure "$workers" \
                -H "Authorization: Bearer $tok" \
                "http://127.0.0.1:$(port_of "$v")/call/x")
            stop "$v"

            ratio=$(awk -v g="$g_rps" -v b="$b_rps" \
                    'BEGIN { printf "%.3f", (b > 0) ? g / b : 0 }')
            ratios[$v]="${ratios[$v]:-} $ratio"
            rps[$v]="${rps[$v]:-} $g_rps"
            last[$v]=$g_rps

            # gwcap runs right after gw: their own ratio, seconds apart
            if [ "${v#gwcap}" != "$v" ]; then
                g=gw${v#gwcap}
                direct[$v]="${direct[$v]:-} $(awk -v c="$g_rps" \
                    -v g="${last[$g]:-0}" \
                    'BEGIN { printf "%.3f", (g > 0) ? c / g : 0 }')"
            fi

            printf '%-24s %5s %11s %11s %9s %9s %7s\n' "$v" "$round" \
                "$b_rps" "$g_rps" "$g_p50" "$g_p99" "$ratio"
        done
    done
done

median() {
    printf '%s\n' $1 | sort -n \
        | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

echo
echo "median of $rounds rounds, each variant / bare proxy_pass just before"
echo "(nocache: every request verifies its token, so its req/s are"
echo "verifications per second through the whole request):"
printf '  %-24s %7s %11s\n' variant ratio 'req/s'
for v in $variants1 $variants2; do
    printf '  %-24s %7s %11s\n' "$v" "$(median "${ratios[$v]}")" \
        "$(median "${rps[$v]}")"
done

# the cost of "concurrency": the same gateway with and without it, the
# one run right after the other (gw's bare run between them)
for v in gwcap gwcap2; do
    echo "concurrency: $v / gw${v#gwcap}, median of $rounds rounds:" \
         "$(median "${direct[$v]}")"
done

# instructions and lock acquisitions per request under callgrind: the
# whole event loop of one worker (startup excluded), over the same
# request; requests are counted in an access log, as wrk's own count is
# of a valgrind-slowed server.  Then the gateway's own functions,
# inclusive.

seconds=${BENCH_CALLGRIND_SECONDS:-10}

# callgrind NAME: prints the requests answered, the Ir per request, and
# the calls per request of the zone's mutex (nginx's shmtx, lock and
# trylock) and of the gateway's own locks (a breaker's: ..._lock)
callgrind() {
    local name=$1 port total answered vg

    port=$(port_of "$name")

    sed -e 's/^worker_processes [0-9]*;/master_process off; daemon off;/' \
        -e "s|access_log off;|access_log $dir/logs/cg-$name.access.log;|" \
        "$dir/$name.conf" > "$dir/cg-$name.conf"

    valgrind --tool=callgrind \
        --toggle-collect=ngx_process_events_and_timers \
        --callgrind-out-file="$dir/callgrind-$name.out" \
        "$nginx" -p "$dir/" -c "$dir/cg-$name.conf" \
        > "$dir/logs/callgrind-$name.log" 2>&1 &
    vg=$!

    for i in $(seq 1 50); do
        curl -s -o /dev/null -H "Authorization: Bearer $rs256" \
            "http://127.0.0.1:$port/call/x" && break
        sleep 0.2
    done

    wrk -t1 -c1 -d"${seconds}s" -H "Authorization: Bearer $rs256" \
        "http://127.0.0.1:$port/call/x" > /dev/null

    kill -QUIT $vg 2>/dev/null || true
    wait $vg 2>/dev/null || true

    answered=$(grep -c '" 200 ' "$dir/logs/cg-$name.access.log" || true)
    answered=$((answered > 0 ? answered : 1))

    callgrind_annotate --inclusive=yes --threshold=100 \
        "$dir/callgrind-$name.out" 2>/dev/null > "$dir/callgrind-$name.txt" \
        || true

    total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' \
            "$dir/callgrind-$name.txt")

    # calls=N lines follow the cfn= line of the function called; names
    # are compressed to "(id)" after their first mention
    awk -v n="$answered" -v total="$total" '
        /^c?fn=/ {
            s = $0; sub(/^c?fn=/, "", s)
            id = s; sub(/\).*/, "", id); sub(/^\(/, "", id)
            nm = s; sub(/^\([0-9]+\) ?/, "", nm)
            if (nm != "") name[id] = nm
            if ($0 ~ /^cfn=/) cur = id
            next
        }
        /^calls=/ { c = $0; sub(/^calls=/, "", c); sub(/ .*/, "", c)
                    calls[cur] += c }
        END {
            for (id in calls) {
                if (name[id] == "ngx_shmtx_lock" \
                    || name[id] == "ngx_shmtx_trylock") zone += calls[id]
                if (name[id] ~ /^ngx_(http_)?gateway_.*_lock$/) \
                    brk += calls[id]
            }
            printf "%d %d %.2f %.2f\n", n, total / n, zone / n, brk / n
        }' "$dir/callgrind-$name.out"
}

# bytes NAME: the gateway's allocations in a request, with gdb: every
# ngx_palloc, ngx_pnalloc, ngx_pcalloc and ngx_pmemalign of the request
# pool, and every malloc, whose caller (up to 8 frames up) is the
# gateway's; the last of 3 requests, once the worker's first-request
# work (its record in the zone, the token cache) is done.  Prints the
# pool bytes, the pool allocations and the mallocs of that request.
bytes() {
    local name=$1 port gdbpid

    port=$(port_of "$name")

    sed -e 's/^worker_processes [0-9]*;/master_process off; daemon off;/' \
        "$dir/$name.conf" > "$dir/gdb-$name.conf"

    cat > "$dir/gdb-$name.py" <<'EOF'
import gdb

state = {"n": 0, "bytes": {}, "allocs": {}, "mallocs": {}}

POOL = ("ngx_palloc", "ngx_pnalloc", "ngx_pcalloc", "ngx_pmemalign")
HELPERS = ("ngx_array_", "ngx_list_", "ngx_pool_cleanup_add",
           "ngx_create_temp_buf", "ngx_pstrdup", "ngx_alloc_chain_link",
           "ngx_palloc", "ngx_alloc", "ngx_calloc")

# who asked: the first caller that is neither a library's function nor
# one of nginx's allocating helpers; an allocator called by another one
# (ngx_pcalloc calls ngx_palloc) is not counted twice, and a malloc of a
# pool growing is the pool's
def ours(kind):
    f = gdb.newest_frame().older()
    if f is not None and kind == "pool" and (f.name() or "") in POOL:
        return False
    for _ in range(30):
        if f is None:
            return False
        name = f.name() or ""
        f = f.older()
        if not name.startswith("ngx_"):
            continue
        if kind == "malloc" and name in POOL:
            return False
        if name.startswith(HELPERS):
            continue
        return name.startswith(("ngx_http_gateway_", "ngx_gateway_"))
    return False

class Request(gdb.Breakpoint):
    def stop(self):
        state["n"] += 1
        return False

class Alloc(gdb.Breakpoint):
    def __init__(self, spec, arg, kind):
        super().__init__(spec, internal=True)
        self.arg, self.kind = arg, kind
    def stop(self):
        n = state["n"]
        if n == 0 or not ours(self.kind):
            return False
        size = int(gdb.parse_and_eval(self.arg))
        if self.kind == "pool":
            state["bytes"][n] = state["bytes"].get(n, 0) + size
            state["allocs"][n] = state["allocs"].get(n, 0) + 1
        else:
            state["mallocs"][n] = state["mallocs"].get(n, 0) + 1
        return False

class Report(gdb.Command):
    def __init__(self):
        super().__init__("report", gdb.COMMAND_USER)
    def invoke(self, arg, tty):
        n = state["n"]
        with open(arg, "w") as out:
            out.write("%d %d %d\n" % (state["bytes"].get(n, 0),
                                       state["allocs"].get(n, 0),
                                       state["mallocs"].get(n, 0)))

gdb.execute("set breakpoint pending on")
Request("ngx_http_gateway_handler", internal=True)
for fn in ("ngx_palloc", "ngx_pnalloc", "ngx_pcalloc", "ngx_pmemalign"):
    Alloc(fn, "$rsi", "pool")
Alloc("malloc", "$rdi", "malloc")
Report()
EOF

    # the handler runs once per request: a retry's redirect returns early
    gdb -q -batch -x "$dir/gdb-$name.py" -ex run \
        -ex "report $dir/bytes-$name.txt" \
        --args "$nginx" -p "$dir/" -c "$dir/gdb-$name.conf" \
        > "$dir/logs/gdb-$name.log" 2>&1 &
    gdbpid=$!

    for i in $(seq 1 100); do
        curl -s -o /dev/null -H "Authorization: Bearer $rs256" \
            "http://127.0.0.1:$port/call/x" && break
        sleep 0.3
    done

    curl -s -o /dev/null -H "Authorization: Bearer $rs256" \
        "http://127.0.0.1:$port/call/x"
    curl -s -o /dev/null -H "Authorization: Bearer $rs256" \
        "http://127.0.0.1:$port/call/x"

    "$nginx" -p "$dir/" -c "$dir/gdb-$name.conf" -s quit 2>/dev/null || true
    wait $gdbpid 2>/dev/null || true

    cat "$dir/bytes-$name.txt" 2>/dev/null || echo "0 0 0"
}

read -r bare_n bare_ir bare_zl bare_bl < <(callgrind bare)
read -r gw_n gw_ir gw_zl gw_bl < <(callgrind gw)
read -r cap_n cap_ir cap_zl cap_bl < <(callgrind gwcap)
read -r gw_bytes gw_allocs gw_mallocs < <(bytes gw)
read -r nc_bytes nc_allocs nc_mallocs < <(bytes nocache)

if [ -n "$baseline" ]; then
    read -r b4_n b4_ir b4_zl b4_bl < <(callgrind gw-before)
    read -r b4_bytes b4_allocs b4_mallocs < <(bytes gw-before)
fi

stop fn

echo
echo "per request, one worker, one keepalive connection, the same request"
echo "with its RS256 token (cached), a rate limit, a breaker and retries:"
echo
echo "instructions (callgrind):"
printf '  %-40s %10d   (%d requests)\n' "bare proxy_pass, whole request" \
    "$bare_ir" "$bare_n"
printf '  %-40s %10d   (%d requests)\n' "gateway, whole request" \
    "$gw_ir" "$gw_n"
printf '  %-40s %10d   (ratio bare/gateway %s)\n' "gateway's cost" \
    $((gw_ir - bare_ir)) \
    "$(awk -v b="$bare_ir" -v g="$gw_ir" 'BEGIN { printf "%.3f", b / g }')"
if [ -n "$baseline" ]; then
    printf '  %-40s %10d   (%d requests)\n' "before: gateway, whole request" \
        "$b4_ir" "$b4_n"
fi

printf '  %-40s %10d   (%d requests)\n' "gateway with concurrency, whole request" \
    "$cap_ir" "$cap_n"
printf '  %-40s %10d   (ratio gateway/with concurrency %s)\n' \
    "concurrency's cost" $((cap_ir - gw_ir)) \
    "$(awk -v g="$gw_ir" -v c="$cap_ir" 'BEGIN { printf "%.3f", g / c }')"

echo "  of which, by phase (inclusive):"

for fn in ngx_http_gateway_handler ngx_gateway_route_match \
          ngx_http_gateway_authenticate ngx_http_gateway_breaker_admit \
          ngx_http_gateway_retries_begin ngx_http_gateway_set_variable \
          ngx_http_gateway_retry_header_filter ngx_http_gateway_breaker_done
do
    ir=$(grep -E ":$fn( |$)" "$dir/callgrind-gw.txt" | head -1 \
         | awk '{ gsub(",", "", $1); print $1 }' || true)
    if [ -n "$ir" ] && [ "$gw_n" -gt 0 ]; then
        printf '    %-38s %10d\n' "$fn" $((ir / gw_n))
    fi
done

echo
echo "lock acquisitions (callgrind's call counts):"
printf '  %-40s %10s %10s\n' "" "zone mutex" "breaker"
printf '  %-40s %10s %10s\n' "bare proxy_pass" "$bare_zl" "$bare_bl"
printf '  %-40s %10s %10s\n' "gateway" "$gw_zl" "$gw_bl"
printf '  %-40s %10s %10s\n' "gateway with concurrency" "$cap_zl" "$cap_bl"
if [ -n "$baseline" ]; then
    printf '  %-40s %10s %10s\n' "before" "$b4_zl" "$b4_bl"
fi

echo
echo "the gateway's own allocations in a request (gdb, the 3rd request):"
printf '  %-40s %10s %10s %10s\n' "" "pool bytes" "pool calls" "mallocs"
printf '  %-40s %10s %10s %10s\n' "gateway" "$gw_bytes" "$gw_allocs" \
    "$gw_mallocs"
printf '  %-40s %10s %10s %10s\n' "gateway, JWT cache off" "$nc_bytes" \
    "$nc_allocs" "$nc_mallocs"
if [ -n "$baseline" ]; then
    printf '  %-40s %10s %10s %10s\n' "before" "$b4_bytes" "$b4_allocs" \
        "$b4_mallocs"
fi
