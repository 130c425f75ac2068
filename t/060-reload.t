# Reloads with two workers: the rate limits and breakers of the zone are
# there for the new workers when the zone is kept, start afresh (with a
# notice) when it is resized; old workers finish the requests waiting in
# a retry's backoff and then exit, without dropping them.
# Blocks run in order, each a reload of the one before.

use lib 't/inc';
use GatewayProc;
use Test::Nginx::Socket;

# under valgrind, /proc shows valgrind's command line, not nginx's process
# titles, by which these tests tell workers apart
plan $ENV{TEST_NGINX_USE_VALGRIND}
     ? (skip_all => 'workers are told apart by their titles, hidden by valgrind')
     : 'no_plan';

use_hup();
master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Services = <<'_EOC_';
    gateway_default_auth off;

    gateway_service limited {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/ok;
        rate_limit 1r/m;
    }

    gateway_service broken {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/fail;
        breaker consecutive=1 open=5m;
    }

    gateway_service hold {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/later;
        retries 1 on=429 backoff=10ms:5s;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $block->http_config . $Services);

    $block->set_value("config", <<'_EOC_');
    location /fn/ok { return 200 "ok\n"; }
    location /fn/fail { return 500 "failed\n"; }
    location /fn/later {
        add_header Retry-After 3 always;
        return 429 "later\n";
    }
    location /plain { return 200 "plain\n"; }

    location / {
        gateway_route /limited/ limited strip;
        gateway_route /broken/ broken strip;
        gateway_route /hold/ hold strip;
        proxy_pass $gateway_target;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a fresh zone: the limit spent, the breaker opened
--- http_config
    gateway_zone gw 1m;
--- init
Test::More::is(GatewayProc::statuses('/limited/1', 1), '200', 'TEST 1: limit');
Test::More::is(GatewayProc::statuses('/broken/1', 1), '500', 'TEST 1: failure');
--- request
GET /broken/2
--- error_code: 503
--- error_log
gateway zone "gw" created, 1024k
gateway: breaker of service "broken" closed -> open



=== TEST 2: an unchanged reload keeps both, for every new worker
--- http_config
    gateway_zone gw 1m;
--- init
Test::More::is(GatewayProc::statuses('/limited/1', 6), '429 429 429 429 429 429',
               'TEST 2: the limit is still spent, on new connections');
Test::More::is(GatewayProc::statuses('/broken/1', 6), '503 503 503 503 503 503',
               'TEST 2: the breaker is still open, on new connections');
--- request
GET /limited/2
--- error_code: 429
--- error_log
gateway zone "gw" kept across reload
--- no_error_log
created



=== TEST 3: a resized zone starts afresh, and says so
--- http_config
    gateway_zone gw 2m;
--- init
Test::More::is(GatewayProc::statuses('/limited/1', 1), '200', 'TEST 3: limit');
Test::More::is(GatewayProc::statuses('/limited/2', 1), '429', 'TEST 3: spent');
--- request
GET /broken/1
--- error_code: 500
--- error_log
gateway zone "gw" resized from 1024k to 2048k: its state starts afresh
gateway zone "gw" created, 2048k
gateway: breaker of service "broken" closed -> open



=== TEST 4: old workers finish the backoffs under way, then exit
Three requests wait in a 3 s backoff (the function's Retry-After) when
nginx is reloaded: each still gets its retried answer, and every old
worker is gone soon after.
--- http_config
    gateway_zone gw 2m;
--- init
use Time::HiRes ();
my $re = qr/gateway: retrying service "hold" after 429/;
my $before = () = GatewayProc::logged($re);
my @socks = map { GatewayProc::open_request("/hold/$_") } 1 .. 3;
my @lines = GatewayProc::wait_logged(5, $before + 3, $re);
Test::More::is(scalar @lines, $before + 3, 'TEST 4: three in backoff');
my @old = GatewayProc::workers(shutting => 0);
Test::More::is(scalar @old, 2, 'TEST 4: two workers');
my $t0 = Time::HiRes::time();
kill 'HUP', GatewayProc::master_pid();
for my $i (1 .. 3) {
    my ($status, $res) = GatewayProc::read_response($socks[$i - 1], 10);
    Test::More::is($status, 429, "TEST 4: request $i answered");
    Test::More::like($res, qr/\r\n\r\nlater\n\z/, "TEST 4: request $i whole");
}
my @left = GatewayProc::wait_gone(10, @old);
Test::More::is("@left", '', 'TEST 4: the old workers exited');
Test::More::cmp_ok(Time::HiRes::time() - $t0, '<', 8,
                   'TEST 4: within the backoff and a margin');
--- request
GET /plain
--- response_body
plain
--- no_error_log
open socket
aborting
[alert]
