# sign aws_sigv4 ... credentials=imds: the keys of the instance's role
# from the instance metadata service (IMDSv2: a session token PUT, the
# role's name, its keys), fetched in the background by one worker for
# all of them, fetched again halfway to their expiry; while there are
# none (IMDS down at start, or down later until the keys expired) calls
# get 503 and the function nothing.  The IMDS and the function are
# t/cloud-mock.py: a scenario in the IMDS path says how it behaves
# (expN: keys valid N s; failN: the first N fetches fail; upN: only the
# first N succeed), and the function checks every signature.

use lib 't/inc';
use GatewayCloud;
use GatewayProc;
use Test::Nginx::Socket 'no_plan';

GatewayCloud::start();

master_on();
workers(2);
repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Temp1 = 'ASIAGATEWAYTEMP1';
our $Temp2 = 'ASIAGATEWAYTEMP2';
our @Secrets = map { ($GatewayCloud::KEYS{$_}{secret},
                      $GatewayCloud::KEYS{$_}{token}) } ($Temp1, $Temp2);

our $Empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

# the service fn, its keys from the IMDS scenario of the block
sub http_config {
    my ($scenario, $extra) = @_;
    $extra //= '';
    return <<"_EOC_";
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:\$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=imds
             imds_endpoint=http://127.0.0.1:\$TEST_NGINX_CLOUD_PORT/imds/$scenario$extra;
    }
_EOC_
}

our $Ready = qr/"credentials": true/;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", $GatewayCloud::CONFIG)
        unless defined $block->config;

    # no key, secret or token ever in the error log
    $block->set_value("no_error_log", join "\n", "[alert]", @Secrets)
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: calls are signed with the role's temporary keys and token
--- http_config eval
main::http_config('basic')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 1: keys fetched');
--- request
GET /fn/k-imds?x=1
--- error_code: 200
--- response_body eval
"signed GET /fn/k-imds ?x=1 key=$::Temp1 payload=$::Empty length=0\n"
--- error_log
gateway: credentials of service "fn" fetched, valid for



=== TEST 2: gateway_status: where the keys come from, when they expire, no key
--- http_config eval
main::http_config('status')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 2: keys fetched');
--- request
GET /status?service=fn
--- error_code: 200
--- response_body_like
"sign": \{\s*"type": "aws_sigv4",\s*"source": "imds",\s*"region": "eu-west-1",\s*"service": "lambda",\s*"credentials": true,\s*"fetched": \d+,\s*"expires": \d+,\s*"fetches": 1,\s*"failures": 0,\s*"error": null,\s*"error_time": null\s*\}
--- response_body_unlike eval
qr/ASIA|\Q$::Secrets[0]\E|\Q$::Secrets[1]\E/



=== TEST 3: two workers, one fetch: the keys are shared through the zone
Both workers (as in every block here) tick every second; only the holder of the lease fetches,
and the others copy what it put in the zone.
--- http_config eval
main::http_config('shared')
--- init
use Time::HiRes ();
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 3: keys fetched');
Time::HiRes::sleep(2.5);
for my $i (1 .. 6) {
    my ($status) = GatewayCloud::get("/fn/k-shared-$i");
    Test::More::is($status, 200, "TEST 3: call $i signed");
}
--- request
GET /mock/fetches/shared
--- error_code: 200
--- response_body
1



=== TEST 4: two services, one IMDS: one fetch for both
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=imds
             imds_endpoint=http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/imds/both;
    }

    gateway_service other {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/other;
        sign aws_sigv4 region=us-east-2 credentials=imds
             imds_endpoint=http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/imds/both;
    }
--- config
    location / {
        gateway_route /fn/ fn strip;
        gateway_route /other/ other strip;
        proxy_pass $gateway_target;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
    }

    location = /status {
        gateway_status;
    }
--- init
use Time::HiRes ();
Test::More::ok(GatewayCloud::wait_for('/status?service=other', $::Ready, 10),
               'TEST 4: keys fetched');
Time::HiRes::sleep(2.5);
my ($status, $body) = GatewayCloud::get('/other/k-other');
Test::More::like($body, qr/^signed GET \/other\/k-other \? key=$::Temp1 /,
                 'TEST 4: the other service signs with them');
--- request eval
["GET /fn/k-both", "GET /mock/fetches/both"]
--- error_code eval
[200, 200]
--- response_body eval
["signed GET /fn/k-both ? key=$::Temp1 payload=$::Empty length=0\n", "1\n"]



