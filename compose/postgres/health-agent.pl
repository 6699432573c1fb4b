#!/usr/bin/perl
# Role-aware health endpoint for HAProxy (the Patroni REST API convention): a TCP or pgsql
# check cannot tell a primary from a standby, an HTTP check against this agent can.
#   GET /primary  200 when this server accepts writes (not in recovery), else 503
#   GET /replica  200 when this server is a hot standby, else 503
#   GET /read     200 when this server answers queries at all, else 503
#   GET /health   200 with {"role": ...} (503 when PostgreSQL does not answer)
# Uses only core Perl and psql over the local socket, so it runs in the upstream postgres
# image and in the offline one alike.
#
# Cheap and steady under load (several HAProxy instances check every agent twice a second):
# - One persistent `psql` coprocess asks `SELECT pg_is_in_recovery()`, instead of a new psql
#   (fork, exec, connect, authenticate, new backend) per check. It is restarted on demand when
#   it dies; when PostgreSQL is down the restart fails at once and the answer is 503 at once.
# - Every answer reflects a query that started at most MAX_AGE_MS (100 ms) before the request
#   arrived: checks arriving together share one query. That is the only staleness an answer
#   can have, and it adds at most 100 ms to the worst-case detection derived from haproxy.cfg
#   (fixtures/checks/haproxy-timing.ts adds it; 6.5 s + 0.1 s < 10 s).
# - One process serves every client at once (select): a slow or silent client costs a socket
#   and at most REQUEST_WITHIN seconds, never the other checks' answers.
# - A query without an answer after ANSWER_WITHIN_MS (450 ms, under HAProxy's `timeout check
#   500ms`) is answered 503 (role "unavailable"): a definite failure rather than a timeout.
use strict;
use warnings;
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::INET;
use IPC::Open2;
use POSIX ();

# Seconds, to 10 ms or better: Time::HiRes where the image has full perl, else POSIX::times()
# (elapsed clock ticks), which perl-base alone has.
my $clock = eval { require Time::HiRes; \&Time::HiRes::time } // do {
  my $ticks = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
  sub { (POSIX::times())[0] / $ticks };
};
sub now { $clock->() }

