# An identity provider that fails: down at start (503 with Retry-After,
# not 401, and nginx starts), down later, slow, hanging, answering
# garbage, a huge document, an error status, a certificate of another CA
# or for another name.  The last good key set is kept; the first failure
# in a row is logged at warn, with why.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
check_accum_error_log();
master_on();
workers(2);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

GatewayIdP::start('IDP');
GatewayIdP::start('ROGUE', 'other-ca');
GatewayIdP::start('NAMED', 'wrong-name');

my $now = time;

our %T = (
    rsa1 => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 900 }),
);

sub bearer { "Authorization: Bearer $T{rsa1}" }

add_block_preprocessor(sub {
    my $block = shift;

    GatewayIdP::begin_block($block, 'rsa1', qw(IDP ROGUE NAMED));
    GatewayIdP::block_http_config($block);
    $block->set_value("config", GatewayIdP::locations(status => 1));
    $block->set_value("timeout", 10);
    $block->set_value("no_error_log", [$T{rsa1}, '[error]', '[alert]',
                                       '[crit]'])
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: down at start: nginx starts, JWT requests get 503 with Retry-After, the failure is logged once at warn
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_RAND_PORT_2/jwks refresh=10s min_refresh=1s timeout=1s;
--- request eval
["GET /api/1", "GET /idp/sleep/4500", "GET /status"]
--- more_headers eval
[main::bearer(), "", ""]
--- error_code eval
[503, 200, 200]
--- response_headers eval
["Content-Type: application/problem+json", "", ""]
--- response_headers_like eval
["Retry-After: \\d+", "", ""]
--- response_body eval
[qr{^\{"type":"tag:ngx-http-gateway,2026:keys-unavailable","title":"Service Unavailable","status":503,"detail":"The keys that verify tokens could not be loaded from the identity provider yet\."\}$},
 "ok\n",
 qr{"generation": 0,\s*"fetches": [3-9],\s*"failures_in_a_row": [3-9],\s*"last_fetch": \d+,\s*"last_success": null,\s*"last_error": "connect\(\) to 127\.0\.0\.1:\d+ failed \(111: Connection refused\)"}]
--- grep_error_log eval
qr/\[warn\] .*gateway: keys of "[^"]+" not fetched: connect\(\) to 127\.0\.0\.1:\d+ failed \(111: Connection refused\); no key set is loaded, JWT requests get 503/
--- grep_error_log_out eval
qr/\A[^\n]*\n\z/



=== TEST 2: down later, garbage, a huge document, an error status: the last good set is kept
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=1s;
--- request eval
["GET /api/1",
 "GET /idp/mode/close", "GET /idp/sleep/2500", "GET /api/2", "GET /status",
 "GET /idp/mode/garbage", "GET /idp/sleep/2500", "GET /api/3", "GET /status",
 "GET /idp/mode/huge", "GET /idp/sleep/2500", "GET /api/4", "GET /status",
 "GET /idp/mode/500", "GET /idp/sleep/2500", "GET /api/5", "GET /status"]
--- more_headers eval
[main::bearer(),
 "", "", main::bearer(), "",
 "", "", main::bearer(), "",
 "", "", main::bearer(), "",
 "", "", main::bearer(), ""]
--- response_body eval
["sub=alice\n",
 "ok\n", "ok\n", "sub=alice\n", qr{"keys": 1,.*"generation": 1,.*"last_error": "bad response: response cut short in its header"}s,
 "ok\n", "ok\n", "sub=alice\n", qr{"keys": 1,.*"generation": 1,.*"last_error": "invalid key set: invalid JSON}s,
 "ok\n", "ok\n", "sub=alice\n", qr{"keys": 1,.*"generation": 1,.*"last_error": "too big"}s,
 "ok\n", "ok\n", "sub=alice\n", qr{"keys": 1,.*"generation": 1,.*"last_error": "the key set answered status 500"}s]
--- grep_error_log eval
qr/\[warn\] .*gateway: keys of "[^"]+" not fetched: .*; the last good key set is kept/
--- grep_error_log_out eval
qr/\A(?:[^\n]*bad response: response cut short[^\n]*\n)?\z/



=== TEST 3: a slow or hanging provider: requests with a loaded set do not wait for it
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=8s;
--- request eval
["GET /api/1", "GET /idp/mode/hang", "GET /idp/sleep/1500",
 "GET /api/2", "GET /api/3", "GET /api/4", "GET /api/5"]
--- more_headers eval
[main::bearer(), "", "", main::bearer(), main::bearer(), main::bearer(),
 main::bearer()]
--- response_body eval
["sub=alice\n", "ok\n", "ok\n", "sub=alice\n", "sub=alice\n", "sub=alice\n",
 "sub=alice\n"]
--- timeout: 2



=== TEST 4: no set yet and a slow provider: the first request waits for the fetch under way (mode: slow-1500)
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks timeout=5s;
--- request eval
["GET /api/1", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer(), ""]
--- response_body eval
["sub=alice\n", "1\n"]



=== TEST 5: a certificate of a CA not trusted: refused, logged, 503
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_ROGUE_PORT/jwks timeout=2s;
--- request eval
["GET /api/1", "GET /status"]
--- more_headers eval
[main::bearer(), ""]
--- error_code eval
[503, 200]
--- response_body eval
[qr/keys-unavailable/,
 qr{"last_error": "TLS certificate verify failed: unable to (?:get local issuer certificate|verify the first certificate)"}]



=== TEST 6: a certificate for another name: refused, logged, 503
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_NAMED_PORT/jwks timeout=2s;
--- request eval
["GET /api/1", "GET /status"]
--- more_headers eval
[main::bearer(), ""]
--- error_code eval
[503, 200]
--- response_body eval
[qr/keys-unavailable/,
 qr{"last_error": "TLS certificate verify failed: IP address mismatch"}]
