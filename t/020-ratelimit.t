# Rate limits: limit_req's nodelay arithmetic per service, per consumer,
# per client address or per service, with the RateLimit fields.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# alice-key, bob-key, carol-key, dave-key; bob has a limit of his own
our $Consumers = <<'_EOC_';
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["*"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "bob", "services": ["*"], "rate_limit": "1r/m",
   "keys": ["sha256:9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"]},
  {"id": "carol", "services": ["*"],
   "keys": ["sha256:368c3387fc9b5ce6ab156ad952031f52bc9154e89a727020cd314f8910a21823"]},
  {"id": "dave", "services": ["*"], "rate_limit": "1r/s burst=1",
   "keys": ["sha256:fe09dace1224a91b590b9329dc3268b6db00ce6f9dbac4de34ee21d759fe9585"]}
]}
_EOC_

our $HttpConfig = <<'_EOC_';
    gateway_consumers consumers.json;

    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/orders;
        auth apikey;
        rate_limit 1r/m burst=2;
    }

    gateway_service orders2 {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/orders2;
        auth apikey;
        rate_limit 1r/m burst=2;
    }

    gateway_service byip {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/byip;
        auth off;
        rate_limit 60r/m burst=1;
    }

    gateway_service shared {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/shared;
        auth apikey;
        rate_limit 1r/s per=service;
    }

    gateway_service dry {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/dry;
        auth off;
        rate_limit 1r/m dry_run;
    }

    gateway_service busy {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
        auth off;
        rate_limit 1r/m status=503;
    }

    gateway_service free {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/free;
        auth apikey;
    }

    gateway_service drylines {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/drylines;
        auth apikey;
        rate_limit 1r/m dry_run;
        rate_limit 1r/m burst=1 per=service;
    }

    gateway_service dryown {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/dryown;
        auth apikey;
        rate_limit 1r/m dry_run;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "$request_uri $http_x_gateway_consumer\n"; }
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /orders/ orders strip;
        gateway_route /orders2/ orders2 strip;
        gateway_route /byip/ byip strip;
        gateway_route /shared/ shared strip;
        gateway_route /dry/ dry strip;
        gateway_route /busy/ busy strip;
        gateway_route /free/ free strip;
        gateway_route /drylines/ drylines strip;
        gateway_route /dryown/ dryown strip;
        proxy_pass $gateway_target;
        add_header X-Remaining "[$gateway_ratelimit_remaining]" always;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    # a zone of its own for each block: fresh buckets, even when the
    # suite runs with a reload between blocks (TEST_NGINX_USE_HUP)
    my ($n) = $block->name =~ /TEST (\d+)/;

    $block->set_value("suppress_stderr", 1) if defined $block->must_die;
    $block->set_value("user_files", $Consumers);
    $block->set_value("http_config", "    gateway_zone rl$n 1m;\n"
                      . ($block->http_config // $HttpConfig));
    $block->set_value("config", $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: burst + 1 requests pass at once, the next is refused
--- pipelined_requests eval
["GET /orders/1", "GET /orders/2", "GET /orders/3", "GET /orders/4"]
--- more_headers
X-API-Key: alice-key
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"orders\";q=3;w=60\nX-Remaining: [2]",
 "RateLimit-Policy: \"orders\";q=3;w=60\nX-Remaining: [1]",
 "RateLimit-Policy: \"orders\";q=3;w=60\nX-Remaining: [0]",
 "RateLimit-Policy: \"orders\";q=3;w=60\nX-Remaining: [0]\nContent-Type: application/problem+json"]
--- response_headers_like eval
["RateLimit: \"orders\";r=2;t=\\d+",
 "RateLimit: \"orders\";r=1;t=\\d+",
 "RateLimit: \"orders\";r=0;t=\\d+",
 "RateLimit: \"orders\";r=0;t=\\d+\nRetry-After: (6[0-3])"]
--- response_body eval
["/orders/1 alice\n", "/orders/2 alice\n", "/orders/3 alice\n",
 qq/{"type":"tag:ngx-http-gateway,2026:rate-limited","title":"Rate Limit Exceeded","status":429,"detail":"The rate limit of this service is exceeded; retry after the time the Retry-After header says."}\n/]
--- no_error_log
[error]
[alert]



=== TEST 2: services with the same settings do not share counters
--- pipelined_requests eval
["GET /orders/1", "GET /orders/2", "GET /orders/3", "GET /orders/4",
 "GET /orders2/1"]
--- more_headers
X-API-Key: alice-key
--- error_code eval
[200, 200, 200, 429, 200]



=== TEST 3: consumers do not share counters
--- pipelined_requests eval
["GET /orders/1", "GET /orders/2", "GET /orders/3", "GET /orders/4",
 "GET /orders/5"]
--- more_headers eval
["X-API-Key: alice-key", "X-API-Key: alice-key", "X-API-Key: alice-key",
 "X-API-Key: alice-key", "X-API-Key: carol-key"]
--- error_code eval
[200, 200, 200, 429, 200]



=== TEST 4: a consumer's own limit replaces the service's
bob: 1r/m without burst; dave: 1r/s burst=1, on a service without one.
--- pipelined_requests eval
["GET /orders/1", "GET /orders/2", "GET /free/1", "GET /free/2",
 "GET /free/3", "GET /free/4"]
--- more_headers eval
["X-API-Key: bob-key", "X-API-Key: bob-key", "X-API-Key: dave-key",
 "X-API-Key: dave-key", "X-API-Key: dave-key", "X-API-Key: alice-key"]
--- error_code eval
[200, 429, 200, 200, 429, 200]
--- response_headers eval
["RateLimit-Policy: \"orders\";q=1;w=60", "RateLimit-Policy: \"orders\";q=1;w=60",
 "RateLimit-Policy: \"free\";q=2;w=1", "RateLimit-Policy: \"free\";q=2;w=1",
 "RateLimit-Policy: \"free\";q=2;w=1", "!RateLimit-Policy\nX-Remaining: []"]



=== TEST 5: per client address, the default of a public service
--- pipelined_requests eval
["GET /byip/1", "GET /byip/2", "GET /byip/3"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"byip\";q=2;w=1", "", "Retry-After: 1"]



=== TEST 6: per=service: every caller shares one bucket
--- pipelined_requests eval
["GET /shared/1", "GET /shared/2"]
--- more_headers eval
["X-API-Key: alice-key", "X-API-Key: carol-key"]
--- error_code eval
[200, 429]



=== TEST 7: failed authentication does not spend the quota
--- pipelined_requests eval
["GET /orders/1", "GET /orders/2", "GET /orders/3", "GET /orders/4",
 "GET /orders/5", "GET /orders/6"]
--- more_headers eval
["X-API-Key: wrong", "X-API-Key: wrong", "X-API-Key: wrong",
 "X-API-Key: alice-key", "X-API-Key: alice-key", "X-API-Key: alice-key"]
--- error_code eval
[401, 401, 401, 200, 200, 200]



=== TEST 8: dry_run counts and logs, and refuses nothing
--- pipelined_requests eval
["GET /dry/1", "GET /dry/2", "GET /dry/3"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Remaining: [0]", "X-Remaining: [0]", "X-Remaining: [0]"]
--- no_error_log
[error]



=== TEST 9: status= chooses the refusal's status
--- pipelined_requests eval
["GET /busy/1", "GET /busy/2"]
--- error_code eval
[200, 503]
--- response_body_like eval
["^/busy/1", qr/^\{"type":"tag:ngx-http-gateway,2026:rate-limited","title":"Rate Limit Exceeded","status":503,/]



=== TEST 10: a service without a limit sends no RateLimit fields
--- request
GET /free/1
--- more_headers
X-API-Key: alice-key
--- response_headers
!RateLimit
!RateLimit-Policy
X-Remaining: []



=== TEST 11: per=consumer needs authentication
--- http_config
    gateway_service orders {
        endpoint http://127.0.0.1:1/;
        auth off;
        rate_limit 10r/s per=consumer;
    }
--- must_die
--- error_log eval
qr{\[emerg\] .*"rate_limit \.\.\. per=consumer" of gateway service "orders" in \S+nginx\.conf:\d+ needs authentication, but the service has "auth off"}



=== TEST 12: a rate that is no rate
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth off; rate_limit 0r/s; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid rate "0r/s": a rate is 1 to 1000000 requests a second or a minute in \S+nginx\.conf:\d+}



=== TEST 13: a burst that is no number
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth off; rate_limit 1r/s burst=x; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid burst value "burst=x" in \S+nginx\.conf:\d+}



=== TEST 14: a status outside 400-599
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth off; rate_limit 1r/s status=200; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid status "status=200": 400 to 599 in \S+nginx\.conf:\d+}



=== TEST 15: an unknown per
--- http_config
    gateway_service orders { endpoint http://127.0.0.1:1/; auth off; rate_limit 1r/s per=host; }
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "per" value "per=host": "consumer", "ip" or "service" in \S+nginx\.conf:\d+}



=== TEST 16: at most 8 limits on one service
--- http_config eval
"    gateway_service orders { endpoint http://127.0.0.1:1/; auth off;\n"
. join("", map { "        rate_limit ${_}r/s;\n" } 1 .. 9) . "    }\n"
--- must_die
--- error_log eval
qr{\[emerg\] .*more than 8 "rate_limit" lines in gateway service "orders" in \S+nginx\.conf:\d+}



=== TEST 17: each refusal is logged once, at info, with a fixed text
Three mirrors of one request reach the limited service (60r/m burst=1).
--- config eval
$::Config . <<'_EOC_'
    location = /three {
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/byip/x;
    }
_EOC_
--- request
GET /three
--- grep_error_log eval
qr/\[info\] .*gateway: rate limit exceeded for service "\w+"[^,]*/
--- grep_error_log_out eval
qr/\A[^\n]*gateway: rate limit exceeded for service "byip"\n\z/
--- no_error_log
[error]



=== TEST 18: dry_run logs what it would have refused
--- config eval
$::Config . <<'_EOC_'
    location = /three {
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/dry/x;
    }
_EOC_
--- request
GET /three
--- grep_error_log eval
qr/gateway: rate limit exceeded for service "dry", dry run: not refused/
--- grep_error_log_out
gateway: rate limit exceeded for service "dry", dry run: not refused
gateway: rate limit exceeded for service "dry", dry run: not refused
--- no_error_log
[error]



=== TEST 19: a dry_run line refuses nothing; another line still does
Three mirrors of one request with alice's key: the per-consumer line is a
dry run, the per-service one (2 at once) refuses the third.
--- config eval
$::Config . <<'_EOC_'
    location = /three {
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/drylines/x;
    }
_EOC_
--- request
GET /three
--- more_headers
X-API-Key: alice-key
--- grep_error_log eval
qr/gateway: rate limit exceeded for service "drylines"(?:, dry run: not refused)?/
--- grep_error_log_out
gateway: rate limit exceeded for service "drylines", dry run: not refused
gateway: rate limit exceeded for service "drylines", dry run: not refused
gateway: rate limit exceeded for service "drylines"
--- no_error_log
[error]



=== TEST 20: a consumer's own limit keeps the dry_run of the line it replaces
bob's own 1r/m replaces dryown's per-consumer line, and is a dry run too.
--- config eval
$::Config . <<'_EOC_'
    location = /three {
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
    }

    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/dryown/x;
    }
_EOC_
--- request
GET /three
--- more_headers
X-API-Key: bob-key
--- grep_error_log eval
qr/gateway: rate limit exceeded for service "dryown"(?:, dry run: not refused)?/
--- grep_error_log_out
gateway: rate limit exceeded for service "dryown", dry run: not refused
gateway: rate limit exceeded for service "dryown", dry run: not refused
--- no_error_log
[error]
