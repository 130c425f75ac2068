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
use Time::HiRes ();
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

    gateway_service queued {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        deadline 2s;
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

    gateway_service plain {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        deadline 500ms;
    }

    gateway_service coldcut {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        cold_start 5s;
        deadline 300ms;
        breaker consecutive=1 open=10s;
    }

    gateway_service burst {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        cold_start 3s;
        breaker consecutive=1 open=10s;
    }

    gateway_service refused {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        deadline 300ms;
    }

    gateway_service fallback {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
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

    location /burst/ {
        gateway_route /burst/ burst strip;
        proxy_pass $gateway_target;
        proxy_read_timeout 400ms;
    }

    location /refused/ {
        gateway_route /refused/ refused strip;
        proxy_pass $gateway_target;
        error_page 502 = /fallback/k/slow600;
    }

    location /fallback/ {
        gateway_route /fallback/ fallback strip;
        proxy_pass $gateway_target;
    }

    location / {
        gateway_route /dl/ dl strip;
        gateway_route /capped/ capped strip;
        gateway_route /short/ short strip;
        gateway_route /queued/ queued strip;
        gateway_route /guarded/ guarded strip;
        gateway_route /plain/ plain strip;
        gateway_route /coldcut/ coldcut strip;
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
request ends at its deadline, 1.5 s after it came.  The window is
-50/+149 ms, not the issue's +-50 ms: on a loaded 2-core machine (and
under ASan) a timer runs late by tens of ms; a deadline that did not
cut the 10 s timeout still fails it.
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
Each attempt takes 350 ms: after the first there is time for another
(each may take ~145 ms more than that on a slow machine); after the
second (at 0.7 s of a 1 s deadline) there is not; the function's 503
is the answer.
--- request
GET /capped/b/slow350-503
--- error_code: 503
--- response_body_like
503 slow350 hit=2
--- timeout: 5
--- error_log eval
[qr/gateway: no retry of service "capped": it cannot finish before the deadline/,
 qr/gw-done \/capped\/b\/slow350-503 status=503 rt=0\.[7-9]\d\d up=503 : 503 retries=1/]
--- no_error_log
passed: 504



=== TEST 3: the deadline ends a wait in the queue
One call holds the only slot; the next, with a shorter deadline of its
own (300 ms), waits, and gets 504 at its deadline, not at the queue's
timeout (10 s), nor when the slot comes free (at the service's
deadline, 2 s).
--- init
use GatewayProc;
$main::held = GatewayProc::open_request('/queued/c/stall');
Test::More::ok(GatewayProc::wait_response(5, '/status?format=prometheus',
                   qr/^gateway_concurrency_in_flight\{service="queued"\} 1$/m),
               'TEST 3: the first in flight');
--- request
GET /queued/c2/200
--- more_headers
grpc-timeout: 300m
--- error_code: 504
--- timeout: 5
--- error_log eval
[qr/gateway: deadline of service "queued" passed: 504/,
 qr/gw-done \/queued\/c2\/200 status=504 rt=0\.(2[5-9]|[34]\d)\d /]



=== TEST 4: a client's shorter grpc-timeout is honoured
--- request
GET /short/d/stall
--- more_headers
grpc-timeout: 200m
--- error_code: 504
--- timeout: 5
--- error_log eval
qr/gw-done \/short\/d\/stall status=504 rt=0\.(1[5-9]|[23]\d)\d /



=== TEST 5: a client's longer grpc-timeout is not
--- request
GET /short/e/stall
--- more_headers
grpc-timeout: 20S
--- error_code: 504
--- timeout: 5
--- error_log eval
qr/gw-done \/short\/e\/stall status=504 rt=0\.(4[5-9]|[56]\d)\d /



=== TEST 6: the deadline passes while the body comes: 504 at once
The rest of the body never comes: the 504 does not wait for it (nor
for client_body_timeout), and the connection is not kept.
--- init
use IO::Socket::INET;
use Time::HiRes ();
for my $svc ('short', 'plain') {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
        or die "connect: $!\n";
    $s->autoflush(1);
    my $t0 = Time::HiRes::time();
    print $s "POST /$svc/i/digest HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Length: 10\r\n\r\nhello";
    my ($status, $r) = GatewayProc::read_response($s, 5);
    my $t = Time::HiRes::time() - $t0;
    Test::More::is($status, 504, "TEST 6: $svc: 504");
    Test::More::cmp_ok($t, '<', 2, "TEST 6: $svc: at the deadline ($t s)");
    Test::More::like($r, qr/deadline-exceeded/, "TEST 6: $svc: the deadline problem");
    Test::More::like($r, qr/\r\nConnection: close\r\n/i, "TEST 6: $svc: not kept");
}
Test::More::is(GatewayChaos::count('i'), 0, 'TEST 6: the function never called');
--- request
POST /plain/i2/digest
helloworld
--- response_body_like
200 digest hit=1 length=10 sha256=936a185caaa266bb9cbe981e9e05cb78cd732b0b3280eb944412bb6f8f8f07af



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



=== TEST 12: no retry when the attempt that answered 503 took too long
The first attempt answers 503 after 600 ms of a 1 s deadline: another
600 ms attempt cannot finish in time, so the function's 503 is the
answer (not a retry cut at the deadline, nor a 504).
--- request
GET /capped/j/slow600-503,slow600-200
--- error_code: 503
--- response_body_like
503 slow600 hit=1
--- timeout: 5
--- error_log eval
qr/gateway: no retry of service "capped": it cannot finish before the deadline/
--- no_error_log
passed: 504



=== TEST 13: a cold start cut by the deadline is no breaker failure
The deadline (300 ms) ends the cold attempt before the cold start's
timeout (5 s): the breaker, open after one failure, stays closed.
--- init
Test::More::is(GatewayProc::statuses('/coldcut/l/stall', 1), '504', 'TEST 13: cold, cut by the deadline');
--- request
GET /coldcut/l2/200
--- response_body
200 plain hit=1
--- error_log eval
[qr/gateway: cold start of service "coldcut": read timeout 5000ms/,
 qr/gateway: deadline of service "coldcut" passed: 504/]
--- no_error_log
closed -> open



=== TEST 14: the attempts that begin during a cold start are cold too
Three calls at once on a function idle since the start, each taking
800 ms (the read timeout is 400 ms): all three wait for the start; then
the function is warm, and the next call times out at 400 ms.
--- init
my @socks = map { GatewayProc::open_request("/burst/m/slow800?n=$_") } 1 .. 3;
my @s = map { (GatewayProc::read_response($_, 5))[0] } @socks;
Test::More::is("@s", '200 200 200', 'TEST 14: all cold, all answered');
--- request
GET /burst/m2/slow800
--- error_code: 504
--- timeout: 5
--- grep_error_log eval
qr/gateway: cold start of service "burst"/
--- grep_error_log_out
gateway: cold start of service "burst"



=== TEST 15: a cold start's own 5xx is still a breaker failure
--- init
Test::More::is(GatewayProc::statuses('/guarded/n/500', 1), '500', 'TEST 15: cold, answered 500');
--- request
GET /guarded/n2/200
--- error_code: 503
--- error_log eval
[qr/gateway: cold start of service "guarded": read timeout 300ms/,
 qr/breaker of service "guarded" closed -> open: consecutive failures/]



=== TEST 16: the slots come back after a deadline mid-attempt and mid-queue
One call holds the only slot, one waits with a shorter deadline of its
own (200 ms); the deadlines end both (the waiter's first, in the queue);
then nothing is in flight or queued, and a call gets the slot.
--- init
use IO::Socket::INET;
my $a = GatewayProc::open_request('/queued/o/stall?n=1');
Test::More::ok(GatewayProc::wait_response(5, '/status?format=prometheus',
                   qr/^gateway_concurrency_in_flight\{service="queued"\} 1$/m),
               'TEST 16: the first in flight');
my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $ENV{TEST_NGINX_SERVER_PORT})
    or die "connect: $!\n";
$b->autoflush(1);
print $b "GET /queued/o/stall?n=2 HTTP/1.0\r\nHost: localhost\r\n"
         . "grpc-timeout: 200m\r\n\r\n";
my ($sa) = GatewayProc::read_response($a, 5);
my ($sb) = GatewayProc::read_response($b, 5);
Test::More::is("$sa $sb", '504 504', 'TEST 16: both ended at the deadline');
Test::More::is(GatewayChaos::count('o'), 1, 'TEST 16: the waiter never called');
my $s = GatewayProc::open_request('/status?format=prometheus');
my (undef, $m) = GatewayProc::read_response($s, 5);
Test::More::like($m, qr/^gateway_concurrency_in_flight\{service="queued"\} 0$/m, 'TEST 16: no slot held');
Test::More::like($m, qr/^gateway_concurrency_queued\{service="queued"\} 0$/m, 'TEST 16: nobody queued');
--- request
GET /queued/o3/200
--- response_body
200 plain hit=1



=== TEST 17: an error_page to another route: the first call's deadline is over
The first service's function refuses connections; its 502 goes to a
fallback route, whose function takes 600 ms: longer than the first
service's deadline (300 ms), which no longer applies.
--- request
GET /refused/x
--- response_body
200 slow600 hit=1
--- timeout: 5
--- no_error_log
passed: 504
