# Deadlines and cold starts.  A deadline ends the whole request, all its
# attempts and backoffs, with 504 (problem+json) when nothing was
# answered by then; each attempt's timeouts are capped by what is left;
# no retry starts that cannot finish in time; a client's shorter
# grpc-timeout is honoured, a longer one is not.  A cold start: the first
# attempt after the function was idle gets the cold_start read timeout
# and its timeout is no breaker failure.  The chaos function answers
# /KEY/PLAN (t/chaos-function.pl).

use lib 't/inc';
use GatewayChaos;
use GatewayProc;
use Test::Nginx::Socket 'no_plan';

our $held;

GatewayChaos::start();

master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;

    log_format gw 'gw-done $uri status=$status rt=$request_time up=$upstream_status retries=$gateway_retries';

    gateway_service dl {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 3 on=503 backoff=1ms:10ms;
        deadline 1500ms;
    }

    gateway_service capped {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 3 on=503 backoff=10ms:10ms;
        deadline 1s;
    }

    gateway_service short {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        deadline 500ms;
        concurrency 1 queue=5 queue_timeout=10s;
    }

    gateway_service cold {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        cold_start 3s idle=1s;
    }

    gateway_service guarded {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        cold_start 300ms;
        breaker consecutive=1 open=10s;
    }
_EOC_

our $Config = <<'_EOC_';
    access_log logs/error.log gw;

    location = /status {
        gateway_status;
    }

    location /cold/ {
        gateway_route /cold/ cold strip;
        proxy_pass $gateway_target;
        proxy_read_timeout 400ms;
    }

    location / {
        gateway_route /dl/ dl strip;
        gateway_route /capped/ capped strip;
        gateway_route /short/ short strip;
        gateway_route /guarded/ guarded strip;
        proxy_pass $gateway_target;
        proxy_read_timeout 10s;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;
});

# $request_time of the request in the access log line
sub rt {
    my ($uri) = @_;
    open my $fh, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log" or return -1;
    my ($rt) = map { /gw-done \Q$uri\E status=\d+ rt=(\S+)/ ? $1 : () } <$fh>;
    return $rt // -1;
}

run_tests();

__DATA__

=== TEST 1: a deadline across retries with backoff: 504 at 1.5 s
Two attempts answer 503 after 300 ms each and are retried; the third
never answers: its read timeout (10 s) is cut to what is left, and the
request ends at its deadline, 1.5 s after it came.
--- request
GET /dl/a/slow300-503,slow300-503,stall
--- error_code: 504
--- response_headers
Content-Type: application/problem+json
--- response_body_like: deadline-exceeded.*"status":504
--- timeout: 5
--- error_log eval
[qr/gateway: deadline of service "dl" passed: 504/,
 qr/gw-done \/dl\/a\/slow300-503,slow300-503,stall status=504 rt=1\.(4[5-9]|5\d|6[0-4])\d up=503 : 503 : 504 retries=2/]



=== TEST 2: no retry starts that cannot finish before the deadline
Each attempt takes 400 ms: after the second (at 0.8 s of a 1 s
deadline) there is not time for another; the function's 503 is the
answer.
--- request
GET /capped/b/slow400-503
--- error_code: 503
--- response_body_like
503 slow400 hit=2
--- timeout: 5
--- error_log eval
[qr/gateway: no retry of service "capped": it cannot finish before the deadline/,
 qr/gw-done \/capped\/b\/slow400-503 status=503 rt=0\.[89]\d\d up=503 : 503 retries=1/]
--- no_error_log
passed: 504



=== TEST 3: the deadline ends a wait in the queue
One call holds the only slot; the next, with a shorter deadline of its
own (300 ms), waits, and gets 504 at its deadline, not at the queue's
timeout (10 s), nor when the slot comes free (at 500 ms).
--- init
use GatewayProc;
use Time::HiRes ();
$main::held = GatewayProc::open_request('/short/c/slow2000');
Time::HiRes::sleep(0.2);
--- request
GET /short/c2/200
--- more_headers
grpc-timeout: 300m
--- error_code: 504
--- timeout: 5
--- error_log eval
[qr/gateway: deadline of service "short" passed: 504/,
 qr/gw-done \/short\/c2\/200 status=504 rt=0\.(2[5-9]|3\d)\d /]



