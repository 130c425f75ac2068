package Test::Nginx::Socket;

# A small, independent implementation of the part of the Test::Nginx::Socket
# interface that our t/*.t files use, so that the suite runs where the
# openresty distribution is not installed.  See t/lib/README for the list of
# supported sections and environment variables.  When the real module is
# installed and comes first in @INC, it is used instead of this file.

use strict;
use warnings;

use Exporter ();
use Test::More ();
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX ();
use Scalar::Util qw(looks_like_number);
use List::Util qw(shuffle);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp qw(tempfile);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';
our @ISA = ('Exporter');

my @TestMoreSubs = qw(
    ok is isnt like unlike is_deeply cmp_ok pass fail diag note plan
    skip todo_skip can_ok isa_ok eq_array eq_hash eq_set
);
for my $sub (@TestMoreSubs) {
    no strict 'refs';
    *{$sub} = \&{"Test::More::$sub"};
}

our @EXPORT = (@TestMoreSubs, qw(
    run_tests blocks repeat_each workers master_on master_off
    master_process_enabled log_level no_shuffle no_long_string
    no_root_location env_to_nginx add_block_preprocessor config_preamble
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout worker_connections use_hup bail_out
    check_accum_error_log add_cleanup_handler add_test_cleanup_handler
));

# ---------------------------------------------------------------------------
# Settings (package variables so that tests may localise or inspect them)

our $NginxBinary         = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr          = '127.0.0.1';
our $ServerName          = 'localhost';
our $ServerPort          = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $RepeatEach          = 1;
our $Workers             = 1;
our $WorkerConnections   = 64;
our $LogLevel            = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Timeout             = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep      = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle           = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseHup              = $ENV{TEST_NGINX_USE_HUP};
our $UseValgrind         = $ENV{TEST_NGINX_USE_VALGRIND};
our $Randomize           = $ENV{TEST_NGINX_RANDOMIZE};
our $CheckAccumErrLog    = 0;
our $NoLongString        = 0;
our $NoRootLocation      = 0;
our $ConfigPreamble      = '';
our $NginxVersion;
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);

if ($Randomize) {
    $ServerPort = _free_port({}) or die "no free port found for TEST_NGINX_RANDOMIZE\n";
    $ServerPortForClient = $ServerPort;
}

# parallel runs (prove -jN) each get their own server root
our $ServRoot = $Randomize ? File::Spec->rel2abs("t/servroot_$ServerPort")
              : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Tests written for the real module sometimes read these through
# Test::Nginx::Util; make the same names point at our variables.
for my $var (qw(ServerPort ServerPortForClient ServerAddr ServerName ServRoot
                HtmlDir LogDir ErrLogFile PidFile ConfFile RepeatEach
                NginxBinary NginxVersion)) {
    no strict 'refs';
    *{"Test::Nginx::Util::$var"} = \${"Test::Nginx::Socket::$var"};
}

# Run-time state
my $MainPid = $$;
my $FirstStart = 1;       # the first block always starts nginx from scratch
my $HaveConfig;           # a block without --- config reuses the running nginx
my $ConfigVersion = '';   # what /ver answers in USE_HUP mode
my $ErrLogPos = 0;        # where the next error log read starts
my $BlockLogStart = 0;    # where the current block's error log lines start
my $RandPorts = {};       # TEST_NGINX_RAND_PORT_N values of the current block
my $ChildPid;             # nginx run in the foreground (valgrind mode)
my %TcpServers;           # pid => 1 for mock TCP servers still alive
my %NginxBuild;           # "without" flags from nginx -V

sub import {
    my ($class, @args) = @_;
    Test::More->builder->plan(@args) if @args;   # 'no_plan', tests => N, ...
    # the real scaffold turns these on in the test script as well
    strict->import;
    warnings->import;
    $class->Exporter::export_to_level(1, $class);
}

