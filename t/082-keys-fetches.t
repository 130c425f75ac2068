# How often the identity provider is asked, counted at the provider: an
# unknown "kid" causes one early refetch per min_refresh at most, however
# many such tokens come; the workers share one fetch per refresh; a
# worker killed while it fetches does not stop the refreshes.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use GatewayProc;
use Time::HiRes qw(sleep);
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
master_on();
workers(4);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

GatewayIdP::start('IDP');

my $now = time;

our %T = (
    rsa1 => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 900 }),
    rsa2 => jwt(alg => 'PS256', claims => { sub => 'bob', exp => $now + 900 }),
    map { ("x$_" => jwt(key => 'attacker-rsa', kid => "unknown-$_",
                        claims => { sub => 'mallory', exp => $now + 900 })) }
        1 .. 10
);

sub bearer { "Authorization: Bearer $T{$_[0]}" }

sub count { GatewayIdP::control('IDP', '/count/jwks') }

# the pid that holds the source's fetch lease, as gateway_status shows it
sub fetcher {
    my ($code, $body) = GatewayProc::read_response(
        GatewayProc::open_request('/status'), 5);
    return $body =~ /"fetcher_pid":\s*(\d+)/ ? $1 : 0;
}

add_block_preprocessor(sub {
    my $block = shift;

    GatewayIdP::begin_block($block, 'rsa1', 'IDP');
    GatewayIdP::block_http_config($block);
    $block->set_value("config", GatewayIdP::locations(front => 1,
                                                      status => 1));
    $block->set_value("no_error_log", [values %T, '[error]', '[alert]',
                                       '[crit]'])
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: unknown kids: one early refetch per min_refresh, however many tokens name one
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=10m min_refresh=4s timeout=2s;
--- request eval
["GET /api/0", "GET /idp/sleep/4300",
 (map { "GET /api/$_" } 1 .. 5), "GET /idp/count/jwks",
 (map { "GET /api/$_" } 6 .. 9), "GET /idp/count/jwks",
 "GET /idp/sleep/4300", "GET /api/10", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer('rsa1'), "",
 (map { main::bearer("x$_") } 1 .. 5), "",
 (map { main::bearer("x$_") } 6 .. 9), "",
 "", main::bearer('x10'), ""]
--- error_code eval
[200, 200, (401) x 5, 200, (401) x 4, 200, 200, 401, 200]
--- response_body eval
["sub=alice\n", "ok\n", (qr/unknown key/) x 5, "2\n",
 (qr/unknown key/) x 4, "2\n", "ok\n", qr/unknown key/, "3\n"]
--- timeout: 15
--- no_error_log
[error]
[warn]



=== TEST 2: four workers under load share one fetch per refresh
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=2s;
--- init
Test::More::is(GatewayProc::statuses('/front/api/x?t=' . $::T{rsa1}, 4),
               '200 200 200 200', 'the first set');

my $before = main::count();
my $l = GatewayProc::start_load(clients => 4,
                                paths => ['/front/api/x?t=' . $::T{rsa1}]);
my $t0 = time;
sleep 6;
my $seen = GatewayProc::finish_load($l);
my $secs = time - $t0;
my $fetches = main::count() - $before;
my $requests = 0;
$requests += $_ for values %$seen;

Test::More::is(join(' ', sort keys %$seen), '200', 'every request admitted');

# one per refresh would be 6; one per worker and refresh 24 or more
Test::More::cmp_ok($fetches, '>=', 2, "the key set was refreshed");
Test::More::cmp_ok($fetches, '<=', 8, "one fetch per refresh, not per worker");
Test::More::diag(sprintf "4 workers, %.0f requests/s, refresh=1s: %d "
                         . "fetches in %.1f s", $requests / $secs, $fetches,
                         $secs);
--- request
GET /idp/count/jwks
--- response_body_like: ^\d+$
--- timeout: 10



=== TEST 3: the worker that fetches is killed while the provider hangs: another fetches once the lease is over
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=5s;
--- init
Test::More::is(GatewayProc::statuses('/front/api/x?t=' . $::T{rsa1}, 2),
               '200 200', 'the first set');

GatewayIdP::control('IDP', '/mode/hang');

# the next refresh hangs (for up to timeout=5s): its worker is the fetcher
my $deadline = time + 4;
my $dead;
sleep 0.1 until ($dead = main::fetcher()) || time > $deadline;
Test::More::ok($dead, 'a worker fetches');

# every worker is killed, the fetcher too, while it fetches
GatewayProc::kill_worker($_) for GatewayProc::workers();
Test::More::ok(!GatewayProc::alive($dead), 'the fetcher is dead');

# its lease outlives it (2 * timeout + 1 s): nobody fetches meanwhile
Test::More::is(main::fetcher(), $dead, 'the lease holder is the dead fetcher');

my $before = main::count();
GatewayIdP::control('IDP', '/mode/ok');

$deadline = time + 14;
sleep 0.2 while main::count() == $before && time < $deadline;
Test::More::cmp_ok(main::count(), '>', $before, 'fetched again');
Test::More::isnt(main::fetcher(), $dead, 'the lease of the dead is over');
--- request
GET /api/1
--- more_headers eval
main::bearer('rsa1')
--- response_body
sub=alice
--- timeout: 20
--- error_log eval
qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/
--- no_error_log
[emerg]
[crit]



=== TEST 4: the cache manager does not fetch keys: only workers take the lease
--- http_config
    proxy_cache_path $TEST_NGINX_SERVER_ROOT/cache keys_zone=c:1m;
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=2s;
--- init
Test::More::is(GatewayProc::statuses('/front/api/x?t=' . $::T{rsa1}, 2),
               '200 200', 'the first set');

# every fetch fails from now on and is logged with the fetcher's pid
GatewayIdP::control('IDP', '/mode/500');
sleep 7;

my %workers = map { $_ => 1 } GatewayProc::workers();
open my $fh, '<', GatewayProc::root() . '/logs/error.log' or die "$!\n";
my (%fetchers, $n);
while (<$fh>) {
    next unless /\[(?:warn|info)\] (\d+)#\d+: gateway: keys of .* not fetched/;
    $fetchers{$1}++;
    $n++;
}
Test::More::cmp_ok($n // 0, '>=', 4, 'the provider was asked again and again');
Test::More::is(join(' ', grep { !$workers{$_} } sort keys %fetchers), '',
               'every fetch made by a worker');
--- request
GET /api/1
--- more_headers eval
main::bearer('rsa1')
--- response_body
sub=alice
--- timeout: 15
--- no_error_log
[error]
[alert]



=== TEST 5: a new kid seen within min_refresh of the last fetch: refused, and fetched once min_refresh is over (not at the next refresh)
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=10m min_refresh=3s timeout=2s;
--- request eval
["GET /api/0", "GET /api/1", "GET /idp/keys/rsa1,rsa2",
 "GET /idp/count/jwks", "GET /idp/sleep/4500", "GET /idp/count/jwks",
 "GET /api/2", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer('rsa1'), main::bearer('rsa2'), "", "", "", "",
 main::bearer('rsa2'), ""]
--- error_code eval
[200, 401, 200, 200, 200, 200, 200, 200]
--- response_body eval
["sub=alice\n", qr/unknown key/, "ok\n", "1\n", "ok\n", "2\n",
 "sub=bob\n", "2\n"]
--- timeout: 10
--- no_error_log
[error]
[warn]
