package GatewayCloud;

# Starts the mock cloud (t/cloud-mock.py, on Debian's python3 with
# python3-botocore: a function that checks SigV4 signatures or Google ID
# tokens, an IMDSv2, a GCP metadata server and a token endpoint) for a
# test script, on a free port of its own; it exits when the script does.  The port is put in
# $ENV{TEST_NGINX_CLOUD_PORT}, which both runners substitute in the
# config sections as $TEST_NGINX_CLOUD_PORT.
#
#     use lib 't/inc';
#     use GatewayCloud;
#     GatewayCloud::start();
#
# The function knows the keys of %KEYS: the access key id, the secret
# and, for temporary keys, the session token (all made up, for tests).

use strict;
use warnings;

use File::Basename ();
use File::Spec ();
use GatewayProc ();
use IO::Socket::INET;
use JSON::PP ();
use Time::HiRes ();

our %KEYS = (
    AKIDGATEWAYTEST1 => { secret => 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYGATEWAY1' },
    AKIDGATEWAYTEST2 => { secret => 'gateway/Test/Two+SecretKey0123456789ab' },
    ASIAGATEWAYTEMP1 => { secret => 'temporary/Secret+Key/0123456789abcdefgh',
                          token => 'IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==' },
    ASIAGATEWAYTEMP2 => { secret => 'second/Temporary+Key/0123456789abcdefg',
                          token => 'IQoJb3JpZ2luX2VjEXAMPLE//second+token==' },
);

# the server config of a script's service fn: /fn/ routed to it, /mock/
# to the mock's own paths (see ask()), and gateway_status
our $CONFIG = <<'_EOC_';
    location / {
        gateway_route /fn/ fn strip;
        proxy_pass $gateway_target;
    }

    location /mock/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOUD_PORT/;
    }

    location = /status {
        gateway_status;
    }
_EOC_

my $pid;

sub start {
    return $ENV{TEST_NGINX_CLOUD_PORT} if $pid;

    my $port = GatewayProc::free_port();

    my $script = File::Spec->catfile(
        File::Basename::dirname(File::Spec->rel2abs(__FILE__)), '..',
        'cloud-mock.py');

    my $keys = JSON::PP->new->canonical->encode(\%KEYS);

    my $owner = $$;

    $pid = fork;
    die "GatewayCloud: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        exec '/usr/bin/python3', $script, $port, $keys, $owner;
        die "GatewayCloud: exec $script: $!\n";
    }

    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            close $s;
            $ENV{TEST_NGINX_CLOUD_PORT} = $port;
            return $port;
        }
        Time::HiRes::sleep(0.05);
    }

    die "GatewayCloud: the function did not start on $port\n";
}

# GET of one of the mock's own paths (/count/KEY, /dates/KEY, ...)
sub ask {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_CLOUD_PORT},
                                  Proto => 'tcp', Timeout => 5)
        or die "GatewayCloud: connect: $!\n";
    print $s "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    $r =~ s/\A.*?\r\n\r\n//s;
    $r =~ s/\n\z//;
    return $r;
}

# a GET to the nginx under test: (status, body)
sub get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Proto => 'tcp', Timeout => 5)
        or die "GatewayCloud: connect to nginx: $!\n";
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    my ($status) = $r =~ m{^HTTP/1\.\d (\d+)};
    $r =~ s/\A.*?\r\n\r\n//s;
    return ($status // 0, $r);
}

# waits (at most $secs) until a GET of nginx's $path has a body matching
# $re; returns whether it did
sub wait_for {
    my ($path, $re, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (1) {
        my (undef, $body) = get($path);
        return 1 if $body =~ $re;
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.1);
    }
}

END {
    # waitpid sets $?, which is the script's exit status in an END block
    local $?;
    if ($pid && $$ != $pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
