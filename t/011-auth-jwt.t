# JWT: bearer tokens verified against the JWK Set, claims checked, the
# caller named to the function, and never the token itself.

use lib 't/inc';
use GatewayJWT;
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();
no_root_location();
log_level('info');

$ENV{TEST_NGINX_JWKS} = GatewayJWT::jwks_path();

my $now = time;
my %std = (sub => 'alice-sub', iss => 'https://id.test', aud => 'orders-api',
           iat => $now, exp => $now + 600);

# minted once, so that the blocks can name them and the repeated
# requests of each block exercise the cache of verified tokens
our %T = (
    rs256     => jwt(alg => 'RS256', claims => { %std, email => 'a@x.test' }),
    rs512     => jwt(alg => 'RS512', claims => \%std),
    ps256     => jwt(alg => 'PS256', claims => \%std),
    es256     => jwt(alg => 'ES256', claims => \%std),
    es384     => jwt(alg => 'ES384', claims => \%std),
    es512     => jwt(alg => 'ES512', claims => \%std),
    eddsa     => jwt(alg => 'EdDSA', claims => \%std),
    hs256     => jwt(alg => 'HS256', claims => \%std),
    hs512     => jwt(alg => 'HS512', claims => \%std),
    bob       => jwt(claims => { %std, sub => 'bob-sub' }),
    carol     => jwt(claims => { %std, sub => 'carol-sub' }),
    crlf      => jwt(claims => { %std, email => "a\r\nX-Admin: 1" }),
    expired   => jwt(claims => { %std, exp => $now - 10 }),
    longgone  => jwt(claims => { %std, exp => $now - 3600 }),
    future    => jwt(claims => { %std, nbf => $now + 3600, exp => $now + 7200 }),
    noexp     => jwt(claims => { %std, exp => undef }),
    otheraud  => jwt(claims => { %std, aud => ['billing', 'users'] }),
    audarray  => jwt(claims => { %std, aud => ['billing', 'orders-api'] }),
    otheriss  => jwt(claims => { %std, iss => 'https://evil.test' }),
    none      => jwt(alg => 'none', kid => 'rsa1', claims => \%std),
    forged    => jwt(alg => 'RS256', key => 'attacker-rsa', kid => 'rsa1',
                     claims => \%std),
    confused  => jwt(alg => 'HS256', kid => 'rsa1', claims => \%std,
                     hmac_key => GatewayJWT::public_pem('rsa1')),
    unknownkid => jwt(alg => 'RS256', kid => 'rsa9', claims => \%std),
    jwkheader => jwt(alg => 'RS256', key => 'attacker-rsa', kid => 'rsa1',
                     claims => \%std,
                     header => { jwk => GatewayJWT::jwk('rsa1') }),
    big       => jwt(claims => { %std, pad => 'x' x 600 }),
);

our $Consumers = <<'_EOC_';
>>> ../conf/consumers.json
{"consumers": [
  {"id": "bob", "services": ["*"], "jwt_subject": "bob-sub", "keys": []},
  {"id": "carol", "services": ["relay"], "jwt_subject": "carol-sub"}
]}
_EOC_

our $HttpConfig = <<'_EOC_';
    access_log logs/error.log combined;

    gateway_jwks $TEST_NGINX_JWKS;
    gateway_consumers consumers.json;

    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fn;
        auth jwt;
        jwt_issuer https://id.test;
        jwt_audience orders-api other-api;
        jwt_claim_headers sub:X-User email:X-Email;
    }

    gateway_service relay {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/relay;
        auth jwt apikey;
        jwt_forward_token on;
        jwt_leeway 5m;
        jwt_max_size 1024;
        jwt_algorithms RS256 ES256;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "uri=$request_uri consumer=[$http_x_gateway_consumer] sub=[$http_x_gateway_subject] iss=[$http_x_gateway_issuer] auth=[$http_x_gateway_auth] user=[$http_x_user] email=[$http_x_email] authz=[$http_authorization]\n";
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /orders/ orders strip;
        gateway_route /relay/ relay strip;
        proxy_pass $gateway_target;
        add_header X-Auth "[$gateway_auth] [$gateway_consumer]" always;
    }
_EOC_

sub bearer { "Authorization: Bearer $T{$_[0]}" }

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", $Consumers);
    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $Config);

    # no token ever reaches a log line
    $block->set_value("no_error_log", [values %T, '[error]', '[alert]'])
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: a valid RS256 token: subject and claims reach the function
--- request
GET /orders/1
--- more_headers eval
main::bearer('rs256')
--- response_body
uri=/fn/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[a@x.test] authz=[]
--- response_headers
X-Auth: [jwt] []



=== TEST 2: every algorithm of the JWK Set
--- pipelined_requests eval
["GET /orders/rs512", "GET /orders/ps256", "GET /orders/es256",
 "GET /orders/es384", "GET /orders/es512", "GET /orders/eddsa",
 "GET /orders/hs256", "GET /orders/hs512"]
--- more_headers eval
[map { main::bearer($_) } qw(rs512 ps256 es256 es384 es512 eddsa hs256 hs512)]
--- response_body eval
[map { "uri=/fn/$_ consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[] authz=[]\n" }
 qw(rs512 ps256 es256 es384 es512 eddsa hs256 hs512)]



=== TEST 3: no token
--- request
GET /orders/1
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway"
Content-Type: application/problem+json
--- error_log
gateway: authentication failed for service "orders": no credentials



=== TEST 4: an expired token
--- request
GET /orders/1
--- more_headers eval
main::bearer('expired')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway", error="invalid_token"
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"The bearer token is not valid: expired."}
--- error_log
gateway: authentication failed for service "orders": expired



