# Counters live in the gateway zone: the workers' counts add up, and a
# reload that keeps the zone keeps them.  Blocks run in order, each a
# reload of the one before.

use Test::Nginx::Socket 'no_plan';

use_hup();
master_on();
workers(4);
no_shuffle();
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Mirrors = join '', map { "        mirror /m;\n" } 1 .. 20;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    gateway_zone gw 1m;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth off;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            gateway_route /fn/ fn;
            proxy_pass $gateway_target;
        }
    }
_EOC_

    $block->set_value("config", <<"_EOC_");
    location = /burst {
$::Mirrors        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/;
    }

    location = /m {
        internal;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/fn/x;
    }

    location = /status {
        gateway_status;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: twenty calls over four workers: the counters say twenty
Requests are counted when routed, before the answer; attempts when each
request is done, which the next block sees.
--- pipelined_requests eval
["GET /burst", "GET /status?format=prometheus"]
--- response_body eval
["ok\n", qr/^gateway_requests_total\{service="fn"\} 20$/m]



=== TEST 2: after a reload the counters are still there
--- request
GET /status?format=prometheus
--- response_body_like eval
qr/^gateway_requests_total\{service="fn"\} 20\n.*^gateway_attempts_total\{service="fn",outcome="success"\} 20$/ms
--- error_log
gateway zone "gw" kept across reload
