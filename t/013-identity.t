# Identity the client cannot forge: route parameters, gateway headers in
# any spelling, method overrides, dot segments, callers of tokens and of
# the consumers file kept apart, and the variables set as decided.

use lib 't/inc';
use GatewayJWT;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

$ENV{TEST_NGINX_JWKS} = GatewayJWT::jwks_path();

my $now = time;
my %std = (iss => 'https://id.test', iat => $now, exp => $now + 600);

our %T = (
    # the id of a consumer of the file, but not its jwt_subject
    alice      => jwt(claims => { %std, sub => 'alice', email => 'a@x.test' }),
    # alice's jwt_subject: this token is consumer alice
    aliceidp   => jwt(claims => { %std, sub => 'alice-idp' }),
    nosub1     => jwt(claims => { %std, sub => undef, jti => 'one' }),
    nosub2     => jwt(claims => { %std, sub => undef, jti => 'two' }),
    secret     => jwt(claims => { %std, sub => 'secret-subject-4711' }),
    crlfiss    => jwt(claims => { %std, sub => 'x', iss => "a\r\nX-Admin: 1" }),
    mob        => jwt(claims => { %std, sub => 'mob-sub' }),
    mobother   => jwt(claims => { %std, sub => 'mob-sub',
                                  iss => 'https://other.test' }),
);

sub bearer { "Authorization: Bearer $T{$_[0]}" }

our $Consumers = <<'_EOC_';
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["users", "capped"], "jwt_subject": "alice-idp",
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "mob", "services": ["admin"], "jwt_subject": "mob-sub",
   "jwt_issuer": "https://id.test"},
  {"id": "erin", "services": ["*"], "rate_limit": "100r/s burst=10",
   "keys": ["sha256:6e23c3a5f55041d224a2d00774d1fcc8cdd01ddd6c6ed9ba1cb77e163ca503d5"]}
]}
_EOC_

our $HttpConfig = <<'_EOC_';
    gateway_jwks $TEST_NGINX_JWKS;
    gateway_consumers consumers.json;

    gateway_service users {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/users;
        auth apikey jwt;
        jwt_claim_headers email:X-Email;
        rate_limit 1r/m burst=1;
    }

    gateway_service admin {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/admin;
        auth apikey jwt;
    }

    gateway_service capped {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/capped;
        auth apikey;
        rate_limit 1r/m burst=1;
        rate_limit 1r/m burst=2 per=service;
    }

    gateway_service pub {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/pub;
        auth off;
    }

    gateway_service legacy {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/legacy;
        auth off;
        allow_method_override on;
    }

    # the function reads headers as CGI does: "_" and "-" are one
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        underscores_in_headers on;
        location / {
            return 200 "$request_uri consumer=[$http_x_gateway_consumer] auth=[$http_x_gateway_auth] sub=[$http_x_gateway_subject] service=[$http_x_gateway_service] email=[$http_x_email] uid=[$http_x_user_id] override=[$http_x_http_method_override|$http_x_http_method|$http_x_method_override]\n";
        }
    }
_EOC_

