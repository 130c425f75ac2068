# Keys from an identity provider: a JWK Set fetched over https in the
# background (the provider is t/idp.pl with a test CA), through OpenID
# Connect discovery, shown in gateway_status; configuration errors.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
master_on();
workers(2);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

GatewayIdP::start('IDP');

$ENV{TEST_NGINX_JWKS_RSA} = GatewayJWT::data_dir() . '/jwks-rsa-only.json';

my $now = time;
my $iss = "https://127.0.0.1:$ENV{TEST_NGINX_IDP_PORT}";

our %T = (
    rsa1   => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 600 }),
    ec256  => jwt(alg => 'ES256', claims => { sub => 'bob', exp => $now + 600 }),
    rsa2   => jwt(alg => 'PS256', claims => { sub => 'eve', exp => $now + 600 }),
    hs1    => jwt(alg => 'HS256', claims => { sub => 'forger', exp => $now + 600 }),
    issued => jwt(claims => { sub => 'carol', iss => $iss, exp => $now + 600 }),
    other  => jwt(claims => { sub => 'mallory', iss => 'https://other.test',
                              exp => $now + 600 }),
    ec_iss => jwt(alg => 'ES256', claims => { sub => 'bob', iss => $iss,
                                              exp => $now + 600 }),
    ec_other => jwt(alg => 'ES256', claims => { sub => 'mallory',
                                                iss => 'https://other.test',
                                                exp => $now + 600 }),
    rsa_other => jwt(kid => 'rsa1', claims => { sub => 'alice',
                                                iss => 'https://other.test',
                                                exp => $now + 600 }),
);

sub bearer { "Authorization: Bearer $T{$_[0]}" }

