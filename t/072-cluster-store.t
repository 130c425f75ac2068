# Cluster rate limits while Redis is away: stopped mid-run, restarted,
# slowed with DEBUG SLEEP; each on_store_error mode as documented, never
# a 500, never a request that hangs, each transition logged once at
# warn; and a HUP under load.

use lib 't/inc';
use GatewayRedis;
use GatewayCluster;
use GatewayProc;
use Test::Nginx::Socket 'no_plan';

GatewayRedis::start();

master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Services = <<'_EOC_';
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=100ms;
    gateway_default_auth off;

    gateway_service local {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 30r/s burst=3 per=service scope=cluster sync=100ms;
    }

    gateway_service open {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 10r/s per=service scope=cluster on_store_error=open;
    }

    gateway_service closed {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 10r/s per=service scope=cluster on_store_error=closed;
    }

    gateway_service strict {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 10r/s burst=2 per=service scope=cluster sync=strict
                   on_store_error=closed;
    }

    gateway_service strictlocal {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 10r/s burst=2 per=service scope=cluster sync=strict;
    }
_EOC_

our $Locations = <<'_EOC_';
    location /fn/ { return 200 "ok\n"; }

    location = /status { gateway_status; }

    location / {
        gateway_route /local/ local;
        gateway_route /open/ open;
        gateway_route /closed/ closed;
        gateway_route /strict/ strict;
        gateway_route /strictlocal/ strictlocal;
        proxy_pass $gateway_target;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    (my $http = $Services) =~ s/\$PORT\b/\$TEST_NGINX_SERVER_PORT/g;

    # a zone of its own: with TEST_NGINX_USE_HUP, state of another block
    # (a store found down, hosts seen) would otherwise stay
    my ($n) = $block->name =~ /TEST (\d+)/;
    $block->set_value("http_config", "    gateway_zone gw$n 1m;\n$http");
    $block->set_value("config", $Locations);
    $block->set_value("request", "GET /fn/") unless defined $block->request;
});

sub here { $ENV{TEST_NGINX_SERVER_PORT} }

# 30r/s burst=3 over a 4 s run, within 10%: the quota of the span the
# requests took (a client behind its schedule catches up past its end),
# and at least of the schedule
sub near_quota {
    my ($r, $name) = @_;
    my $ok = $r->{total}{200} // 0;
    my $span = $r->{span} > 0 ? $r->{span} : 4;
    my $quota = 30 * $span + 4;
    Test::More::cmp_ok($ok, '<=', $quota * 1.10,
                       sprintf('%s: %d admitted of %.0f in %.2f s', $name,
                               $ok, $quota, $span));
    Test::More::cmp_ok($ok, '>=', (30 * ($span < 4 ? $span : 4) + 4) * 0.90,
                       "$name: $ok admitted: not fewer");
}

sub only_200_429 {
    my ($r, $name) = @_;
    my @other = grep { $_ != 200 && $_ != 429 } keys %{ $r->{total} };
    Test::More::ok(!@other, "$name: only 200 and 429 ("
                            . GatewayCluster::summary($r) . ")");
}

sub status_json {
    my $s = GatewayProc::open_request('/status');
    my ($st, $raw) = GatewayProc::read_response($s, 5);
    return $raw;
}

run_tests();

__DATA__

=== TEST 1: on_store_error=local: Redis stopped mid-run, then restarted
Three hosts share 30r/s burst=3 (a quota of 30 * 4 + 4 in 4 s).  Redis stops after a second: each host enforces
its third of the limit, so the cluster still admits about the quota; the
store is down once in each host's log.  Redis starts again: the hosts
share the limit through it again, up once in each log.
--- init
GatewayRedis::cmd('FLUSHALL');
my @ports = (main::here(), GatewayCluster::start_hosts(2, $::Services
    . "    server {\n        listen 127.0.0.1:\$PORT;\n$::Locations    }\n"));
my $r = GatewayCluster::offer(ports => \@ports, path => '/local/a',
                              rate => 60, secs => 4,
                              during => sub { Time::HiRes::sleep(1);
                                              GatewayRedis::stop() });
my $ok = $r->{total}{200} // 0;
Test::More::diag("TEST 1: Redis stopped after 1 s of 4: "
                 . GatewayCluster::summary($r));
main::only_200_429($r, 'TEST 1: stopped');
Test::More::cmp_ok($r->{slowest}, '<', 2, 'TEST 1: no request waits');
my $span = $r->{span} > 0 ? $r->{span} : 4;
Test::More::cmp_ok($ok, '<=', (30 * $span + 4) * 1.15, "TEST 1: $ok admitted: the shares hold");
Test::More::cmp_ok($ok, '>=', 120 * 0.6, "TEST 1: $ok admitted: each host its share");
my $status = main::status_json();
Test::More::like($status, qr/"store": "down"/, 'TEST 1: the status says down');
Test::More::like($status, qr/"fallbacks": [1-9]/, 'TEST 1: and counts fallbacks');

GatewayRedis::restart();
Time::HiRes::sleep(1.5);
$r = GatewayCluster::offer(ports => \@ports, path => '/local/b', rate => 60,
                           secs => 4);
$ok = $r->{total}{200} // 0;
Test::More::diag("TEST 1: Redis back: " . GatewayCluster::summary($r));
main::only_200_429($r, 'TEST 1: restarted');
main::near_quota($r, "TEST 1: again");

