# gateway_status: per-service counters and breaker state, as JSON or in
# the Prometheus text format, shared by the workers.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# alice-key may call orders; bob-key may call nothing here
our $HttpConfig = <<'_EOC_';
    gateway_consumers consumers.json;

    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth apikey;
        rate_limit 1r/m burst=1;
    }

    gateway_service flaky {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        auth off;
        breaker consecutive=1;
    }

    gateway_service again {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/busy;
        auth off;
        retries 1 backoff=1ms:2ms;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
        location /fail { return 500 "failed\n"; }
        location /busy { return 503 "busy\n"; }
    }
_EOC_

our $Consumers = <<'_EOC_';
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["orders"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "bob", "services": ["flaky"],
   "keys": ["sha256:9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"]}
]}
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /orders/ orders strip;
        gateway_route /flaky/ flaky strip;
        gateway_route /again/ again strip;
        proxy_pass $gateway_target;
    }

    location = /status {
        gateway_status;
    }
_EOC_

# one of each: 200, 401, 403, 500, 429 on orders; 500 then 503 (a trip)
# on flaky; a 503 retried once on again
our @Script = ("GET /orders/a", "GET /orders/b", "GET /orders/c",
               "GET /orders/fail", "GET /orders/d", "GET /flaky/x",
               "GET /flaky/y", "GET /again/z");
our @Keys = ("X-API-Key: alice-key", "", "X-API-Key: bob-key",
             "X-API-Key: alice-key", "X-API-Key: alice-key", "", "", "");
our @Codes = (200, 401, 403, 500, 429, 500, 503, 503);

our $LogFormat = <<'_EOC_';
    log_format gateway 'gw: service=$gateway_service route=$gateway_route '
                       'target=$gateway_target consumer=$gateway_consumer '
                       'auth=$gateway_auth '
                       'remaining=$gateway_ratelimit_remaining '
                       'breaker=$gateway_breaker_state '
                       'retries=$gateway_retries';
    access_log logs/error.log gateway;
_EOC_

