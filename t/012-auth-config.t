# Authentication mistakes fail "nginx -t" with the file, the line and
# the value; a service is never public by accident.

use lib 't/inc';
use GatewayJWT;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

$ENV{TEST_NGINX_JWKS} = GatewayJWT::jwks_path();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("suppress_stderr", 1);
    $block->set_value("config", "") unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: a service without "auth" and no default
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway service "orders" in \S+nginx\.conf:\d+ has no "auth": say "auth off;" for a public service, or set "gateway_default_auth"}



=== TEST 2: an unknown authentication
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth basic; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid authentication "basic": "off", "apikey", "jwt" or "apikey jwt" in \S+nginx\.conf:\d+}



=== TEST 3: "off" with another mode
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth off jwt; }
--- must_die
--- error_log
invalid authentication "off"



=== TEST 4: API keys without a consumers file
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth apikey; }
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway service "orders" in \S+nginx\.conf:\d+ uses API keys, but no "gateway_consumers" file is set}



=== TEST 5: JWT without a JWK Set
--- http_config
    gateway_default_auth jwt;
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway service "orders" in \S+nginx\.conf:\d+ uses JWT, but no "gateway_jwks" file is set}



=== TEST 6: a JWT setting on a service that does not use JWT
--- http_config
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth off;
        jwt_issuer https://id.test;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"jwt_issuer" of gateway service "orders" in \S+nginx\.conf:\d+ has no effect: the service does not use that authentication}



=== TEST 7: an API key setting on a service that does not use keys
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        apikey_header X-Key;
    }
--- must_die
--- error_log
"apikey_header" of gateway service "orders"



=== TEST 8: a consumers file that cannot be read
--- http_config
    gateway_consumers nope.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*open\(\) "\S+/conf/nope\.json" failed \(2: No such file or directory\) in \S+nginx\.conf:\d+}



=== TEST 9: a consumers file that is not JSON: line and column
--- user_files
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice" "services": ["*"]}
]}
--- http_config
    gateway_consumers consumers.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway_consumers "\S+consumers\.json": invalid JSON at line 2, column \d+: .* in \S+nginx\.conf:\d+}



=== TEST 10: a duplicate key in the consumers file: line and column
--- user_files
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["*"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "bob", "services": ["*"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]}
]}
--- http_config
    gateway_consumers consumers.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway_consumers "\S+consumers\.json": duplicate key "sha256:72ee\w+" \(consumer "bob"\) at line 5, column 13 in \S+nginx\.conf:\d+}



=== TEST 11: a plaintext key in the consumers file
--- user_files
>>> ../conf/consumers.json
{"consumers": [{"id": "alice", "services": ["*"], "keys": ["alice-key"]}]}
--- http_config
    gateway_consumers consumers.json;
--- must_die
--- error_log
key #1 of consumer "alice" is not "sha256:" and 64 hexadecimal digits
--- no_error_log
alice-key"



=== TEST 12: a JWK Set that is not JSON
--- user_files
>>> ../conf/jwks.json
{"keys": [
--- http_config
    gateway_jwks jwks.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway_jwks "\S+jwks\.json": .*line \d+, column \d+}



=== TEST 13: an HMAC key shorter than its hash
--- user_files
>>> ../conf/jwks.json
{"keys": [{"kty": "oct", "kid": "short", "alg": "HS256", "k": "c2hvcnQtc2VjcmV0"}]}
--- http_config
    gateway_jwks jwks.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway_jwks "\S+jwks\.json": .*short}



=== TEST 14: a JWK Set with private key material
--- user_files eval
my $jwk = GatewayJWT::jwk('ec256');
$jwk->{d} = 'AAAA';
">>> ../conf/jwks.json\n"
    . JSON::PP->new->canonical->encode({ keys => [$jwk] })
--- http_config
    gateway_jwks jwks.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway_jwks "\S+jwks\.json": .*private}



=== TEST 15: jwt_leeway over five minutes
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_leeway 10m;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"jwt_leeway" of gateway service "orders" in \S+nginx\.conf:\d+ is more than 300s}



=== TEST 16: jwt_max_size out of bounds
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_max_size 10;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "jwt_max_size" value "10": from 256 to 65536 in \S+nginx\.conf:\d+}



=== TEST 17: an unknown JWT algorithm
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_algorithms RS256 none;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown JWT algorithm "none" in \S+nginx\.conf:\d+}



=== TEST 18: a claim header without a header name
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_claim_headers sub;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid claim header "sub": "claim:Header-Name" in \S+nginx\.conf:\d+}



=== TEST 19: a claim header name with a space or colon
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_claim_headers "sub:X User";
    }
--- must_die
--- error_log
invalid claim header "sub:X User"



=== TEST 20: two consumers files
--- user_files
>>> ../conf/consumers.json
{"consumers": []}
--- http_config
    gateway_consumers consumers.json;
    gateway_consumers consumers.json;
--- must_die
--- error_log eval
qr{\[emerg\] .*"gateway_consumers" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 21: gateway_default_auth serves the services without "auth"
--- user_files
>>> ../conf/consumers.json
{"consumers": []}
--- http_config
    gateway_consumers consumers.json;
    gateway_default_auth apikey;
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route / orders;
        proxy_pass $gateway_target;
    }
--- request
GET /x
--- error_code: 401
--- no_error_log
[emerg]



=== TEST 22: jwt_algorithms that no key of the set serves: a warning
No key of the test set is bound to PS384, so every token would be refused.
--- http_config
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_algorithms PS384;
    }
    gateway_service users {
        endpoint http://127.0.0.1:1/;
        auth jwt;
        jwt_algorithms PS384 RS256;
    }
--- config
    location / {
        gateway_route /orders/ orders;
        gateway_route /users/ users;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/1
--- error_code: 401
--- error_log eval
qr{\[warn\] .*no key of "\S+jwks\.json" serves "jwt_algorithms PS384" of gateway service "orders" in \S+nginx\.conf:\d+: every token will be refused}
--- no_error_log
gateway service "users"
