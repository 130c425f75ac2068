package GatewayProc;

# The nginx under test as processes: its master and workers (from the pid
# file and /proc), signals to them, requests left in flight on their own
# sockets, and load from several client processes.  Core Perl only; Linux
# (/proc).  For --- init code, which runs after nginx (re)started and
# before the block's request, under both the real Test::Nginx and t/lib.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(master_pid workers alive wait_gone open_request
                    read_response start_load finish_load logged wait_logged
                    kill_worker);

# a port nothing listens on now, for a helper's own server
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp',
                                  ReuseAddr => 1)
        or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub root { $ENV{TEST_NGINX_SERVER_ROOT} or die "TEST_NGINX_SERVER_ROOT unset\n" }
sub port { $ENV{TEST_NGINX_SERVER_PORT} or die "TEST_NGINX_SERVER_PORT unset\n" }

sub master_pid {
    open my $fh, '<', root() . '/logs/nginx.pid' or die "no nginx.pid: $!\n";
    my $pid = <$fh>;
    die "bad nginx.pid\n" unless defined $pid && $pid =~ /^(\d+)/;
    return $1;
}

# not a zombie: a killed worker stays one until the master reaps it
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    return $stat !~ /\)\s+Z\b/;
}

# worker processes of the master; shutting => those of an older
# configuration that are exiting, else those that accept
sub workers {
    my (%opt) = @_;
    my $master = $opt{master} // master_pid();
    my @pids;
    opendir my $dh, '/proc' or die "no /proc: $!\n";
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $stat = <$st> // '';
        next unless $stat =~ /\)\s+(\S)\s+(\d+)/ && $2 == $master && $1 ne 'Z';
        open my $cl, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$cl> // '';
        next unless $cmd =~ /worker process/;
        my $shutting = $cmd =~ /shutting down/ ? 1 : 0;
        next if defined $opt{shutting} && $opt{shutting} != $shutting;
        push @pids, $pid;
    }
    return sort { $a <=> $b } @pids;
}

# the pids still alive after at most $secs seconds
sub wait_gone {
    my ($secs, @pids) = @_;
    my $deadline = time + $secs;
    while (1) {
        my @left = grep { alive($_) } @pids;
        return @left if !@left || time > $deadline;
        sleep 0.05;
    }
}

# a request sent on its own connection, its response read later;
# headers => "Name: value\r\n..." and method => 'POST' are optional
sub open_request {
    my ($path, %opt) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $opt{port} // port(),
                                     Proto => 'tcp', Timeout => 5)
        or die "connect: $!\n";
    $sock->autoflush(1);
    print $sock ($opt{method} // 'GET') . " $path HTTP/1.0\r\n"
                . "Host: localhost\r\n" . ($opt{headers} // '') . "\r\n";
    return $sock;
}

# (status, whole response) of such a request; status 0 when the
# connection closed without a response, -1 when none came in time
sub read_response {
    my ($sock, $secs) = @_;
    my $sel = IO::Select->new($sock);
    my $deadline = time + $secs;
    my $buf = '';
    while (1) {
        my $left = $deadline - time;
        return (-1, $buf) if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread $sock, $buf, 65536, length $buf;
        last if !$n;
    }
    close $sock;
    return ($buf =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0, $buf);
}

# the statuses of n GETs, each on a connection of its own (so that each
# worker is likely asked), in order, space-separated
sub statuses {
    my ($path, $n) = @_;
    my @socks = map { open_request($path) } 1 .. $n;
    return join ' ', map { (read_response($_, 5))[0] } @socks;
}

# $clients processes, each sending requests one after the other to the
# paths in turn until told to stop; finish_load() stops them and tells
# the statuses they got (0: closed without a response, e.g. by a
# killed worker), as { status => count }
sub start_load {
    my (%opt) = @_;
    my $dir = root() . '/logs';
    my @kids;
    for my $i (1 .. $opt{clients}) {
        my $file = "$dir/load-$$-$i";
        unlink $file;
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            my %seen;
            my $stop = 0;
            local $SIG{TERM} = sub { $stop = 1 };
            my $n = 0;
            until ($stop) {
                my $path = $opt{paths}[$n++ % @{ $opt{paths} }];
                my $sock = eval { open_request($path) };
                my ($status) = $sock ? read_response($sock, 10) : (-2);
                $seen{$status}++;
            }
            open my $fh, '>', $file or POSIX::_exit(1);
            print $fh map { "$_ $seen{$_}\n" } keys %seen;
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, [$pid, $file];
    }
    return \@kids;
}

sub finish_load {
    my ($kids) = @_;
    kill 'TERM', map { $_->[0] } @$kids;
    my %seen;
    for my $kid (@$kids) {
        waitpid $kid->[0], 0;
        open my $fh, '<', $kid->[1] or die "no load result $kid->[1]\n";
        while (<$fh>) {
            $seen{$1} += $2 if /^(-?\d+) (\d+)/;
        }
        close $fh;
        unlink $kid->[1];
    }
    return \%seen;
}

# the error log's lines matching a regex
sub logged {
    my ($re) = @_;
    open my $fh, '<', root() . '/logs/error.log' or return ();
    return grep { /$re/ } <$fh>;
}

# waits (at most $secs) until $n lines match; returns them
sub wait_logged {
    my ($secs, $n, $re) = @_;
    my $deadline = time + $secs;
    while (1) {
        my @lines = logged($re);
        return @lines if @lines >= $n || time > $deadline;
        sleep 0.05;
    }
}

# waits (at most $secs) until the response to GET $path matches a regex;
# true if it did
sub wait_response {
    my ($secs, $path, $re, %opt) = @_;
    my $deadline = time + $secs;
    while (1) {
        my (undef, $raw) = read_response(open_request($path, %opt), 5);
        return 1 if $raw =~ $re;
        return 0 if time > $deadline;
        sleep 0.05;
    }
}

# SIGKILL a worker and wait until the master reaped it (and, with two or
# more workers configured, started another one in its place)
sub kill_worker {
    my ($pid, %opt) = @_;
    my $master = master_pid();
    my @before = workers(master => $master);
    kill 'KILL', $pid or die "kill $pid: $!\n";
    my $deadline = time + ($opt{secs} // 10);
    while (time < $deadline) {
        my @now = workers(master => $master);
        return 1 if !grep({ $_ == $pid } @now) && @now >= @before;
        sleep 0.02;
    }
    die "worker $pid was not replaced\n";
}

1;
