# Rate limits are exact across workers, and survive a zone too small for
# every key: least recently used keys are evicted.

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
master_on();
workers(4);
no_long_string();
no_root_location();
log_level('info');

# twenty mirror subrequests of one request reach the gateway at once, on
# twenty connections spread over four workers
our $Mirrors = join '', map { "        mirror /m;\n" } 1 .. 20;

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;

    gateway_service hot {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/hot;
        rate_limit 1r/m burst=4 per=service;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / {
            gateway_route /hot/ hot;
            proxy_pass $gateway_target;
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
});

run_tests();

__DATA__

=== TEST 1: twenty concurrent requests over four workers: exactly burst + 1 pass
--- config eval
"    location = /burst {\n$::Mirrors        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1/;\n    }\n"
. "    location = /m {\n        internal;\n        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_2/hot/x;\n    }\n"
--- request
GET /burst
--- response_body
ok
--- grep_error_log eval
qr/gateway: rate limit exceeded for service "hot"/
--- grep_error_log_out eval
"gateway: rate limit exceeded for service \"hot\"\n" x 15
--- no_error_log
[alert]
[crit]



=== TEST 2: a zone too small for every key evicts the oldest, and keeps limiting
A 32k zone holds a few hundred keys; 900 client addresses pass through
it (on one connection: nginx closes it after 1000 requests).  Each new
address is admitted once, the newest are still tracked.
--- http_config
    gateway_zone gw 32k;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;

    gateway_service ips {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/ips;
        auth off;
        rate_limit 1r/m;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "ok\n"; }
    }
--- config
    location / {
        gateway_route /ips/ ips;
        proxy_pass $gateway_target;
    }
--- pipelined_requests eval
[map({ "GET /ips/$_" } 1 .. 900), "GET /ips/again"]
--- more_headers eval
[map({ "X-Real-IP: 10.0." . int($_ / 250) . "." . ($_ % 250) } 1 .. 900),
 "X-Real-IP: 10.0.3.150"]
--- error_code eval
[(200) x 900, 429]
--- no_error_log
[alert]
[crit]
[error]
