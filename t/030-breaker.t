# The circuit breaker of a service: it opens on the failures it is told
# to count, refuses with 503 while open (the function gets nothing), and
# its state is shared by the workers.  Transitions in time are proven by
# the unit tests with an injected clock; here, what nginx does with them.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;

    gateway_service failing {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        breaker failure_rate=50% min_requests=3 window=10s open=30s probes=1;
    }

    gateway_service refusing {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
        breaker consecutive=2 min_requests=100;
    }

    gateway_service throttled {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/throttle;
        breaker consecutive=1;
    }

    gateway_service missing {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/missing;
        breaker consecutive=1;
    }

    gateway_service picky {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        breaker consecutive=1 failures=502,503;
    }

    gateway_service brittle {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        breaker consecutive=1;
    }

    gateway_service dry {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        breaker consecutive=1 dry_run;
    }

    gateway_service limited {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        breaker consecutive=1;
        rate_limit 1r/m burst=3;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /fail { return 500 "function failed\n"; }
        location /throttle { return 429 "slow down\n"; }
        location /missing { return 404 "no such thing\n"; }
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /failing/ failing;
        gateway_route /refusing/ refusing;
        gateway_route /throttled/ throttled;
        gateway_route /missing/ missing;
        gateway_route /picky/ picky;
        gateway_route /brittle/ brittle;
        gateway_route /dry/ dry;
        gateway_route /limited/ limited;
        proxy_pass $gateway_target;
        add_header X-Breaker "[$gateway_breaker_state] [$upstream_addr]" always;
        add_header X-Remaining "[$gateway_ratelimit_remaining]" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("suppress_stderr", 1) if defined $block->must_die;
    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: failures open the breaker; while open the function gets nothing
The third 500 reaches min_requests at 100%: open.  The upstream address
is empty on the refusals: no attempt was made.
--- pipelined_requests eval
["GET /failing/1", "GET /failing/2", "GET /failing/3", "GET /failing/4",
 "GET /failing/5"]
--- error_code eval
[500, 500, 500, 503, 503]
--- response_headers_like eval
["X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]",
 "X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]",
 "X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]",
 "X-Breaker: \\[open\\] \\[\\]\nRetry-After: (30|29)\nContent-Type: application/problem\\+json",
 "X-Breaker: \\[open\\] \\[\\]\nRetry-After: (30|29)"]
--- response_body eval
["function failed\n", "function failed\n", "function failed\n",
 qq/{"type":"tag:ngx-http-gateway,2026:breaker-open","title":"Service Unavailable","status":503,"detail":"The function behind this service is failing; the gateway does not call it until the time the Retry-After header says."}\n/,
 qr/breaker-open/]
--- no_error_log
[error]
[alert]



=== TEST 2: the opening is logged once, at warn
--- request
GET /brittle/1
--- error_code: 500
--- error_log
[warn]
gateway: breaker of service "brittle" closed -> open: consecutive failures
--- grep_error_log eval
qr/gateway: breaker of service "\w+" [^:]*/
--- grep_error_log_out
gateway: breaker of service "brittle" closed -> open



=== TEST 3: a function refusing connections trips it too
--- pipelined_requests eval
["GET /refusing/1", "GET /refusing/2", "GET /refusing/3"]
--- error_code eval
[502, 502, 503]
--- response_headers_like eval
["X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]",
 "X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]",
 "X-Breaker: \\[open\\] \\[\\]"]



=== TEST 4: a function that hangs past the timeout trips it
--- http_config eval
$::HttpConfig . <<'_EOC_'
    gateway_service hanging {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_3/;
        breaker consecutive=1;
    }
_EOC_
--- config
    location / {
        gateway_route /hanging/ hanging;
        proxy_read_timeout 200ms;
        proxy_pass $gateway_target;
        add_header X-Breaker "[$gateway_breaker_state] [$upstream_addr]" always;
    }
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_no_close
--- tcp_reply eval
""
--- pipelined_requests eval
["GET /hanging/1", "GET /hanging/2"]
--- error_code eval
[504, 503]



=== TEST 5: 429 is throttling and 4xx a success: neither opens it
--- pipelined_requests eval
["GET /throttled/1", "GET /throttled/2", "GET /missing/1", "GET /missing/2"]
--- error_code eval
[429, 429, 404, 404]
--- response_headers_like eval
["X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]", "", "",
 "X-Breaker: \\[closed\\] \\[127\\.0\\.0\\.1:\\d+\\]"]
--- no_error_log
gateway: breaker of service



=== TEST 6: failures= chooses the statuses that count
--- pipelined_requests eval
["GET /picky/1", "GET /picky/2"]
--- error_code eval
[500, 500]



=== TEST 7: dry_run opens, logs, and refuses nothing
--- pipelined_requests eval
["GET /dry/1", "GET /dry/2", "GET /dry/3"]
--- error_code eval
[500, 500, 500]
--- response_headers_like eval
["X-Breaker: \\[closed\\] .*", "X-Breaker: \\[open\\] \\[127.*",
 "X-Breaker: \\[open\\] \\[127.*"]
--- no_error_log
[error]



=== TEST 8: a value out of range is quoted, with what is wrong with it
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; breaker failure_rate=150%; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid breaker parameter "failure_rate=150%": failure_rate must be 1% to 100% in \S+nginx\.conf:\d+}



=== TEST 9: an unknown breaker parameter
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; breaker trip_at=3; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid breaker parameter "trip_at=3" in \S+nginx\.conf:\d+}



=== TEST 10: an unknown failure class
--- http_config
    gateway_service s { endpoint http://127.0.0.1:1/; auth off; breaker failures=error,4xx; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid breaker failure "4xx": "error", "timeout", "5xx" or a status 500 to 599 in \S+nginx\.conf:\d+}



=== TEST 11: a call refused by the open breaker spends no rate-limit quota
The first call fails and opens the breaker; the refusals that follow are
not charged to the limit (no RateLimit fields, nothing remaining spent).
--- pipelined_requests eval
["GET /limited/1", "GET /limited/2", "GET /limited/3", "GET /limited/4",
 "GET /limited/5"]
--- error_code eval
[500, 503, 503, 503, 503]
--- response_headers eval
["X-Remaining: [3]",
 "X-Remaining: []\n!RateLimit\n!RateLimit-Policy\nX-Breaker: [open] []",
 "X-Remaining: []\n!RateLimit", "X-Remaining: []\n!RateLimit",
 "X-Remaining: []\n!RateLimit"]



=== TEST 12: probes beyond the slots
--- http_config
    gateway_service t { endpoint http://127.0.0.1:1/; auth off;
                        breaker probes=20; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid breaker parameter "probes=20": probes must be 1 to 16 in \S+nginx\.conf:\d+}



=== TEST 13: max_open under open names max_open
--- http_config
    gateway_service t { endpoint http://127.0.0.1:1/; auth off;
                        breaker open=10s max_open=5s; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid breaker parameter "max_open=5s": max_open must be from open to 1d in \S+nginx\.conf:\d+}