# ---------------------------------------------------------------------------
# Exported configuration functions

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub workers { $Workers = shift if @_; return $Workers }
sub worker_connections { $WorkerConnections = shift if @_; return $WorkerConnections }
sub log_level { $LogLevel = shift if @_; return $LogLevel }
sub timeout { $Timeout = shift if @_; return $Timeout }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled;
}
sub no_shuffle () { $NoShuffle = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub use_hup () { $UseHup = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub server_name { $ServerName = shift if @_; return $ServerName }
sub server_addr { $ServerAddr = shift if @_; return $ServerAddr }
sub server_port { $ServerPort = shift if @_; return $ServerPort }
sub server_port_for_client { $ServerPortForClient = shift if @_; return $ServerPortForClient }
sub server_root () { return $ServRoot }
sub html_dir () { return $HtmlDir }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub env_to_nginx {
    for my $v (@_) {
        die "env_to_nginx: bad value '$v'\n" if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out {
    _cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# The __DATA__ spec: "=== name" starts a block, "--- section [filters]" a
# section; "--- section: value" is the one-line form.

my $AllBlocks;

sub _all_blocks {
    return $AllBlocks if $AllBlocks;
    my $spec = '';
    my $fh = do { no strict 'refs'; \*{'main::DATA'} };
    if (defined fileno $fh) {
        local $/;
        $spec = <$fh> // '';
    }
    $spec .= "\n" unless $spec =~ /\n\z/;
    $AllBlocks = [];
    for my $hunk ($spec =~ /^(===.*?(?=^===|\z))/msg) {
        my $block = _parse_block($hunk);
        if (exists $block->{ONLY}) {
            Test::More::diag('--- ONLY found: running a single block (remove it before committing)');
            $AllBlocks = [$block];
            last;
        }
        next if exists $block->{SKIP};
        push @$AllBlocks, $block;
        last if exists $block->{LAST};
    }
    return $AllBlocks;
}

our %KnownSections = map { $_ => 1 } qw(
    main_config post_main_config http_config config server_name init
    user_files request more_headers raw_request raw_request_middle_delay
    pipelined_requests server_addr_for_client timeout abort ignore_response
    wait error_code error_code_like response_headers response_headers_like
    raw_response_headers_like response_body response_body_like
    response_body_unlike error_log no_error_log grep_error_log
    grep_error_log_out log_level must_die suppress_stderr tcp_listen
    tcp_reply tcp_reply_delay tcp_query tcp_query_len tcp_no_close
    tcp_shutdown tcp_query_auto_timeout ONLY SKIP LAST
);

sub _parse_block {
    my ($hunk) = @_;
    $hunk =~ s/\A===[ \t]*(.*)\s+//;
    my $block = Test::Nginx::Socket::Block->new($1);
    my @parts = split /^---[ \t]+\(?(\w+)\)?[ \t]*(.*)\n/m, $hunk;
    shift @parts;    # free text between the title and the first section
    while (my ($type, $filters, $value) = splice @parts, 0, 3) {
        $filters //= '';
        $value //= '';
        if ($filters =~ /:(?:\s|\z)/) {
            die "$block->{name}[0]: the one-line section '$type' has extra lines\n"
                if $value =~ /\S/;
            ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
            $value //= '';
            $value =~ s/^\s+|\s+$//g;
        }
        # an unknown section would be a check that never runs
        die "$block->{name}[0]: unknown section '$type' (see t/lib/README)\n"
            unless $KnownSections{$type};
        $block->{_filters}{$type} = $filters;
        push @{ $block->{_order} }, $type;
        $block->set_value($type, $value);
    }
    return $block;
}

# Filters named after a section; norm and trim always run first.
my %Filters = (
    norm  => sub { map { my $s = $_ // ''; $s =~ s/\r\n?/\n/g; $s } @_ },
    trim  => sub { map { my $s = $_; if (defined $s) { $s =~ s/\A(?:[ \t]*\n)+//; $s =~ s/(?<=\n)\s*\z// } $s } @_ },
    chomp => sub { map { my $s = $_; chomp $s if defined $s; $s } @_ },
    chop  => sub { map { my $s = $_; chop $s if defined $s; $s } @_ },
    lines => sub { my $t = join '', grep { defined } @_; length $t ? $t =~ /^(.*\n?)/gm : () },
    array => sub { [@_] },
    eval  => sub { Test::Nginx::Socket::Eval::run(join '', grep { defined } @_) },
);

sub _apply_filters {
    my ($block) = @_;
    for my $type (@{ $block->{_order} }) {
        my @value = @{ $block->{$type} };
        for my $filter ('norm', 'trim', split ' ', $block->{_filters}{$type}) {
            (my $fname = $filter) =~ s/=.*//s;
            no strict 'refs';
            if (defined &{"main::$fname"}) {
                # a filter function defined by the test script munges $_ or returns the value
                local $_ = join '', grep { defined } @value;
                my @ret = &{"main::$fname"}(@value);
                @ret = ($_) if !@ret || (@ret == 1 && defined $ret[0] && $ret[0] =~ /\A\d*\z/);
                @value = @ret;
            } elsif (my $code = $Filters{$fname}) {
                @value = $code->(@value);
            } else {
                die "$block->{name}[0]: unknown filter '$fname' in section '$type'\n";
            }
        }
        $block->{$type} = \@value;
    }
    $block->{_filtered} = 1;
}

sub blocks {
    my ($section) = @_;
    my @blocks = @{ _all_blocks() };
    @blocks = grep { exists $_->{$section} } @blocks if $section;
    return scalar @blocks unless wantarray;
    _apply_filters($_) for grep { !$_->{_filtered} } @blocks;
    return @blocks;
}

# ---------------------------------------------------------------------------
# Main loop

sub run_tests () {
    _probe_nginx();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        if $Randomize || !defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        _run_block($block);
        $_->($block) for @TestCleanupHandlers;
    }
    _cleanup();
    Test::More::done_testing() unless Test::More->builder->has_plan;
}

sub _probe_nginx {
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("cannot run '$NginxBinary -V' (set TEST_NGINX_BINARY): " . ($out // $!))
        if !defined $out || $? != 0;
    $NginxVersion = sprintf '%d.%03d%03d', $1, $2, $3 if $out =~ m{/(\d+)\.(\d+)\.(\d+)};
    $NginxBuild{$1} = 1 while $out =~ /--without-http_(\w+)_module/g;
}

sub _run_block {
    my ($block) = @_;
    my $name = $block->name;

    $RandPorts = {};
    my $config = _expand(scalar($block->config), $name);
    my $must_die = $block->must_die;

    local $LogLevel = $block->log_level || $LogLevel;
    # a config that must fail is always started from scratch and never traced
    local $UseHup = defined $must_die ? 0 : $UseHup;
    local $UseValgrind = defined $must_die ? 0 : $UseValgrind;

    if (defined $must_die) {
        _check_must_die($block, $config // '', $must_die);
        return;
    }

    if (defined $config) {
        _start_nginx($block, $config);
        $HaveConfig = 1;
    } elsif (!$HaveConfig) {
        bail_out("$name - no '--- config' section and no earlier one to reuse");
    } else {
        $BlockLogStart = 0;
        _write_user_files($block);
    }

    if (defined(my $init = $block->init)) {
        Test::Nginx::Socket::Eval::run($init, 1);
        bail_out("$name - --- init failed: $@") if $@;
    }

    $ErrLogPos = $BlockLogStart;
    for my $rep (0 .. $RepeatEach - 1) {
        my $tcp = defined $block->tcp_listen ? _start_tcp_server($block) : undef;
        _write_user_files($block) if $rep > 0;
        _run_requests($block, $rep);
        _finish_tcp_server($block, $tcp) if $tcp;
    }

    _stop_foreground_nginx($name) if $UseValgrind && !$UseHup;
}

# ---------------------------------------------------------------------------
# Server root, nginx.conf and user files

sub _setup_server_root {
    my ($keep_logs) = @_;
    my @old = ($ConfDir, $HtmlDir, glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    push @old, $LogDir unless $keep_logs;
    remove_tree(grep { -e } @old);
    make_path($LogDir, $HtmlDir, $ConfDir);
    -d $_ or bail_out("cannot create $_") for $LogDir, $HtmlDir, $ConfDir;
    _write_file("$HtmlDir/index.html",
        '<html><body>index of the test server</body></html>');
}

sub _write_file {
    my ($path, $data) = @_;
    open my $fh, '>', $path or bail_out("cannot write $path: $!");
    binmode $fh;
    print {$fh} $data;
    close $fh or bail_out("cannot write $path: $!");
}

# user_files: ">>> path [touch -t date]" lines each start a file; relative
# paths are below the html dir (so "../conf/x" lands in the conf dir).
sub _write_user_files {
    my ($block) = @_;
    my $name = $block->name;
    my $spec = $block->user_files;
    return unless defined $spec;

    my @files;
    if (ref $spec eq 'ARRAY') {
        @files = @$spec;
    } elsif (ref $spec) {
        bail_out("$name - --- user_files must be a string or an array");
    } else {
        for my $line (split /^/m, $spec) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @files, [$1, undef, $2];
            } elsif (@files) {
                $files[-1][1] .= $line;
            }
        }
    }

    for my $file (@files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        _write_file($path, _expand($body // '', $name));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - touch -t '$date' $path failed");
        }
    }
}

sub _write_config {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $http_config = _expand(scalar($block->http_config), $name) // '';
    my $main_config = _expand(scalar($block->main_config), $name) // '';
    my $post_main_config = _expand(scalar($block->post_main_config), $name) // '';
    my $server_name = $block->server_name // $ServerName;
    master_on() if $UseHup;    # reloading needs a master process

    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $env = join '', map { "env $_;\n" } map { /\s/ ? "'$_'" : $_ } @EnvToNginx;
    my $daemon = $UseValgrind ? 'off' : 'on';

    # keep every temp path inside the server root unless the test sets one
    my $temp = '';
    for my $kind (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $NginxBuild{$kind};
        next if $http_config =~ /\b${kind}_temp_path\b/;
        $temp .= "    ${kind}_temp_path $ServRoot/${kind}_temp;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"EOT";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
EOT

    my $version_server = !$UseHup ? '' : <<"EOT";
    server {
        listen $ServerPort;
        server_name 'Test-Nginx';
        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
EOT

    my $user = '';
    if (my $u = $ENV{TEST_NGINX_WORKER_USER}) {
        $user = "user $u;\n";
    } elsif ($> == 0) {
        # as root, workers would otherwise drop to "nobody" and lose access to the logs
        $user = "user root;\n";
    }

    _write_file($ConfFile, <<"EOT");
# generated for: $name
${modules}worker_processes $Workers;
daemon $daemon;
master_process $MasterProcessEnabled;
error_log $ErrLogFile $LogLevel;
pid $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;
$temp
    default_type text/plain;
    keepalive_timeout 68000ms;

$http_config

    server {
        listen $ServerPort;
        server_name '$server_name';
        client_max_body_size 30M;

$ConfigPreamble
$config

$root_location    }
$version_server}

$post_main_config

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}
$user
EOT
}

# Replace $TEST_NGINX_* with the environment; TEST_NGINX_RAND_PORT_N gets a
# free port, the same one everywhere within the current block.
sub _expand {
    my ($text, $name) = @_;
    return $text if !defined $text || ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            unless (defined $RandPorts->{$var}) {
                my %taken = map { $_ => 1 } $ServerPort, values %$RandPorts;
                $RandPorts->{$var} = _free_port(\%taken)
                    // bail_out("$name - no free port for $var");
            }
            $RandPorts->{$var};
        } else {
            $ENV{$var} // bail_out("$name - environment variable $var is not defined");
        }
    }ge;
    return $text;
}

sub _free_port {
    my ($taken) = @_;
    for (1 .. 1000) {
        my $port = 1988 + int rand(65535 - 1988);
        next if $taken->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                         Proto => 'tcp', Listen => 1, ReuseAddr => 1);
        if ($sock) { close $sock; return $port }
    }
    return undef;
}

# ---------------------------------------------------------------------------
# Starting and stopping nginx

sub _nginx_cmd {
    my @cmd = ($NginxBinary, '-e', $ErrLogFile, '-p', "$ServRoot/", '-c', $ConfFile);
    return @cmd unless $UseValgrind;
    # as the real Test::Nginx: a number means its own memcheck options and
    # ./valgrind.suppress (here t/valgrind.suppress too, if run from the
    # top of the tree); anything else is the whole option string
    return ('valgrind', '-q', split(' ', $UseValgrind), @cmd)
        unless $UseValgrind =~ /^\d+$/;
    my @vg = ('valgrind', '--num-callers=100', '-q',
              qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                 --show-possibly-lost=no --gen-suppressions=all));
    my ($sup) = grep { -f } 'valgrind.suppress', 't/valgrind.suppress';
    push @vg, "--suppressions=$sup" if $sup;
    return (@vg, @cmd);
}

sub _spawn {
    my ($quiet_stderr, @cmd) = @_;
    my $pid = fork // bail_out("fork failed: $!");
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null' if $quiet_stderr;
        { no warnings "exec"; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    return $pid;
}

# Run the nginx command line (it daemonizes) and return its wait status.
sub _run_nginx {
    my ($block) = @_;
    my $pid = _spawn(defined $block->suppress_stderr, _nginx_cmd());
    my $deadline = time + 30;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            return -1;
        }
        sleep 0.01;
    }
    return $?;
}

sub _running_nginx_pid {
    open my $fh, '<', $PidFile or return undef;
    my $pid = <$fh> // '';
    close $fh;
    return undef unless $pid =~ /^(\d+)/ && _alive($1);
    $pid = $1;
    # a stale pid file (e.g. after a reboot) must not make us signal a stranger
    if (open my $cl, '<', "/proc/$pid/cmdline") {
        my $cmdline = <$cl> // '';
        return undef unless $cmdline =~ /nginx/;
    }
    return $pid;
}

# A daemonized nginx that exited stays a zombie until init reaps it, which
# can take a second or more in containers; treat zombies as gone.
sub _alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat =~ /\)\s+Z\b/ ? 0 : 1;
}

sub _wait_for_pid_file {
    my ($seconds) = @_;
    my $deadline = time + $seconds;
    until (-s $PidFile) {
        return 0 if time > $deadline;
        return 0 if $ChildPid && waitpid($ChildPid, POSIX::WNOHANG()) == $ChildPid;
        sleep 0.01;
    }
    return 1;
}

sub _start_nginx {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $first = $FirstStart;
    $FirstStart = 0;
    $ConfigVersion = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 10;

    if (my $pid = _running_nginx_pid()) {
        return if $UseHup && !$first && _reload_nginx($block, $config, $pid);
        _kill_nginx($pid, $name);
    }
    unlink $PidFile;

    _setup_server_root(0);
    _write_user_files($block);
    _write_config($block, $config);
    $BlockLogStart = 0;

    if ($UseValgrind) {
        $ChildPid = _spawn(0, _nginx_cmd());
        # the pid names valgrind's --log-file=...%p report of this block
        Test::More::diag("$name (under valgrind, pid $ChildPid)");
        _wait_for_pid_file(60)
            or bail_out("$name - nginx under valgrind did not write $PidFile");
        return;
    }

    my $deadline = time + 10;
    while (1) {
        my $status = _run_nginx($block);
        last if $status == 0;
        # a port still held by the previous instance is worth a retry; a bad config is not
        if (time < $deadline && _file_contains($ErrLogFile, 'Address already in use')) {
            unlink $ErrLogFile;
            sleep 0.2;
            next;
        }
        my $emerg = _file_contains($ErrLogFile, '[emerg]') || '';
        bail_out("$name - cannot start nginx: \"" . join(' ', _nginx_cmd())
                 . "\" exited with status $status. $emerg");
    }
    _wait_for_pid_file(5) or bail_out("$name - nginx did not write $PidFile");
}

# USE_HUP: load the new config into the running master, then wait until the
# old workers stopped accepting and the new ones answer with this block's
# config version.
sub _reload_nginx {
    my ($block, $config, $pid) = @_;
    my $name = $block->name;
    _setup_server_root(1);
    _write_user_files($block);
    _write_config($block, $config);
    my @old_workers = _accepting_workers($pid);
    my $log_size = -s $ErrLogFile // 0;
    kill('HUP', $pid) or return 0;
    # assertions of this block only see what was logged from the reload on
    $BlockLogStart = $log_size;
    my $deadline = time + ($UseValgrind ? 60 : 15);

    # nginx keeps the old workers accepting for a while (~100ms) after the
    # new ones start, so a good /ver answer alone proves nothing yet
    my %old = map { $_ => 1 } @old_workers;
    while (grep { $old{$_} } _accepting_workers($pid)) {
        last if time > $deadline;
        sleep 0.01;
    }

    my $good = 0;
    while (time < $deadline) {
        my $raw = _send_request(undef, ["GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n"], 2);
        my ($res) = _parse_response($name, $raw // '', 0, 1);
        if ($res && ($res->{code} // 0) == 200 && $res->{body} eq $ConfigVersion) {
            return 1 if ++$good >= 5;
            next;
        }
        $good = 0;
        sleep 0.05;
    }
    Test::More::fail("$name - nginx did not pick up the new configuration after HUP");
    return 1;
}

# Worker processes of the given master that still accept connections (a
# worker retitles itself "... is shutting down" once it stopped listening).
sub _accepting_workers {
    my ($master) = @_;
    opendir my $dh, '/proc' or return ();
    my @pids;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $stat = <$st> // '';
        next unless $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $master;
        open my $cl, '<', "/proc/$pid/cmdline" or next;
        my $cmdline = <$cl> // '';
        push @pids, $pid if $cmdline =~ /worker process/ && $cmdline !~ /shutting down/;
    }
    return @pids;
}

sub _kill_nginx {
    my ($pid, $name) = @_;
    kill 'QUIT', $pid;
    # valgrind needs time for its leak report
    my $deadline = time + ($UseValgrind ? 30 : $Timeout);
    my $requit = time + 1;
    while (_alive($pid)) {
        last if waitpid($pid, POSIX::WNOHANG()) == $pid;    # our own child (valgrind)
        # a signal caught just before epoll_wait() leaves it blocked (easy
        # under valgrind): say it again, as the real Test::Nginx does
        if (time > $requit) {
            kill 'QUIT', $pid;
            $requit = time + 1;
        }
        if (time > $deadline) {
            warn "$name - nginx $pid did not quit in time; killing it\n";
            # nginx is the leader of its process group: take the workers too
            kill 'KILL', (getpgrp($pid) == $pid ? -$pid : $pid);
            waitpid $pid, 0;
            last;
        }
        sleep 0.01;
    }
    undef $ChildPid if $ChildPid && $ChildPid == $pid;
}

sub _stop_foreground_nginx {
    my ($name) = @_;
    my $pid = _running_nginx_pid() // $ChildPid;
    _kill_nginx($pid, $name) if $pid;
    unlink $PidFile;
}

sub _file_contains {
    my ($path, $needle) = @_;
    open my $fh, '<', $path or return undef;
    while (my $line = <$fh>) {
        return $line if index($line, $needle) >= 0;
    }
    return undef;
}

sub _cleanup {
    $_->() for @CleanupHandlers;
    _kill_child($_) for keys %TcpServers;
    if ($ChildPid) {
        _kill_nginx($ChildPid, 'cleanup');
        undef $ChildPid;
    }
}

END {
    if (defined $MainPid && $$ == $MainPid) {
        local $?;
        _cleanup();
        if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
            my $pid = _running_nginx_pid();
            _kill_nginx($pid, 'END') if $pid;
        }
        remove_tree($ServRoot) if $Randomize && $ServRoot =~ m{/t/servroot_\d+$};
    }
}

# Turn a hangup or interrupt into a normal exit so END still stops nginx.
my %SigNum = (HUP => 1, INT => 2, TERM => 15);
for my $sig (keys %SigNum) {
    $SIG{$sig} = sub { exit 128 + $SigNum{$sig} }
        if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

# ---------------------------------------------------------------------------
# must_die: nginx has to refuse the config.  error_log patterns are matched
# against the error log file nginx was given with -e, which receives the same
# [emerg] lines it prints on stderr.

sub _check_must_die {
    my ($block, $config, $must_die) = @_;
    my $name = $block->name;

    if (my $pid = _running_nginx_pid()) {
        _kill_nginx($pid, $name);
    }
    $FirstStart = 0;
    $HaveConfig = 0;
    _setup_server_root(0);
    _write_user_files($block);
    _write_config($block, $config);
    $ErrLogPos = $BlockLogStart = 0;

    for my $rep (0 .. $RepeatEach - 1) {
        my $status = _run_nginx($block);
        my $exit_code = $status >> 8;
        if ($status == -1 || $exit_code == 127) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($exit_code, $must_die, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        _check_error_log($block, $rep);

        if ($status == 0) {
            warn "WARNING: $name - nginx was expected to die but it started; stopping it\n";
            _wait_for_pid_file(2);
            my $pid = _running_nginx_pid();
            _kill_nginx($pid, $name) if $pid;
        }
    }
}

# ---------------------------------------------------------------------------
# Mock TCP server: one connection, read the query, optionally wait, reply,
# then close (or hang with tcp_no_close).

sub _start_tcp_server {
    my ($block) = @_;
    my $name = $block->name;
    my $target = _expand(scalar($block->tcp_listen), $name);
    my $reply = $block->tcp_reply;
    bail_out("$name - --- tcp_listen needs --- tcp_reply or --- tcp_shutdown")
        if !defined $reply && !defined $block->tcp_shutdown;

    my $want_len = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $want_len) {
        $want_len //= length $block->tcp_query;
        (my $fh, $query_file) = tempfile('tcp-query-XXXXXX', TMPDIR => 1);
        close $fh;
    }

    my ($listener, $err);
    for (1 .. 20) {
        if ($target =~ /^\d+$/) {
            $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $target,
                                              Proto => 'tcp', Listen => 5, ReuseAddr => 1);
        } elsif ($target =~ /\.sock$/) {
            unlink $target;
            $listener = IO::Socket::UNIX->new(Local => $target, Listen => 5);
        } else {
            bail_out("$name - bad --- tcp_listen target: $target");
        }
        last if $listener;
        $err = $!;
        sleep 0.5;
    }
    bail_out("$name - cannot listen on $target: $err") unless $listener;

    my $pid = fork // bail_out("fork failed: $!");
    if ($pid == 0) {
        # never let an exception unwind into the test loop of a forked copy
        eval { _tcp_server_child($block, $listener, $reply, $want_len, $query_file) };
        POSIX::_exit(0);
    }
    $TcpServers{$pid} = 1;
    return { pid => $pid, listener => $listener, query_file => $query_file, target => $target };
}

sub _tcp_server_child {
    my ($block, $listener, $reply, $want_len, $query_file) = @_;
    $SIG{$_} = 'DEFAULT' for keys %SigNum;
    $SIG{PIPE} = 'IGNORE';
    open STDOUT, '>', '/dev/null';    # never hold the TAP pipe open

    my $client;
    sleep 0.01 until $client = $listener->accept;

    my ($no_read, $no_write);
    if (defined(my $how = $block->tcp_shutdown)) {
        $client->shutdown($how);
        $no_read = $how != 1;
        $no_write = $how != 0;
    }

    # tcp_query_auto_timeout: the query ends when nothing more comes for
    # that long (default 0.1s), whatever its length
    my $idle = $block->tcp_query_auto_timeout;
    $idle = 0.1 if defined $idle && $idle eq '';
    my $sel = IO::Select->new($client);

    my $query = '';
    unless ($no_read) {
        while (1) {
            last if defined $idle && !$sel->can_read($idle);
            my $n = sysread $client, my $chunk, 4096;
            last unless $n;
            $query .= $chunk;
            if ($query_file) {
                # rename makes the file appear complete to the reader
                open my $fh, '>', "$query_file.tmp" or last;
                binmode $fh;
                print {$fh} $query;
                close $fh;
                rename "$query_file.tmp", $query_file;
            }
            last if !defined $idle && (!$want_len || length $query >= $want_len);
        }
    }

    if (my $delay = _parse_time(scalar($block->tcp_reply_delay))) {
        sleep $delay;
    }

    if (!$no_write && defined $reply) {
        $reply = $reply->($query) if ref $reply eq 'CODE';
        for my $piece (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            my $off = 0;
            while ($off < length $piece) {
                my $n = syswrite $client, $piece, length($piece) - $off, $off;
                last unless $n;
                $off += $n;
            }
        }
    }

    sleep 1 while defined $block->tcp_no_close;
    close $client;
}

sub _finish_tcp_server {
    my ($block, $tcp) = @_;
    my $name = $block->name;
    if (my $file = $tcp->{query_file}) {
        my $got = '';
        if (open my $fh, '<', $file) {
            binmode $fh;
            local $/;
            $got = <$fh> // '';
        }
        _is_str($got, scalar($block->tcp_query), "$name - tcp_query ok") if defined $block->tcp_query;
        Test::More::is(length $got, scalar($block->tcp_query_len), "$name - TCP query length ok")
            if defined $block->tcp_query_len;
        unlink $file, "$file.tmp";
    }
    _kill_child($tcp->{pid});
    close $tcp->{listener};
    unlink $tcp->{target} if $tcp->{target} =~ /\.sock$/;
}

sub _kill_child {
    my ($pid) = @_;
    kill 'TERM', $pid;
    my $deadline = time + 2;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            last;
        }
        sleep 0.01;
    }
    delete $TcpServers{$pid};
}

# ---------------------------------------------------------------------------
# Requests

sub _parse_time {
    my ($t) = @_;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

sub _more_headers {
    my ($text) = @_;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text // '') {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URI [VERSION]]" on the first line, the body after it.  Host and
# Connection are added unless given; a body gets a Content-Length (and is
# trimmed) unless the test sets that header or uses chunked encoding.
sub _build_request {
    my ($name, $req, $more, $conn) = @_;
    bail_out("$name - the request is empty") if !defined $req || $req eq '';
    my ($line, $body) = split /\n/, $req, 2;
    $body //= '';
    $line =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/
        or bail_out("$name - bad request line \"$line\" (want 'METHOD [URI [VERSION]]')");
    my ($method, $uri, $version) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($headers, $chunked) = _more_headers($more);
    my $length = '';
    if (!$chunked && $body ne '' && $headers !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//g;
        $length = 'Content-Length: ' . length($body) . "\r\n";
    }
    my $head = "$method $uri $version\r\n";
    $head .= "Host: $ServerName\r\n" if $headers !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $headers !~ /(?:^|\n)Connection/i;
    return "$head$headers$length\r\n$body";
}

# Returns a list of requests, each an array of packets sent on one connection.
sub _requests_of {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [ref $raw eq 'ARRAY' ? @$raw : $raw];
    }

    my $more = $block->more_headers;
    my $more_for = sub {
        my ($i) = @_;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i] // bail_out("$name - --- more_headers has no entry for request $i");
    };

    if (defined(my $list = $block->pipelined_requests)) {
        bail_out("$name - --- pipelined_requests must be an array") unless ref $list eq 'ARRAY';
        my $data = '';
        for my $i (0 .. $#$list) {
            $data .= _build_request($name, _expand($list->[$i], $name), $more_for->($i),
                                    $i == $#$list ? 'close' : 'keep-alive');
        }
        return [$data];
    }

    my $req = $block->request;
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);
    my @out;
    for my $i (0 .. $#reqs) {
        my $r = $reqs[$i];
        bail_out("$name - packet lists in --- request are not supported; use raw_request")
            if ref $r;
        if (defined $r) {
            1 while $r =~ s/^\s*#[^\n]+\s+|^\s+//;    # leading comments and blank lines
        }
        push @out, [_build_request($name, $r, $more_for->($i), 'close')];
    }
    return @out;
}

sub _send_request {
    my ($block, $packets, $timeout) = @_;
    my $name = $block ? $block->name : 'config version check';
    my $addr = ($block && $block->server_addr_for_client) // $ServerAddr;

    local $SIG{PIPE} = 'IGNORE';
    my $sock;
    my $deadline = time + ($UseValgrind ? 60 : 10);
    until ($sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $ServerPortForClient,
                                         Proto => 'tcp', Timeout => $timeout)) {
        my $err = $!;
        if (time > $deadline || !$block) {
            Test::More::fail("$name - cannot connect to $addr:$ServerPortForClient: $err") if $block;
            return undef;
        }
        sleep 0.1;
    }
    $sock->blocking(0);

    my @todo = @$packets;
    my $out = shift @todo;
    my $off = 0;
    my $writing = 1;
    my $resp = '';
    my $sel = IO::Select->new($sock);
    my $delay = $block ? _parse_time(scalar($block->raw_request_middle_delay)) : undef;

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {
            next if $!{EINTR};
            Test::More::fail("ERROR: client socket timed out - $name\n")
                if $block && !defined $block->abort;
            last;
        }
        if ($w && @$w) {
            my $n = syswrite $sock, $out, length($out) - $off, $off;
            if (defined $n) {
                $off += $n;
            } elsif (!$!{EAGAIN}) {
                $writing = 0;    # nginx may have answered early; keep reading
            }
            if ($writing && $off >= length $out) {
                if (@todo) {
                    sleep $delay if $delay;
                    ($out, $off) = (shift @todo, 0);
                } else {
                    $writing = 0;
                }
            }
        }
        if ($r && @$r) {
            my $n = sysread $sock, my $buf, 65536;
            if (!defined $n) {
                next if $!{EAGAIN};
                warn "WARNING: $name - reading the response failed: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }
    close $sock;
    return $resp;
}

# Returns ($res, $left_over_bytes); $res has code, headers, raw_headers, body.
sub _parse_response {
    my ($name, $raw, $head_req, $quiet) = @_;
    my %res = (code => undef, headers => [], body => '',
               raw_headers => $raw =~ /(.*?\r\n)\r\n/s ? $1 : '');

    my ($head, $body) = $raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s ? ($1, $2) : ($raw, '');
    my ($status, @lines) = split /\r?\n/, $head;
    my (undef, $code) = split ' ', $status // '', 3;
    $res{code} = $code if defined $code && $code =~ /^\d+$/;
    for my $line (@lines) {
        if ($line =~ /^\s/ && @{ $res{headers} }) {
            $res{headers}[-1][1] .= " $line";
        } elsif ($line =~ /^([^:]+?)\s*:\s*(.*?)\s*$/) {
            push @{ $res{headers} }, [$1, $2];
        }
    }
    $res{body} = $body;
    return (\%res) if $res{code} && ($res{code} == 304 || $res{code} == 101);

    my $left;
    my $te = _header(\%res, 'Transfer-Encoding');
    my $len = _header(\%res, 'Content-Length');
    if (defined $te && $te eq 'chunked') {
        my $bad = sub { Test::More::fail("$name - $_[0]") unless $quiet; return (undef) };
        my $decoded = '';
        while (1) {
            if ($body =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                my $size = hex $1;
                if ($size == 0) {
                    1 while $body =~ /\G[^\r\n]+\r\n/gc;    # trailers
                    return $bad->('invalid chunked data received (expected CRLF)')
                        unless $body =~ /\G\r\n/gc;
                    $left = substr $body, pos $body if pos($body) < length $body;
                    last;
                }
                my $at = pos $body;
                return $bad->('invalid chunked data received (not enough octets for the data section)')
                    if length($body) - $at < $size;
                $decoded .= substr $body, $at, $size;
                pos($body) = $at + $size;
                return $bad->('invalid chunked data received (expected CRLF)')
                    unless $body =~ /\G\r\n/gc;
            } elsif ($body =~ /\G(.+)/gcs) {
                return $bad->("invalid chunked body received: $1");
            } else {
                return $bad->("no last chunk found - $body");
            }
        }
        $res{body} = $decoded;
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, got "
                 . length($body) . "\n" unless $head_req || $quiet;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res{body} = substr $body, 0, $len;
        }
    }
    return (\%res, $left);
}

# Case-insensitive, "_" same as "-", repeated headers joined with ", ".
sub _header {
    my ($res, $key) = @_;
    (my $want = lc $key) =~ tr/_/-/;
    my @vals = map { $_->[1] } grep { (my $k = lc $_->[0]) =~ tr/_/-/; $k eq $want } @{ $res->{headers} };
    return @vals ? join(', ', @vals) : undef;
}

sub _run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my @reqs = _requests_of($block);
    my $timeout = _parse_time(scalar($block->timeout)) // $Timeout;
    my $pipelined = $block->pipelined_requests ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined || @reqs > 1;
    my $idx = 0;

    for my $i (0 .. $#reqs) {
        my $head_req = join('', @{ $reqs[$i] }) =~ /^\s*HEAD\s/ ? 1 : 0;
        my $raw = _send_request($block, $reqs[$i], $timeout) // '';
        my $count = $pipelined || 1;
        for my $k (1 .. $count) {
            unless (defined $block->ignore_response) {
                my ($res, $left) = _parse_response($name, $raw, $head_req);
                _check_response($block, $res, $idx, $rep, $need_array);
                if ($pipelined) {
                    $raw = $left // '';
                } elsif (defined $left) {
                    (my $shown = $left) =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
                    warn "WARNING: $name - unexpected extra bytes after the response: \"$shown\"\n";
                }
            }
            if ($k < $count || $i < $#reqs) {
                sleep $block->wait if $block->wait;
                _check_error_log($block, $rep);
            }
            $idx++;
        }
    }
    sleep $block->wait if $block->wait;
    _check_error_log($block, $rep);
}

# ---------------------------------------------------------------------------
# Checks

sub _indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$idx];
    }
    bail_out("$name - several requests are sent, so expected values must be arrays")
        if $need_array;
    return $value;
}

