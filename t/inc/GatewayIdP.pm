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

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, Proto => 'tcp')
        or die "GatewayIdP: no free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub start {
    my ($name, $cert) = @_;
    $name //= 'IDP';
    $cert //= 'good';

    return $ENV{"TEST_NGINX_${name}_PORT"} if $pid{$name};

    _make_certs();

    my $port = _free_port();
    my $cport = _free_port();
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
