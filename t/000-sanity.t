# Routing requests to services and proxying them with $gateway_target.

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();
no_root_location();
log_level('info');

# Three function instances: two behind an upstream{} block (round robin,
# keepalive) and one reached by host:port.  Each answers with its name,
# the URI it received and the gateway headers it was given.

our $Backends = <<'_EOC_';
    gateway_default_auth off;

    map $server_port $fn_instance {
        $TEST_NGINX_RAND_PORT_1  pool-a;
        $TEST_NGINX_RAND_PORT_2  pool-b;
        $TEST_NGINX_RAND_PORT_3  single;
    }

    upstream fn_pool {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 8;
    }

    upstream fn_one {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 8;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3;

        # a kept-alive connection serves two requests, so that the
        # sequence of $connection_requests shows keepalive at work
        keepalive_requests 2;

        location / {
            return 200 "fn=$fn_instance uri=$request_uri service=$http_x_gateway_service consumer=$http_x_gateway_consumer conn=$connection_requests\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $Backends . ($block->http_config // ''));
});

run_tests();

__DATA__

=== TEST 1: prefix route with strip, to an upstream block, query kept
--- http_config
    gateway_service orders { endpoint http://fn_pool/fn/orders; }
--- config
    location / {
        gateway_route GET,POST /orders/ orders strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/12?x=1&y=%20
--- response_body_like chomp
^fn=pool-[ab] uri=/fn/orders/12\?x=1&y=%20 service=orders consumer= conn=\d+$
--- no_error_log
[error]



=== TEST 2: prefix route without strip, to host:port with a path
--- http_config
    gateway_service single { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/base; }
--- config
    location / {
        gateway_route /orders/ single;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/12
--- response_body
fn=single uri=/base/orders/12 service=single consumer= conn=1
--- no_error_log
[error]



=== TEST 3: endpoint without a path, request path kept whole
--- http_config
    gateway_service single { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
--- config
    location / {
        gateway_route /orders single;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/a/b
--- response_body
fn=single uri=/orders/a/b service=single consumer= conn=1



=== TEST 4: strip of the whole path leaves "/"
--- http_config
    gateway_service single { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
--- config
    location / {
        gateway_route /orders/ single strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders
--- response_body
fn=single uri=/ service=single consumer= conn=1



=== TEST 5: an endpoint path ending in "/" takes the stripped rest once
--- http_config
    gateway_service single { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/fn/; }
--- config
    location / {
        gateway_route /orders/ single strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/5/
--- response_body
fn=single uri=/fn/5/ service=single consumer= conn=1



=== TEST 6: a prefix matches whole segments only
--- http_config
    gateway_service single { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
--- config
    location / {
        gateway_route /orders single;
        proxy_pass $gateway_target;
    }
--- request
GET /ordersx
--- error_code: 404
--- response_headers
Content-Type: application/problem+json



=== TEST 7: exact route beats the prefix of the same path
--- http_config
    gateway_service exact { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/exact; }
    gateway_service prefix { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/prefix; }
--- config
    location / {
        gateway_route /orders/ prefix;
        gateway_route =/orders exact;
        proxy_pass $gateway_target;
    }
--- request
GET /orders
--- response_body
fn=single uri=/exact/orders service=exact consumer= conn=1



=== TEST 8: the prefix takes what the exact route does not
--- http_config
    gateway_service exact { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/exact; }
    gateway_service prefix { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/prefix; }
--- config
    location / {
        gateway_route /orders/ prefix;
        gateway_route =/orders exact;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/
--- response_body
fn=single uri=/prefix/orders/ service=prefix consumer= conn=1



=== TEST 9: the longest prefix wins, whatever the order of routes
--- http_config
    gateway_service short { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/short; }
    gateway_service long { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/long; }
--- config
    location / {
        gateway_route / short;
        gateway_route /api/v1/ long strip;
        gateway_route /api/ short;
        proxy_pass $gateway_target;
    }
--- request
GET /api/v1/users
--- response_body
fn=single uri=/long/users service=long consumer= conn=1



=== TEST 10: path parameters, in variables; literal beats parameter
--- http_config
    gateway_service users { endpoint http://fn_pool/users; }
    gateway_service me { endpoint http://fn_pool/me; }
--- config
    location / {
        gateway_route GET "/users/{id}/posts/{post}" users strip;
        gateway_route GET "/users/me/posts/{post}" me strip;
        proxy_pass $gateway_target;
        add_header X-Params "id=$gateway_param_id post=$gateway_param_post none=$gateway_param_nope";
    }
--- request
GET /users/42/posts/7/comments
--- response_body_like chomp
^fn=pool-[ab] uri=/users/comments service=users consumer= conn=\d+$
--- response_headers
X-Params: id=42 post=7 none=



=== TEST 11: the literal segment wins over the parameter
--- http_config
    gateway_service users { endpoint http://fn_pool/users; }
    gateway_service me { endpoint http://fn_pool/me; }
--- config
    location / {
        gateway_route GET "/users/{id}/posts/{post}" users strip;
        gateway_route GET "/users/me/posts/{post}" me strip;
        proxy_pass $gateway_target;
        add_header X-Params "id=$gateway_param_id post=$gateway_param_post";
    }
--- request
GET /users/me/posts/7
--- response_body_like chomp
^fn=pool-[ab] uri=/me service=me consumer= conn=\d+$
--- response_headers
X-Params: id= post=7



=== TEST 12: the gateway variables
--- http_config
    gateway_service orders { endpoint http://fn_pool/fn; }
--- config
    location / {
        gateway_route "/orders/{id}" orders strip;
        proxy_pass $gateway_target;
        add_header X-Gateway "$gateway_service|$gateway_route|$gateway_target";
    }
--- request
GET /orders/7/items%20all?sort=desc
--- response_headers
X-Gateway: orders|/orders/{id}|http://fn_pool/fn/items%20all?sort=desc
--- response_body_like chomp
^fn=pool-[ab] uri=/fn/items%20all\?sort=desc service=orders



=== TEST 13: what the function receives: method, path, query, headers, body
Client copies of X-Gateway-* headers never reach the function; the
gateway's own X-Gateway-Service does.  The function answers with the
request it got, less the HTTP version and Connection, which are nginx's
business and change with its version.
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_4/fn; }
--- config
    location / {
        gateway_route POST /orders/ orders strip;
        proxy_set_header Host fn.test;
        proxy_pass $gateway_target;
    }
--- more_headers
X-Gateway-Service: forged
X-Gateway-Consumer: admin
x-GATEWAY-anything: 1
X-Gateway: kept
X-Other: kept too
--- request
POST /orders/new?dry=1
{"item":"book","qty":2}
--- tcp_listen: $TEST_NGINX_RAND_PORT_4
--- tcp_query_auto_timeout: 0.3
--- tcp_reply eval
use lib 't/inc'; require GatewayEcho; \&GatewayEcho::reply
--- error_code: 201
--- response_body
POST /fn/new?dry=1
Host: fn.test
Content-Length: 23
X-Gateway: kept
X-Other: kept too
X-Gateway-Service: orders

{"item":"book","qty":2}



=== TEST 14: keepalive to an upstream block is used
Both requests travel over one kept-alive connection to the function.
--- http_config
    gateway_service one { endpoint http://fn_one/fn; }
--- config
    location / {
        gateway_route /ka/ one strip;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass $gateway_target;
    }
--- pipelined_requests eval
["GET /ka/1", "GET /ka/2"]
--- response_body eval
["fn=pool-a uri=/fn/1 service=one consumer= conn=1\n",
 "fn=pool-a uri=/fn/2 service=one consumer= conn=2\n"]
--- no_error_log
[error]



=== TEST 15: a location without routes is not the gateway's
--- http_config
    gateway_service orders { endpoint http://fn_pool/fn; }
--- config
    location / {
        gateway_route /orders/ orders;
        proxy_pass $gateway_target;
    }

    location /static/ {
        add_header X-Gateway "[$gateway_service]";
        return 200 "static\n";
    }
--- request
GET /static/x
--- response_body
static
--- response_headers
X-Gateway: []



=== TEST 16: server-level routes are inherited by locations without any
--- http_config
    gateway_service orders { endpoint http://fn_pool/fn; }
    gateway_service other { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/other; }
--- config
    gateway_route /orders/ orders strip;

    location / {
        proxy_pass $gateway_target;
    }

    location /own/ {
        gateway_route /own/ other strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/1
--- response_body_like chomp
^fn=pool-[ab] uri=/fn/1 service=orders



=== TEST 17: a location with its own routes does not inherit
--- http_config
    gateway_service orders { endpoint http://fn_pool/fn; }
    gateway_service other { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/other; }
--- config
    gateway_route / orders strip;

    location /own/ {
        gateway_route /own/x other strip;
        proxy_pass $gateway_target;
    }
--- request
GET /own/y
--- error_code: 404



=== TEST 18: routing sees the URI after rewrites
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/fn; }
--- config
    location / {
        rewrite ^/old/(.*)$ /orders/$1 break;
        gateway_route /orders/ orders strip;
        proxy_pass $gateway_target;
    }
--- request
GET /old/9
--- response_body
fn=single uri=/fn/9 service=orders consumer= conn=1



=== TEST 19: the normalised path is routed, and sent escaped
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/fn; }
--- config
    location / {
        gateway_route /orders/ orders strip;
        proxy_pass $gateway_target;
    }
--- request
GET /x/../%6Frders/./a%20b%3Fc?q=%3F
--- response_body
fn=single uri=/fn/a%20b%3Fc?q=%3F service=orders consumer= conn=1



=== TEST 20: HEAD follows GET routes
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/fn; }
--- config
    location / {
        gateway_route GET /orders/ orders;
        proxy_pass $gateway_target;
    }
--- request
HEAD /orders/1
--- error_code: 200
--- response_body



=== TEST 21: a method that only a less specific route takes goes there
--- http_config
    gateway_service read { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/read; }
    gateway_service write { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/write; }
--- config
    location / {
        gateway_route GET /orders/ read strip;
        gateway_route POST "/orders/{id}" write strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/5
--- response_body
fn=single uri=/read/5 service=read consumer= conn=1



=== TEST 22: a function that refuses connections: 502, variables kept
The routing variables survive nginx's internal redirect to the
error_page location, so that a fallback can still name the service.
--- http_config
    gateway_service down { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_5/fn; }
--- config
    location / {
        gateway_route /down/ down strip;
        proxy_pass $gateway_target;
        error_page 502 = @fallback;
    }

    location @fallback {
        add_header X-Failed "$gateway_service $gateway_route $gateway_target" always;
        return 502 "fallback\n";
    }
--- request
GET /down/x?y=1
--- error_code: 502
--- response_headers_like
X-Failed: down /down/ http://127\.0\.0\.1:\d+/fn/x\?y=1
--- response_body
fallback
--- error_log
connect() failed (111: Connection refused)
