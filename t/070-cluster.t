# Cluster rate limits on one host: the directives, a real Redis (started
# by t/inc/GatewayRedis.pm on a free port), AUTH with an ACL user, the
# keys left in Redis, sync=strict, the RateLimit fields, the status.

use lib 't/inc';
use GatewayRedis;
use GatewayProc;
use Test::Nginx::Socket 'no_plan';

# "gw" may run the scripts on its keys only; the default user is for
# the tests' own commands
GatewayRedis::start(acl => [
    'user default on nopass ~* &* +@all',
    'user gw on >s3cret ~gw:* -@all +evalsha +script|load +select +time'
    . ' +hgetall +hget +hdel +hset +pexpire +zadd +zremrangebyscore +zcard',
]);

repeat_each(1);
master_on();
workers(2);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("suppress_stderr", 1) if defined $block->must_die;

    # a zone of its own: with TEST_NGINX_USE_HUP, state of another block
    # (a store found down, hosts seen) would otherwise stay
    my ($n) = $block->name =~ /TEST (\d+)/;
    $block->set_value("http_config", "    gateway_zone gw$n 1m;\n"
                                     . $block->http_config)
        if defined $block->http_config && !defined $block->must_die;

    # a route for each service the block declares
    if (!defined $block->config) {
        my $routes = join '', map { "        gateway_route /$_/ $_;\n" }
                     ($block->http_config // '') =~ /gateway_service (\w+)/g;
        $block->set_value("config", <<"_EOC_");
    location /fn/ { return 200 "ok\\n"; }

    location = /status { gateway_status; }

    location / {
$routes        add_header X-Remaining \$gateway_ratelimit_remaining always;
        add_header X-Pid \$pid always;
        proxy_pass \$gateway_target;
    }
_EOC_
    }
});

# an empty Redis, and this host counted in it again: a fresh key gets
# its full first-sight allowance once the host knows how many hosts
# there are (it counts them at least once a second)
sub fresh_redis {
    my ($name) = @_;
    GatewayRedis::cmd('FLUSHALL');
    Test::More::ok(GatewayProc::wait_response(5, '/status?format=prometheus',
                                              qr/^gateway_store_hosts 1$/m),
                   "$name: the hosts counted");
}

# the tokens charged in Redis to the strict line of service b: how far
# its time is ahead of Redis's clock, in 1r/m's 62.5 s a token; waited
# for (2 s at most) to fall below 1.5, as refunds come after responses
sub tokens_ahead {
    my ($key) = @{ GatewayRedis::cmd('KEYS', 'gw:{b:1:*') };
    my $ahead;
    for (1 .. 40) {
        my $t = GatewayRedis::cmd('TIME');
        my $tat = GatewayRedis::cmd('HGET', $key, 't');
        $ahead = ($tat - ($t->[0] * 1_000_000 + $t->[1])) / 62_500_000;
        last if $ahead < 1.5;
        select undef, undef, undef, 0.05;
    }
    return $ahead;
}

run_tests();

__DATA__

=== TEST 1: scope=cluster needs a store
--- http_config
    gateway_default_auth off;
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        rate_limit 10r/s scope=cluster;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"rate_limit \.\.\. scope=cluster" of gateway service "a" in \S+nginx\.conf:\d+ needs "gateway_store"}



=== TEST 2: a sync interval that is none
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        rate_limit 10r/s scope=cluster sync=5ms;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "sync" value "sync=5ms": "strict" or 10ms to 60s in \S+nginx\.conf:\d+}



=== TEST 3: an unknown on_store_error
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        rate_limit 10r/s scope=cluster on_store_error=fail;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid "on_store_error" value "on_store_error=fail": "local", "open" or "closed" in \S+nginx\.conf:\d+}



=== TEST 4: sync= on a local limit
--- http_config
    gateway_default_auth off;
    gateway_service a {
        endpoint http://127.0.0.1:1/;
        rate_limit 10r/s sync=strict;
    }
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"sync" and "on_store_error" need "scope=cluster" in \S+nginx\.conf:\d+}



=== TEST 5: a store that is not a redis:// URL
--- http_config
    gateway_store http://127.0.0.1:6379;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid store "http://127\.0\.0\.1:6379": redis://\[user:password\@\]host:port\[/db\] in \S+nginx\.conf:\d+}



=== TEST 6: a bad store timeout
--- http_config
    gateway_store redis://127.0.0.1:1 timeout=0;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid timeout "timeout=0": 1ms to 60s in \S+nginx\.conf:\d+}



