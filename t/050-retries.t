# Retries: the same endpoint again (or the next server of an upstream
# block) after a backoff, only for safe methods or with an idempotency
# key, honouring the function's Retry-After, never after the response
# began.  The functions log each call they receive into the error log.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;

    log_format fn 'fn-hit $request_method $uri';
    log_format gw 'gw-done status=$status retries=$gateway_retries rt=$request_time';

    upstream pair {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }

    gateway_service busy {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
        retries 2 backoff=10ms:50ms;
    }

    gateway_service keyed {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
        retries 2 backoff=10ms:50ms idempotency_header=Idempotency-Key;
    }

    gateway_service down {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/;
        retries 2 on=error backoff=10ms:50ms;
    }

    gateway_service slow {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/throttle;
        retries 1 on=429 backoff=10ms:2s;
    }

    gateway_service patient {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/later;
        retries 1 on=429 backoff=10ms:2s;
    }

    gateway_service pair {
        endpoint http://pair/;
        retries 1 backoff=10ms:20ms;
    }

    gateway_service plain {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        access_log logs/error.log fn;
        location /busy { return 503 "busy\n"; }
        location /throttle {
            add_header Retry-After 1 always;
            return 429 "slow down\n";
        }
        location /later {
            add_header Retry-After 30 always;
            return 429 "much later\n";
        }
        location / { return 503 "first of the pair\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        access_log logs/error.log fn;
        location / { return 200 "second of the pair\n"; }
    }
_EOC_

our $Config = <<'_EOC_';
    access_log logs/error.log gw;

    location / {
        gateway_route /busy/ busy strip;
        gateway_route /keyed/ keyed strip;
        gateway_route /down/ down strip;
        gateway_route /slow/ slow strip;
        gateway_route /patient/ patient strip;
        gateway_route /pair/ pair strip;
        gateway_route /plain/ plain strip;
        proxy_pass $gateway_target;
        add_header X-Retries "$gateway_retries" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: a GET retried on 503 reaches the same function three times
--- request
GET /busy/x
--- error_code: 503
--- response_body
busy
--- response_headers
X-Retries: 2
--- grep_error_log eval
qr/fn-hit GET \S+/
--- grep_error_log_out
fn-hit GET /busy/x
fn-hit GET /busy/x
fn-hit GET /busy/x
--- error_log
gateway: retrying service "busy" after 503, attempt 2
gateway: retrying service "busy" after 503, attempt 3
gw-done status=503 retries=2



=== TEST 2: a POST without an idempotency key is sent once
--- request
POST /busy/x
{"order":1}
--- error_code: 503
--- response_headers
X-Retries: 0
--- grep_error_log eval
qr/fn-hit POST \S+/
--- grep_error_log_out
fn-hit POST /busy/x
--- no_error_log
gateway: retrying



=== TEST 3: a POST with the service's idempotency key is retried
--- request
POST /keyed/x
{"order":1}
--- more_headers
Idempotency-Key: 8d1c2f
--- error_code: 503
--- grep_error_log eval
qr/fn-hit POST \S+/
--- grep_error_log_out
fn-hit POST /busy/x
fn-hit POST /busy/x
fn-hit POST /busy/x



=== TEST 4: a function refusing connections: retried on "error"
--- request
GET /down/x
--- error_code: 502
--- response_headers
X-Retries: 2
--- grep_error_log eval
qr/gateway: retrying service "down" after 502, attempt \d/
--- grep_error_log_out
gateway: retrying service "down" after 502, attempt 2
gateway: retrying service "down" after 502, attempt 3



=== TEST 5: the function's Retry-After is honoured
The retry waits the second the function asked for, not the backoff.
--- request
GET /slow/x
--- error_code: 429
--- error_log eval
[qr/gateway: retrying service "slow" after 429, attempt 2 in 1000ms/,
 qr/gw-done status=429 retries=1 rt=(1\.\d{3}|2\.\d{3})/]



=== TEST 6: a Retry-After beyond the backoff's cap is not waited for
--- request
GET /patient/x
--- error_code: 429
--- response_body
much later
--- no_error_log
gateway: retrying



=== TEST 7: the next server of an upstream block answers the retry
--- request
GET /pair/x
--- response_body
second of the pair
--- response_headers
X-Retries: 1



=== TEST 8: a service without retries is called once
--- request
GET /plain/x
--- error_code: 503
--- response_headers
X-Retries: 0
--- grep_error_log eval
qr/fn-hit GET \S+/
--- grep_error_log_out
fn-hit GET /busy/x



=== TEST 9: invalid retries
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; retries 2 on=500; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid retry condition "500": error, timeout, 502, 503, 504 or 429 in \S+nginx\.conf:\d+}



=== TEST 10: the retry replays the request body, byte for byte
The first server of the pair answers 503; the second is a mock that
answers with what it received (less the HTTP version and Connection).
--- http_config eval
$::HttpConfig . <<'_EOC_'
    upstream body_pair {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }

    gateway_service bodies {
        endpoint http://body_pair/busy;
        retries 1 backoff=10ms:20ms idempotency_header=Idempotency-Key;
    }
_EOC_
--- config
    location / {
        gateway_route /bodies/ bodies strip;
        proxy_set_header Host fn.test;
        proxy_pass $gateway_target;
    }
--- more_headers
Idempotency-Key: k1
--- request
POST /bodies/x
{"item":"book","qty":2}
--- tcp_listen: $TEST_NGINX_RAND_PORT_4
--- tcp_query_auto_timeout: 0.3
--- tcp_reply eval
use lib 't/inc'; require GatewayEcho; \&GatewayEcho::reply
--- error_code: 201
--- response_body
POST /busy/x
Host: fn.test
Content-Length: 23
Idempotency-Key: k1
X-Gateway-Service: bodies

{"item":"book","qty":2}



=== TEST 11: the retry budget stops a retry storm
Twenty failing calls at once, a budget of 1% (so its floor, 3): most
calls are not retried.  The second request runs when all twenty are
done.
--- http_config eval
$::HttpConfig . <<'_EOC_'
    gateway_service storm {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
        retries 1 backoff=500ms:1s budget=1%;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_5;
        location / {
            gateway_route /storm/ storm strip;
            proxy_pass $gateway_target;
        }
        location = /status { gateway_status; }
    }
_EOC_
--- config eval
"    location = /burst {\n" . join('', map { "        mirror /m;\n" } 1 .. 20)
. "        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_5/status?format=prometheus;\n    }\n"
. "    location = /m {\n        internal;\n        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_5/storm/x;\n    }\n"
. "    location = /status {\n        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_5/status?format=prometheus;\n    }\n"
--- pipelined_requests eval
["GET /burst", "GET /status"]
--- response_body_like eval
[qr//, qr/^gateway_requests_total\{service="storm"\} 20\n.*^gateway_retries_total\{service="storm"\} [1-9]\n.*^gateway_retry_budget_exhausted_total\{service="storm"\} (?:1[0-9]|[5-9])$/ms]



=== TEST 12: a budget over 100% says what is wrong
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; retries 2 budget=150%; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid retries parameter "budget=150%": the budget is 1% to 100% in \S+nginx\.conf:\d+}



=== TEST 13: a backoff whose MAX is under its BASE says so
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; retries 2 backoff=1s:10ms; }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid retries parameter "backoff=1s:10ms": the backoff's MAX is less than its BASE in \S+nginx\.conf:\d+}