my $PORT = $ENV{HEALTH_AGENT_PORT} || 8008;
# Not configurable: fixtures/checks/haproxy-timing.ts reads this number into the failover bound.
my $MAX_AGE_MS = 100;
my $MAX_AGE = $MAX_AGE_MS / 1000;
my $ANSWER_WITHIN = ($ENV{HEALTH_AGENT_ANSWER_WITHIN_MS} // 450) / 1000;
my $REQUEST_WITHIN = 2;     # seconds a client has to send its request line and headers
my $STUCK_AFTER = 5;        # seconds without any answer from psql before it is replaced
my $MAX_OUTSTANDING = 16;   # queries written to psql and not yet answered
my $MAX_CLIENTS = 512;

my $server = IO::Socket::INET->new(LocalPort => $PORT, Listen => 128, ReuseAddr => 1, Proto => 'tcp', Blocking => 0)
  or die "health-agent: cannot listen on $PORT: $!\n";
$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = 'IGNORE';    # psql coprocesses are reaped by the kernel
print STDERR "health-agent: listening on $PORT\n";

my $select = IO::Select->new($server);
my %clients;     # fileno => { sock, buf, since, deadline, path, seq }
my $psql;        # { pid, in, out, buf, outstanding => { seq => started } }
my $next_seq = 1;
my %waiting;     # seq => [ fileno, ... ]
my %started;     # seq => when its query was written
my $last;        # { role, started }: the latest answered query

sub respond {
  my ($fd, $role) = @_;
  my $client = delete $clients{$fd} or return;
  my $path = $client->{path} // '/';
  my $ok = $path eq '/primary' ? $role eq 'primary'
         : $path eq '/replica' ? $role eq 'replica'
         : ($path eq '/read' || $path eq '/health' || $path eq '/') ? $role ne 'unavailable'
         : 0;
  my $body = qq({"role":"$role"}\n);
  my $status = $ok ? '200 OK' : '503 Service Unavailable';
  my $sock = $client->{sock};
  $select->remove($sock);
  syswrite($sock, "HTTP/1.0 $status\r\nContent-Type: application/json\r\nContent-Length: "
    . length($body) . "\r\nConnection: close\r\n\r\n$body");
  close $sock;
}

sub drop {
  my ($fd) = @_;
  my $client = delete $clients{$fd} or return;
  $select->remove($client->{sock});
  close $client->{sock};
}

# Query $seq is answered with $role. psql answers in order, so an earlier query still open
# got no answer (an error such as statement_timeout): PostgreSQL was unavailable to it.
sub settle {
  my ($seq, $role) = @_;
  for my $s (sort { $a <=> $b } keys %started) {
    last if $s > $seq;
    my $at = delete $started{$s};
    my $answer = $s == $seq ? $role : 'unavailable';
    $last = { role => $answer, started => $at } if !$last || $at >= $last->{started};
    respond($_, $answer) for @{ delete $waiting{$s} // [] };
  }
}

sub stop_psql {
  return unless $psql;
  $select->remove($psql->{out});
  kill 'KILL', $psql->{pid};
  close $psql->{in};
  close $psql->{out};
  $psql = undef;
  my @open = sort { $a <=> $b } keys %started;
  # What was asked of a psql that is gone has no answer: PostgreSQL is unavailable.
  settle($open[-1], 'unavailable') if @open;
}

sub start_psql {
  local $ENV{PGCONNECT_TIMEOUT} = '1';
  local $ENV{PGOPTIONS} = '-c statement_timeout=1000';
  local $ENV{PGAPPNAME} = 'bss-health-agent';
  my ($out, $in);
  open(my $stderr, '>&', \*STDERR) or return 0;
  open(STDERR, '>', '/dev/null');
  my $pid = eval { open2($out, $in, 'psql', '-h', '/var/run/postgresql', '-U', 'postgres', '-d', 'postgres', '-XAtq') };
  open(STDERR, '>&', $stderr);
  return 0 unless $pid;
  $out->blocking(0);
  $in->autoflush(1);
  $psql = { pid => $pid, in => $in, out => $out, buf => '' };
  $select->add($out);
  return 1;
}

# The query whose answer this request may take: a recent answer, a recent query in flight, or a new one.
sub ask {
  my ($fd, $now) = @_;
  return respond($fd, $last->{role}) if $last && $last->{started} >= $now - $MAX_AGE;
  my @open = sort { $a <=> $b } keys %started;
  my $seq;
  if (@open && $started{ $open[-1] } >= $now - $MAX_AGE) {
    $seq = $open[-1];
  } else {
    return respond($fd, 'unavailable') if @open >= $MAX_OUTSTANDING;
    $seq = $next_seq++;
    $started{$seq} = $now;
    $waiting{$seq} = [];
    if (!$psql && !start_psql()) {
      push @{ $waiting{$seq} }, $fd;
      return settle($seq, 'unavailable');
    }
    my $written = syswrite($psql->{in}, "SELECT pg_is_in_recovery()::text || ' $seq';\n");
    if (!defined $written) {
      push @{ $waiting{$seq} }, $fd;
      return stop_psql();
    }
  }
  $clients{$fd}{seq} = $seq;
  $clients{$fd}{deadline} = $now + $ANSWER_WITHIN;
  push @{ $waiting{$seq} }, $fd;
}

sub read_psql {
  my $n = sysread($psql->{out}, my $chunk, 4096);
  return if !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);
  return stop_psql() unless $n;    # EOF: psql exited (PostgreSQL down or connection lost)
  $psql->{buf} .= $chunk;
  while ($psql->{buf} =~ s/^([^\n]*)\n//) {
    my ($answer, $seq) = $1 =~ /^(true|false) (\d+)$/ or next;
    settle($seq, $answer eq 'true' ? 'replica' : 'primary');
  }
}

sub read_client {
  my ($fd, $now) = @_;
  my $client = $clients{$fd};
  my $n = sysread($client->{sock}, my $chunk, 4096);
  return if !defined $n && ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);
  $client->{buf} .= $chunk if $n;
  my $complete = !$n || $client->{buf} =~ /\r?\n\r?\n/ || length($client->{buf}) > 8192;
  return unless $complete;
  return drop($fd) if $client->{buf} eq '';
  ($client->{path}) = $client->{buf} =~ m{^(?:GET|HEAD|OPTIONS)\s+(\S+)};
  $client->{buf} = '';
  $select->remove($client->{sock});    # nothing more to read; the answer is written when known
  ask($fd, $now);
}

while (1) {
  my $now = now();
  my $wake = $now + 1;
  for my $fd (keys %clients) {
    my $c = $clients{$fd};
    my $due = defined $c->{seq} ? $c->{deadline} : $c->{since} + $REQUEST_WITHIN;
    $wake = $due if $due < $wake;
  }
  my @ready = $select->can_read($wake > $now ? $wake - $now : 0);
  $now = now();
  for my $handle (@ready) {
    if ($handle == $server) {
      while (my $sock = $server->accept) {
        if (keys %clients >= $MAX_CLIENTS) { close $sock; next; }
        $sock->blocking(0);
        $clients{ fileno $sock } = { sock => $sock, buf => '', since => $now };
        $select->add($sock);
      }
    } elsif ($psql && $handle == $psql->{out}) {
      read_psql();
    } elsif ($clients{ fileno $handle }) {
      read_client(fileno $handle, $now);
    }
  }
  $now = now();
  for my $fd (keys %clients) {
    my $c = $clients{$fd} or next;
    if (defined $c->{seq}) {
      next if $now < $c->{deadline};
      # No answer in time: a definite 503; the query's late answer is still read and discarded.
      $waiting{ $c->{seq} } = [ grep { $_ != $fd } @{ $waiting{ $c->{seq} } // [] } ];
      respond($fd, 'unavailable');
    } elsif ($now >= $c->{since} + $REQUEST_WITHIN) {
      drop($fd);
    }
  }
  my @open = sort { $a <=> $b } keys %started;
  stop_psql() if $psql && @open && $started{ $open[0] } < $now - $STUCK_AFTER;
}
