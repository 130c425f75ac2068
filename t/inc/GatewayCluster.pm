package GatewayCluster;

# More gateway hosts for a test script: nginx instances of their own
# (separate prefixes, zones and processes, as separate hosts would be)
# beside the one Test::Nginx runs, and clients spread over them at a
# paced rate.  Core Perl only.
#
#   my @ports = GatewayCluster::start_hosts(2, $http_config);
#       $http_config: the text of an http{} block's inside; "$PORT" is
#       replaced by the host's port, "$TEST_NGINX_*" by the environment.
#       Each host listens on $PORT; its error log is host-N/logs/error.log.
#   GatewayCluster::offer(ports => [...], path => '/x', rate => 60,
#                         secs => 3, during => sub { ... })
#       one client process per port, each sending rate / ports requests a
#       second, paced, on a keep-alive connection (during: code run when
#       they start, while they send); returns
#       { total => { status => n }, per => [ { status => n }, ... ],
#         slowest => seconds of the slowest response,
#         span => seconds from the first request sent to the last response
#                 (on a loaded machine clients fall behind their schedule
#                 and catch up past its end: a quota is of this span) }
#   GatewayCluster::summary($result)   # "200:n 429:m", for a diag line
#   GatewayCluster::hup($n), GatewayCluster::log_of($n)
#   stop_hosts() (also at exit)

use strict;
use warnings;

use File::Temp ();
use GatewayProc ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my (@hosts, $owner);

sub start_hosts {
    my ($n, $conf, %opt) = @_;
    $owner = $$;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my @mods = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
    my @ports;
    for my $i (1 .. $n) {
        my $dir = File::Temp::tempdir('gw-host-XXXXXX', TMPDIR => 1,
                                      CLEANUP => 1);
        mkdir "$dir/logs";
        mkdir "$dir/conf";
        my $port = GatewayProc::free_port();
        (my $text = $conf) =~ s/\$PORT\b/$port/g;
        $text =~ s/\$(TEST_NGINX_[A-Z0-9_]+)/$ENV{$1} \/\/ ''/ge;
        open my $fh, '>', "$dir/conf/nginx.conf" or die "$!\n";
        print $fh map { "load_module $_;\n" } @mods;
        print $fh "worker_processes " . ($opt{workers} // 2) . ";\n"
                . "error_log logs/error.log info;\npid logs/nginx.pid;\n"
                . "events { worker_connections 1024; }\n"
                . "http {\n    access_log off;\n$text\n}\n";
        close $fh;
        system($nginx, '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
            or die "gateway host $i did not start (see $dir/logs)\n";
        push @hosts, { dir => $dir, port => $port, nginx => $nginx };
        push @ports, $port;
    }
    for my $port (@ports) {
        my $deadline = time + 10;
        until (IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp')) {
            die "host on $port does not listen\n" if time > $deadline;
            sleep 0.05;
        }
    }
    return @ports;
}

sub pid_of {
    my ($h) = @_;
    open my $fh, '<', "$h->{dir}/logs/nginx.pid" or return;
    my $pid = <$fh>;
    return $pid && $pid =~ /(\d+)/ ? $1 : undef;
}

sub hup {
    my ($i) = @_;
    my $pid = pid_of($hosts[$i]) or die "no pid\n";
    kill 'HUP', $pid;
}

sub log_of {
    my ($i) = @_;
    open my $fh, '<', "$hosts[$i]{dir}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub stop_hosts {
    for my $h (@hosts) {
        my $pid = pid_of($h) or next;
        kill 'QUIT', $pid;
        my $deadline = time + 10;
        sleep 0.05 while kill(0, $pid) && time < $deadline;
    }
    @hosts = ();
}

# one keep-alive client: (status, seconds), status 0 on no response
sub request {
    my ($sref, $port, $path) = @_;
    my $t0 = time;
    for my $try (1, 2) {
        $$sref //= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => $port, Proto => 'tcp',
                                         Timeout => 5);
        my $s = $$sref or return (0, time - $t0);
        print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my $line = <$s>;
        if (!defined $line) {
            undef $$sref;
            next;
        }
        my ($status) = $line =~ m{^HTTP/1\.\d (\d{3})};
        my $len = 0;
        my $close = 0;
        while (my $h = <$s>) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
            $close = 1 if $h =~ /^Connection:\s*close/i;
        }
        my $body = '';
        read($s, $body, $len) if $len;
        undef $$sref if $close;
        return ($status // 0, time - $t0);
    }
    return (0, time - $t0);
}

sub offer {
    my (%o) = @_;
    my @ports = @{ $o{ports} };
    my $each = $o{rate} / @ports;
    my $dir = File::Temp::tempdir('gw-load-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my $start = time + 0.2;
    my @kids;
    for my $i (0 .. $#ports) {
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            my (%seen, $sock, $first, $last);
            my $slowest = 0;
            my $n = 0;
            sleep($start - time) if $start > time;
            my $end = $start + $o{secs};
            while (1) {
                # the i-th client starts a little later: not in lockstep
                my $at = $start + ($n + ($i + 1) / @ports) / $each;
                last if $at >= $end;
                my $wait = $at - time;
                sleep $wait if $wait > 0;
                $first //= time;
                my ($st, $t) = request(\$sock, $ports[$i], $o{path});
                $last = time;
                $seen{$st}++;
                $slowest = $t if $t > $slowest;
                $n++;
            }
            open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
            print $fh "slowest $slowest\n", map { "$_ $seen{$_}\n" } keys %seen;
            print $fh "span $first $last\n" if defined $first;
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    if ($o{during}) {
        sleep($start - time) if $start > time;
        $o{during}->();
    }
    my (%total, @per, $first, $last);
    my $slowest = 0;
    for my $i (0 .. $#kids) {
        waitpid $kids[$i], 0;
        open my $fh, '<', "$dir/$i" or die "no load result\n";
        my %seen;
        while (<$fh>) {
            if (/^slowest (\S+)/) {
                $slowest = $1 if $1 > $slowest;
            } elsif (/^span (\S+) (\S+)/) {
                $first = $1 if !defined $first || $1 < $first;
                $last = $2 if !defined $last || $2 > $last;
            } elsif (/^(\d+) (\d+)/) {
                $seen{$1} += $2;
                $total{$1} += $2;
            }
        }
        push @per, \%seen;
    }
    return { total => \%total, per => \@per, slowest => $slowest,
             span => defined $first ? $last - $first : 0 };
}

sub summary {
    my ($r) = @_;
    return join ' ', map { "$_:$r->{total}{$_}" } sort keys %{ $r->{total} };
}

END { stop_hosts() if defined $owner && $$ == $owner; }

1;
