# Retries against the chaos function (t/chaos-function.pl): a function
# that writes its header and body apart, chunks, closes to end its body,
# sends 1 MB, resets or hangs.  Every retried request ends, with one
# access-log line and $gateway_retries, and leaves no retry in flight
# (gateway_status).  The key in each path counts the calls that reached
# the function; /fn-count/KEY tells how many.

use lib 't/inc';
use GatewayChaos;
use GatewayProc;
use Digest::SHA ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GatewayChaos::start();

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# request bodies: 20 KB, 900 KB, 8 MB (over client_body_buffer_size: in
# a temp file), not ending in white space, which a request section trims
sub body { my $n = shift; join('', map { sprintf "%07d\n", $_ } 1 .. $n) . 'end.' }

our $B20k = body(2560);
our $B900k = body(115200);
our $B8m = body(1048576);
sub digest { 'length=' . length($_[0]) . ' sha256=' . Digest::SHA::sha256_hex($_[0]) }

# the responses of GatewayChaos::session(), each against
# [status, body regex, X-Retries]
sub check {
    my ($name, $got, @want) = @_;
    Test::More::is(scalar @$got, scalar @want, "$name: all answered");
    for my $i (0 .. $#want) {
        my ($status, $body, $retries) = @{ $want[$i] };
        my $r = $got->[$i] // { status => 0, body => '' };
        Test::More::is($r->{status}, $status, "$name: status $i");
        Test::More::like($r->{body}, $body, "$name: body $i");
        Test::More::ok(!$r->{truncated}, "$name: whole body $i");
        Test::More::is($r->{headers}{'x-retries'}, $retries,
                       "$name: X-Retries $i") if defined $retries;
    }
}

# no retry in flight for any service
our $Idle = qr/\A(?!.*^gateway_retries_in_flight\{[^}]*\} [1-9])(?=.*^gateway_retries_in_flight\{service="flaky"\} 0$)/ms;

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;

    log_format gw 'gw-done $request_uri status=$status retries=$gateway_retries up=$upstream_status';

    gateway_service flaky {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 2 on=error,timeout,502,503,504,429 backoff=1ms:5ms;
    }

    gateway_service nine {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 9 backoff=1ms:2ms budget=100%;
    }

    gateway_service broken {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 3 backoff=1ms:2ms;
        breaker consecutive=2 open=10s;
    }

    gateway_service probed {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 3 backoff=1ms:2ms;
        breaker consecutive=1 open=200ms probes=1;
    }

    gateway_service patient {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 2 backoff=1ms:2ms;
        breaker consecutive=3 open=10s;
    }

    gateway_service bodies {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 1 backoff=1ms:2ms idempotency_header=Idempotency-Key;
    }

    gateway_service down {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        retries 1 on=error backoff=1ms:2ms;
    }

    gateway_service tripped {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 1 on=503 backoff=1ms:2s;
        breaker consecutive=2 open=10s;
    }

    upstream chaos_kept {
        server 127.0.0.1:$TEST_NGINX_CHAOS_PORT;
        keepalive 4;
    }

    gateway_service kept {
        endpoint http://chaos_kept/;
        retries 2 backoff=1ms:2ms;
    }

    gateway_service later {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        retries 1 on=503 backoff=1ms:2s;
    }
_EOC_