=== TEST 5: a token not valid yet
--- request
GET /orders/1
--- more_headers eval
main::bearer('future')
--- error_code: 401
--- error_log
gateway: authentication failed for service "orders": not yet valid



=== TEST 6: a token without exp
--- request
GET /orders/1
--- more_headers eval
main::bearer('noexp')
--- error_code: 401



=== TEST 7: the audience, as a string or in an array
--- request
GET /orders/1
--- more_headers eval
main::bearer('audarray')
--- response_body
uri=/fn/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[] authz=[]



=== TEST 8: another audience
--- request
GET /orders/1
--- more_headers eval
main::bearer('otheraud')
--- error_code: 401
--- error_log eval
qr/gateway: authentication failed for service "orders": \w.*aud/



=== TEST 9: another issuer
--- request
GET /orders/1
--- more_headers eval
main::bearer('otheriss')
--- error_code: 401
--- error_log eval
qr/gateway: authentication failed for service "orders": \w.*iss/



=== TEST 10: alg none
--- request
GET /orders/1
--- more_headers eval
main::bearer('none')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway", error="invalid_token"



=== TEST 11: a signature of a key not in the set
--- request
GET /orders/1
--- more_headers eval
main::bearer('forged')
--- error_code: 401
--- error_log eval
qr/gateway: authentication failed for service "orders": \w.*signature/



=== TEST 12: HS256 with the RSA public key as the secret
--- request
GET /orders/1
--- more_headers eval
main::bearer('confused')
--- error_code: 401



=== TEST 13: an unknown kid
--- request
GET /orders/1
--- more_headers eval
main::bearer('unknownkid')
--- error_code: 401



=== TEST 14: a key carried in the token's header is never used
--- request
GET /orders/1
--- more_headers eval
main::bearer('jwkheader')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway", error="invalid_token"
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"The bearer token is not valid: header parameter not allowed."}



=== TEST 15: not a bearer token: no error, as no token was sent
--- request
GET /orders/1
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway"
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"The Authorization header does not hold a bearer token."}
--- error_log
gateway: authentication failed for service "orders": not a bearer token



=== TEST 16: the scheme is caseless
--- request
GET /orders/1
--- more_headers eval
"Authorization: bEaReR $main::T{rs256}"
--- response_body
uri=/fn/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[a@x.test] authz=[]



=== TEST 17: a subject listed in the consumers file is that consumer
--- request
GET /orders/1
--- more_headers eval
main::bearer('bob')
--- response_body
uri=/fn/1 consumer=[bob] sub=[bob-sub] iss=[https://id.test] auth=[jwt] user=[bob-sub] email=[] authz=[]



=== TEST 18: and that consumer's ACL applies
--- request
GET /orders/1
--- more_headers eval
main::bearer('carol')
--- error_code: 403
--- error_log
gateway: consumer "carol" may not call service "orders"



=== TEST 19: forged claim and identity headers never reach the function
--- request
GET /orders/1
--- more_headers eval
main::bearer('rs256') . "\nX-User: root\nX-Email: root\@x.test\nX-Gateway-Consumer: root"
--- response_body
uri=/fn/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[a@x.test] authz=[]



=== TEST 20: a claim that would inject a header is not passed on
--- request
GET /orders/1
--- more_headers eval
main::bearer('crlf')
--- response_body
uri=/fn/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[alice-sub] email=[] authz=[]



=== TEST 21: jwt_forward_token passes the token on; jwt_algorithms
--- request
GET /relay/1
--- more_headers eval
main::bearer('es256')
--- response_body eval
"uri=/relay/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[] email=[] authz=[Bearer $main::T{es256}]\n"
--- no_error_log
[error]



=== TEST 22: an algorithm the service does not allow
--- request
GET /relay/1
--- more_headers eval
main::bearer('ps256')
--- error_code: 401



=== TEST 23: a token over jwt_max_size
--- request
GET /relay/1
--- more_headers eval
main::bearer('big')
--- error_code: 401
--- error_log eval
qr/gateway: authentication failed for service "relay": \w.*(large|size)/



=== TEST 24: jwt_leeway admits a token expired within it
Five minutes: the whole file runs well within them.
--- request
GET /relay/1
--- more_headers eval
main::bearer('expired')
--- response_body eval
"uri=/relay/1 consumer=[] sub=[alice-sub] iss=[https://id.test] auth=[jwt] user=[] email=[] authz=[Bearer $main::T{expired}]\n"
--- no_error_log
[error]



=== TEST 25: and not a token expired before it
--- request
GET /relay/1
--- more_headers eval
main::bearer('longgone')
--- error_code: 401
--- error_log
gateway: authentication failed for service "relay": expired



=== TEST 26: "jwt apikey": no credentials names both schemes
--- request
GET /relay/1
--- error_code: 401
--- raw_response_headers_like eval
qr/\r\nWWW-Authenticate: Bearer realm="gateway"\r\nWWW-Authenticate: ApiKey realm="gateway", header="X-API-Key"\r\n/



=== TEST 27: a token-only service's detail names the bearer token only
--- request
GET /orders/1
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway"
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"This service needs a bearer token in the Authorization header."}



=== TEST 28: "Bearer" and no token is an invalid request
--- request
GET /orders/1
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="gateway", error="invalid_request"
--- error_log
gateway: authentication failed for service "orders": empty bearer token



=== TEST 29: two API keys are an invalid request, not an invalid token
--- request
GET /relay/1
--- more_headers
X-API-Key: some-key
X-API-Key: other-key
--- error_code: 401
--- raw_response_headers_like eval
qr/\r\nWWW-Authenticate: Bearer realm="gateway", error="invalid_request"\r\nWWW-Authenticate: ApiKey realm="gateway", header="X-API-Key"\r\n/
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"The request carries more than one API key or token; send exactly one."}
