# sign gcp_id_token: every call of the function carries a Google ID token
# for the function's URL (or the audience given), from the metadata
# server, or from Google's token endpoint for a service account's key
# (an RS256 assertion), fetched in the background by one worker for all
# of them and again halfway to its expiry.  t/cloud-mock.py is the
# metadata server, the token endpoint (it checks the assertion's
# signature and claims) and the function, which takes only a token it
# issued, unexpired, for its own URL: "http://127.0.0.1:PORT", or
# "https://custom.example/" for paths with /aud-custom/.  A scenario in
# the metadata or token path says how they behave (expN: tokens valid
# N s; failN: the first N fetches fail; upN: only the first N succeed).

use lib 't/inc';
use GatewayCloud;
use JSON::PP ();
use Time::HiRes ();
use Test::Nginx::Socket 'no_plan';

GatewayCloud::start();

master_on();
workers(2);
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Port = $ENV{TEST_NGINX_CLOUD_PORT};

# a service account's key file, as Google makes them, for t/data/keys/rsa1.pem
sub key_file {
    my ($scenario, %over) = @_;
    open my $fh, '<', 't/data/keys/rsa1.pem' or die "rsa1.pem: $!";
    my $pem = do { local $/; <$fh> };
    close $fh;
    my %key = (type => 'service_account', project_id => 'project',
               private_key_id => 'b0c1d2e3f4', private_key => $pem,
               client_email => 'gateway@project.iam.gserviceaccount.com',
               client_id => '1234567890',
               token_uri => "http://127.0.0.1:$Port/gcp-token/$scenario",
               %over);
    delete $key{$_} for grep { !defined $key{$_} } keys %key;
    return ">>> ../conf/gcp-key.json\n" . JSON::PP->new->canonical->encode(\%key);
}

# the service fn, its tokens from the metadata server's scenario
sub http_config {
    my ($scenario, $extra) = @_;
    $extra //= '';
    return <<"_EOC_";
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:\$TEST_NGINX_CLOUD_PORT/run;
        sign gcp_id_token
             metadata_endpoint=http://127.0.0.1:\$TEST_NGINX_CLOUD_PORT/gcp/$scenario$extra;
    }
_EOC_
}

our $Ready = qr/"credentials": true/;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", $GatewayCloud::CONFIG)
        unless defined $block->config;
    $block->set_value("no_error_log", "[alert]\neyJ")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: calls carry an ID token from the metadata server, for the function's URL
--- http_config eval
main::http_config('basic')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 1: token fetched');
--- request
GET /fn/k-gcp?x=1
--- error_code: 200
--- response_body eval
"bearer GET /run/k-gcp aud=http://127.0.0.1:$::Port\n"



=== TEST 2: the client's Authorization never reaches the function
The function takes exactly one Authorization, with a token it issued.
--- http_config eval
main::http_config('forged')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 2: token fetched');
--- more_headers
Authorization: Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.
--- request
POST /fn/k-forged
body
--- error_code: 200
--- response_body eval
"bearer POST /run/k-forged aud=http://127.0.0.1:$::Port\n"



=== TEST 3: an audience of the configuration's choosing
--- http_config eval
main::http_config('custom', "\n             audience=https://custom.example/")
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 3: token fetched');
--- request
GET /fn/aud-custom/x
--- error_code: 200
--- response_body
bearer GET /run/aud-custom/x aud=https://custom.example/



=== TEST 4: two workers, one fetch; a short-lived token is fetched again before it expires
The token is valid for 4 s; halfway there the next one is fetched.
--- http_config eval
main::http_config('exp4')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 4: token fetched');
Test::More::is(GatewayCloud::ask('/fetches/exp4'), 1, 'TEST 4: one fetch');
Test::More::ok(GatewayCloud::wait_for('/status', qr/"fetches": 2,/, 6),
               'TEST 4: fetched again');
Test::More::is(GatewayCloud::ask('/fetches/exp4'), 2, 'TEST 4: two fetches');
Time::HiRes::sleep(2.5);
--- request
GET /fn/k-refreshed
--- error_code: 200
--- response_body eval
"bearer GET /run/k-refreshed aud=http://127.0.0.1:$::Port\n"



