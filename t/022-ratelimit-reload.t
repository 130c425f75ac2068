# Rate-limit state lives in the gateway zone: kept across a reload that
# keeps the zone, while changed settings apply at once.
# Blocks run in order, each a reload of the one before.

use Test::Nginx::Socket 'no_plan';

use_hup();
master_on();
workers(2);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<"_EOC_" . $block->http_config);
    gateway_zone gw 1m;

    server {
        listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\\n"; }
    }
_EOC_

    $block->set_value("config", <<'_EOC_');
    location / {
        gateway_route /fn/ fn;
        proxy_pass $gateway_target;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the first request of a fresh zone passes
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth off;
        rate_limit 1r/m;
    }
--- request
GET /fn/1
--- error_code: 200



=== TEST 2: after a reload the bucket is still full
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth off;
        rate_limit 1r/m;
    }
--- request
GET /fn/1
--- error_code: 429
--- error_log
gateway zone "gw" kept across reload



=== TEST 3: a larger burst applies at once, to the bucket kept
One more request fits the new burst, the next does not: a reset zone
would have let both through.
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth off;
        rate_limit 1r/m burst=1;
    }
--- pipelined_requests eval
["GET /fn/1", "GET /fn/2"]
--- error_code eval
[200, 429]