our $Config = <<'_EOC_';
    location /ka/ {
        gateway_route /ka/ kept strip;
        proxy_pass $gateway_target;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }

    access_log logs/error.log gw;

    location / {
        gateway_route /c/ flaky strip;
        gateway_route /n/ nine strip;
        gateway_route /k/ broken strip;
        gateway_route /q/ probed strip;
        gateway_route /p/ patient strip;
        gateway_route /b/ bodies strip;
        gateway_route /l/ later strip;
        gateway_route /t/ tripped strip;
        proxy_pass $gateway_target;
        proxy_read_timeout 300ms;
        client_max_body_size 16m;
        add_header X-Retries "$gateway_retries" always;
    }

    location /e/ {
        gateway_route /e/ down strip;
        proxy_pass $gateway_target;
        error_page 502 = /fallback;
    }

    location /i/ {
        gateway_route /i/ flaky strip;
        proxy_pass $gateway_target;
        proxy_intercept_errors on;
        error_page 503 = /fallback;
    }

    location /nb/ {
        gateway_route /nb/ bodies strip;
        proxy_pass $gateway_target;
        proxy_request_buffering off;
    }

    location /en/ {
        gateway_route /en/ down strip;
        proxy_pass $gateway_target;
        error_page 502 = @fallback;
    }

    location @fallback {
        return 200 "named fallback retries=$gateway_retries\n";
    }

    location = /fallback {
        return 200 "fallback retries=$gateway_retries\n";
    }

    location /fn-count/ {
        access_log off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/count/;
    }

    location = /status {
        access_log off;
        gateway_status;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    # what is left after the calls: nothing in flight
    unless (defined $block->request) {
        $block->set_value("request", "GET /status?format=prometheus");
        $block->set_value("response_body_like", $::Idle)
            unless defined $block->response_body_like;
    }

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: header, then the body 5 ms later: the retried request ends
The keep-alive client's next request on the same connection is
answered.
--- init
main::check('TEST 1', [GatewayChaos::session('/c/split/split-503,split-200',
                                             '/c/split/split-503')],
            [200, qr/^200 split hit=2$/, 1], [503, qr/^503 split hit=5$/, 2]);
--- error_log
gw-done /c/split/split-503,split-200 status=200 retries=1
gw-done /c/split/split-503 status=503 retries=2
gateway: retrying service "flaky" after 503, attempt 2
--- no_error_log
[alert]
[crit]
exhausted



=== TEST 2: chunked failures and a chunked answer
--- init
main::check('TEST 2', [GatewayChaos::session('/c/chunked/chunked-503,chunked-502,chunked-200')],
            [200, qr/^200 chunked hit=3$/, 2]);
--- error_log
gw-done /c/chunked/chunked-503,chunked-502,chunked-200 status=200 retries=2
--- no_error_log
[alert]
[crit]



=== TEST 3: close-delimited (HTTP/1.0) failures and answer
--- init
main::check('TEST 3', [GatewayChaos::session('/c/close/close-503,close-200')],
            [200, qr/^200 close hit=2$/, 1]);
--- error_log
gw-done /c/close/close-503,close-200 status=200 retries=1
--- no_error_log
[alert]
[crit]



=== TEST 4: 1 MB failures (more than the proxy buffers) and answer
--- init
main::check('TEST 4', [GatewayChaos::session('/c/big/big-503,big-503,big-200')],
            [200, qr/^200 big hit=3\nx{65000,}\z/, 2]);
--- error_log
gw-done /c/big/big-503,big-503,big-200 status=200 retries=2
--- no_error_log
[alert]
[crit]



=== TEST 5: a failure reset or closed in the middle of its body
--- init
main::check('TEST 5', [GatewayChaos::session('/c/reset/reset-503,cut-502,split-200')],
            [200, qr/^200 split hit=3$/, 2]);
--- error_log
gw-done /c/reset/reset-503,cut-502,split-200 status=200 retries=2
--- no_error_log
[alert]
[crit]



=== TEST 6: a failure that hangs after its header, and one without any
The first hangs after a 503 header: the attempt is over at the header.
The second sends nothing: it times out (proxy_read_timeout 300ms).
--- init
main::check('TEST 6', [GatewayChaos::session('/c/hang/hang-503,stall,split-200')],
            [200, qr/^200 split hit=3$/, 2]);
--- error_log eval
[qr{gw-done /c/hang/hang-503,stall,split-200 status=200 retries=2 up=503 : 504 : 200$},
 'gateway: retrying service "flaky" after 504, attempt 3']
--- no_error_log
[alert]
[crit]



=== TEST 7: 429 and 503 with Retry-After: 0
--- init
main::check('TEST 7', [GatewayChaos::session('/c/ra/ra0-429,ra0-503,split-200')],
            [200, qr/^200 split hit=3$/, 2]);
--- error_log
gw-done /c/ra/ra0-429,ra0-503,split-200 status=200 retries=2
gateway: retrying service "flaky" after 429, attempt 2 in 0ms
gateway: retrying service "flaky" after 503, attempt 3 in 0ms
--- no_error_log
[alert]
[crit]



=== TEST 8: retries 9 with budget=100% on a lone request: nine retries
A retry holds a budget slot until its attempt ends, not to the end of
the request: the budget's floor of 3 does not stop the chain.
--- init
main::check('TEST 8', [GatewayChaos::session('/n/nine/split-503')],
            [503, qr/^503 split hit=10$/, 9]);
Test::More::is(GatewayChaos::count('nine'), 10, 'TEST 8: ten calls');
--- error_log
gw-done /n/nine/split-503 status=503 retries=9
--- no_error_log
exhausted
[alert]



=== TEST 9: a breaker with consecutive=2 stops the chain after 2 attempts
Each attempt's outcome reaches the breaker when the attempt ends.
--- init
main::check('TEST 9', [GatewayChaos::session('/k/consec/split-503')],
            [503, qr/^503 split hit=2$/, 1]);
Test::More::is(GatewayChaos::count('consec'), 2, 'TEST 9: two calls');
--- error_log
gw-done /k/consec/split-503 status=503 retries=1
gateway: breaker of service "broken" closed -> open: consecutive failures
gateway: breaker of service "broken" is open: not retried



=== TEST 10: a half-open breaker with probes=1 lets one call through
The first call opens the breaker and is not retried.  After the open
time the next call is the probe: one attempt, not retried, whatever
its retries say; the breaker opens again.
--- init
main::check('TEST 10', [GatewayChaos::session('/q/first/split-503')],
            [503, qr/^503 split hit=1$/, 0]);
Time::HiRes::sleep(0.3);
main::check('TEST 10', [GatewayChaos::session('/q/probe/split-503,split-503,split-200')],
            [503, qr/^503 split hit=1$/, 0]);
Test::More::is(GatewayChaos::count('first'), 1, 'TEST 10: one call');
Test::More::is(GatewayChaos::count('probe'), 1, 'TEST 10: one probe');
--- error_log
gw-done /q/probe/split-503,split-503,split-200 status=503 retries=0
gateway: a probe of service "probed" is not retried
gateway: breaker of service "probed" half-open -> open: a probe failed



=== TEST 11: twenty clients hang up on a slow healthy function
Each closes its connection 50 ms into a 400 ms call: no attempt says
anything about the function; the breaker (consecutive=3) stays closed
and counts no error.
--- init
my @socks = map { GatewayProc::open_request("/p/abort$_/slow400-200") } 1 .. 20;
Time::HiRes::sleep(0.05);
close $_ for @socks;
Time::HiRes::sleep(0.6);
my ($r) = GatewayChaos::session('/status?service=patient');
Test::More::like($r->{body},
    qr/"error": 0,.*"retries": 0,.*"retries_in_flight": 0,.*"state": "closed"/s,
    'TEST 11: no error, closed');
--- error_log eval
[qr{gw-done /p/abort1/slow400-200 status=499 retries=0},
 qr{gw-done /p/abort20/slow400-200 status=499 retries=0}]
--- no_error_log
breaker of service "patient" closed -> open
[alert]



=== TEST 12: a client that goes away during the backoff
The function asks for a second (Retry-After: 1); the client leaves
before: the retry does not start, and nothing stays in flight.
--- init
my $sock = GatewayProc::open_request('/l/gone/ra1-503,split-200');
Test::More::is(scalar GatewayProc::wait_logged(5, 1,
                   qr/retrying service "later" after 503/), 1,
               'TEST 12: in the backoff');
close $sock;
Time::HiRes::sleep(1.2);
Test::More::is(GatewayChaos::count('gone'), 1, 'TEST 12: one call');
--- response_body_like eval
qr/^gateway_retries_in_flight\{service="later"\} 0$/m
--- error_log
gw-done /l/gone/ra1-503,split-200 status=499 retries=1
gateway: the client of service "later" went away during the backoff



=== TEST 13: a 20 KB body of a GET, in a temp file, replayed
--- init
main::check('TEST 13', [GatewayChaos::session(['GET', '/b/get20k/split-503,digest', $::B20k])],
            [200, qr/^200 digest hit=2 \Q${\ main::digest($::B20k)}\E$/, 1]);
--- error_log
gw-done /b/get20k/split-503,digest status=200 retries=1
--- no_error_log
[crit]
[alert]



=== TEST 14: a 900 KB POST with an idempotency key, replayed
--- init
main::check('TEST 14', [GatewayChaos::session(['POST', '/b/post900k/split-503,digest', $::B900k,
                                              "Idempotency-Key: k900\r\n"])],
            [200, qr/^200 digest hit=2 \Q${\ main::digest($::B900k)}\E$/, 1]);
--- error_log
gw-done /b/post900k/split-503,digest status=200 retries=1
--- no_error_log
[crit]
[alert]



=== TEST 15: an 8 MB POST, replayed after a reset
--- init
main::check('TEST 15', [GatewayChaos::session(['POST', '/b/post8m/reset-503,digest', $::B8m,
                                              "Idempotency-Key: k8m\r\n"], { timeout => 20 })],
            [200, qr/^200 digest hit=2 \Q${\ main::digest($::B8m)}\E$/, 1]);
--- error_log
gw-done /b/post8m/reset-503,digest status=200 retries=1
--- no_error_log
[crit]
[alert]



=== TEST 16: error_page for a refused connection: the retry goes first
The function refuses connections; the error page is for the last
attempt, and $gateway_retries keeps its value there.
--- init
main::check('TEST 16', [GatewayChaos::session('/e/x')],
            [200, qr/^fallback retries=1$/]);
--- error_log
gateway: retrying service "down" after 502, attempt 2
gw-done /e/x status=200 retries=1
--- no_error_log
[alert]



=== TEST 17: proxy_intercept_errors and error_page: the retry answers
--- init
main::check('TEST 17', [GatewayChaos::session('/i/icpt/split-503,split-200', '/i/icpt2/split-503')],
            [200, qr/^200 split hit=2$/], [200, qr/^fallback retries=2$/]);
--- error_log
gw-done /i/icpt/split-503,split-200 status=200 retries=1
gw-done /i/icpt2/split-503 status=200 retries=2
--- no_error_log
[alert]



=== TEST 18: a breaker opened by other calls during the backoff
The first call waits a second (Retry-After: 1) before its retry; a
second call's failure meanwhile opens the breaker (consecutive=2): the
retry is not made, and the first call gets the breaker's refusal.
--- init
my $sock = GatewayProc::open_request('/t/waiting/ra1-503,split-200');
Test::More::is(scalar GatewayProc::wait_logged(5, 1,
                   qr/retrying service "tripped" after 503/), 1,
               'TEST 18: in the backoff');
main::check('TEST 18', [GatewayChaos::session('/t/other/split-503')],
            [503, qr/^503 split hit=1$/]);
my ($status, $res) = GatewayProc::read_response($sock, 5);
Test::More::is($status, 503, 'TEST 18: refused');
Test::More::like($res, qr/breaker-open/, 'TEST 18: by the breaker');
Test::More::is(GatewayChaos::count('waiting'), 1, 'TEST 18: no retry made');
--- error_log
gateway: breaker of service "tripped" is open: retry not made
gw-done /t/waiting/ra1-503,split-200 status=503 retries=1
gw-done /t/other/split-503 status=503 retries=0



=== TEST 19: keep-alive to the function after a retried request
The failed attempt's connection is closed; the one that answered is
kept and the next call reuses it.
--- init
my @r = GatewayChaos::session('/ka/kept1/split-503,split-200', '/ka/kept2/split-200',
                              '/ka/kept3/chunked-200');
main::check('TEST 19', \@r, [200, qr/^200 split hit=2$/], [200, qr/^200 split hit=1$/],
            [200, qr/^200 chunked hit=1$/]);
Test::More::ok($r[0]{headers}{'x-chaos-connection'}, 'TEST 19: a connection');
Test::More::is($r[1]{headers}{'x-chaos-connection'}, $r[0]{headers}{'x-chaos-connection'},
               'TEST 19: kept');
Test::More::is($r[2]{headers}{'x-chaos-connection'}, $r[0]{headers}{'x-chaos-connection'},
               'TEST 19: kept again');
--- error_log
gw-done /ka/kept1/split-503,split-200 status=200 retries=1



=== TEST 20: error_page to a named location: the retry goes first
--- init
main::check('TEST 20', [GatewayChaos::session('/en/y')],
            [200, qr/^named fallback retries=1$/]);
--- error_log
gateway: retrying service "down" after 502, attempt 2
gw-done /en/y status=200 retries=1
--- no_error_log
[alert]



=== TEST 21: the answer itself reset mid-body, or hanging after its header
Once a byte went to the client nothing is retried: the client gets the
cut response and the connection closes (the proxy's read timeout ends
the hanging one); each request still ends, with its log line.
--- init
my ($r) = GatewayChaos::session('/c/cut200/split-503,reset-200');
Test::More::is($r->{status}, 200, 'TEST 21: reset: the header');
Test::More::ok($r->{truncated}, 'TEST 21: reset: the body cut');
($r) = GatewayChaos::session('/c/hang200/split-503,hang-200');
Test::More::is($r->{status}, 200, 'TEST 21: hang: the header');
Test::More::ok($r->{truncated}, 'TEST 21: hang: the body cut');
Time::HiRes::sleep(0.1);
--- error_log
gw-done /c/cut200/split-503,reset-200 status=200 retries=1
gw-done /c/hang200/split-503,hang-200 status=200 retries=1
upstream timed out
--- no_error_log
[alert]



=== TEST 22: a body streamed to the function is not retried
With proxy_request_buffering off nginx does not keep the body: the
request is not sent again, even with an idempotency key.
--- init
main::check('TEST 22', [GatewayChaos::session(['POST', '/nb/streamed/split-503,digest', $::B20k,
                                              "Idempotency-Key: s1\r\n"])],
            [503, qr/^503 split hit=1$/]);
Test::More::is(GatewayChaos::count('streamed'), 1, 'TEST 22: one call');
--- error_log
gw-done /nb/streamed/split-503,digest status=503 retries=0
--- no_error_log
gateway: retrying