=== TEST 5: the metadata server down at start: 503, Retry-After, the function gets nothing
--- http_config eval
main::http_config('fail100')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', qr/"failures": [1-9]/, 10),
               'TEST 5: a fetch failed');
--- request eval
["GET /fn/k-gdown", "GET /mock/count/k-gdown"]
--- error_code eval
[503, 200]
--- response_headers_like eval
["Retry-After: \\d+", ""]
--- response_body_like eval
['"type":"tag:ngx-http-gateway,2026:signing-unavailable"', '^0$']



=== TEST 6: the metadata server down at start, up later
--- http_config eval
main::http_config('fail2')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 15),
               'TEST 6: token fetched at last');
--- request
GET /fn/k-glate
--- error_code: 200
--- error_log
fetching the credentials of service "fn" failed (2 in a row): ID token: status 500 from 127.0.0.1



=== TEST 7: the metadata server down later: once the token expired, 503
--- http_config eval
main::http_config('exp3-up1')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 7: token fetched');
my ($status) = GatewayCloud::get('/fn/k-gbefore');
Test::More::is($status, 200, 'TEST 7: called while the token holds');
Test::More::ok(GatewayCloud::wait_for('/status', qr/"credentials": false/, 8),
               'TEST 7: the token expired');
--- request
GET /fn/k-gafter
--- error_code: 503
--- error_log
no credentials to sign calls of service "fn": ID token: status 500



=== TEST 8: gateway_status shows the source and the audience, never the token
--- http_config eval
main::http_config('status')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 8: token fetched');
--- request
GET /status?service=fn
--- error_code: 200
--- response_body_like eval
qr/"sign": \{\s*"type": "gcp_id_token",\s*"source": "metadata",\s*"audience": "http:\/\/127\.0\.0\.1:$::Port",\s*"credentials": true,\s*"fetched": \d+,\s*"expires": \d+,\s*"fetches": 1,\s*"failures": 0,\s*"error": null/
--- response_body_unlike
eyJ



=== TEST 9: a service account's key: an assertion to the token endpoint, its ID token
The token endpoint checks the assertion's RS256 signature with the
key's public half, and its claims.
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/run;
        sign gcp_id_token source=file:gcp-key.json;
    }
--- user_files eval
main::key_file('keyfile')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 9: token fetched');
--- request
GET /fn/k-keyfile
--- error_code: 200
--- response_body eval
"bearer GET /run/k-keyfile aud=http://127.0.0.1:$::Port\n"



=== TEST 10: the token endpoint refusing: the error in the status, 503
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/run;
        sign gcp_id_token source=file:gcp-key.json;
    }
--- user_files eval
main::key_file('refusing-up0')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', qr/"error": "ID token: status 500 from 127\.0\.0\.1"/, 10),
               'TEST 10: refused');
--- request
GET /fn/k-refused
--- error_code: 503



=== TEST 11: a key file that is not a service account's is a configuration error
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/run;
        sign gcp_id_token source=file:gcp-key.json;
    }
--- config
--- user_files eval
main::key_file('x', type => 'authorized_user')
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid service account key file "\S+gcp-key\.json": "type" is not "service_account" in \S+nginx\.conf:\d+/



=== TEST 12: a key file without its private key is a configuration error
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/run;
        sign gcp_id_token source=file:gcp-key.json;
    }
--- config
--- user_files eval
main::key_file('x', private_key => undef)
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid service account key file "\S+gcp-key\.json": no "private_key" in \S+nginx\.conf:\d+/



=== TEST 13: AWS parameters are not Google's
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/run;
        sign gcp_id_token region=eu-west-1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sign parameter "region=eu-west-1": no such parameter in \S+nginx\.conf:\d+/



=== TEST 14: an unknown signing scheme
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/run;
        sign azure_ad;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid signing scheme "azure_ad": aws_sigv4 or gcp_id_token in \S+nginx\.conf:\d+/
