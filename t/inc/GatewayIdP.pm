package GatewayIdP;

# Mock identity providers (t/idp.pl) for a test script, each on free ports
# of its own, with a test CA made when the script starts (the openssl
# command, into a temporary directory removed at the end), stopped when
# the script ends.  See t/inc/README.
#
#     use lib 't/inc';
#     use GatewayIdP;
#     GatewayIdP::start('IDP');               # cert of the test CA
#     GatewayIdP::start('ROGUE', 'other-ca'); # cert of another CA
#     GatewayIdP::start('NAMED', 'wrong-name');   # for other.test only
#
# start(NAME) sets $ENV{TEST_NGINX_NAME_PORT} (https) and
# TEST_NGINX_NAME_CONTROL (plain http), and TEST_NGINX_IDP_CA, the test
# CA's certificate; both runners substitute them in config sections.

use strict;
use warnings;

use File::Basename ();
use File::Spec ();
use File::Temp ();
use GatewayProc ();
use IO::Socket::INET;
use Time::HiRes ();

my ($ca_dir, $owner, %pid);

sub _openssl {
    my (@args) = @_;
    my $out = `openssl @args 2>&1`;
    die "GatewayIdP: openssl @args: $out\n" if $?;
}

# the test CA, another CA, and server certificates for 127.0.0.1
sub _make_certs {
    return if $ca_dir;

    $ca_dir = File::Temp::tempdir('idp-ca-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my $d = $ca_dir;

    for my $ca (qw(ca other-ca)) {
        _openssl("ecparam -genkey -name prime256v1 -noout -out $d/$ca.key");
        _openssl("req -new -x509 -key $d/$ca.key -subj /CN=gateway-test-$ca"
                 . " -days 2 -out $d/$ca.pem"
                 . " -addext basicConstraints=critical,CA:TRUE"
                 . " -addext keyUsage=critical,keyCertSign,cRLSign");
    }

    my %certs = (
        'good'       => ['ca', 'IP:127.0.0.1,DNS:localhost'],
        'other-ca'   => ['other-ca', 'IP:127.0.0.1,DNS:localhost'],
        'wrong-name' => ['ca', 'DNS:other.test'],
    );

    for my $name (sort keys %certs) {
        my ($ca, $san) = @{ $certs{$name} };

        my $f = "$d/srv-$name";

        open my $ext, '>', "$f.ext" or die "GatewayIdP: $!\n";
        print $ext "subjectAltName=$san\nextendedKeyUsage=serverAuth\n";
        close $ext;

        _openssl("ecparam -genkey -name prime256v1 -noout -out $f.key");
        _openssl("req -new -key $f.key -subj /CN=idp-$name -out $f.csr");
        _openssl("x509 -req -in $f.csr -CA $d/$ca.pem"
                 . " -CAkey $d/$ca.key -CAcreateserial -days 2"
                 . " -extfile $f.ext -out $f.pem");
    }

    $ENV{TEST_NGINX_IDP_CA} = "$d/ca.pem";
}

sub start {
    my ($name, $cert) = @_;
    $name //= 'IDP';
    $cert //= 'good';

    return $ENV{"TEST_NGINX_${name}_PORT"} if $pid{$name};

    _make_certs();

    my $port = GatewayProc::free_port();
    my $cport = GatewayProc::free_port();
    my $script = File::Spec->catfile(
        File::Basename::dirname(File::Spec->rel2abs(__FILE__)), '..',
        'idp.pl');
    my $state = File::Temp::tempdir('idp-XXXXXX', TMPDIR => 1,
                                    CLEANUP => 1);
    $owner = $$;

    my $pid = fork;
    die "GatewayIdP: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        exec $^X, $script, $port, $cport, $state, $owner,
             "$ca_dir/srv-$cert.pem", "$ca_dir/srv-$cert.key";
        die "GatewayIdP: exec $script: $!\n";
    }

    $pid{$name} = $pid;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $cport, Proto => 'tcp');
        if ($s) {
            close $s;
            $ENV{"TEST_NGINX_${name}_PORT"} = $port;
            $ENV{"TEST_NGINX_${name}_CONTROL"} = $cport;
            return $port;
        }
        Time::HiRes::sleep(0.05);
    }

    die "GatewayIdP: the identity provider did not start on $port\n";
}

# a control request (see t/idp.pl), from Perl: its answer, chomped
sub control {
    my ($name, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{"TEST_NGINX_${name}_CONTROL"},
                                  Proto => 'tcp', Timeout => 10)
        or die "GatewayIdP: connect: $!\n";
    print $s "GET $path HTTP/1.0\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    $r =~ s/\A.*?\r\n\r\n//s;
    chomp $r;
    return $r;
}

# The gateway side of the key source tests (t/080-084): $SERVICE, a
# service "fn" that takes JWTs (the test CA trusted) and whose endpoint
# answers with the token's subject; locations() the /api/ route to it and
# /idp/, the provider's control port, and as asked /front/ (the token of
# ?t= sent on in Authorization, for load clients that send URLs only) and
# /status.
our $SERVICE = <<'_EOC_';
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

sub locations {
    my (%with) = @_;

    my $config = <<'_EOC_';
    location /api/ {
        gateway_route /api/ fn;
        proxy_pass $gateway_target;
    }

    location /idp/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_IDP_CONTROL/;
    }
_EOC_

    $config .= <<'_EOC_' if $with{front};

    location /front/ {
        proxy_set_header Authorization "Bearer $arg_t";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/;
    }
_EOC_

    $config .= <<'_EOC_' if $with{status};

    location = /status {
        gateway_status;
    }
_EOC_

    return $config;
}

# For a block preprocessor: every provider named starts the block alike
# (serving the keys given, mode ok, no Cache-Control, counts at zero);
# then "(keys: hs1,rsa1)", "(mode: ...)" or "(cache: ...)" in the block's
# title sets the first one up for that block.
sub begin_block {
    my ($block, $keys, @names) = @_;

    for my $name (@names) {
        control($name, "/keys/$keys");
        control($name, '/mode/ok');
        control($name, '/cache/-');
        control($name, '/reset');
    }

    my $title = $block->name;
    while ($title =~ /\((keys|mode|cache): ([^)\s]+)\)/g) {
        control($names[0], "/$1/$2");
    }
}

# The block's http_config in a zone of its own (with reloads between
# blocks, make check-reload, a source's schedule would outlive its
# block), then $SERVICE.
my $zone = 0;

sub block_http_config {
    my ($block) = @_;
    $zone++;
    $block->set_value("http_config", "    gateway_zone keys$zone 2m;\n"
                                     . ($block->http_config // '')
                                     . $SERVICE);
}

# stops one provider (its port refuses connections from then on)
sub stop {
    my ($name) = @_;
    my $pid = delete $pid{$name} or return;
    local $?;
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

END {
    # waitpid sets $?, which END must leave as the script's exit code
    local $?;

    if ($owner && $owner == $$) {
        for my $name (keys %pid) {
            kill 'KILL', $pid{$name};
            waitpid $pid{$name}, 0;
        }
    }
}

1;
