# The gateway's own answers: 404 when no route matches the path, 405
# with Allow when only the method does not; RFC 9457 problem bodies.

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();
no_root_location();
log_level('info');

our $Services = <<'_EOC_';
    gateway_default_auth off;
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fn; }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "function $request_method $request_uri\n"; }
    }
_EOC_

our $Routes = <<'_EOC_';
    location / {
        gateway_route GET,POST /orders/ orders strip;
        gateway_route DELETE "/orders/{id}" orders strip;
        proxy_pass $gateway_target;
        add_header X-Service "[$gateway_service]" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Services)
        unless defined $block->http_config;
    $block->set_value("config", $Routes) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: no route matches the path
--- request
GET /nothing/here
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
X-Service: []
!Allow
--- response_body
{"type":"tag:ngx-http-gateway,2026:no-route","title":"Not Found","status":404,"detail":"No route of this gateway matches the request path."}
--- error_log
gateway: no route matches the request path
--- no_error_log
[error]



=== TEST 2: the route matches the path but not the method
--- request
PUT /orders/7
--- error_code: 405
--- response_headers
Content-Type: application/problem+json
Allow: GET, HEAD, POST, DELETE
--- response_body
{"type":"tag:ngx-http-gateway,2026:method-not-allowed","title":"Method Not Allowed","status":405,"detail":"The route for this path does not allow the request method; the Allow header lists those it does."}
--- error_log
gateway: the route does not allow the method
--- no_error_log
[error]



=== TEST 3: Allow lists the methods of the routes of this path only
--- request
DELETE /orders
--- error_code: 405
--- response_headers
Allow: GET, HEAD, POST



=== TEST 4: HEAD gets the status and headers without a body
--- request
HEAD /nothing
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
Content-Length: 141
--- response_body



=== TEST 5: a request body sent to no route is read and dropped
The connection stays usable: the next request on it is answered.
--- pipelined_requests eval
["POST /nothing\n" . ("x" x 4096), "GET /orders/1"]
--- more_headers
Content-Type: text/plain
--- error_code eval
[404, 200]
--- response_body eval
['{"type":"tag:ngx-http-gateway,2026:no-route","title":"Not Found","status":404,"detail":"No route of this gateway matches the request path."}
', "function GET /fn/1\n"]
--- no_error_log
[error]



=== TEST 6: an unknown method finds no route but a "*" one
--- config
    location / {
        gateway_route GET /orders/ orders strip;
        gateway_route * /any/ orders strip;
        proxy_pass $gateway_target;
    }
--- raw_request eval
"FETCH /any/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- response_body
function FETCH /fn/x



=== TEST 7: an unknown method on a route of known methods is a 405
--- config
    location / {
        gateway_route GET /orders/ orders strip;
        proxy_pass $gateway_target;
    }
--- raw_request eval
"FETCH /orders/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 405
--- response_headers
Allow: GET, HEAD



=== TEST 8: the error is the gateway's even with error_page set
Problem bodies are sent by the gateway itself, not as nginx's error
pages, so that clients always get application/problem+json.
--- config
    error_page 404 /custom404;

    location / {
        gateway_route /orders/ orders;
        proxy_pass $gateway_target;
    }

    location = /custom404 {
        return 404 "custom\n";
    }
--- request
GET /nothing
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
