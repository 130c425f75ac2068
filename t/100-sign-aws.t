# sign aws_sigv4: every call of the function carries an AWS SigV4
# signature, checked by t/cloud-mock.py, a function that recomputes
# it independently (Debian's python3-botocore) and answers 403 when it
# does not match, as a Lambda function URL with AuthType AWS_IAM does.
# Keys come from the environment (nginx's "env") or from a shared
# credentials file; without keys the gateway answers 503 and calls
# nothing.  The function answers "signed METHOD PATH ?QUERY key=...
# payload=... length=..." once the signature checks out; /mock/count/KEY
# and /mock/dates/KEY tell what it got with "/k-KEY" in the path.

use lib 't/inc';
use GatewayCloud;
use Digest::SHA ();
use Test::Nginx::Socket 'no_plan';

GatewayCloud::start();

repeat_each(1);
no_long_string();
no_root_location();
log_level('info');

our $Key1 = 'AKIDGATEWAYTEST1';
our $Secret1 = $GatewayCloud::KEYS{$Key1}{secret};
our $Key2 = 'AKIDGATEWAYTEST2';
our $Secret2 = $GatewayCloud::KEYS{$Key2}{secret};
our $Temp = 'ASIAGATEWAYTEMP1';
our $TempSecret = $GatewayCloud::KEYS{$Temp}{secret};
our $TempToken = $GatewayCloud::KEYS{$Temp}{token};

our $Env = "env AWS_ACCESS_KEY_ID=$Key1;\nenv AWS_SECRET_ACCESS_KEY=$Secret1;";

our $Empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

# request bodies: 200 KB (over client_body_buffer_size: in a temp file)
our $Big = join('', map { sprintf "%07d\n", $_ } 1 .. 25600) . 'end.';

our $HttpConfig = <<'_EOC_';
    gateway_default_auth off;
    client_body_buffer_size 8k;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1;
    }

    gateway_service flaky {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
        sign aws_sigv4 region=eu-west-1 service=lambda credentials=env;
        retries 2 on=503 backoff=10ms:2s idempotency_header=Idempotency-Key;
    }

    gateway_service raw {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT;
        sign aws_sigv4 region=us-east-1 payload=unsigned;
    }
_EOC_

our $Config = <<'_EOC_';
    location / {
        gateway_route /fn/ fn strip;
        gateway_route /flaky/ flaky strip;
        gateway_route /raw/ raw strip;
        proxy_pass $gateway_target;
        add_header X-Retries "$gateway_retries" always;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
    }

    location = /status {
        gateway_status;
    }
_EOC_

# for the blocks with a service fn of their own
our $FnConfig = <<'_EOC_';
    location / {
        gateway_route /fn/ fn strip;
        proxy_pass $gateway_target;
    }

    location = /status {
        gateway_status;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", $FnConfig)
        if defined $block->http_config && !defined $block->config;

    $block->set_value("main_config", $Env)
        unless defined $block->main_config;
    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Config) unless defined $block->config;

    # no key, secret or token ever in the error log
    $block->set_value("no_error_log", "[error]\n[alert]\n$Secret1\n"
                      . "$Secret2\n$TempSecret\n$TempToken")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: a GET, its query full of reserved characters, is signed
The query is sent as the client wrote it; the signature covers it
decoded and encoded again, sorted, as AWS canonicalizes it.
--- request
GET /fn/k-get/a/b?b=2&a=%2f%3D&a=b+c&&empty&k=%7e~&u=%C3%A9&q=a/b?c:d@e!$'()*,;&=x
--- error_code: 200
--- response_body eval
"signed GET /fn/k-get/a/b ?b=2&a=%2f%3D&a=b+c&&empty&k=%7e~&u=%C3%A9&q=a/b?c:d\@e!\$'()*,;&=x key=$::Key1 payload=$::Empty length=0\n"



=== TEST 2: a path with escaped bytes is signed as AWS encodes it again
--- request
GET /fn/k-path/a%20b/%E2%82%AC/c~d(e)
--- error_code: 200
--- response_body eval
"signed GET /fn/k-path/a%20b/%E2%82%AC/c~d(e) ? key=$::Key1 payload=$::Empty length=0\n"



