# Every configuration mistake fails "nginx -t" with an [emerg] that
# names the value, the file and the line.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# The [emerg] lines are asserted in the error log; keep the terminal
# quiet.  Services are public unless a block is about authentication.
add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("suppress_stderr", 1) if defined $block->must_die;

    if (defined $block->http_config && $block->name !~ /auth/) {
        $block->set_value("http_config", "    gateway_default_auth off;\n"
                                         . $block->http_config);
    }
});

run_tests();

__DATA__

=== TEST 1: a route names an unknown service
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /orders/ ordrs;
        proxy_pass $gateway_target;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown gateway service "ordrs" in route "/orders/" in \S+nginx\.conf:\d+}



=== TEST 2: a service declared twice
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
    gateway_service orders { endpoint http://127.0.0.1:2/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*duplicate gateway service "orders" in \S+nginx\.conf:\d+}



=== TEST 3: a service name with characters a name cannot have
--- http_config
    gateway_service "or ders" { endpoint http://127.0.0.1:1/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid service name "or ders": a name is letters, digits, "_", "-" and "\." in \S+nginx\.conf:\d+}



=== TEST 4: a service without an endpoint
--- http_config
    gateway_service orders { }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*gateway service "orders" has no "endpoint" in \S+nginx\.conf:\d+}



=== TEST 5: an unknown directive in a service block is refused
--- http_config
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        proxy_timeout 5s;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*unknown directive "proxy_timeout" in gateway service "orders" in \S+nginx\.conf:\d+}



=== TEST 6: endpoint with a wrong number of arguments
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/ http://127.0.0.1:2/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid number of arguments in "endpoint" directive of gateway service "orders" in \S+nginx\.conf:\d+}



=== TEST 7: endpoint given twice
--- http_config
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        endpoint http://127.0.0.1:2/;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"endpoint" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 8: endpoint with another scheme
--- http_config
    gateway_service orders { endpoint ftp://127.0.0.1:1/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint "ftp://127\.0\.0\.1:1/": an endpoint starts with "http://" or "https://" and names a host in \S+nginx\.conf:\d+}



=== TEST 9: endpoint with a query string
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/fn?x=1; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint "http://127\.0\.0\.1:1/fn\?x=1": an endpoint has no query string or fragment in \S+nginx\.conf:\d+}



=== TEST 10: endpoint with a variable
--- http_config
    gateway_service orders { endpoint http://$host/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint "http://\$host/": an endpoint is fixed: variables are not allowed in \S+nginx\.conf:\d+}



=== TEST 11: endpoint with credentials
--- http_config
    gateway_service orders { endpoint http://user:secret@127.0.0.1:1/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*an endpoint has no user name or password in \S+nginx\.conf:\d+}



=== TEST 12: endpoint with a bad port
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:70000/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid endpoint "http://127\.0\.0\.1:70000/": invalid port in \S+nginx\.conf:\d+}



=== TEST 13: endpoint naming neither an upstream block nor a known host
--- http_config
    gateway_service orders { endpoint http://no_such_fn/; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*host not found in upstream "no_such_fn" in \S+nginx\.conf:\d+}



=== TEST 14: an unknown method
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route GET,FETCH /orders/ orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid method "FETCH" in "GET,FETCH" in \S+nginx\.conf:\d+}



=== TEST 15: methods are written as clients send them
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route get /orders/ orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid method "get" in \S+nginx\.conf:\d+}



=== TEST 16: a pattern that is not a path
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route GET orders/ orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "orders/": a pattern starts with "/" \(or "=/"\) in \S+nginx\.conf:\d+}



=== TEST 17: a pattern with an empty segment
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /orders//items orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/orders//items": empty path segment \("//"\) in \S+nginx\.conf:\d+}



=== TEST 18: a pattern with a dot segment can never match
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /orders/../admin orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/orders/\.\./admin": nginx removes "\." and "\.\." segments from paths, so this can never match in \S+nginx\.conf:\d+}



=== TEST 19: a pattern with a percent-escape
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /a%20b orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/a%20b": patterns match the decoded path}



=== TEST 20: a pattern with a query
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /orders?x=1 orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/orders\?x=1": paths never contain control characters, spaces, "\?" or "#"}



=== TEST 21: a parameter that is not a whole segment
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route "/orders/id-{id}" orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/orders/id-\{id\}": a parameter "\{name\}" is a whole segment in \S+nginx\.conf:\d+}



=== TEST 22: a parameter named twice
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route "/a/{id}/b/{id}" orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/a/\{id\}/b/\{id\}": the same parameter name is used twice}



