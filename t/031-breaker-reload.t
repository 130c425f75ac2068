# A breaker's state lives in the gateway zone, found by service name: a
# reload that keeps the zone keeps it, even when services are added.
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

    $block->set_value("http_config", <<'_EOC_' . ($block->http_config // ''));
    gateway_zone gw 1m;
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        breaker consecutive=1 open=5m;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 500 "failed\n"; }
    }
_EOC_

    $block->set_value("config", <<'_EOC_');
    location / {
        gateway_route /fn/ fn;
        gateway_route /other/ other;
        proxy_pass $gateway_target;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a failure opens the breaker
--- http_config
    gateway_service other { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- request
GET /fn/1
--- error_code: 500
--- error_log
gateway: breaker of service "fn" closed -> open



=== TEST 2: after a reload that adds a service, it is still open
--- http_config
    gateway_service added { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
    gateway_service other { endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- request
GET /fn/1
--- error_code: 503
--- error_log
gateway zone "gw" kept across reload