# Like is(), but for long strings show where they start to differ instead
# of dumping both.
sub _is_str {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc)
        if $NoLongString || !defined $got || !defined $expected;
    return Test::More::pass($desc) if $got eq $expected;
    my $at = 0;
    $at++ while $at < length $got && $at < length $expected
                && substr($got, $at, 1) eq substr($expected, $at, 1);
    my $from = $at > 20 ? $at - 20 : 0;
    my $show = sub {
        my $s = substr $_[0], $from, 60;
        $s =~ s/([^\x20-\x7e])/sprintf '\\x{%02x}', ord $1/ge;
        return ($from ? '...' : '') . "\"$s\"" . ($from + 60 < length $_[0] ? '...' : '');
    };
    Test::More::fail($desc);
    Test::More::diag(sprintf "    got (%d chars):      %s\n    expected (%d chars): %s\n"
                     . "    first difference at character %d",
                     length $got, $show->($got), length $expected, $show->($expected), $at + 1);
    return 0;
}

sub _check_response {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->{code}) || '';

    if (defined $block->error_code_like) {
        my $pat = _indexed($name, scalar($block->error_code_like), $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($code, _indexed($name, scalar($block->error_code), $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }

    my $subst_port = sub {
        my $s = shift;
        $s =~ s/\$ServerPort\b/$ServerPort/g;
        $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        return $s;
    };

    # --- response_headers wins over --- response_headers_like, as in the original
    if (defined(my $spec = $block->response_headers // $block->response_headers_like)) {
        my $like = !defined $block->response_headers;
        for my $line (split /\n/, _indexed($name, $spec, $idx, $need_array) // '') {
            $line =~ s/^\s+|\s+$//g;
            next if $line eq '';
            my $absent = $line =~ s/^!\s*//;
            if ($absent && $like) {
                $line .= ':';    # an absent header reads as an empty value
            } elsif ($absent) {
                Test::More::unlike($res ? $res->{raw_headers} : '', qr/^\s*\Q$line\E\s*:/ms,
                                   "$name - header $line not present in the raw headers");
                next;
            }
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $val //= '';
            my $got = ($res && _header($res, $key)) // '';
            if ($like) {
                Test::More::like($got, qr/^$val$/, "$name - header $key like ok");
            } else {
                Test::More::is($got, $subst_port->($val), "$name - header $key ok");
            }
        }
    }

    if (defined(my $pat = $block->raw_response_headers_like)) {
        $pat = _indexed($name, $pat, $idx, $need_array);
        Test::More::like($res ? $res->{raw_headers} : '',
                         ref $pat ? $pat : qr/$pat/s,
                         "$name - raw resp headers like");
    }

    my $body = $res ? $res->{body} : undef;
    if (defined $block->response_body) {
        my $expected = _indexed($name, scalar($block->response_body), $idx, $need_array);
        $expected = _expand($subst_port->($expected), $name) if defined $expected && !ref $expected;
        if (ref $expected) {
            Test::More::like($body, $expected,
                             "$name - response_body - like (repeated req $rep, req $idx)");
        } else {
            _is_str($body, $expected,
                    "$name - response_body - response is expected (repeated req $rep, req $idx)");
        }
    } elsif (defined(my $pats = $block->response_body_like // $block->response_body_unlike)) {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = $subst_port->(_indexed($name, $pats, $idx, $need_array));
        (my $summary = $body // '') =~ s/\s+/ /g;
        $summary =~ s/^ | $//g;
        my $check = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $check->($body, qr/$pat/s, "$name - response_body_$type - response is expected ($summary)");
    }
}

sub _error_log_lines {
    # some lines (log phase) are written just after the response is sent
    sleep $TestNginxSleep * 3;
    open my $fh, '<', $ErrLogFile or return [];
    seek $fh, ($CheckAccumErrLog ? $BlockLogStart : $ErrLogPos), 0;
    my @lines = <$fh>;
    $ErrLogPos = tell $fh unless $CheckAccumErrLog;
    close $fh;
    return \@lines;
}

sub _patterns {
    my ($spec) = @_;
    return [$spec] if ref $spec eq 'Regexp';
    return [@$spec] if ref $spec eq 'ARRAY';
    chomp(my $s = $spec);
    return [split /\n+/, $s];
}

sub _matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub _quote_line {
    my ($s) = @_;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub _check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = _error_log_lines();
    my %mentioned;    # log levels the test already asserts on

    my $grep = $block->grep_error_log;
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - --- grep_error_log needs --- grep_error_log_out") unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        $expected = _expand($expected, $name);
        my $found = '';
        for my $line (@$lines) {
            my $hit = ref $grep ? ($line =~ $grep ? $& : undef)
                    : index($line, $grep) >= 0 ? $grep : undef;
            $found .= "$hit\n" if defined $hit && $hit !~ /\n/;
        }
        _is_str($found, $expected, "$name - grep_error_log_out (req $rep)");
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - --- grep_error_log_out needs --- grep_error_log");
    }

    if (defined $block->error_log) {
        my $pats = _patterns(scalar($block->error_log));
        for my $pat (@$pats) {
            $mentioned{$1} = 1 if $pat =~ /\[(alert|crit|emerg)/;
            if (grep { _matches($_, $pat) } @$lines) {
                Test::More::pass(qq{$name - pattern "$pat" matches a line in error.log (req $rep)});
            } else {
                Test::More::fail(qq{$name - pattern "$pat" should match a line in error.log (req $rep)});
            }
        }
    }

    if (defined $block->no_error_log) {
        my $pats = _patterns(scalar($block->no_error_log));
        for my $pat (@$pats) {
            $mentioned{$1} = 1 if $pat =~ /\[(alert|crit|emerg)/;
            my $p = _quote_line("$pat");
            my ($at) = grep { _matches($lines->[$_], $pat) } 0 .. $#$lines;
            if (!defined $at) {
                Test::More::pass(qq{$name - pattern "$p" does not match a line in error.log (req $rep)});
                next;
            }
            my $end = $at + 9 < $#$lines ? $at + 9 : $#$lines;
            Test::More::fail(qq{$name - pattern "$p" should not match any line in error.log but matches line "}
                             . _quote_line($lines->[$at]) . qq{" (req $rep)\n}
                             . join '', @$lines[$at + 1 .. $end]);
        }
    }

    for my $line (@$lines) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && !$mentioned{$1}) {
            warn "WARNING: $name - " . _quote_line($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l");
        }
    }
}

# ---------------------------------------------------------------------------

package Test::Nginx::Socket::Block;

use Carp ();

sub new {
    my ($class, $name) = @_;
    return bless { name => [$name], _order => [], _filters => {} }, $class;
}

sub set_value {
    my ($self, $key, @values) = @_;
    $self->{$key} = \@values;
    return;
}

# $block->SECTION: the first value in scalar context, all of them in list
# context, undef for a section the block does not have.
our $AUTOLOAD;
sub AUTOLOAD {
    my $self = shift;
    (my $key = $AUTOLOAD) =~ s/.*:://;
    Carp::croak("use set_value to change '$key'") if @_;
    my $values = ref $self && $key !~ /^_/ ? $self->{$key} : undef;
    return undef unless $values;    # one undef even in list context
    return wantarray ? @$values : $values->[0];
}

sub DESTROY { }

# ---------------------------------------------------------------------------
# "eval" filters and --- init run here, under strict; an error becomes the
# section's value (as with the original) after a warning.

package Test::Nginx::Socket::Eval;

sub run {
    my ($code, $in_main) = @_;
    $code = "package main; $code" if $in_main;
    my @ret = eval $code;
    if ($@) {
        warn "eval section failed: $@";
        return $@;
    }
    return @ret;
}

1;