=== TEST 7: a store given twice
--- http_config
    gateway_store redis://127.0.0.1:1;
    gateway_store redis://127.0.0.1:2;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*"gateway_store" directive is duplicate in \S+nginx\.conf:\d+}



=== TEST 8: sync=100ms, a fresh key: burst + 1 at once, then 429, with the fields
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=2 per=service scope=cluster;
    }
--- init
main::fresh_redis('TEST 8');
--- pipelined_requests eval
["GET /a/1", "GET /a/2", "GET /a/3", "GET /a/4"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Policy: \"a\";q=3;w=60\nRateLimit: \"a\";r=2;t=63\nX-Remaining: 2",
 "X-Remaining: 1", "X-Remaining: 0",
 "X-Remaining: 0\nRateLimit: \"a\";r=0;t=1\nRetry-After: 1"]
--- no_error_log
[error]
[alert]



=== TEST 9: what the sync left in Redis: one hash-tagged key that expires
The key names the service and line; its hash tag is the whole limited
identity; it holds the cluster's time ("t") and this host's demand.
Beside it, gw:{hosts}: the hosts that synced lately.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=2 per=service scope=cluster;
    }
--- init
main::fresh_redis('TEST 9');
Test::More::is(GatewayProc::statuses('/a/1', 1), '200', 'TEST 9: a call');
# the sync reports it within a quarter of its interval
my $keys = [];
for (1 .. 100) {
    $keys = [ grep { $_ ne 'gw:{hosts}' } @{ GatewayRedis::cmd('KEYS', '*') } ];
    last if @$keys
            && @{ GatewayRedis::cmd('HGETALL', $keys->[0]) } == 4;
    select undef, undef, undef, 0.05;
}
Test::More::is(scalar @$keys, 1, 'TEST 9: one key');
# and the registry of hosts: this one, by Redis's time, expiring too
my $hosts = GatewayRedis::cmd('ZRANGE', 'gw:{hosts}', 0, -1);
Test::More::cmp_ok(scalar @$hosts, '>=', 1, 'TEST 9: the hosts registered');
Test::More::cmp_ok(GatewayRedis::cmd('PTTL', 'gw:{hosts}'), '>', 0,
                   'TEST 9: the registry expires');
Test::More::like($keys->[0], qr/^gw:\{a:1:[0-9a-f]{32}\}$/,
                 'TEST 9: its name and hash tag');
my $ttl = GatewayRedis::cmd('PTTL', $keys->[0]);
Test::More::cmp_ok($ttl, '>', 0, "TEST 9: it expires ($ttl ms)");
Test::More::cmp_ok($ttl, '<', 300_000, 'TEST 9: within the time its tokens take');
my $h = { @{ GatewayRedis::cmd('HGETALL', $keys->[0]) } };
Test::More::ok(exists $h->{t}, 'TEST 9: the cluster time');
Test::More::is(scalar keys %$h, 2, 'TEST 9: and one host');
# the host's field: when, its demand, and its last report's number and
# delta, so that a report sent again after a lost reply is not charged twice
my ($host) = grep { $_ ne 't' } keys %$h;
Test::More::like($h->{$host}, qr/^\d+:\d+:[1-9]\d*:-?\d+$/,
                 'TEST 9: the host\'s time, demand, seq and delta');
--- request
GET /fn/5
--- error_code: 200



=== TEST 10: sync=strict: exactly burst + 1, asked of Redis each time
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=1 per=service scope=cluster sync=strict
                   on_store_error=closed;
    }
--- init
GatewayRedis::cmd('FLUSHALL');
--- pipelined_requests eval
["GET /b/1", "GET /b/2", "GET /b/3", "GET /b/4"]
--- error_code eval
[200, 200, 429, 429]
--- response_headers eval
["RateLimit: \"b\";r=1;t=63\nX-Remaining: 1", "X-Remaining: 0",
 "Retry-After: 63", "Retry-After: 63"]
--- no_error_log
[warn]
[error]



=== TEST 11: strict, and the limit is Redis's: another host's requests count
Two requests are made "elsewhere", straight on Redis with the script's
effect (the key's time moved two tokens ahead: 1r/m is 62.5 s a token):
this host admits none.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=1 per=service scope=cluster sync=strict
                   on_store_error=open;
    }
