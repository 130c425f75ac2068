# The last good key set survives reloads: blocks run in order, each a HUP
# reload of the one before.  After the reload the provider is down, and
# the new workers verify tokens with the set the zone kept, without
# asking the provider before the refresh is due.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use Test::Nginx::Socket 'no_plan';

use_hup();
repeat_each(1);
master_on();
workers(2);
no_shuffle();
no_long_string();
no_root_location();
log_level('info');

GatewayIdP::start('IDP');

my $now = time;

our %T = (
    rsa1 => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 900 }),
);

sub bearer { "Authorization: Bearer $T{rsa1}" }

our $HttpConfig = <<'_EOC_' . $GatewayIdP::SERVICE;
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=10m;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", GatewayIdP::locations());
    $block->set_value("no_error_log", [$T{rsa1}, '[error]', '[alert]',
                                       '[crit]', '[warn]']);
});

GatewayIdP::control('IDP', '/keys/rsa1');

run_tests();

__DATA__

=== TEST 1: the first set, fetched once; then the provider goes down
--- request eval
["GET /api/1", "GET /idp/count/jwks", "GET /idp/mode/close"]
--- more_headers eval
[main::bearer(), "", ""]
--- response_body eval
["sub=alice\n", "1\n", "ok\n"]



=== TEST 2: after a reload: the set kept, the provider not asked
--- request eval
["GET /api/2", "GET /api/3", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer(), main::bearer(), ""]
--- response_body eval
["sub=alice\n", "sub=alice\n", "1\n"]



=== TEST 3: after another reload, still
--- request eval
["GET /api/4", "GET /idp/count/jwks"]
--- more_headers eval
[main::bearer(), ""]
--- response_body eval
["sub=alice\n", "1\n"]