=== TEST 3: a POST body in memory is hashed into the signature
--- request
POST /fn/k-post/orders?x=1
{"item": "book", "qty": 2}
--- error_code: 200
--- response_body eval
"signed POST /fn/k-post/orders ?x=1 key=$::Key1 payload="
. Digest::SHA::sha256_hex('{"item": "book", "qty": 2}') . " length=26\n"



=== TEST 4: a POST body in a temp file is hashed from the file
--- request eval
"POST /fn/k-file/upload\n$::Big"
--- error_code: 200
--- response_body eval
"signed POST /fn/k-file/upload ? key=$::Key1 payload="
. Digest::SHA::sha256_hex($::Big) . " length=" . length($::Big) . "\n"
--- error_log
a client request body is buffered to a temporary file



=== TEST 5: a chunked POST body is hashed as the function gets it
--- raw_request eval
"POST /fn/k-chunked HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
5\r
hello\r
7\r
, world\r
0\r
\r
"
--- error_code: 200
--- response_body eval
"signed POST /fn/k-chunked ? key=$::Key1 payload="
. Digest::SHA::sha256_hex('hello, world') . " length=12\n"



=== TEST 6: the client's Authorization and X-Amz-* headers never reach it
The function refuses a request with two of them, with a security token
its key does not have, or with any X-Amz-* header the gateway did not
write (Lambda's Invoke API reads X-Amz-Log-Type, -Invocation-Type and
-Client-Context); "_" spellings, which nginx passes on here, too.
--- config
    underscores_in_headers on;

    location / {
        gateway_route /fn/ fn strip;
        proxy_pass $gateway_target;
    }
--- more_headers
Authorization: AWS4-HMAC-SHA256 Credential=AKIDEVIL/20000101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=00
X-Amz-Date: 20000101T000000Z
X-Amz-Security-Token: stolen
X_Amz_Content_Sha256: 00
X-Amz-Log-Type: Tail
X_Amz_Invocation_Type: DryRun
X-AMZ-Client-Context: e30=
--- request
GET /fn/k-forged
--- error_code: 200
--- response_body eval
"signed GET /fn/k-forged ? key=$::Key1 payload=$::Empty length=0\n"



=== TEST 7: temporary keys carry their session token, signed
--- main_config eval
"env AWS_ACCESS_KEY_ID=$::Temp;\nenv AWS_SECRET_ACCESS_KEY=$::TempSecret;\n"
. "env AWS_SESSION_TOKEN=$::TempToken;"
--- request
GET /fn/k-temp
--- error_code: 200
--- response_body eval
"signed GET /fn/k-temp ? key=$::Temp payload=$::Empty length=0\n"



=== TEST 8: every retry is signed afresh, with its own date
The function answers 503 with Retry-After: 1 twice, so the three
attempts are a second apart; each is checked.
--- request eval
["GET /flaky/k-retry/fail-2/x?a=1", "GET /mock/dates/k-retry"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["X-Retries: 2", ""]
--- response_body_like eval
["^signed GET /k-retry/fail-2/x \\?a=1 key=$::Key1 ",
 "^\\d{8}T\\d{6}Z \\d{8}T\\d{6}Z \\d{8}T\\d{6}Z\$"]
--- timeout: 10



=== TEST 9: a retried POST replays and signs its temp-file body each time
--- more_headers
Idempotency-Key: 42
--- request eval
["POST /flaky/k-retry-post/fail-1/x\n$::Big", "GET /mock/count/k-retry-post"]
--- error_code eval
[200, 200]
--- response_body eval
["signed POST /k-retry-post/fail-1/x ? key=$::Key1 payload="
 . Digest::SHA::sha256_hex($::Big) . " length=" . length($::Big) . "\n",
 "2\n"]
--- timeout: 10



=== TEST 10: an unsigned payload when the service asks for it
--- request
POST /raw/k-raw
some body
--- error_code: 200
--- response_body eval
"signed POST /k-raw ? key=$::Key1 payload=UNSIGNED-PAYLOAD length=9\n"



=== TEST 11: without keys: 503 with Retry-After, and the function gets nothing
--- main_config
--- request eval
["GET /fn/k-none", "GET /mock/count/k-none"]
--- error_code eval
[503, 200]
--- response_headers eval
["Retry-After: 1\nContent-Type: application/problem+json", ""]
--- response_body_like eval
['"type":"tag:ngx-http-gateway,2026:signing-unavailable","title":"Service Unavailable","status":503',
 '^0$']



=== TEST 12: without keys: the log says why, once a second
--- main_config
--- request
GET /fn/k-none-logged
--- error_code: 503
--- error_log
gateway: AWS_ACCESS_KEY_ID is not in the workers' environment
no credentials to sign calls of service "fn"



=== TEST 13: keys from a credentials file, its profile
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:aws-credentials
             profile=fn;
    }