--- init
GatewayRedis::cmd('FLUSHALL');
my $t = GatewayRedis::cmd('TIME');
my $now = $t->[0] * 1_000_000 + $t->[1];
# the key of service b, line 1, per=service: found by a first request
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $ENV{TEST_NGINX_SERVER_PORT});
print $sock "GET /b/0 HTTP/1.0\r\nHost: x\r\n\r\n";
my $first = <$sock>;
Test::More::like($first, qr/ 200 /, 'TEST 11: the first request');
my ($key) = @{ GatewayRedis::cmd('KEYS', 'gw:{b:1:*') };
GatewayRedis::cmd('HSET', $key, 't', sprintf('%.0f', $now + 125_000_000));
--- request
GET /b/1
--- error_code: 429
--- response_headers
Retry-After: 63



=== TEST 12: AUTH as an ACL user
--- http_config
    gateway_default_auth off;
    gateway_store redis://gw:s3cret@127.0.0.1:$TEST_NGINX_REDIS_PORT/0
                  timeout=200ms connections=2;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m per=service scope=cluster sync=strict
                   on_store_error=closed;
    }
--- init
GatewayRedis::cmd('FLUSHALL');
--- pipelined_requests eval
["GET /b/1", "GET /b/2"]
--- error_code eval
[200, 429]
--- no_error_log
[warn]
s3cret



=== TEST 13: a wrong password: the store is down, on_store_error applies, no secret logged
--- http_config
    gateway_default_auth off;
    gateway_store redis://gw:wrong-s3cret@127.0.0.1:$TEST_NGINX_REDIS_PORT
                  timeout=200ms;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m per=service scope=cluster sync=strict
                   on_store_error=closed;
    }
--- request
GET /b/1
--- error_code: 429
--- error_log eval
qr{\[warn\] .*gateway: store redis://gw\@127\.0\.0\.1:\d+ is down \(AUTH or SELECT refused\)}
--- no_error_log
wrong-s3cret



=== TEST 14: the status shows the scope and the store of a cluster limit, nothing for a local one
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 10r/s per=service scope=cluster;
    }
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 10r/s per=service;
    }