# a breaker open for 1s, and an answer that takes about 3s at its rate
our $Brief = <<'_EOC_' . ("x" x 3000) . <<'_EOC_';
    gateway_service brief {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fail;
        auth off;
        breaker consecutive=1 open=1s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            limit_rate 10k;
            set $x "
_EOC_
";
            return 200 "$x$x$x$x$x$x$x$x$x$x$x$x$x";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    # a zone of its own for each block: exact counts, even when the
    # suite runs with a reload between blocks (TEST_NGINX_USE_HUP)
    my ($n) = $block->name =~ /TEST (\d+)/;

    $block->set_value("http_config", "    gateway_zone gw$n 1m;\n"
                      . ($block->http_config // $HttpConfig));
    $block->set_value("user_files", $Consumers);
    $block->set_value("config", $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: JSON: each counter moved by exactly what the script did
--- pipelined_requests eval
[@::Script, "GET /status"]
--- more_headers eval
[@::Keys, ""]
--- error_code eval
[@::Codes, 200]
--- response_headers eval
[("") x 8, "Content-Type: application/json"]
--- response_body eval
[(qr//) x 8, qr/\A\{
  "zone": \{
    "name": "gw1",
    "size": 1048576,
    "used": \d+
  \},
  "services": \{
    "orders": \{
      "requests": 5,
      "refused": \{
        "unauthorized": 1,
        "forbidden": 1,
        "rate_limited": 1,
        "breaker_open": 0
      \},
      "attempts": \{
        "success": 1,
        "error": 0,
        "timeout": 0,
        "5xx": 1,
        "429": 0
      \},
      "retries": 0,
      "retry_budget_exhausted": 0,
      "retries_in_flight": 0,
      "breaker": null
    \},
    "flaky": \{
      "requests": 2,
      "refused": \{
        "unauthorized": 0,
        "forbidden": 0,
        "rate_limited": 0,
        "breaker_open": 1
      \},
      "attempts": \{
        "success": 0,
        "error": 0,
        "timeout": 0,
        "5xx": 1,
        "429": 0
      \},
      "retries": 0,
      "retry_budget_exhausted": 0,
      "retries_in_flight": 0,
      "breaker": \{
        "state": "open",
        "in_state_ms": \d+,
        "transitions": 1
      \}
    \},
    "again": \{
      "requests": 1,
      "refused": \{
        "unauthorized": 0,
        "forbidden": 0,
        "rate_limited": 0,
        "breaker_open": 0
      \},
      "attempts": \{
        "success": 0,
        "error": 0,
        "timeout": 0,
        "5xx": 2,
        "429": 0
      \},
      "retries": 1,
      "retry_budget_exhausted": 0,
      "retries_in_flight": 0,
      "breaker": null
    \}
  \}
\}\n\z/]



=== TEST 2: Prometheus: valid exposition format, the same numbers
Every line is a HELP, a TYPE or a sample of the grammar, and the
samples hold the counts of the script.
--- pipelined_requests eval
[@::Script, "GET /status?format=prometheus"]
--- more_headers eval
[@::Keys, ""]
--- error_code eval
[@::Codes, 200]
--- response_headers eval
[("") x 8, "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- response_body eval
[(qr//) x 8, qr/\A
(?=(?:(?:\# \s HELP \s [a-z_]+ \s [^\n]+
     |\# \s TYPE \s [a-z_]+ \s (?:counter|gauge)
     |[a-z_]+ (?:\{ [a-z_]+="[^"\\\n]*" (?:,[a-z_]+="[^"\\\n]*")* \})? \s \d+
    )\n)+\z)
(?=.*^gateway_requests_total\{service="orders"\} \s 5$)
(?=.*^gateway_requests_total\{service="flaky"\} \s 2$)
(?=.*^gateway_refused_total\{service="orders",reason="unauthorized"\} \s 1$)
(?=.*^gateway_refused_total\{service="orders",reason="forbidden"\} \s 1$)
(?=.*^gateway_refused_total\{service="orders",reason="rate_limited"\} \s 1$)
(?=.*^gateway_refused_total\{service="flaky",reason="breaker_open"\} \s 1$)
(?=.*^gateway_attempts_total\{service="orders",outcome="success"\} \s 1$)
(?=.*^gateway_attempts_total\{service="orders",outcome="5xx"\} \s 1$)
(?=.*^gateway_attempts_total\{service="flaky",outcome="5xx"\} \s 1$)
(?=.*^gateway_breaker_state\{service="flaky"\} \s 1$)
(?=.*^gateway_breaker_transitions_total\{service="flaky"\} \s 1$)
(?=.*^gateway_retries_total\{service="again"\} \s 1$)
(?=.*^gateway_attempts_total\{service="again",outcome="5xx"\} \s 2$)
(?=.*^\# \s TYPE \s gateway_requests_total \s counter$)
(?=.*^gateway_zone_size_bytes \s 1048576$)
/xms]



=== TEST 3: Accept: text/plain asks for the text format; ?service= filters
--- request
GET /status?service=flaky
--- more_headers
Accept: text/plain
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
qr/^gateway_requests_total\{service="flaky"\} 0$/m
--- response_body_unlike eval
qr/service="orders"/



=== TEST 4: an unknown service has a problem type of its own
--- request
GET /status?service=nope
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
--- response_body
{"type":"tag:ngx-http-gateway,2026:unknown-service","title":"Not Found","status":404,"detail":"No gateway service has this name."}



=== TEST 5: every gateway variable in an access log line
--- http_config eval
$::HttpConfig . $::LogFormat
--- request
GET /orders/a?x=1
--- more_headers
X-API-Key: alice-key
--- error_log eval
qr{gw: service=orders route=/orders/ target=http://127\.0\.0\.1:\d+/a\?x=1 consumer=alice auth=apikey remaining=1 breaker=- retries=0$}



=== TEST 6: and for a public service with a breaker
--- http_config eval
$::HttpConfig . $::LogFormat
--- request
GET /flaky/b
--- error_code: 500
--- error_log eval
qr{gw: service=flaky route=/flaky/ target=http://127\.0\.0\.1:\d+/fail/b consumer=- auth=off remaining=- breaker=closed retries=0$}



=== TEST 7: $gateway_retries in the log line of a retried call
--- http_config eval
$::HttpConfig . $::LogFormat
--- request
GET /again/c
--- error_code: 503
--- error_log eval
qr{gw: service=again route=/again/ target=http://127\.0\.0\.1:\d+/busy/c consumer=- auth=off remaining=- breaker=- retries=1$}



=== TEST 8: an unknown format is refused, not answered in JSON
--- pipelined_requests eval
["GET /status?format=xml", "GET /status?format=json"]
--- more_headers eval
["", "Accept: text/plain"]
--- error_code eval
[400, 200]
--- response_headers eval
["Content-Type: application/problem+json", "Content-Type: application/json"]
--- response_body_like eval
[qr/\A\{"type":"tag:ngx-http-gateway,2026:bad-query","title":"Bad Request","status":400,"detail":"The format argument must be \\"json\\" or \\"prometheus\\"."\}\n\z/,
 qr/"services"/]



=== TEST 9: a breaker past its open time shows what the next call finds
The failure opens the breaker for 1s; the slow answer (3s at its rate)
in between lets that time pass; a service without a breaker shows null.
--- http_config eval
$::HttpConfig . $::Brief
--- config eval
$::Config . <<'_EOC_';
    location /brief/ {
        gateway_route /brief/ brief strip;
        proxy_pass $gateway_target;
    }

    location = /slow {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/;
    }
_EOC_
--- pipelined_requests eval
["GET /brief/x", "GET /status?service=brief", "GET /slow", "GET /status"]
--- error_code eval
[500, 200, 200, 200]
--- response_body_like eval
[qr/failed/, qr/"brief":\s*\{.*"breaker":\s*\{\s*"state":\s*"open"/s,
 qr/x{3000}/,
 qr/"orders":\s*\{.*"breaker":\s*null.*"brief":\s*\{.*"breaker":\s*\{\s*"state":\s*"half-open"/s]
