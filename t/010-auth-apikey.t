# API keys: the consumers file, key headers and query keys, ACLs, and
# what reaches the function (never the key, never a forged identity).

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();
no_root_location();
log_level('info');

# alice-key, bob-key and carol-key as the consumers file stores them
our $Consumers = <<'_EOC_';
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["orders"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "bob", "services": ["*"],
   "keys": ["sha256:9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"]},
  {"id": "carol", "services": ["users"],
   "keys": ["sha256:368c3387fc9b5ce6ab156ad952031f52bc9154e89a727020cd314f8910a21823"]}
]}
_EOC_

# The function answers with what it was given.  The access log goes to
# the error log, so that no_error_log checks both for leaked keys.
our $HttpConfig = <<'_EOC_';
    access_log logs/error.log combined;

    gateway_consumers consumers.json;

    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fn;
        auth apikey;
    }

    gateway_service users {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/users;
        auth apikey;
        apikey_header X-Key;
        apikey_query api_key;
    }

    gateway_service public {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/public;
        auth off;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / {
            return 200 "uri=$request_uri key=[$http_x_api_key$http_x_key] consumer=[$http_x_gateway_consumer] service=$http_x_gateway_service\n";
        }
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /orders/ orders strip;
        gateway_route /users/ users strip;
        gateway_route /public/ public strip;
        proxy_pass $gateway_target;
        add_header X-Auth "[$gateway_auth] [$gateway_consumer]" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", $Consumers)
        unless defined $block->user_files;
    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;

    # no key ever reaches a log line
    $block->set_value("no_error_log", "alice-key\nbob-key\ncarol-key\n"
                                      . "[error]\n[alert]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: a valid key: the function gets the consumer, not the key
--- request
GET /orders/7?x=1
--- more_headers
X-API-Key: alice-key
--- response_body
uri=/fn/7?x=1 key=[] consumer=[alice] service=orders
--- response_headers
X-Auth: [apikey] [alice]



=== TEST 2: no key: the detail speaks of API keys only
--- request
GET /orders/7
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="gateway", header="X-API-Key"
Content-Type: application/problem+json
X-Auth: [] []
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"This service needs an API key, sent as the WWW-Authenticate header says."}
--- error_log
gateway: authentication failed for service "orders": no credentials



=== TEST 3: an unknown key
--- request
GET /orders/7
--- more_headers
X-API-Key: alice-kez
--- error_code: 401
--- response_body
{"type":"tag:ngx-http-gateway,2026:unauthorized","title":"Unauthorized","status":401,"detail":"The API key is not valid."}
--- error_log
gateway: authentication failed for service "orders": unknown API key
--- no_error_log
alice-kez



=== TEST 4: keys are compared whole and exactly
--- request
GET /orders/7
--- more_headers
X-API-Key: ALICE-KEY
--- error_code: 401



=== TEST 5: an empty key
--- raw_request eval
"GET /orders/7 HTTP/1.1\r\nHost: localhost\r\nX-API-Key:\r\nConnection: close\r\n\r\n"
--- error_code: 401
--- error_log
unknown API key



=== TEST 6: a consumer the service's ACL does not list: 403
--- request
GET /orders/7
--- more_headers
X-API-Key: carol-key
--- error_code: 403
--- response_headers
Content-Type: application/problem+json
X-Auth: [apikey] [carol]
--- response_body
{"type":"tag:ngx-http-gateway,2026:forbidden","title":"Forbidden","status":403,"detail":"This consumer may not call this service."}
--- error_log
gateway: consumer "carol" may not call service "orders"



=== TEST 7: "*" lets a consumer call every service
--- request
GET /orders/7
--- more_headers
X-API-Key: bob-key
--- response_body
uri=/fn/7 key=[] consumer=[bob] service=orders



=== TEST 8: two key headers are refused, whatever they hold
--- request
GET /orders/7
--- more_headers
X-API-Key: alice-key
X-API-Key: alice-key
--- error_code: 401
--- error_log
gateway: authentication failed for service "orders": more than one credential



=== TEST 9: a forged X-Gateway-Consumer never reaches the function
--- request
GET /orders/7
--- more_headers
X-Gateway-Consumer: admin
X-API-Key: alice-key
X-Gateway-Service: billing
--- response_body
uri=/fn/7 key=[] consumer=[alice] service=orders



=== TEST 10: a key in the query is refused where the service does not allow it
--- request
GET /orders/7?api_key=alice-key
--- error_code: 401
--- error_log
no credentials
--- no_error_log
[error]



=== TEST 11: the service's own header name, and the default one ignored
--- request
GET /users/1
--- more_headers
X-API-Key: carol-key
--- error_code: 401



=== TEST 12: the service's own header name
--- request
GET /users/1
--- more_headers
X-Key: carol-key
--- response_body
uri=/users/1 key=[] consumer=[carol] service=users



=== TEST 13: a query key, where allowed, is removed from the function's URL
The access log records request lines, so this block logs elsewhere.
--- http_config eval
$::HttpConfig =~ s{access_log logs/error.log combined;}{access_log off;}r
--- request
GET /users/1?a=1&api_key=carol%2Dkey&b=2
--- response_body
uri=/users/1?a=1&b=2 key=[] consumer=[carol] service=users
--- response_headers
X-Auth: [apikey] [carol]



=== TEST 14: a key in the header and in the query is refused
nginx's own log context carries the request line, and so a query key:
why query keys are off unless a service turns them on.
--- http_config eval
$::HttpConfig =~ s{access_log logs/error.log combined;}{access_log off;}r
--- request
GET /users/1?api_key=carol-key
--- more_headers
X-Key: carol-key
--- error_code: 401
--- no_error_log
[error]
--- error_log
more than one credential



=== TEST 15: two query keys are refused
--- http_config eval
$::HttpConfig =~ s{access_log logs/error.log combined;}{access_log off;}r
--- request
GET /users/1?api_key=carol-key&api_key=bob-key
--- error_code: 401
--- no_error_log
[error]
--- error_log
more than one credential



=== TEST 16: a public service admits anyone, and still drops forgeries
--- request
GET /public/x
--- more_headers
X-Gateway-Consumer: admin
--- response_body
uri=/public/x key=[] consumer=[] service=public
--- response_headers
X-Auth: [off] []



=== TEST 17: the key travels on when the public service is called with one
A public service does not use keys: it neither checks nor strips them.
--- request
GET /public/x
--- more_headers
X-API-Key: whatever
--- response_body
uri=/public/x key=[whatever] consumer=[] service=public
--- no_error_log
[error]



=== TEST 18: the consumers file is read again on reload
Declared in the http block, loaded by nginx -t and by every reload; a
service it names must exist.
--- user_files
>>> ../conf/consumers.json
{"consumers": [{"id": "erin", "services": ["orders"], "keys": []},
  {"services": ["orders",
                "nope"], "id": "dave", "keys": []}]}
--- must_die
--- error_log eval
qr{\[emerg\] .*consumer "dave" in "\S+consumers\.json" at line 3, column 17 names unknown gateway service "nope", in the file of "gateway_consumers" in \S+nginx\.conf:\d+}
--- no_error_log
[alert]
