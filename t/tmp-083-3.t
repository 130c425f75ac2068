# An identity provider that fails: down at start (503 with Retry-After,
# not 401, and nginx starts), down later, slow, hanging, answering
# garbage, a huge document, an error status, a certificate of another CA
# or for another name.  The last good key set is kept; the first failure
# in a row is logged at warn, with why.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
check_accum_error_log();
master_on();
workers(2);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

GatewayIdP::start('IDP');
GatewayIdP::start('ROGUE', 'other-ca');
GatewayIdP::start('NAMED', 'wrong-name');

my $now = time;

our %T = (
    rsa1 => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 900 }),
);

sub bearer { "Authorization: Bearer $T{rsa1}" }

our $Common = <<'_EOC_';
    gateway_jwks_trusted_certificate $TEST_NGINX_IDP_CA;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/;
        auth jwt;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "sub=$http_x_gateway_subject\n"; }
    }
_EOC_

our $Config = <<'_EOC_';
    location /api/ {
        gateway_route /api/ fn;
        proxy_pass $gateway_target;
    }

    location /idp/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_IDP_CONTROL/;
    }

    location = /status {
        gateway_status;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    for my $idp (qw(IDP ROGUE NAMED)) {
        GatewayIdP::control($idp, '/keys/rsa1');
        GatewayIdP::control($idp, '/mode/ok');
        GatewayIdP::control($idp, '/cache/-');
        GatewayIdP::control($idp, '/reset');
    }

    # a block may start with the provider in another mode
    GatewayIdP::control('IDP', "/mode/$1")
        if $block->name =~ /\(provider: (\S+)\)/;

    $block->set_value("http_config", $block->http_config . $Common);
    $block->set_value("config", $Config);
    $block->set_value("timeout", 10);
    $block->set_value("no_error_log", [$T{rsa1}, '[error]', '[alert]',
                                       '[crit]'])
        unless defined $block->no_error_log;
});

run_tests();

__DATA__
=== TEST 3: a slow or hanging provider: requests with a loaded set do not wait for it
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=1s min_refresh=1s timeout=8s;
--- request eval
["GET /api/1", "GET /idp/mode/hang", "GET /idp/sleep/1500",
 "GET /api/2", "GET /api/3", "GET /api/4", "GET /api/5"]
--- more_headers eval
[main::bearer(), "", "", main::bearer(), main::bearer(), main::bearer(),
 main::bearer()]
--- response_body eval
["sub=alice\n", "ok\n", "ok\n", "sub=alice\n", "sub=alice\n", "sub=alice\n",
 "sub=alice\n"]
--- timeout: 2



