# A worker killed (SIGKILL) in the middle of requests ends none of them:
# the zone must not stay locked (nginx's master unlocks the slab mutex of
# a dead holder), the probe it held must run out (probe_timeout), the
# retries and requests it held in a retry budget must be given back, and
# traffic goes on with the worker nginx starts in its place.

use lib 't/inc';
use GatewayChaos;
use GatewayProc;
use Test::Nginx::Socket;

GatewayChaos::start();

# under valgrind, /proc shows valgrind's command line, not nginx's process
# titles, by which these tests tell workers apart
plan $ENV{TEST_NGINX_USE_VALGRIND}
     ? (skip_all => 'workers are told apart by their titles, hidden by valgrind')
     : 'no_plan';

master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Services = <<'_EOC_';
    gateway_zone gw 1m;
    gateway_default_auth off;

    # the paths under /fn/ choose the function's answer
    gateway_service limited {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn;
        rate_limit 20r/s burst=5;
    }

    gateway_service guarded {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn;
        breaker failure_rate=99% min_requests=100000 window=10s;
    }

    gateway_service retried {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn;
        retries 2 on=503 backoff=1ms:5ms;
    }

    gateway_service held {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn;
        retries 1 on=429 backoff=10ms:10s;
    }

    # the chaos function: /probed/KEY/PLAN
    gateway_service probed {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        breaker consecutive=1 open=500ms probes=1 probe_timeout=2s;
        retries 1 on=429 backoff=10ms:10s;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Services);

    $block->set_value("config", <<'_EOC_');
    location /fn/ok { return 200 "ok\n"; }
    location /fn/fail { return 500 "failed\n"; }
    location /fn/busy { return 503 "busy\n"; }
    location /fn/later {
        add_header Retry-After 5 always;
        return 429 "later\n";
    }

    location / {
        gateway_route /limited/ limited strip;
        gateway_route /guarded/ guarded strip;
        gateway_route /retried/ retried strip;
        gateway_route /held/ held strip;
        gateway_route /probed/ probed strip;
        proxy_pass $gateway_target;
    }
_EOC_
});

# the pids of the workers that logged lines matching a regex, from
# line $from on
sub pids_of {
    my ($re, $from) = @_;
    my @lines = GatewayProc::logged($re);
    my %pids = map { /\] (\d+)#\d+:/ ? ($1 => 1) : () } @lines[$from .. $#lines];
    return sort keys %pids;
}

run_tests();

__DATA__

=== TEST 1: a worker killed under load: traffic goes on
Six clients send requests through the rate limit, a breaker and retries
(each of the function's 503s retried twice) as fast as they can; one
worker is killed in the middle.  Only the requests it had in flight are
lost (a client's connection to it closed, or a call to a function it
answered); nothing waits for a lock; the other worker and its
replacement answer everything after.
--- init
use Time::HiRes ();
my $load = GatewayProc::start_load(clients => 6,
    paths => ['/limited/ok', '/guarded/ok', '/guarded/fail', '/retried/busy',
              '/retried/ok']);
Time::HiRes::sleep(1);
my @workers = GatewayProc::workers();
Test::More::is(scalar @workers, 2, 'TEST 1: two workers');
GatewayProc::kill_worker($workers[0]);
Time::HiRes::sleep(1.5);
my $seen = GatewayProc::finish_load($load);
my %seen = %$seen;
my $total = 0;
$total += $_ for values %seen;
Test::More::cmp_ok($total, '>', 100, "TEST 1: load sent ($total requests)");
Test::More::cmp_ok($seen{$_} // 0, '>', 0, "TEST 1: some $_") for 200, 503;
# the functions answer from the same workers: a call in flight on the
# killed one is a 502 for a request on the other
my $lost = ($seen{0} // 0) + ($seen{502} // 0);
Test::More::cmp_ok($lost, '<=', 6, 'TEST 1: only requests in flight lost');
my @other = grep { !/^(0|200|429|500|502|503)$/ } keys %seen;
Test::More::is("@other", '', 'TEST 1: no timeouts or other answers');
Test::More::is(GatewayProc::statuses('/guarded/ok', 8), '200 ' x 7 . '200',
               'TEST 1: new connections served after the kill');
Test::More::is(GatewayProc::statuses('/retried/ok', 8), '200 ' x 7 . '200',
               'TEST 1: retries served after the kill');
--- request
GET /guarded/ok
--- response_body
ok
--- error_log eval
qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/
--- no_error_log
[emerg]
[crit]



=== TEST 2: the retries a killed worker held are given back
Three requests wait in a backoff (the function's Retry-After), holding
the budget's three retries (its floor).  The workers holding them are
killed: the next request's retry is made all the same, and what they
held is given back.
--- init
my $re = qr/gateway: retrying service "held" after 429/;
my $before = () = GatewayProc::logged($re);
my @socks = map { GatewayProc::open_request("/held/later?n=$_") } 1 .. 3;
my @lines = GatewayProc::wait_logged(5, $before + 3, $re);
Test::More::is(scalar @lines, $before + 3, 'TEST 2: three retries held');
my @holders = main::pids_of($re, $before);
GatewayProc::kill_worker($_) for @holders;
for my $sock (@socks) {
    my ($status) = GatewayProc::read_response($sock, 5);
    Test::More::is($status, 0, 'TEST 2: dropped with its worker');
}
--- request
GET /held/later?n=4
--- timeout: 15
--- error_code: 429
--- response_body
later
--- error_log eval
[qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/,
 qr/gateway: worker \d+ is gone: \d+ requests and \d+ retries it held in retry budgets given back/,
 qr/retrying service "held" after 429, attempt 2 in 5000ms .*GET \/held\/later\?n=4 /]
--- no_error_log
retry budget of service "held" exhausted



=== TEST 3: the probe a killed worker held runs out
The breaker opens; after its open time the next call is the one probe
it lets through (a probe is not retried), and the function does not
answer it when its worker is killed.  Calls are refused while the lease
lasts, and the first after its 2 s becomes the new probe, which closes
the breaker.
--- init
use Time::HiRes ();
Test::More::is(GatewayProc::statuses('/probed/f/500', 1), '500', 'TEST 3: opened');
Time::HiRes::sleep(0.7);
my $re = qr/breaker of service "probed" open -> half-open/;
my $before = () = GatewayProc::logged($re);
my $sock = GatewayProc::open_request('/probed/p/stall');
my @lines = GatewayProc::wait_logged(5, $before + 1, $re);
Test::More::is(scalar @lines, $before + 1, 'TEST 3: the probe waits');
my $t0 = Time::HiRes::time();
GatewayProc::kill_worker($_) for main::pids_of($re, $before);
Test::More::is(GatewayProc::statuses('/probed/ok/200', 4), '503 503 503 503',
               'TEST 3: no other probe while the lease lasts');
my $status = 503;
while ($status == 503 && Time::HiRes::time() - $t0 < 8) {
    Time::HiRes::sleep(0.1);
    $status = GatewayProc::statuses('/probed/ok/200', 1);
}
my $after = Time::HiRes::time() - $t0;
Test::More::is($status, 200, 'TEST 3: a new probe after the lease');
Test::More::cmp_ok($after, '>', 1.2, "TEST 3: not before the lease ran out ($after s)");
Test::More::is(GatewayChaos::count('p'), 1, 'TEST 3: the probe called once');
--- request
GET /probed/ok/200
--- response_body
200 plain hit=2
--- error_log eval
[qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/,
 'gateway: breaker of service "probed" closed -> open: consecutive failures',
 'gateway: breaker of service "probed" half-open -> closed: probes succeeded']