--- main_config
--- user_files eval
">>> ../conf/aws-credentials
[default]
aws_access_key_id = AKIDNOTTHISONE
aws_secret_access_key = not/this/one

[fn]
aws_access_key_id = $::Key2
aws_secret_access_key = $::Secret2
"
--- request
GET /fn/k-file-keys
--- error_code: 200
--- response_body eval
"signed GET /fn/k-file-keys ? key=$::Key2 payload=$::Empty length=0\n"



=== TEST 14: a changed credentials file is read again, and again
nginx read the file at start; the test rewrites it, and a second later
the workers sign with the new keys.  It is rewritten twice, each read
from a request of its own connection, gone when the next comes.
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:aws-credentials;
    }
--- main_config
--- user_files eval
">>> ../conf/aws-credentials
[default]
aws_access_key_id = $::Key2
aws_secret_access_key = $::Secret2
"
--- init
use Time::HiRes ();
use IO::Socket::INET ();
my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/conf/aws-credentials";
my $write = sub {
    open my $fh, '>', "$file.new" or die "$file.new: $!";
    print $fh $_[0];
    close $fh;
    rename "$file.new", $file or die "rename: $!";
    Time::HiRes::sleep(1.1);
};
$write->("# first\n[default]\naws_access_key_id = $::Key1\n"
         . "aws_secret_access_key = $::Secret1\n");
my $c = IO::Socket::INET->new("127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}")
    or die "connect: $!";
print $c "GET /fn/k-first HTTP/1.0\r\nHost: localhost\r\n\r\n";
my $answer = join '', <$c>;
close $c;
die "first rotation: $answer" unless $answer =~ /key=$::Key1 /;
$write->("# rotated\n[default]\naws_access_key_id = $::Temp\n"
         . "aws_secret_access_key = $::TempSecret\n"
         . "aws_session_token = $::TempToken\n");
--- request
GET /fn/k-rotated
--- error_code: 200
--- response_body eval
"signed GET /fn/k-rotated ? key=$::Temp payload=$::Empty length=0\n"
--- error_log
gateway: AWS credentials file



=== TEST 15: a broken credentials file keeps the keys read before
The error shows in gateway_status, which never shows a key.
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:aws-credentials;
    }
--- main_config
--- user_files eval
">>> ../conf/aws-credentials
[default]
aws_access_key_id = $::Key2
aws_secret_access_key = $::Secret2
"
--- init
use Time::HiRes ();
my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/conf/aws-credentials";
open my $fh, '>', $file or die "$file: $!";
print $fh "[default]\naws_access_key_id = $::Key1\nhalf a line\n";
close $fh;
Time::HiRes::sleep(1.1);
--- request eval
["GET /fn/k-broken", "GET /status?service=fn"]
--- error_code eval
[200, 200]
--- response_body_like eval
["^signed GET /fn/k-broken \\? key=$::Key2 ",
 qr/"sign": \{\s*"type": "aws_sigv4",\s*"source": "file",\s*"region": "eu-west-1",\s*"service": "lambda",\s*"credentials": true,\s*"worker": \d+,\s*"loaded": \d+,\s*"error": "a line that is neither a section nor \\"key = value\\"",\s*"error_time": \d+\s*\}/]
--- response_body_unlike eval
[qr/$::Secret1|$::Secret2|AKID/, qr/$::Secret1|$::Secret2|AKID/]



=== TEST 16: a broken credentials file: a warning
TEST 15's setup again: the log is checked after each of its requests,
and the warning comes with the first.
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:aws-credentials;
    }