--- request
GET /status
--- response_body_like eval
qr{"a": \{.*"rate_limit": \{\s*"scope": "cluster",\s*"store": "up",\s*"sync_lag_ms": \d+,\s*"store_errors": 0,\s*"hosts": \d+,\s*"fallbacks": 0\s*\}\s*\},\s*"b": \{(?:(?!rate_limit").)*\}\s*\}\s*\}\s*\z}s



=== TEST 15: the status in Prometheus text
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service a {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 10r/s per=service scope=cluster;
    }
--- request
GET /status?format=prometheus
--- response_body_like eval
qr{gateway_ratelimit_fallbacks_total\{service="a"\} 0\n.*gateway_store_up 1\n.*gateway_store_errors_total 0\n}s



=== TEST 16: a flushed script cache: the connection that finds it ends, the next loads the scripts again
Redis is there all along: the store is never down; a request that met
NOSCRIPT falls back (closed here) once per connection, then all pass.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT connections=1;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=100 per=service scope=cluster sync=strict
                   on_store_error=closed;
    }
--- init
use GatewayProc;
GatewayRedis::cmd('FLUSHALL');
my @before = split ' ', GatewayProc::statuses('/b/1', 6);
Test::More::is("@before", '200 200 200 200 200 200', 'TEST 16: before');
GatewayRedis::cmd('SCRIPT', 'FLUSH');
# each worker's connection meets NOSCRIPT with the requests it has in
# flight then, whenever a request comes to that worker: rounds of calls
# until both workers have answered 200 again (at most 40 calls: the
# burst of 100 is not what refuses)
my (@during, %back);
for (1 .. 10) {
    my @socks = map { GatewayProc::open_request('/b/2') } 1 .. 4;
    for my $s (@socks) {
        my ($status, $raw) = GatewayProc::read_response($s, 5);
        push @during, $status;
        $back{$1} = 1 if $status == 200 && $raw =~ /\r\nX-Pid: (\d+)\r\n/;
    }
    last if keys %back == 2;
}
Test::More::diag("TEST 16: @during");
Test::More::is(scalar keys %back, 2, 'TEST 16: both workers answer again');
Test::More::ok(!grep({ $_ != 200 && $_ != 429 } @during),
               "TEST 16: 200 or 429 (@during)");
my @after = split ' ', GatewayProc::statuses('/b/3', 6);
Test::More::is("@after", '200 200 200 200 200 200',
               "TEST 16: the scripts loaded again (@after)");
--- request
GET /b/4
--- error_code: 200
--- no_error_log
is down
[error]



=== TEST 17: a request a later line refuses gives its strict token back
The strict line admits all six (burst 2: 3 tokens), the local per=ip
line only one: Redis is charged one token, not three (1r/m: 62.5 s a
token), and the service's quota is left to other callers.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m burst=2 per=service scope=cluster sync=strict
                   on_store_error=closed;
        rate_limit 1r/m per=ip;
    }
--- init
use GatewayProc;
GatewayRedis::cmd('FLUSHALL');
my @s = split ' ', GatewayProc::statuses('/b/1', 6);
Test::More::is(scalar(grep { $_ == 200 } @s), 1, "TEST 17: one admitted (@s)");
Test::More::is(scalar(grep { $_ == 429 } @s), 5, 'TEST 17: five refused');
my $ahead = main::tokens_ahead();
Test::More::cmp_ok($ahead, '<', 1.5,
                   sprintf('TEST 17: one token charged (%.2f)', $ahead));
Test::More::cmp_ok($ahead, '>', 0.5, 'TEST 17: and that one is');
--- request
GET /b/2
--- error_code: 429
--- no_error_log
[error]



=== TEST 18: a store's value that is no redis:// URL: no password in the [emerg]
--- http_config
    gateway_store redis:/gw:t0p-s3cret@127.0.0.1:1;
--- config
--- must_die
--- error_log eval
qr{\[emerg\] .*invalid store "\.\.\.\@127\.0\.0\.1:1": redis://\[user:password\@\]host:port\[/db\] in \S+nginx\.conf:\d+}
--- no_error_log
t0p-s3cret



=== TEST 19: only strict lines: the host still counts itself in and probes Redis, with the timeout
Without any request: the host registers in gw:{hosts}; Redis stalled
(DEBUG SLEEP) is found down by a probe that times out, and up again
once it answers.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=100ms;
    gateway_service b {
        endpoint http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fn/;
        rate_limit 1r/m per=service scope=cluster sync=strict;
    }
--- init
use GatewayProc;
use Time::HiRes ();
sub status {
    my $s = GatewayProc::open_request('/status');
    my ($st, $raw) = GatewayProc::read_response($s, 5);
    return $raw // '';
}
GatewayRedis::cmd('FLUSHALL');
my $hosts = 0;
for (1 .. 100) {
    $hosts = GatewayRedis::cmd('ZCARD', 'gw:{hosts}');
    last if $hosts;
    Time::HiRes::sleep(0.05);
}
Test::More::is($hosts, 1, 'TEST 19: registered without a request');
my $sleep = GatewayRedis::sleep_async(2.5);
my $down = 0;
for (1 .. 40) {
    Time::HiRes::sleep(0.05);
    if (status() =~ /"store": "down"/) { $down = 1; last }
}
Test::More::ok($down, 'TEST 19: a stalled Redis is found down without traffic');
GatewayRedis::read_reply($sleep);
my $up = 0;
for (1 .. 40) {
    Time::HiRes::sleep(0.05);
    if (status() =~ /"store": "up"/) { $up = 1; last }
}
Test::More::ok($up, 'TEST 19: and up again without traffic');
--- request
GET /b/1
--- error_code: 200
--- error_log eval
qr/\[warn\] .*gateway: store \S+ is down \(sync timed out\)/



=== TEST 20: an open breaker refuses before a strict line is charged
The first call fails (nothing listens) and opens the breaker; the five
after it are refused by the breaker: Redis has one token taken, not six.
--- http_config
    gateway_default_auth off;
    gateway_store redis://127.0.0.1:$TEST_NGINX_REDIS_PORT;
    gateway_service b {
        endpoint http://127.0.0.1:1/;
        breaker consecutive=1 open=30s;
        rate_limit 1r/m burst=9 per=service scope=cluster sync=strict
                   on_store_error=closed;
    }
--- init
use GatewayProc;
GatewayRedis::cmd('FLUSHALL');
my @s = map { GatewayProc::statuses('/b/1', 1) } 1 .. 6;
Test::More::is("@s", '502 503 503 503 503 503', 'TEST 20: failed, then open');
my $ahead = main::tokens_ahead();
Test::More::cmp_ok($ahead, '<', 1.5,
                   sprintf('TEST 20: one token charged (%.2f)', $ahead));
--- request
GET /b/2
--- error_code: 503
