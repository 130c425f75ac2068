# One cluster limit on three gateway hosts: the nginx of Test::Nginx and
# two more (t/inc/GatewayCluster.pm: separate processes, zones and
# prefixes), two workers each, one Redis.  Clients spread over the three
# at twice and ten times the limit: the total admitted stays within 10%
# of the quota; sync=strict is exact.

use lib 't/inc';
use GatewayRedis;
use GatewayCluster;
use Test::Nginx::Socket 'no_plan';

GatewayRedis::start();

master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

# a host's configuration: its services (the function is a location of
# the host itself, on $PORT) and its locations
our $Services = <<'_EOC_';
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    gateway_default_auth off;

    gateway_service synced {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 30r/s burst=3 per=service scope=cluster sync=100ms;
    }

    gateway_service strict {
        endpoint http://127.0.0.1:$PORT/fn/;
        rate_limit 10r/s burst=2 per=service scope=cluster sync=strict;
    }
_EOC_

our $Locations = <<'_EOC_';
    location /fn/ { return 200 "ok\n"; }

    location = /status { gateway_status; }

    location / {
        gateway_route /synced/ synced;
        gateway_route /strict/ strict;
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
    $block->set_value("config", $Locations . "    location = /t { return 200; }\n");
    $block->set_value("request", "GET /t");
});

# three hosts: this nginx and two more
sub start_three {
    GatewayRedis::cmd('FLUSHALL');
    return ($ENV{TEST_NGINX_SERVER_PORT},
            GatewayCluster::start_hosts(2, $Services
                . "    server {\n        listen 127.0.0.1:\$PORT;\n"
                . $Locations . "    }\n"));
}

# three hosts, then load over all three
sub run_load {
    my (%o) = @_;
    my @ports = start_three();
    my $r = GatewayCluster::offer(ports => \@ports, %o);
    GatewayCluster::stop_hosts();
    return $r;
}

# the quota of a limit over a run: of the span the requests took (late
# clients catch up past the schedule's end: their requests count), and
# no less than of the schedule
sub quotas {
    my ($r, $rate, $burst, $secs) = @_;
    my $span = $r->{span} > 0 ? $r->{span} : $secs;
    return ($rate * $span + $burst + 1,
            $rate * ($span < $secs ? $span : $secs) + $burst + 1, $span);
}

run_tests();

__DATA__

=== TEST 1: sync=100ms at twice the limit: within 10% of the quota
--- init
my $r = main::run_load(path => '/synced/x', rate => 60, secs => 5);
my $ok = $r->{total}{200} // 0;
my ($quota, $low, $span) = main::quotas($r, 30, 3, 5);
Test::More::diag("TEST 1: 2x: " . GatewayCluster::summary($r)
                 . " of quota "
                 . sprintf('%.0f in %.2f s, %+.1f%%', $quota, $span,
                           100 * ($ok - $quota) / $quota));
Test::More::cmp_ok($ok, '<=', $quota * 1.10,
                   "TEST 1: admitted $ok of a quota of $quota");
Test::More::cmp_ok($ok, '>=', $low * 0.90,
                   "TEST 1: admitted $ok of a quota of at least $low");
Test::More::is(join(',', sort keys %{ $r->{total} }), '200,429',
               'TEST 1: 200 or 429, nothing else');
Test::More::ok(!grep({ !$_->{200} } @{ $r->{per} }),
               'TEST 1: every host admits some');
Test::More::cmp_ok($r->{slowest}, '<', 2, 'TEST 1: no request waits');
--- error_code: 200



=== TEST 2: sync=100ms at ten times the limit: within 10% of the quota
--- init
my $r = main::run_load(path => '/synced/y', rate => 300, secs => 5);
my $ok = $r->{total}{200} // 0;
my ($quota, $low, $span) = main::quotas($r, 30, 3, 5);
Test::More::diag("TEST 2: 10x: " . GatewayCluster::summary($r)
                 . " of quota "
                 . sprintf('%.0f in %.2f s, %+.1f%%', $quota, $span,
                           100 * ($ok - $quota) / $quota));
Test::More::cmp_ok($ok, '<=', $quota * 1.10,
                   "TEST 2: admitted $ok of a quota of $quota");
Test::More::cmp_ok($ok, '>=', $low * 0.90,
                   "TEST 2: admitted $ok of a quota of at least $low");
Test::More::is(join(',', sort keys %{ $r->{total} }), '200,429',
               'TEST 2: 200 or 429, nothing else');
--- error_code: 200



=== TEST 3: sync=strict over three hosts: exact
At 10r/s burst=2, Redis admits 3 at once, then one request each 100 ms
of its own clock, whichever host asks: over the span from the first
request sent to the last answered, 3 + 10 a second (one more for the
edges); not much fewer at six times the limit.
--- init
my $r = main::run_load(path => '/strict/z', rate => 60, secs => 3);
my $ok = $r->{total}{200} // 0;
my ($quota, $low, $span) = main::quotas($r, 10, 2, 3);
Test::More::diag("TEST 3: strict 6x: " . GatewayCluster::summary($r)
                 . sprintf(' in %.2f s', $span));
Test::More::cmp_ok($ok, '<=', int($quota) + 1,
                   "TEST 3: admitted $ok: no more than the limit ($quota)");
Test::More::cmp_ok($ok, '>=', $low * 0.90, "TEST 3: admitted $ok: not fewer");
Test::More::is(join(',', sort keys %{ $r->{total} }), '200,429',
               'TEST 3: 200 or 429, nothing else');
--- error_code: 200
--- no_error_log
[warn]



=== TEST 4: each host counts the three hosts, and shows them
Each host registers in Redis and counts the hosts heard from lately:
its share of a limit (and a fresh key's first allowance) is a third.
--- init
use GatewayProc;
my @ports = main::start_three();
for my $port (@ports) {
    Test::More::ok(GatewayProc::wait_response(5, '/status?format=prometheus',
                                              qr/^gateway_store_hosts 3$/m,
                                              port => $port),
                   "TEST 4: the host on $port counts three");
}
my (undef, $json) = GatewayProc::read_response(
    GatewayProc::open_request('/status?service=synced'), 5);
Test::More::like($json, qr/"scope": "cluster",.*"hosts": 3,/s,
                 'TEST 4: and says so per service');
GatewayCluster::stop_hosts();
--- error_code: 200