--- main_config
--- user_files eval
">>> ../conf/aws-credentials
[default]
aws_access_key_id = $::Key2
aws_secret_access_key = $::Secret2
"
--- init
use Time::HiRes ();
my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/conf/aws-credentials";
open my $fh, '>', $file or die "$file: $!";
print $fh "[default]\naws_access_key_id = $::Key1\nhalf a line\n";
close $fh;
Time::HiRes::sleep(1.1);
--- request
GET /fn/k-broken-logged
--- error_code: 200
--- error_log
the keys read before are kept



=== TEST 17: gateway_status shows where the keys come from, not them
--- request
GET /status?service=fn
--- error_code: 200
--- response_body_like eval
qr/"sign": \{\s*"type": "aws_sigv4",\s*"source": "env",\s*"region": "eu-west-1",\s*"service": "lambda",\s*"credentials": (true|false),\s*"worker": \d+/
--- response_body_unlike eval
qr/$::Secret1|$::Key1/



=== TEST 18: region= is required
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 service=lambda;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"sign aws_sigv4" of gateway service "fn" needs region= in \S+nginx\.conf:\d+/



=== TEST 19: a region is a name
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=EU_west/1;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sign parameter "region=EU_west\/1": lower case letters, digits and "-" only in \S+nginx\.conf:\d+/



=== TEST 20: unknown scheme and parameters are refused
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=eu-west-1 credentials=vault;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid sign parameter "credentials=vault": no such parameter in \S+nginx\.conf:\d+/



=== TEST 21: a missing credentials file is a configuration error
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:no-such-file;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid AWS credentials file "\S+no-such-file", profile "default": open\(\) failed in \S+nginx\.conf:\d+/



=== TEST 22: a credentials file without the profile is refused, quoting no key
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=eu-west-1 credentials=file:aws-credentials
             profile=prod;
    }
--- config
--- user_files eval
">>> ../conf/aws-credentials
[default]
aws_access_key_id = $::Key2
aws_secret_access_key = $::Secret2
"
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid AWS credentials file "\S+aws-credentials", profile "prod": no such profile in \S+nginx\.conf:\d+/



=== TEST 23: one sign per service
--- http_config
    gateway_service fn {
        endpoint http://127.0.0.1:1/fn;
        sign aws_sigv4 region=eu-west-1;
        sign aws_sigv4 region=eu-west-2;
    }
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"sign" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 24: a capped service: a body read for the slot is still signed
The bulkhead reads the body before the slot is taken; the attempt is
signed after, hashed from the body it read.
--- http_config
    gateway_default_auth off;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/fn;
        sign aws_sigv4 region=eu-west-1;
        concurrency 1 queue=4;
    }
--- request
POST /fn/k-capped/orders
{"item": "book", "qty": 2}
--- error_code: 200
--- response_body eval
"signed POST /fn/k-capped/orders ? key=$::Key1 payload="
. Digest::SHA::sha256_hex('{"item": "book", "qty": 2}') . " length=26\n"



=== TEST 25: a capped service: each retry takes a slot and is signed afresh
--- http_config
    gateway_default_auth off;
    client_body_buffer_size 8k;

    gateway_service fn {
        endpoint http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
        sign aws_sigv4 region=eu-west-1;
        concurrency 1 queue=4 queue_timeout=5s;
        retries 2 on=503 backoff=10ms:2s idempotency_header=Idempotency-Key;
    }
--- config
    location / {
        gateway_route /fn/ fn strip;
        proxy_pass $gateway_target;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
    }
--- more_headers
Idempotency-Key: 43
--- request eval
["POST /fn/k-capped-retry/fail-2/x\n$::Big", "GET /mock/dates/k-capped-retry"]
--- error_code eval
[200, 200]
--- response_body_like eval
["^signed POST /k-capped-retry/fail-2/x \\? key=$::Key1 payload="
 . Digest::SHA::sha256_hex($::Big) . " length=" . length($::Big) . "\n",
 "^\\d{8}T\\d{6}Z \\d{8}T\\d{6}Z \\d{8}T\\d{6}Z\$"]
--- timeout: 10
