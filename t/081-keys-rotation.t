# Key rotation at the identity provider, end to end: the provider adds a
# key, starts signing with it, and later removes the old one; no valid
# token is refused at any moment, and a removed key stops admitting its
# tokens (cached or not) from the next refresh on.

use lib 't/inc';
use GatewayJWT;
use GatewayIdP;
use GatewayProc;
use Time::HiRes qw(sleep);
use Test::Nginx::Socket 'no_plan';

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
    old => jwt(kid => 'rsa1', claims => { sub => 'alice', exp => $now + 900 }),
    new => jwt(alg => 'ES256', claims => { sub => 'bob', exp => $now + 900 }),
);

sub bearer { "Authorization: Bearer $T{$_[0]}" }

# each load client sends the tokens in turn, until stopped
sub load {
    my (@tokens) = @_;
    return GatewayProc::start_load(clients => 3,
        paths => [map { "/front/api/x?t=$T{$_}" } @tokens]);
}

sub only_200 {
    my ($seen, $what) = @_;
    my $total = 0;
    $total += $_ for values %$seen;
    Test::More::is(join(' ', map { "$_=$seen->{$_}" } grep { $_ != 200 }
                             sort keys %$seen),
                   '', "$what: no request refused");
    Test::More::cmp_ok($total, '>', 10, "$what: requests were made");
}

add_block_preprocessor(sub {
    my $block = shift;

    GatewayIdP::begin_block($block, 'rsa1', 'IDP');
    GatewayIdP::block_http_config($block);
    $block->set_value("config", GatewayIdP::locations(front => 1));
    $block->set_value("no_error_log", [values %T, '[error]', '[alert]',
                                       '[crit]', '[warn]']);
});

run_tests();

__DATA__

=== TEST 1: a token of a new key is verified at once (one early refetch); the removed key stops at the next refresh
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=2s min_refresh=1s timeout=2s;
--- request eval
["GET /api/1", "GET /idp/keys/rsa1,ec256", "GET /api/2",
 "GET /idp/sleep/1200", "GET /api/3", "GET /api/4", "GET /api/5",
 "GET /idp/keys/ec256", "GET /api/6", "GET /idp/sleep/3500",
 "GET /api/7", "GET /api/8"]
--- more_headers eval
[main::bearer('old'), "", main::bearer('old'), "", main::bearer('new'),
 main::bearer('old'), main::bearer('new'), "", main::bearer('new'), "",
 main::bearer('old'), main::bearer('new')]
--- timeout: 10
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200]
--- response_body eval
["sub=alice\n", "ok\n", "sub=alice\n", "ok\n", "sub=bob\n", "sub=alice\n",
 "sub=bob\n", "ok\n", "sub=bob\n", "ok\n", qr/unknown key/, "sub=bob\n"]



=== TEST 2: under load from three clients: add a key, sign with it, remove the old one; nothing refused
--- http_config
    gateway_jwks_uri https://127.0.0.1:$TEST_NGINX_IDP_PORT/jwks refresh=2s min_refresh=1s timeout=2s;
--- init
# the first set is loaded before the load starts
Test::More::is(GatewayProc::statuses('/front/api/x?t=' . $::T{old}, 1),
               '200', 'the first set');

my $l = main::load('old');
sleep 1.5;
GatewayIdP::control('IDP', '/keys/rsa1,ec256');
sleep 1;
main::only_200(GatewayProc::finish_load($l), 'before the new key is used');

# the provider signs with the new key; old tokens are still out there
$l = main::load('old', 'new');
sleep 3;
main::only_200(GatewayProc::finish_load($l), 'both keys in use');

GatewayIdP::control('IDP', '/keys/ec256');
$l = main::load('new');
sleep 3;
main::only_200(GatewayProc::finish_load($l), 'the old key removed');
--- request eval
["GET /api/a", "GET /api/b"]
--- more_headers eval
[main::bearer('old'), main::bearer('new')]
--- error_code eval
[401, 200]
--- response_body eval
[qr/unknown key/, "sub=bob\n"]
--- timeout: 10