=== TEST 23: a parameter name that is no variable name
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route "/a/{order-id}" orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid route pattern "/a/\{order-id\}": a parameter name is letters, digits and "_", not starting with a digit}



=== TEST 24: a route shadowed by an earlier one can never match
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
    gateway_service other { endpoint http://127.0.0.1:2/; }
--- config
    location / {
        gateway_route GET,POST /orders/ orders;
        gateway_route POST /orders other;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*route "/orders" in \S+nginx\.conf:\d+ can never match: route "/orders/" in \S+nginx\.conf:\d+ takes the same paths and methods}



=== TEST 25: a route outside its location's prefix can never match
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location /api/ {
        gateway_route /orders/ orders;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*route "/orders/" can never match in location "/api/" in \S+nginx\.conf:\d+}



=== TEST 26: an unknown route parameter
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route /orders/ orders strp;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid parameter "strp" in \S+nginx\.conf:\d+}



=== TEST 27: a route without a service
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- config
    location / {
        gateway_route GET /orders/;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*a route needs a pattern and a service in \S+nginx\.conf:\d+}



=== TEST 28: routes belong in server and location blocks
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
    gateway_route /orders/ orders;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"gateway_route" directive is not allowed here in \S+nginx\.conf:\d+}



=== TEST 29: services belong in the http block
--- config
    gateway_service orders { endpoint http://127.0.0.1:1/; }
--- must_die
--- error_log eval
qr{\[emerg\] .*"gateway_service" directive is not allowed here in \S+nginx\.conf:\d+}



=== TEST 30: a zone size that is no size
--- http_config
    gateway_zone gw lots;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid zone size "lots" in \S+nginx\.conf:\d+}



=== TEST 31: a zone too small to hold anything
--- http_config
    gateway_zone gw 4k;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*zone "gw" is too small: "4k" is less than 32k in \S+nginx\.conf:\d+}



=== TEST 32: two gateway zones
--- http_config
    gateway_zone gw 1m;
    gateway_zone gw2 1m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"gateway_zone" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 33: a zone name another module uses
--- http_config
    limit_req_zone $binary_remote_addr zone=shared:1m rate=1r/s;
    gateway_zone shared 1m;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*the shared memory zone "shared" is already declared for a different use in \S+nginx\.conf:\d+}



=== TEST 34: a whole valid configuration starts
--- http_config
    gateway_zone gw 1m;

    upstream fn { server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; keepalive 4; }

    gateway_service orders { endpoint http://fn/fn/orders; }
    gateway_service health { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    gateway_service users { endpoint https://fn/users; }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "$request_uri\n"; }
    }
--- config
    gateway_route =/healthz health;

    location / {
        gateway_route GET,POST /orders/ orders strip;
        gateway_route * "/users/{id}" users;
        gateway_route GET =/healthz health;
        proxy_pass $gateway_target;
    }

    location /api/ {
        gateway_route "/api/{version}/orders" orders strip;
        proxy_pass $gateway_target;
    }
--- request
GET /orders/1
--- response_body
/fn/orders/1
--- no_error_log
[emerg]
[error]
[warn]



=== TEST 35: nginx -t warns of routes in a location that does not proxy
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "function\n"; }
    }
--- config
    location /a/ {
        gateway_route /a/ orders;
    }

    location /b/ {
        gateway_route /b/ orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }
--- request
GET /b/1
--- response_body
function
--- error_log eval
[qr{\[warn\] .*location "/a/" with gateway routes \(\S+nginx\.conf:\d+\) has no "proxy_pass \$gateway_target": routed requests do not reach their functions},
 qr{\[warn\] .*location "/b/" with gateway routes \(\S+nginx\.conf:\d+\) has no "proxy_pass \$gateway_target"}]



=== TEST 36: nginx -t warns of proxy_set_header over a gateway header
The location's own header would win over the gateway's claim header, and
over X-Gateway-*; other headers are the user's to set.
--- http_config
    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth jwt;
        jwt_claim_headers sub:X-User-Id;
    }
    gateway_jwks ../../data/jwks.json;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "function\n"; }
    }
--- config
    location / {
        gateway_route /orders/ orders;
        proxy_pass $gateway_target;
        proxy_set_header X-User-Id $gateway_param_id;
        proxy_set_header X_Gateway_Service nope;
        proxy_set_header X-Request-Id $request_id;
    }
--- request
GET /orders/1
--- error_code: 401
--- error_log eval
[qr{\[warn\] .*"proxy_set_header X-User-Id" in location "/" replaces the header the gateway sets for service "orders" of the route in \S+nginx\.conf:\d+},
 qr{\[warn\] .*"proxy_set_header X_Gateway_Service" in location "/"}]
--- no_error_log
proxy_set_header X-Request-Id
