# Bulkheads: at most N attempts of a service in flight across the four
# workers, M more waiting in a queue for at most queue_timeout, the rest
# refused at once with 503; a waiter whose client goes away leaves the
# queue at once; slots come back however an attempt ends, across a
# reload, and from a worker killed with SIGKILL.  The chaos function
# (t/chaos-function.pl) answers /KEY/slowMS after MS ms and counts the
# calls of each KEY it answers at once (GatewayChaos::most).

use lib 't/inc';
use GatewayChaos;
use GatewayProc;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes ();
use Test::Nginx::Socket;

GatewayChaos::start();

plan $ENV{TEST_NGINX_USE_VALGRIND}
     ? (skip_all => 'workers are told apart by their titles, hidden by valgrind')
     : 'no_plan';

master_on();
workers(4);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# GETs sent at once, each on a connection of its own; for each, in
# order: [status, seconds until it was answered, the response]
sub parallel {
    my (@paths) = @_;
    my $t0 = Time::HiRes::time();
    my @socks = map { GatewayProc::open_request($_) } @paths;
    my $sel = IO::Select->new(@socks);
    my (%buf, %done);
    while ($sel->count && Time::HiRes::time() - $t0 < 20) {
        for my $s ($sel->can_read(0.02)) {
            $buf{$s} //= '';
            my $n = sysread $s, $buf{$s}, 65536, length $buf{$s};
            next if $n;
            $done{$s} = Time::HiRes::time() - $t0;
            $sel->remove($s);
            close $s;
        }
    }
    return map {
        my $b = $buf{$_} // '';
        [$b =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0, $done{$_} // -1, $b]
    } @socks;
}

# the status endpoint's Prometheus text
sub metrics {
    my $s = GatewayProc::open_request('/status?format=prometheus');
    my (undef, $r) = GatewayProc::read_response($s, 5);
    return $r;
}

# waits (at most 5 s) until the service has that many attempts in
# flight and requests queued
sub gauges {
    my ($service, $in_flight, $queued) = @_;
    my $m;
    for (1 .. 100) {
        $m = metrics();
        return 1 if $m =~ /^gateway_concurrency_in_flight\{service="$service"\} $in_flight$/m
                    && $m =~ /^gateway_concurrency_queued\{service="$service"\} $queued$/m;
        Time::HiRes::sleep(0.05);
    }
    Test::More::diag($m);
    return 0;
}

# waits (at most 5 s) until no attempt of the service is in flight
sub idle {
    my ($service) = @_;
    return gauges($service, 0, 0);
}

our $HttpConfig = <<'_EOC_';
    gateway_zone gw 1m;
    gateway_default_auth off;

    log_format gw 'gw-done $uri status=$status queue=$gateway_queue_time rt=$request_time up=$upstream_status pid=$pid';

    gateway_service capped {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 3 queue=2 queue_timeout=10s;
    }

    gateway_service single {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 1 queue=1 queue_timeout=400ms;
    }

    gateway_service patient {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 1 queue=1 queue_timeout=10s;
    }

    gateway_service one {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 1;
        retries 2 on=503,timeout backoff=1ms:5ms;
    }

    gateway_service two {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 2;
    }

    gateway_service upload {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 1;
    }

    gateway_service refused {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        concurrency 1;
    }

    gateway_service fifo {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        concurrency 1 queue=8 queue_timeout=10s;
    }

    # each connection to a worker by its addresses' hash, so that the
    # waiters of the FIFO test are spread over the workers
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 reuseport;
        access_log logs/error.log gw;

        location / {
            gateway_route /fifo/ fifo strip;
            proxy_pass $gateway_target;
            proxy_read_timeout 10s;
        }
    }
_EOC_