=== TEST 4: a client's shorter grpc-timeout is honoured
--- request
GET /short/d/stall
--- more_headers
grpc-timeout: 200m
--- error_code: 504
--- timeout: 5
--- error_log eval
qr/gw-done \/short\/d\/stall status=504 rt=0\.(1[5-9]|2\d)\d /



=== TEST 5: a client's longer grpc-timeout is not
--- request
GET /short/e/stall
--- more_headers
grpc-timeout: 20S
--- error_code: 504
--- timeout: 5
--- error_log eval
qr/gw-done \/short\/e\/stall status=504 rt=0\.(4[5-9]|5\d)\d /



=== TEST 6: the deadline passes while the body comes: 504 once it came
--- init
use IO::Socket::INET;
use Time::HiRes ();
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
    or die "connect: $!\n";
$s->autoflush(1);
print $s "POST /short/i/digest HTTP/1.0\r\nHost: localhost\r\n"
         . "Content-Length: 10\r\n\r\nhello";
Time::HiRes::sleep(0.8);
print $s "world";
my ($status, $r) = GatewayProc::read_response($s, 5);
Test::More::is($status, 504, 'TEST 6: 504');
Test::More::like($r, qr/deadline-exceeded/, 'TEST 6: the deadline problem');
Test::More::is(GatewayChaos::count('i'), 0, 'TEST 6: the function never called');
--- request
GET /short/i2/200
--- response_body
200 plain hit=1



=== TEST 7: a cold start: the first call, slow, is admitted; the next times out
The function takes 800 ms; the normal read timeout is 400 ms, the cold
start's 3 s.  After an idle second the first call is a cold start again.
--- init
use GatewayProc;
use Time::HiRes ();
Test::More::is(GatewayProc::statuses('/cold/f/slow800', 1), '200', 'TEST 7: the first call, cold');
Test::More::is(GatewayProc::statuses('/cold/f/slow800', 1), '504', 'TEST 7: the second, warm, times out');
Time::HiRes::sleep(1.3);
--- request
GET /cold/f/slow800
--- response_body
200 slow800 hit=3
--- timeout: 5
--- grep_error_log eval
qr/gateway: cold start of service "cold": read timeout 3000ms/
--- grep_error_log_out
gateway: cold start of service "cold": read timeout 3000ms
gateway: cold start of service "cold": read timeout 3000ms



=== TEST 8: a cold start's timeout is no breaker failure
The first call times out at the cold start's 300 ms: the breaker, open
after one failure, stays closed; the next call's failure opens it.
--- init
use GatewayProc;
Test::More::is(GatewayProc::statuses('/guarded/g/stall', 1), '504', 'TEST 8: cold, timed out');
Test::More::is(GatewayProc::statuses('/guarded/g2/200', 1), '200', 'TEST 8: breaker still closed');
Test::More::is(GatewayProc::statuses('/guarded/g3/500', 1), '500', 'TEST 8: a failure');
--- request
GET /guarded/g4/200
--- error_code: 503
--- error_log eval
[qr/gateway: cold start of service "guarded": read timeout 300ms/,
 qr/breaker of service "guarded" closed -> open: consecutive failures/]



=== TEST 9: status: deadlines and cold starts counted
--- init
use GatewayProc;
GatewayProc::statuses('/short/h/stall', 1);
GatewayProc::statuses('/cold/h/200', 1);
my $s = GatewayProc::open_request('/status?format=prometheus');
my (undef, $m) = GatewayProc::read_response($s, 5);
Test::More::like($m, qr/^gateway_deadline_exceeded_total\{service="short"\} 1$/m, 'TEST 9: deadline counted');
Test::More::like($m, qr/^gateway_cold_starts_total\{service="cold"\} 1$/m, 'TEST 9: cold start counted');
--- request
GET /status
--- response_body_like: "short": \{.*"concurrency": \{.*"deadline_exceeded": 1,



=== TEST 10: deadline: a bad time
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        deadline 0;
    }
--- config
--- must_die
--- error_log
invalid deadline "0": a time from 1ms to 1d



=== TEST 11: cold_start: a bad idle
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        cold_start 5s idle=never;
    }
--- config
--- must_die
--- error_log
invalid cold_start parameter "idle=never": idle is a time from 1ms to 30d
