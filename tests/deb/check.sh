#!/usr/bin/env bash
# make check-deb: the Debian package, as a user installs it, in the
# system's nginx.
#
#   tests/deb/check.sh build/deb/libnginx-mod-http-gateway_VERSION_ARCH.deb
#
# apt-get installs the package; its files and ABI dependency are checked;
# a gateway configured in /etc/nginx/conf.d/, with no load_module line of
# its own, passes `nginx -t` of the system's configuration; Debian's nginx
# started on a configuration that loads modules the way Debian's
# nginx.conf does (include /etc/nginx/modules-enabled/*.conf) routes an
# authenticated request to a function and refuses one without a key.
# Then the package is purged and the system is as it was found (its
# packages, /etc/nginx, the module directories).  That nginx listens on
# ports of its own on 127.0.0.1, with its own pid file and logs, and is
# stopped before the end; the system's nginx service is not started (if
# it runs, dpkg's trigger reloads it, as for any module package).  Root.
set -euo pipefail

pkg=libnginx-mod-http-gateway
deb=$(realpath "${1:?usage: $0 PACKAGE.deb}")
nginx=/usr/sbin/nginx

fail() { echo "check-deb: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

[ "$(id -u)" = 0 ] || fail "installs a package: run it as root"
[ -f "$deb" ] || fail "no package $deb"
if dpkg-query -W "$pkg" >/dev/null 2>&1; then
    fail "$pkg is on this system already (dpkg -l $pkg): check-deb" \
         "would remove it; purge it first"
fi
$nginx -t -q 2>/dev/null \
    || fail "the system's nginx -t fails before the package is installed"

state() {
    dpkg-query -W -f='${Package} ${Version} ${Status}\n' | sort
    find /etc/nginx /usr/lib/nginx /usr/share/nginx/modules-available \
         -printf '%p %l %m\n' 2>/dev/null | sort || true
}
before=$(state)

tmp=$(mktemp -d /tmp/check-deb.XXXXXX)
snippet=/etc/nginx/conf.d/zz-gateway-check-$$.conf

stop_nginx() {
    local pid
    [ -s "$tmp/nginx.pid" ] || return 0
    pid=$(cat "$tmp/nginx.pid")
    $nginx -e "$tmp/error.log" -c "$tmp/nginx.conf" -s quit 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? after
    stop_nginx
    rm -f "$snippet"
    if dpkg-query -W "$pkg" >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive dpkg --purge "$pkg" >/dev/null \
            || { echo "check-deb: dpkg --purge $pkg failed" >&2; rc=1; }
    fi
    rm -rf "$tmp"
    after=$(state)
    if [ "$before" != "$after" ]; then
        echo "check-deb: the system is not as it was found:" >&2
        diff <(echo "$before") <(echo "$after") >&2 || true
        rc=1
    elif [ $rc = 0 ]; then
        ok "purged; packages, /etc/nginx and module directories as found"
    fi
    exit $rc
}
trap cleanup EXIT

# install, as the README says
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o DPkg::Lock::Timeout=120 "$deb" > "$tmp/apt.log" 2>&1 \
    || { cat "$tmp/apt.log"; fail "apt-get install $deb failed"; }
ok "apt-get install $(basename "$deb")"

so=/usr/lib/nginx/modules/ngx_http_gateway_module.so
conf=/usr/share/nginx/modules-available/mod-http-gateway.conf
link=/etc/nginx/modules-enabled/50-mod-http-gateway.conf
[ -f $so ] || fail "no $so"
[ "$(cat $conf)" = "load_module modules/ngx_http_gateway_module.so;" ] \
    || fail "$conf: $(cat $conf 2>&1)"
[ "$(readlink $link)" = "$conf" ] || fail "$link does not link to $conf"
ok "$so, $conf, enabled as $link"

abi=$(dpkg-query -W -f='${Provides}' nginx | grep -o 'nginx-abi-[^ ,]*')
depends=$(dpkg-query -W -f='${Depends}' "$pkg")
[[ ", $depends," == *", $abi,"* ]] \
    || fail "Depends: $depends: not on the installed nginx's $abi"
ok "depends on $abi"

# a gateway in /etc/nginx/, an API key of its own, two free ports
port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
        Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport'
}
gw_port=$(port)
fn_port=$(port)
key=check-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
digest=$(printf %s "$key" | sha256sum | cut -d' ' -f1)

cat > "$tmp/consumers.json" <<EOF
{ "consumers": [ { "id": "checker", "keys": ["sha256:$digest"],
    "services": ["check_fn"] } ] }
EOF

cat > "$snippet" <<EOF
# written by make check-deb (tests/deb/check.sh), removed when it ends
gateway_consumers  $tmp/consumers.json;

gateway_service check_fn {
    endpoint  http://127.0.0.1:$fn_port/fn;
    auth      apikey;
}

server {
    listen  127.0.0.1:$gw_port;

    location / {
        gateway_route  GET  /check/  check_fn  strip;
        proxy_pass     \$gateway_target;
    }
}

server {
    listen  127.0.0.1:$fn_port;

    location /fn/ {
        return 200 "\$request_uri consumer=\$http_x_gateway_consumer service=\$http_x_gateway_service\n";
    }
}
EOF

$nginx -t -q || fail "nginx -t of /etc/nginx/nginx.conf with $snippet"
ok "nginx -t: /etc/nginx/nginx.conf with gateway directives in conf.d/"

cat > "$tmp/nginx.conf" <<EOF
include /etc/nginx/modules-enabled/*.conf;

worker_processes  2;
pid               $tmp/nginx.pid;
error_log         $tmp/error.log info;

events {
    worker_connections  64;
}

http {
    access_log  $tmp/access.log;
    include     $snippet;
}
EOF

$nginx -e "$tmp/error.log" -c "$tmp/nginx.conf" \
    || { cat "$tmp/error.log" 2>/dev/null; fail "nginx did not start"; }

ask() {
    curl -s --max-time 5 -o "$tmp/body" -w '%{http_code}' "$@" || true
}
for _ in $(seq 50); do
    [ "$(ask "http://127.0.0.1:$gw_port/check/x")" = 000 ] || break
    sleep 0.1
done

got=$(ask -H "X-API-Key: $key" "http://127.0.0.1:$gw_port/check/items?n=1")
want="/fn/items?n=1 consumer=checker service=check_fn"
[ "$got" = 200 ] && [ "$(cat "$tmp/body")" = "$want" ] \
    || fail "with the key: $got $(cat "$tmp/body"), want 200 $want"
ok "GET /check/items?n=1 with its API key: 200, the function got $want"

got=$(ask "http://127.0.0.1:$gw_port/check/items")
[ "$got" = 401 ] || fail "without a key: $got, want 401"
ok "GET /check/items without a key: 401"

if grep -E '\[(alert|crit|emerg)\]' "$tmp/error.log"; then
    fail "nginx logged the above"
fi

stop_nginx
