# The gateway zone: created once, kept across reloads while its name and
# size stay the same, started afresh (and said so) when resized.
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

our $Service = <<'_EOC_';
    gateway_service orders {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/fn;
        auth off;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "function $request_uri\n"; }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config",
                      $Service . ($block->http_config // ''));

    $block->set_value("config", <<'_EOC_');
    location / {
        gateway_route /orders/ orders strip;
        proxy_pass $gateway_target;
    }
_EOC_

    $block->set_value("request", "GET /orders/1");
    $block->set_value("response_body", "function /fn/1\n");
});

run_tests();

__DATA__

=== TEST 1: the zone is created at start
--- http_config
    gateway_zone gw 1m;
--- error_log
gateway zone "gw" created, 1024k
--- no_error_log
[error]



=== TEST 2: an unchanged zone is kept across a reload
--- http_config
    gateway_zone gw 1m;
--- error_log
gateway zone "gw" kept across reload
--- no_error_log
created
[error]



=== TEST 3: a resized zone starts afresh, with a notice
--- http_config
    gateway_zone gw 2m;
--- error_log
gateway zone "gw" resized from 1024k to 2048k: its state starts afresh
gateway zone "gw" created, 2048k
--- no_error_log
[error]



=== TEST 4: services without a gateway_zone get the default zone
--- error_log
gateway zone "gateway" created, 16384k
--- no_error_log
[error]



=== TEST 5: the default zone is kept across a reload too
--- error_log
gateway zone "gateway" kept across reload
--- no_error_log
created
[error]