our $Config = <<'_EOC_';
    access_log logs/error.log gw;

    location = /status {
        gateway_status;
    }

    location /timed/ {
        gateway_route /timed/ one strip;
        proxy_pass $gateway_target;
        proxy_read_timeout 300ms;
    }

    location / {
        gateway_route /capped/ capped strip;
        gateway_route /single/ single strip;
        gateway_route /patient/ patient strip;
        gateway_route /one/ one strip;
        gateway_route /two/ two strip;
        gateway_route /refused/ refused strip;
        gateway_route /upload/ upload strip;
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

run_tests();

__DATA__

=== TEST 1: 3 in flight exactly, 2 queued, the rest refused at once
Ten calls of a function that takes 1.5 s, at once, through four
workers: three reach the function together, two wait and are answered
after them, five get 503 at once (problem+json, Retry-After).
--- init
my @r = main::parallel(map { "/capped/a/slow1500?n=$_" } 1 .. 10);
my @ok = grep { $_->[0] == 200 } @r;
my @no = grep { $_->[0] == 503 } @r;
Test::More::is(scalar @ok, 5, 'TEST 1: five answered');
Test::More::is(scalar @no, 5, 'TEST 1: five refused');
Test::More::is(GatewayChaos::most('a'), 3, 'TEST 1: three at once, no more');
Test::More::is(GatewayChaos::count('a'), 5, 'TEST 1: five calls');
for my $r (@no) {
    Test::More::cmp_ok($r->[1], '<', 1.2, "TEST 1: refused at once ($r->[1] s)");
    Test::More::like($r->[2], qr{\r\nRetry-After: 10\r\n}, 'TEST 1: Retry-After');
    Test::More::like($r->[2], qr{\r\nContent-Type: application/problem\+json\r\n.*"type":"tag:ngx-http-gateway,2026:over-capacity","title":"Service Unavailable","status":503}s,
                     'TEST 1: problem+json');
}
my @t = sort { $a <=> $b } map { $_->[1] } @ok;
Test::More::cmp_ok($t[3], '>', 2.9, "TEST 1: the queued after the first ($t[3] s)");
Test::More::ok(main::idle('capped'), 'TEST 1: all slots back');
my $m = main::metrics();
Test::More::like($m, qr/^gateway_concurrency_rejected_total\{service="capped",reason="queue_full"\} 5$/m, 'TEST 1: counted');
Test::More::like($m, qr/^gateway_concurrency_queued_total\{service="capped"\} 2$/m, 'TEST 1: queued counted');
--- request
GET /status
--- response_body_like
"capped": \{.*"concurrency": \{\s+"limit": 3,\s+"queue": 2,\s+"per": "service",\s+"in_flight": 0,\s+"queued": 0,\s+"admitted_after_queue": 2,\s+"enqueued": 2,\s+"rejected_queue_full": 5,
--- error_log eval
[qr/gateway: service "capped" at its concurrency of 3: queue full/,
 qr/gw-done \/capped\/a\/slow1500 status=200 queue=[1-9]\.\d{3} /,
 qr/gw-done \/capped\/a\/slow1500 status=200 queue=0\.000 /]
--- no_error_log
[alert]
[crit]



=== TEST 2: queue timeout: 503 after queue_timeout, not before
--- init
my $first = GatewayProc::open_request('/single/b/slow1500');
Test::More::ok(main::gauges('single', 1, 0), 'TEST 2: the first in flight');
my @r = main::parallel('/single/b/slow1500?late');
my ($status) = GatewayProc::read_response($first, 5);
Test::More::is($status, 200, 'TEST 2: the first answered');
Test::More::is($r[0][0], 503, 'TEST 2: the second timed out in the queue');
Test::More::cmp_ok($r[0][1], '>=', 0.38, "TEST 2: not before queue_timeout ($r[0][1] s)");
Test::More::cmp_ok($r[0][1], '<', 1.3, "TEST 2: at queue_timeout ($r[0][1] s)");
Test::More::like($r[0][2], qr{\r\nRetry-After: 1\r\n}, 'TEST 2: Retry-After');
Test::More::is(GatewayChaos::count('b'), 1, 'TEST 2: one call');
Test::More::ok(main::idle('single'), 'TEST 2: all slots back');
--- request
GET /status?format=prometheus
--- response_body_like
gateway_concurrency_rejected_total\{service="single",reason="queue_timeout"\} 1
--- error_log eval
qr/gateway: service "single" at its concurrency of 1: queue timeout/



=== TEST 3: a waiter whose client goes away leaves the queue at once
One call in flight, one waiting (the queue's only place); the waiter's
client closes its connection: the next call takes the place at once
instead of being refused, and the function never sees the one that left.
--- init
my $first = GatewayProc::open_request('/patient/c/slow1500');
Test::More::ok(main::gauges('patient', 1, 0), 'TEST 3: the first in flight');
my $gone = GatewayProc::open_request('/patient/c/slow1500?gone');
Test::More::ok(main::gauges('patient', 1, 1), 'TEST 3: the second waits');
close $gone;
my @lines = GatewayProc::wait_logged(3, 1, qr/a request left the queue of service "patient"/);
Test::More::is(scalar @lines, 1, 'TEST 3: the waiter left');
my @r = main::parallel('/patient/c/slow100?next');
my ($status) = GatewayProc::read_response($first, 5);
Test::More::is($status, 200, 'TEST 3: the first answered');
Test::More::is($r[0][0], 200, 'TEST 3: the next one took the place');
Test::More::is(GatewayChaos::count('c'), 2, 'TEST 3: the one that left never called');
Test::More::ok(main::idle('patient'), 'TEST 3: all slots back');
--- request
GET /status?format=prometheus
--- response_body_like
gateway_concurrency_abandoned_total\{service="patient"\} 1
--- no_error_log
queue full



=== TEST 4: slots come back after errors, timeouts, 5xx and retries, client aborts
A service of one slot and no queue: after each way an attempt can end,
the next call gets the slot.
--- init
my @s;
# connection refused (nothing listens), four times
push @s, GatewayProc::statuses('/refused/x', 1) for 1 .. 4;
Test::More::is("@s", '502 502 502 502', 'TEST 4: errors');
# read timeouts, each retried twice
@s = ();
push @s, GatewayProc::statuses('/timed/d1/stall', 1) for 1 .. 2;
Test::More::is("@s", '504 504', 'TEST 4: timeouts');
Test::More::is(GatewayChaos::count('d1'), 6, 'TEST 4: each attempt made');
# 503, 503, then 200: one request, three attempts
Test::More::is(GatewayProc::statuses('/one/d2/503,503,200', 1), '200', 'TEST 4: retries');
Test::More::is(GatewayChaos::count('d2'), 3, 'TEST 4: three attempts');
# a client that goes away in the middle of an attempt
my $sock = GatewayProc::open_request('/one/d3/stall');
Test::More::ok(main::gauges('one', 1, 0), 'TEST 4: the call in flight');
close $sock;
Test::More::ok(main::idle('one'), 'TEST 4: its slot back once its client left');
@s = ();
push @s, GatewayProc::statuses('/one/d4/200', 1) for 1 .. 4;
Test::More::is("@s", '200 200 200 200', 'TEST 4: after a client abort');
Test::More::ok(main::idle('one'), 'TEST 4: all slots back');
Test::More::ok(main::idle('refused'), 'TEST 4: all slots back');
--- request
GET /one/d5/200
--- response_body
200 plain hit=1
--- no_error_log
at its concurrency



=== TEST 5: a reload: the old workers' slots come back as their calls end
Two calls in flight on the old workers, which the function never
answers; after the reload the new workers see the service full however
long the reload took, and get both slots once the old calls end (their
clients go away).
--- init
my @socks = map { GatewayProc::open_request("/two/e/stall?n=$_") } 1 .. 2;
Test::More::ok(main::gauges('two', 2, 0), 'TEST 5: both in flight');
my @old = GatewayProc::workers();
kill 'HUP', GatewayProc::master_pid();
my %old = map { $_ => 1 } @old;
for (1 .. 100) {
    my @new = grep { !$old{$_} } GatewayProc::workers(shutting => 0);
    last if @new == 4;
    Time::HiRes::sleep(0.05);
}
Test::More::is(GatewayProc::statuses('/two/e2/200', 1), '503', 'TEST 5: still full after the reload');
close $_ for @socks;
Test::More::ok(main::idle('two'), 'TEST 5: the old workers gave the slots back');
my @r = main::parallel('/two/e3/slow500', '/two/e3/slow500');
Test::More::is("$r[0][0] $r[1][0]", '200 200', 'TEST 5: both slots for the new workers');
Test::More::is(GatewayChaos::most('e3'), 2, 'TEST 5: two at once');
--- request
GET /two/e4/200
--- response_body
200 plain hit=1



=== TEST 6: the slots of a worker killed with SIGKILL come back
Both slots are held by calls the function never answers; the workers
are killed, the calls with them; then calls get the slots again.
--- init
my @socks = map { GatewayProc::open_request("/two/f/stall?n=$_") } 1 .. 2;
Test::More::ok(main::gauges('two', 2, 0), 'TEST 6: both in flight');
Test::More::is(GatewayProc::statuses('/two/f2/200', 1), '503', 'TEST 6: full');
GatewayProc::kill_worker($_) for GatewayProc::workers();
for my $s (@socks) {
    my ($status) = GatewayProc::read_response($s, 5);
    Test::More::is($status, 0, 'TEST 6: dropped with its worker');
}
my $status = 503;
my $t0 = Time::HiRes::time();
while ($status == 503 && Time::HiRes::time() - $t0 < 5) {
    $status = GatewayProc::statuses('/two/f3/200', 1);
    Time::HiRes::sleep(0.1) if $status == 503;
}
Test::More::is($status, 200, 'TEST 6: slots given back');
my @r = main::parallel('/two/f4/slow500', '/two/f4/slow500');
Test::More::is("$r[0][0] $r[1][0]", '200 200', 'TEST 6: both of them');
--- request
GET /two/f5/200
--- response_body
200 plain hit=1
--- error_log eval
[qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/,
 qr/gateway: worker \d+ is gone: \d slots it held of service "two" given back/]



=== TEST 7: a client slowly sending its body holds no slot
The only slot is free while a POST's body is still coming: another call
takes it meanwhile; then the body comes, whole, to the function.
--- init
use Digest::SHA ();
my $post = GatewayProc::open_request('/upload/h/digest',
                                     headers => "Content-Length: 10\r\n",
                                     method => 'POST');
print $post "hello";
Time::HiRes::sleep(0.3);
Test::More::is(GatewayProc::statuses('/upload/h2/slow100', 1), '200', 'TEST 7: the slot was free');
print $post "world";
my ($status, $r) = GatewayProc::read_response($post, 5);
Test::More::is($status, 200, 'TEST 7: the POST answered');
my $sha = Digest::SHA::sha256_hex('helloworld');
Test::More::like($r, qr/200 digest hit=1 length=10 sha256=$sha/, 'TEST 7: its body whole');
Test::More::ok(main::idle('upload'), 'TEST 7: all slots back');
--- request
GET /upload/h3/200
--- response_body
200 plain hit=1



=== TEST 8: per=consumer: each consumer its own slots
alice's one slot is taken: her next call is refused, bob's is not; the
consumers' nodes go once their calls are over.
--- user_files
>>> ../conf/consumers.json
{"consumers": [
  {"id": "alice", "services": ["*"],
   "keys": ["sha256:72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"]},
  {"id": "bob", "services": ["*"],
   "keys": ["sha256:9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"]}
]}
--- http_config
    gateway_consumers consumers.json;

    gateway_service each {
        endpoint http://127.0.0.1:$TEST_NGINX_CHAOS_PORT/;
        auth apikey;
        concurrency 1 per=consumer;
    }
--- config
    location = /status {
        gateway_status;
    }

    location / {
        gateway_route /each/ each strip;
        proxy_pass $gateway_target;
    }
--- init
my $a1 = GatewayProc::open_request('/each/g/slow1000',
                                   headers => "X-API-Key: alice-key\r\n");
Test::More::ok(main::gauges('each', 1, 0), 'TEST 8: alice in flight');
my $a2 = GatewayProc::open_request('/each/g2/200',
                                   headers => "X-API-Key: alice-key\r\n");
my $b1 = GatewayProc::open_request('/each/g3/200',
                                   headers => "X-API-Key: bob-key\r\n");
my ($s2) = GatewayProc::read_response($a2, 5);
my ($s3) = GatewayProc::read_response($b1, 5);
my ($s1) = GatewayProc::read_response($a1, 5);
Test::More::is("$s1 $s2 $s3", '200 503 200', 'TEST 8: alice full, bob not');
my $m = main::metrics();
Test::More::like($m, qr/^gateway_concurrency_in_flight\{service="each"\} 0$/m, 'TEST 8: nothing in flight');
--- request
GET /status
--- response_body_like: "each": \{.*"concurrency": \{\s+"limit": 1,\s+"queue": 0,\s+"per": "consumer",\s+"in_flight": 0,.*"rejected_queue_full": 1,



=== TEST 9: configuration errors name the value
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        concurrency 0;
    }
--- config
--- must_die
--- error_log
invalid concurrency "0": 1 to 1000000



=== TEST 10: concurrency: unknown parameter
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        concurrency 5 queue=10 wait=1s;
    }
--- config
--- must_die
--- error_log
invalid concurrency parameter "wait=1s": no such parameter



=== TEST 11: concurrency: a bad queue_timeout
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        concurrency 5 queue=10 queue_timeout=soon;
    }
--- config
--- must_die
--- error_log
invalid concurrency parameter "queue_timeout=soon": the queue's timeout is a time from 1ms to 1d



=== TEST 12: per=consumer needs authentication
--- http_config
    gateway_default_auth off;
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        concurrency 5 per=consumer;
    }
--- config
--- must_die
--- error_log eval
qr/"concurrency \.\.\. per=consumer" of gateway service "a" in \S+:\d+ needs authentication/



=== TEST 13: concurrency is declared once
--- http_config
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        concurrency 5;
        concurrency 6;
    }
--- config
--- must_die
--- error_log
"concurrency" directive is duplicate



=== TEST 14: FIFO across the workers
One call holds the only slot; eight more (the queue's places) come one
after the other, each on a connection of its own (spread over the four
workers by reuseport), each queued before the next is sent; then the
first call's client goes away, freeing the slot: the function answers
them in the order they came.
--- init
# the port of the reuseport server, from the configuration written
open my $conf, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/conf/nginx.conf" or die "$!\n";
my ($port) = map { /listen 127\.0\.0\.1:(\d+) reuseport/ ? $1 : () } <$conf>;
close $conf;
my $first = GatewayProc::open_request('/fifo/q0/stall', port => $port);
Test::More::ok(main::gauges('fifo', 1, 0), 'TEST 14: the first in flight');
my @w;
for my $k (1 .. 8) {
    push @w, GatewayProc::open_request("/fifo/q/slow50?k=$k", port => $port);
    Test::More::ok(main::gauges('fifo', 1, $k), "TEST 14: waiter $k queued");
}
close $first;
my @hits = map { my (undef, $r) = GatewayProc::read_response($_, 10);
                 $r =~ /hit=(\d+)/ ? $1 : 0 } @w;
Test::More::is("@hits", '1 2 3 4 5 6 7 8', 'TEST 14: admitted in order');
# (all in one of the four workers: one run in 4^7)
my @lines = GatewayProc::wait_logged(5, 8, qr{gw-done /fifo/q/slow50 status=200 });
my %pids = map { /pid=(\d+)/ ? ($1 => 1) : () } @lines;
Test::More::cmp_ok(scalar keys %pids, '>=', 2, 'TEST 14: waiters in more than one worker');
Test::More::ok(main::idle('fifo'), 'TEST 14: all slots back');
--- request
GET /status?format=prometheus
--- response_body_like
gateway_concurrency_admitted_after_queue_total\{service="fifo"\} 8