my @down = GatewayProc::logged(qr/\[warn\].*gateway: store \S+ is down/);
my @up = GatewayProc::logged(qr/\[warn\].*gateway: store \S+ is up again/);
Test::More::is(scalar @down, 1, 'TEST 1: down, logged once');
Test::More::is(scalar @up, 1, 'TEST 1: up again, logged once');
for my $i (0, 1) {
    my $log = GatewayCluster::log_of($i);
    my $n = () = $log =~ /gateway: store \S+ is down/g;
    Test::More::is($n, 1, "TEST 1: host " . ($i + 2) . " logged down once");
}
Test::More::like(main::status_json(), qr/"store": "up"/,
                 'TEST 1: the status says up');
GatewayCluster::stop_hosts();
--- no_error_log
[alert]
[crit]



=== TEST 2: on_store_error=open: Redis away, every request admitted
--- init
GatewayRedis::stop();
my $r = GatewayCluster::offer(ports => [main::here()], path => '/open/a',
                              rate => 40, secs => 2);
main::only_200_429($r, 'TEST 2');
Test::More::is($r->{total}{429} // 0, 0, 'TEST 2: none refused');
Test::More::cmp_ok($r->{slowest}, '<', 2, 'TEST 2: no request waits');
--- error_log eval
qr/\[warn\] .*gateway: store redis:\S+ is down/



=== TEST 3: on_store_error=closed: Redis away, every request refused at once
A fresh host knows Redis is away at its first sync: until then, it may
admit the first request of a key, as it would with Redis there.
--- init
my $r = GatewayCluster::offer(ports => [main::here()], path => '/closed/a',
                              rate => 40, secs => 2);
main::only_200_429($r, 'TEST 3');
Test::More::cmp_ok($r->{total}{200} // 0, '<=', 1, 'TEST 3: none admitted');
Test::More::cmp_ok($r->{slowest}, '<', 2, 'TEST 3: no request waits');
--- request
GET /closed/b
--- error_code: 429
--- response_headers_like
Retry-After: \d+



=== TEST 4: sync=strict, Redis away: closed refuses, local admits this host's share
--- init
my $r = GatewayCluster::offer(ports => [main::here()], path => '/strict/a',
                              rate => 40, secs => 2);
main::only_200_429($r, 'TEST 4: closed');
Test::More::is($r->{total}{200} // 0, 0, 'TEST 4: none admitted');
Test::More::cmp_ok($r->{slowest}, '<', 2, 'TEST 4: no request hangs');
$r = GatewayCluster::offer(ports => [main::here()], path => '/strictlocal/a',
                           rate => 40, secs => 2);
main::only_200_429($r, 'TEST 4: local');
my $ok = $r->{total}{200} // 0;
my $span = $r->{span} > 0 ? $r->{span} : 2;
Test::More::cmp_ok($ok, '>=', 15, "TEST 4: local admits ($ok)");
Test::More::cmp_ok($ok, '<=', int(10 * $span) + 3 + 1,
                   sprintf('TEST 4: its share only (%d in %.2f s)', $ok, $span));
GatewayRedis::restart();



=== TEST 5: Redis slowed (DEBUG SLEEP): sync= requests never wait, strict ones at most the timeout
--- init
GatewayRedis::cmd('FLUSHALL');
my $sleep;
my $r = GatewayCluster::offer(ports => [main::here()], path => '/local/s',
                              rate => 60, secs => 3,
                              during => sub {
                                  Time::HiRes::sleep(1);
                                  $sleep = GatewayRedis::sleep_async(2.5);
                              });
main::only_200_429($r, 'TEST 5: sync');
Test::More::cmp_ok($r->{slowest}, '<', 1.5,
                   "TEST 5: the slowest sync= request took $r->{slowest} s");
Test::More::cmp_ok($r->{total}{200} // 0, '>', 0, 'TEST 5: admitted some');
GatewayRedis::read_reply($sleep);
Time::HiRes::sleep(0.6);
$r = GatewayCluster::offer(ports => [main::here()], path => '/strictlocal/s',
                           rate => 40, secs => 3,
                           during => sub {
                               Time::HiRes::sleep(1);
                               $sleep = GatewayRedis::sleep_async(2.5);
                           });
main::only_200_429($r, 'TEST 5: strict');
Test::More::cmp_ok($r->{slowest}, '<', 1.5,
                   "TEST 5: the slowest strict request took $r->{slowest} s");
GatewayRedis::read_reply($sleep);
--- error_log eval
qr/\[warn\] .*gateway: store \S+ is down \((sync|strict request) timed out\)/
--- no_error_log
[alert]



=== TEST 6: a HUP under load: the limit holds, nothing fails
--- init
GatewayRedis::cmd('FLUSHALL');
my $r = GatewayCluster::offer(ports => [main::here()], path => '/local/h',
                              rate => 90, secs => 4,
                              during => sub {
                                  Time::HiRes::sleep(1.5);
                                  kill 'HUP', GatewayProc::master_pid();
                              });
my $ok = $r->{total}{200} // 0;
Test::More::diag("TEST 6: HUP: " . GatewayCluster::summary($r));
main::only_200_429($r, 'TEST 6');
main::near_quota($r, 'TEST 6');
--- no_error_log
[alert]
[crit]