add_block_preprocessor(sub {
    my $block = shift;

    # every block starts from the same provider
    GatewayIdP::begin_block($block, 'rsa1,ec256', 'IDP');

    if (defined $block->must_die) {
        $block->set_value("suppress_stderr", 1);
        return;
    }

    GatewayIdP::block_http_config($block);
    $block->set_value("config", GatewayIdP::locations(status => 1))
        unless defined $block->config;

    $block->set_value("no_error_log", [values %T, '[error]', '[alert]',
                                       '[crit]', '[warn]'])
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: the key set of a jwks_uri verifies tokens; the first request waits for the first fetch
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks;
--- request eval
["GET /api/a", "GET /api/b", "GET /api/c", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer('rsa1'), main::bearer('ec256'), main::bearer('rsa2'), ""]
--- error_code eval
[200, 200, 401, 200]
--- response_body eval
["sub=alice\n", "sub=bob\n", qr/"detail":"The bearer token is not valid: unknown key\."/, "1\n"]



=== TEST 2: discovery: jwks_uri from the issuer's document, and the issuer is the default jwt_issuer
--- http_config
    gateway_oidc_issuer https://127.0.0.1:$TEST_NGINX_IDP_PORT;
--- request eval
["GET /api/a", "GET /api/b", "GET /api/c", "GET /idp/count/discovery",
 "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer('issued'), main::bearer('rsa1'), main::bearer('other'), "", ""]
--- error_code eval
[200, 401, 401, 200, 200]
--- response_body eval
["sub=carol\n", qr/bad issuer/, qr/bad issuer/, "1\n", "1\n"]



=== TEST 3: gateway_status names each key source: keys, kids, algorithms, fetches, errors, next refresh
--- http_config
    gateway_jwks $TEST_NGINX_JWKS_RSA;
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=5m;
--- request eval
["GET /api/a", "GET /status"]
--- more_headers eval
[main::bearer('ec256'), ""]
--- response_body eval
["sub=bob\n",
 qr{"keys": \[\s*\{\s*"source": "[^"]*jwks-rsa-only\.json",\s*"kind": "file",\s*"keys": 1,\s*"kids": \[\s*"rsa1"\s*\],\s*"algorithms": \[\s*"RS256"\s*\]\s*\},\s*\{\s*"source": "https://127\.0\.0\.1:\d+/jwks",\s*"kind": "jwks_uri",\s*"jwks_uri": null,\s*"keys": 2,\s*"kids": \[\s*"rsa1",\s*"ec256"\s*\],\s*"algorithms": \[\s*"RS256",\s*"ES256"\s*\],\s*"generation": 1,\s*"fetches": 1,\s*"failures_in_a_row": 0,\s*"last_fetch": \d{10},\s*"last_success": \d{10},\s*"last_error": null,\s*"last_error_at": null,\s*"next_refresh": \d{10},\s*"next_refresh_in_ms": (29\d\d\d\d|300000),\s*"fetcher_pid": null\s*\}\s*\]}s]



=== TEST 4: the Prometheus format has the key sources too
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks;
--- request eval
["GET /api/a", "GET /status?format=prometheus"]
--- more_headers eval
[main::bearer('rsa1'), ""]
--- response_body eval
["sub=alice\n", qr{\ngateway_keys_loaded\{source="https://127\.0\.0\.1:\d+/jwks"\} 2\n.*\ngateway_keys_fetches_total\{source="https://127\.0\.0\.1:\d+/jwks"\} 1\n.*\ngateway_keys_failures\{source="https://127\.0\.0\.1:\d+/jwks"\} 0\n}s]



=== TEST 5: Cache-Control max-age of the key set, within min_refresh and refresh (cache: 120)
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=10m min_refresh=30s;
--- request eval
["GET /api/a", "GET /status"]
--- more_headers eval
[main::bearer('rsa1'), ""]
--- response_body eval
["sub=alice\n", qr{"next_refresh_in_ms": 1[01]\d\d\d\d,}]



=== TEST 6: a secret in the provider's set is never taken (it would be public): skipped, the other keys load (keys: hs1,rsa1)
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks;
--- request eval
["GET /api/a", "GET /api/b", "GET /status"]
--- more_headers eval
[main::bearer('rsa1'), main::bearer('hs1'), ""]
--- error_code eval
[200, 401, 200]
--- response_body eval
["sub=alice\n", qr/unknown key/, qr{"keys": 1,\s*"kids": \[\s*"rsa1"\s*\]}]



=== TEST 7: a jwks_uri that is not a URL
--- http_config
    gateway_jwks_uri https://user:pw@id.test/jwks;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid URL "https://user:pw\@id\.test/jwks": user information \("user\@"\) is not allowed in \S+nginx\.conf:\d+}



=== TEST 8: an unknown parameter, a bad duration, min_refresh over refresh
--- http_config
    gateway_jwks_uri https://127.0.0.1/jwks refresh=1m min_refresh=2m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"min_refresh" is longer than "refresh" for "https://127\.0\.0\.1/jwks" in \S+nginx\.conf:\d+}



=== TEST 9: a duration out of bounds
--- http_config
    gateway_jwks_uri https://127.0.0.1/jwks min_refresh=10ms;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid min_refresh value "10ms" for "https://127\.0\.0\.1/jwks": from 1s to 1d in \S+nginx\.conf:\d+}



=== TEST 10: a host name needs a resolver
--- http_config
    gateway_oidc_issuer https://id.example.com;
    gateway_service fn { endpoint http://127.0.0.1:1/; auth jwt; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"https://id\.example\.com" in \S+nginx\.conf:\d+ names a host: a "resolver" is needed in the http block}



=== TEST 11: the same source twice
--- http_config
    gateway_jwks_uri https://127.0.0.1/jwks;
    gateway_jwks_uri https://127.0.0.1/jwks refresh=1m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"https://127\.0\.0\.1/jwks" is a key source already, in \S+nginx\.conf:\d+}



=== TEST 12: plain http refused: anyone on the path could put in a key
--- http_config
    gateway_jwks_uri http://10.0.0.1/jwks;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"http://10\.0\.0\.1/jwks" is not https: anyone on the path could put in a key; http is only for a loopback address \(127\.0\.0\.1, \[::1\]\) in \S+nginx\.conf:\d+}



=== TEST 13: nor for an issuer by name
--- http_config
    resolver 127.0.0.1;
    gateway_oidc_issuer http://id.example.com;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"http://id\.example\.com" is not https: .* in \S+nginx\.conf:\d+}



=== TEST 14: http at a loopback address is taken
--- http_config
    gateway_jwks_uri http://127.0.0.1:1/jwks;
    gateway_jwks_uri http://[::1]:1/jwks;
--- config
    location = /t { return 200 "up\n"; }
--- request
GET /t
--- response_body
up
--- no_error_log
[emerg]
[alert]
[crit]



=== TEST 15: with several key sources (no default jwt_issuer), a discovered issuer's keys verify its own tokens only (keys: ec256)
--- http_config
    gateway_jwks $TEST_NGINX_JWKS_RSA;
    gateway_oidc_issuer https://127.0.0.1:$TEST_NGINX_IDP_PORT;
--- request eval
["GET /api/a", "GET /api/b", "GET /api/c", "GET /api/d"]
--- more_headers eval
[main::bearer('ec_iss'), main::bearer('ec_other'), main::bearer('ec256'),
 main::bearer('rsa_other')]
--- error_code eval
[200, 401, 401, 200]
--- response_body eval
["sub=bob\n", qr/bad issuer/, qr/bad issuer/, "sub=alice\n"]