our $Config = <<'_EOC_';
    underscores_in_headers on;

    location / {
        gateway_route /users/ users strip;
        gateway_route /admin/ admin strip;
        gateway_route /capped/ capped strip;
        gateway_route GET "/p/{id}" pub;
        gateway_route /legacy/ legacy strip;
        proxy_pass $gateway_target;
        proxy_set_header X-User-Id $gateway_param_id;
        add_header X-Vars "[$gateway_service] [$gateway_route] [$gateway_auth] [$gateway_consumer] [$gateway_subject] [$gateway_ratelimit_remaining]" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/;

    $block->set_value("user_files", $Consumers);
    $block->set_value("http_config", "    gateway_zone id$n 1m;\n"
                      . ($block->http_config // $HttpConfig));
    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("no_error_log", "[error]\n[alert]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: a route parameter carries no CR/LF: no forged header line
--- pipelined_requests eval
["GET /p/7", "GET /p/7%0d%0aX-Gateway-Consumer:%20alice",
 "GET /p/7%0aX", "GET /p/a%09b", "GET /p/a%1fb", "GET /p/a%7fb",
 "GET /p/%c3%a9"]
--- error_code eval
[200, 404, 404, 404, 404, 404, 200]
--- response_body eval
["/pub/p/7 consumer=[] auth=[] sub=[] service=[pub] email=[] uid=[7] override=[||]\n",
 qr/"type":"tag:ngx-http-gateway,2026:no-route"/,
 qr/no-route/, qr/no-route/, qr/no-route/, qr/no-route/,
 "/pub/p/%C3%A9 consumer=[] auth=[] sub=[] service=[pub] email=[] uid=[\xc3\xa9] override=[||]\n"]



=== TEST 2: ".;" and "..;" segments are refused before routing
--- pipelined_requests eval
["GET /p/..;/admin", "GET /users/.;/x", "GET /p/..%3bjsessionid=1",
 "GET /p/a..;", "GET /p/...;"]
--- error_code eval
[400, 400, 400, 200, 200]
--- response_body eval
[qq/{"type":"tag:ngx-http-gateway,2026:bad-path","title":"Bad Request","status":400,"detail":"The request path has a segment that starts with \\".;\\" or \\"..;\\", which servers of functions may read as a dot segment."}\n/,
 qr/bad-path/, qr/bad-path/, qr/uid=\[a\.\.;\]/, qr/uid=\[\.\.\.;\]/]



=== TEST 3: gateway headers in "_" spellings never reach the function
--- request
GET /users/1
--- more_headers eval
main::bearer('alice') . "\nX_Gateway_Consumer: alice\nx_gateway_service: evil\nX-Gateway_Auth: apikey\nX_Email: forged\@x.test\nX_GATEWAY_SUBJECT: root"
--- response_body
/users/1 consumer=[] auth=[jwt] sub=[alice] service=[users] email=[a@x.test] uid=[] override=[||]



=== TEST 4: method-override headers are removed, in any spelling
--- request
GET /users/1
--- more_headers
X-API-Key: alice-key
X-HTTP-Method-Override: DELETE
X_HTTP_Method: DELETE
x-method-override: DELETE
--- response_body
/users/1 consumer=[alice] auth=[apikey] sub=[] service=[users] email=[] uid=[] override=[||]



=== TEST 5: allow_method_override passes them on
--- request
GET /legacy/1
--- more_headers
X-HTTP-Method-Override: PATCH
--- response_body
/legacy/1 consumer=[] auth=[] sub=[] service=[legacy] email=[] uid=[] override=[PATCH||]



=== TEST 6: a token whose subject is a consumer's id is not that consumer
alice may not call admin with her key; a token for subject "alice" is a
caller of its own: no ACL of alice's, no X-Gateway-Consumer, and
$gateway_consumer empty ($gateway_subject names it).
--- pipelined_requests eval
["GET /admin/1", "GET /admin/2"]
--- more_headers eval
["X-API-Key: alice-key", main::bearer('alice')]
--- error_code eval
[403, 200]
--- response_headers eval
["X-Vars: [admin] [/admin/] [apikey] [alice] [] []",
 "X-Vars: [admin] [/admin/] [jwt] [] [alice] []"]
--- response_body eval
[qr/forbidden/,
 "/admin/2 consumer=[] auth=[jwt] sub=[alice] service=[admin] email=[] uid=[] override=[||]\n"]



=== TEST 7: a token with the consumer's jwt_subject is that consumer
--- request
GET /admin/1
--- more_headers eval
main::bearer('aliceidp')
--- error_code: 403
--- response_headers
X-Vars: [admin] [/admin/] [jwt] [alice] [alice-idp] []



=== TEST 8: a token's caller never spends a consumer's bucket
users allows 2 at once per caller: alice's key twice, then the token of
subject "alice" has its own bucket, and alice's key is refused.
--- pipelined_requests eval
["GET /users/1", "GET /users/2", "GET /users/3", "GET /users/4",
 "GET /users/5"]
--- more_headers eval
["X-API-Key: alice-key", "X-API-Key: alice-key", main::bearer('alice'),
 "X-API-Key: alice-key", main::bearer('aliceidp')]
--- error_code eval
[200, 200, 200, 429, 429]
--- response_headers eval
["X-Vars: [users] [/users/] [apikey] [alice] [] [1]",
 "X-Vars: [users] [/users/] [apikey] [alice] [] [0]",
 "X-Vars: [users] [/users/] [jwt] [] [alice] [1]",
 "X-Vars: [users] [/users/] [apikey] [alice] [] [0]",
 "X-Vars: [users] [/users/] [jwt] [alice] [alice-idp] [0]"]



=== TEST 9: tokens without a subject are limited per client address
Two different tokens without "sub" from one address share its bucket;
from another address, or with a subject, a caller has its own.
--- config eval
"    set_real_ip_from 127.0.0.1;\n    real_ip_header X-Real-IP;\n" . $::Config
--- pipelined_requests eval
["GET /users/1", "GET /users/2", "GET /users/3", "GET /users/4",
 "GET /users/5"]
--- more_headers eval
[main::bearer('nosub1') . "\nX-Real-IP: 192.0.2.1",
 main::bearer('nosub2') . "\nX-Real-IP: 192.0.2.1",
 main::bearer('nosub1') . "\nX-Real-IP: 192.0.2.1",
 main::bearer('nosub1') . "\nX-Real-IP: 192.0.2.2",
 main::bearer('alice') . "\nX-Real-IP: 192.0.2.1"]
--- error_code eval
[200, 200, 429, 200, 200]
--- response_headers eval
["X-Vars: [users] [/users/] [jwt] [] [] [1]", "", "", "", ""]



=== TEST 10: a consumer's own limit does not escape a per=service cap
erin's own 100r/s burst=10 replaces the per-consumer line only; the
service's cap of 3 at once holds, and its header is the one reported.
--- pipelined_requests eval
["GET /capped/1", "GET /capped/2", "GET /capped/3", "GET /capped/4",
 "GET /capped/5"]
--- more_headers
X-API-Key: erin-key
--- error_code eval
[200, 200, 200, 429, 429]
--- response_headers eval
["RateLimit-Policy: \"capped-2\";q=3;w=60", "", "",
 "RateLimit-Policy: \"capped-2\";q=3;w=60", ""]
--- response_headers_like eval
["RateLimit: \"capped-2\";r=2;t=\\d+", "", "", "Retry-After: \\d+", ""]



=== TEST 11: a refusal by one line charges no other line
alice: 2 at once per consumer, 3 at once per service.  Her third call is
refused by her own line and does not spend the service's; erin's first
then passes, her second is refused by the service's line.
--- pipelined_requests eval
["GET /capped/1", "GET /capped/2", "GET /capped/3", "GET /capped/4",
 "GET /capped/5"]
--- more_headers eval
["X-API-Key: alice-key", "X-API-Key: alice-key", "X-API-Key: alice-key",
 "X-API-Key: erin-key", "X-API-Key: erin-key"]
--- error_code eval
[200, 200, 429, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"capped\";q=2;w=60", "RateLimit-Policy: \"capped\";q=2;w=60",
 "RateLimit-Policy: \"capped\";q=2;w=60", "RateLimit-Policy: \"capped-2\";q=3;w=60",
 "RateLimit-Policy: \"capped-2\";q=3;w=60"]



=== TEST 12: no subject reaches the module's log, at any level
--- log_level: debug
--- request
GET /users/1
--- more_headers eval
main::bearer('secret')
--- error_code: 200
--- grep_error_log eval
qr/gateway (?:rate limit )?[^\n]*(?:secret-subject-4711|admitted)[^\n]*/
--- grep_error_log_out
gateway rate limit 1 of "users" per consumer: admitted, remaining 1



=== TEST 13: an issuer with a control byte cannot name a caller
--- request
GET /users/1
--- more_headers eval
main::bearer('crlfiss')
--- error_code: 401
--- response_body_like
.*subject or issuer cannot name a caller.*



=== TEST 14: a refusal before identification leaves the caller unset
--- pipelined_requests eval
["GET /users/1", "GET /nowhere"]
--- more_headers eval
["X-API-Key: nobody-key", ""]
--- error_code eval
[401, 404]
--- response_headers eval
["X-Vars: [users] [/users/] [] [] [] []", "X-Vars: [] [] [] [] [] []"]



=== TEST 15: a consumer's jwt_issuer: another issuer's token is not it
Both identity providers' keys are in the set; only the consumer's own
issuer makes a token of subject "mob-sub" consumer mob.
--- pipelined_requests eval
["GET /admin/1", "GET /admin/2"]
--- more_headers eval
[main::bearer('mob'), main::bearer('mobother')]
--- response_body eval
["/admin/1 consumer=[mob] auth=[jwt] sub=[mob-sub] service=[admin] email=[] uid=[] override=[||]\n",
 "/admin/2 consumer=[] auth=[jwt] sub=[mob-sub] service=[admin] email=[] uid=[] override=[||]\n"]