=== TEST 5: short-lived keys are fetched again before they expire
The keys are valid for 4 s; halfway there the next ones are fetched,
and calls are signed with those.
--- http_config eval
main::http_config('exp4')
--- init
use Time::HiRes ();
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 5: keys fetched');
my ($status, $body) = GatewayCloud::get('/fn/k-first');
Test::More::like($body, qr/key=$::Temp1 /, 'TEST 5: the first keys');
Test::More::ok(GatewayCloud::wait_for('/status', qr/"fetches": 2,/, 6),
               'TEST 5: fetched again');
--- request
GET /fn/k-second
--- error_code: 200
--- response_body eval
"signed GET /fn/k-second ? key=$::Temp2 payload=$::Empty length=0\n"



=== TEST 6: a reload keeps the keys fetched: the new workers fetch nothing
--- http_config eval
main::http_config('reload')
--- init
use Time::HiRes ();
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 6: keys fetched');
my @old = GatewayProc::workers();
kill 'HUP', GatewayProc::master_pid();
my @left = GatewayProc::wait_gone(10, @old);
Test::More::is(scalar @left, 0, 'TEST 6: the old workers exited');
Time::HiRes::sleep(1.5);
--- request eval
["GET /fn/k-reloaded", "GET /mock/fetches/reload"]
--- error_code eval
[200, 200]
--- response_body eval
["signed GET /fn/k-reloaded ? key=$::Temp1 payload=$::Empty length=0\n", "1\n"]



=== TEST 7: killed workers: the keys are still fetched again in time
Each worker is killed (SIGKILL) and replaced; the refreshes go on, by
whichever worker takes the lease.
--- http_config eval
main::http_config('exp4-killed')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 7: keys fetched');
GatewayProc::kill_worker($_) for GatewayProc::workers();
Test::More::ok(GatewayCloud::wait_for('/status', qr/"fetches": [3-9],/, 10),
               'TEST 7: fetched again after the kills');
--- request
GET /fn/k-killed
--- error_code: 200
--- error_log eval
qr/\[alert\] \d+#\d+: worker process \d+ exited on signal 9/
--- no_error_log eval
join "\n", @::Secrets



=== TEST 8: IMDS down at start: 503 with Retry-After, the function gets nothing
--- http_config eval
main::http_config('fail100')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', qr/"failures": [1-9]/, 10),
               'TEST 8: a fetch failed');
--- request eval
["GET /fn/k-down", "GET /mock/count/k-down"]
--- error_code eval
[503, 200]
--- response_headers_like eval
["Retry-After: \\d+", ""]
--- response_body_like eval
['"type":"tag:ngx-http-gateway,2026:signing-unavailable"', '^0$']



=== TEST 9: IMDS down at start, up later: the keys come, calls go
The first two fetches fail (500); after 1 s and 2 s more the third one
succeeds.
--- http_config eval
main::http_config('fail2')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 15),
               'TEST 9: keys fetched at last');
--- request
GET /fn/k-late
--- error_code: 200
--- response_body eval
"signed GET /fn/k-late ? key=$::Temp1 payload=$::Empty length=0\n"
--- error_log
fetching the credentials of service "fn" failed (1 in a row): IMDS credentials: status 500 from 127.0.0.1
fetching the credentials of service "fn" failed (2 in a row)



=== TEST 10: IMDS down later: once the keys expired, 503 and the error in the status
The keys are valid for 3 s and every fetch after the first fails.
--- http_config eval
main::http_config('exp3-up1')
--- init
Test::More::ok(GatewayCloud::wait_for('/status', $::Ready, 10),
               'TEST 10: keys fetched');
my ($status) = GatewayCloud::get('/fn/k-before');
Test::More::is($status, 200, 'TEST 10: signed while the keys hold');
Test::More::ok(GatewayCloud::wait_for('/status', qr/"credentials": false/, 8),
               'TEST 10: the keys expired');
my (undef, $st) = GatewayCloud::get('/status?service=fn');
Test::More::like($st, qr/"failures": [1-9]\d*,\s*"error": "IMDS credentials: status 500 from 127.0.0.1"/,
                 'TEST 10: the error in the status');
--- request
GET /fn/k-after
--- error_code: 503
--- error_log
no credentials to sign calls of service "fn": IMDS credentials: status 500



=== TEST 11: no IMDS at all: the error says the connection was refused
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=imds
             imds_endpoint=http://127.0.0.1:1;
    }
--- init
Test::More::ok(GatewayCloud::wait_for('/status', qr/"error": "IMDS session token: connect\(\) to 127\.0\.0\.1:1 failed/, 10),
               'TEST 11: refused');
--- request
GET /fn/k-nothing
--- error_code: 503



=== TEST 12: a malformed IMDS endpoint is a configuration error
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=eu-west-1 credentials=imds
             imds_endpoint=ftp://169.254.169.254;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sign parameter "imds_endpoint=ftp:\/\/169\.254\.169\.254": an http:\/\/ URL in \S+nginx\.conf:\d+/
