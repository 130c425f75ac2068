# Half-open admits exactly "probes" calls across all workers.  Block 1
# opens the breaker; block 2, after a reload that keeps the zone and
# after the open time, sends twenty calls at once over four workers:
# two go to the (hanging) function as probes, eighteen are refused.
# The probes time out: open again, for twice as long.  Blocks 3 and 4
# then probe a function that answers, and the breaker closes.

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
    gateway_default_auth off;

    gateway_service flaky {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        breaker consecutive=1 open=100ms probes=2 probe_timeout=10s;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /fail { return 500 "failed\n"; }
        location /hang {
            # long enough for all twenty calls to find the breaker
            # half-open, however slowly the machine sends them
            proxy_read_timeout 2s;
            proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        }
        location / { return 200 "ok\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            gateway_route /flaky/ flaky strip;
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
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/flaky/hang;
    }

    location / {
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a failure opens the breaker (for 100ms)
--- request
GET /flaky/fail
--- error_code: 500
--- error_log
gateway: breaker of service "flaky" closed -> open: consecutive failures
--- wait: 0.3



=== TEST 2: twenty calls at once: exactly two probes
--- tcp_listen: $TEST_NGINX_RAND_PORT_3
--- tcp_no_close
--- tcp_reply eval
""
--- request
GET /burst
--- response_body
ok
--- grep_error_log eval
qr/gateway: breaker of service "flaky" is open: refused/
--- grep_error_log_out eval
"gateway: breaker of service \"flaky\" is open: refused\n" x 18
--- error_log
gateway: breaker of service "flaky" open -> half-open: open time elapsed
--- no_error_log
[alert]
[crit]
--- timeout: 5
--- wait: 2.5



=== TEST 3: the first successful probe, after the doubled open time
--- request
GET /flaky/ok
--- response_body
ok
--- error_log
gateway: breaker of service "flaky" open -> half-open: open time elapsed



=== TEST 4: the second closes the breaker
--- request
GET /flaky/ok
--- response_body
ok
--- error_log
gateway: breaker of service "flaky" half-open -> closed: probes succeeded
