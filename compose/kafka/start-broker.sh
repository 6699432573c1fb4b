#!/bin/sh
# Start one Kafka 4.x KRaft node in combined mode (process.roles=broker,controller).
#
# Runs unchanged on the upstream apache/kafka:4.1.1 image (Alpine, busybox sh) and on the
# offline bss-offline/kafka image (Debian): it relies only on a POSIX sh, `java` on PATH and
# the jars in $KAFKA_HOME/libs -- never on bin/*.sh or on the upstream image's entrypoint.
#
# Environment (required unless a default is given):
#   KAFKA_NODE_ID                   node.id of this node, e.g. 1
#   KAFKA_CLUSTER_ID                cluster id, same on every node (22-char base64url UUID);
#                                   default 5L6g3nShT-eMCtK--X86sw
#   KAFKA_CONTROLLER_QUORUM_VOTERS  static voters "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093";
#                                   default "$KAFKA_NODE_ID@$KAFKA_ADVERTISED_HOST:9093" (1 node).
#                                   The CONTROLLER listener port is taken from this node's entry.
#   KAFKA_ADVERTISED_HOST           name other containers reach this node by (its network alias);
#                                   default $(hostname)
#   KAFKA_PORT                      internal PLAINTEXT listener port; default 9092
#   KAFKA_EXTERNAL_ADVERTISED       optional "host:port" advertised on a second listener (EXTERNAL)
#                                   for clients on the docker host (a published port)
#   KAFKA_EXTERNAL_HOST + KAFKA_EXTERNAL_PORT
#                                   alternative spelling of KAFKA_EXTERNAL_ADVERTISED
#   KAFKA_EXTERNAL_ADVERTISED_FILE  optional file to wait for (up to KAFKA_EXTERNAL_WAIT_SECONDS,
#                                   default 120) that holds "host:port", for a port only known
#                                   after the container started (e.g. a random mapped port)
#   KAFKA_EXTERNAL_LISTEN_PORT      container port of the EXTERNAL listener; default 9094
#   KAFKA_REPLICATION_FACTOR        RF of internal topics and default.replication.factor;
#                                   default min(3, number of voters)
#   KAFKA_MIN_INSYNC_REPLICAS       min.insync.replicas; default 1
#   KAFKA_NUM_PARTITIONS            num.partitions; default 1
#   KAFKA_EXTRA_PROPERTIES          extra server.properties lines (newline separated), appended last
#   KAFKA_LOG_LEVEL                 root log level; default INFO
#   KAFKA_DATA_DIR                  log.dirs; default /tmp/kafka-data (formatted on first start,
#                                   kept as is when already formatted)
#   KAFKA_CONFIG_DIR                where server.properties and log4j2.properties are written;
#                                   default /tmp/kafka-config
#   KAFKA_HEAP_OPTS                 default "-Xms256m -Xmx512m"
#   KAFKA_JIT_OPTS                  JIT compiler options; default "-XX:TieredStopAtLevel=1" (C1
#                                   only). Three brokers sharing two cores spent 0.67-0.71 cores in
#                                   their C2 compiler threads through minutes of 50 events/s, and
#                                   stream latency flipped with it (docs/streams.md, "The brokers' JIT: C1 only").
#                                   Set it to "" on a host with cores to spare per broker: C2 then
#                                   finishes compiling and its code is faster at peak.
#   KAFKA_JVM_OPTS                  extra JVM options (last, so they override the above)
#   KAFKA_HOME                      default /opt/kafka
#
# Host clients: a client outside the docker network bootstraps through EXTERNAL and then talks to
# each partition leader at *its* EXTERNAL address, so give every node an external listener. The
# fixtures pick a free host port per node up front, publish it as <port>:9094 and pass
# KAFKA_EXTERNAL_ADVERTISED=127.0.0.1:<port>. With a random published port instead, set
# KAFKA_EXTERNAL_ADVERTISED_FILE and write "127.0.0.1:<mapped port>" into that file (docker exec)
# once the container runs; the node waits for it before it starts.
#
# Ready when the log (stdout) shows "Kafka Server started". With several voters a node only gets
# there once a quorum of voters is up, so start all nodes before waiting on any of them.
set -eu

die() { echo "start-broker.sh: $*" >&2; exit 2; }

KAFKA_HOME="${KAFKA_HOME:-/opt/kafka}"
NODE_ID="${KAFKA_NODE_ID:?KAFKA_NODE_ID must be set}"
CLUSTER_ID="${KAFKA_CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}"
ADV_HOST="${KAFKA_ADVERTISED_HOST:-$(hostname 2>/dev/null || cat /etc/hostname)}"
PORT="${KAFKA_PORT:-9092}"
VOTERS="${KAFKA_CONTROLLER_QUORUM_VOTERS:-$NODE_ID@$ADV_HOST:9093}"
CONFIG_DIR="${KAFKA_CONFIG_DIR:-/tmp/kafka-config}"
DATA_DIR="${KAFKA_DATA_DIR:-/tmp/kafka-data}"
LOG_LEVEL="${KAFKA_LOG_LEVEL:-INFO}"

case "$NODE_ID" in '' | *[!0-9]*) die "KAFKA_NODE_ID must be a non-negative integer, got '$NODE_ID'" ;; esac

# Count the voters and find this node's controller port in its voter entry.
VOTER_COUNT=0
CONTROLLER_PORT=
old_ifs="$IFS"
IFS=,
for voter in $VOTERS; do
  IFS="$old_ifs"
  case "$voter" in *@*:*) ;; *) die "bad voter '$voter' in KAFKA_CONTROLLER_QUORUM_VOTERS (want id@host:port)" ;; esac
  VOTER_COUNT=$((VOTER_COUNT + 1))
  if [ "${voter%%@*}" = "$NODE_ID" ]; then CONTROLLER_PORT="${voter##*:}"; fi
done
IFS="$old_ifs"
[ -n "$CONTROLLER_PORT" ] || die "node $NODE_ID is not among KAFKA_CONTROLLER_QUORUM_VOTERS=$VOTERS"

if [ "$VOTER_COUNT" -ge 3 ]; then DEFAULT_RF=3; else DEFAULT_RF="$VOTER_COUNT"; fi
RF="${KAFKA_REPLICATION_FACTOR:-$DEFAULT_RF}"
if [ "$RF" -ge 2 ]; then INTERNAL_MIN_ISR=2; else INTERNAL_MIN_ISR=1; fi

# Optional listener advertised to the docker host.
EXTERNAL="${KAFKA_EXTERNAL_ADVERTISED:-}"
if [ -z "$EXTERNAL" ] && [ -n "${KAFKA_EXTERNAL_HOST:-}" ] && [ -n "${KAFKA_EXTERNAL_PORT:-}" ]; then
  EXTERNAL="$KAFKA_EXTERNAL_HOST:$KAFKA_EXTERNAL_PORT"
fi
if [ -z "$EXTERNAL" ] && [ -n "${KAFKA_EXTERNAL_ADVERTISED_FILE:-}" ]; then
  waited=0
  limit="${KAFKA_EXTERNAL_WAIT_SECONDS:-120}"
  echo "start-broker.sh: waiting for $KAFKA_EXTERNAL_ADVERTISED_FILE (host:port to advertise)"
  while :; do
    if [ -s "$KAFKA_EXTERNAL_ADVERTISED_FILE" ]; then
      EXTERNAL="$(tr -d ' \r\n\t' <"$KAFKA_EXTERNAL_ADVERTISED_FILE")"
      [ -n "$EXTERNAL" ] && break
    fi
    [ "$waited" -lt "$limit" ] || die "$KAFKA_EXTERNAL_ADVERTISED_FILE did not appear within ${limit}s"
    sleep 1
    waited=$((waited + 1))
  done
fi

LISTENERS="PLAINTEXT://:$PORT,CONTROLLER://:$CONTROLLER_PORT"
ADVERTISED="PLAINTEXT://$ADV_HOST:$PORT"
PROTOCOL_MAP="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
if [ -n "$EXTERNAL" ]; then
  case "$EXTERNAL" in *:*) ;; *) die "external address '$EXTERNAL' is not host:port" ;; esac
  EXTERNAL_LISTEN_PORT="${KAFKA_EXTERNAL_LISTEN_PORT:-9094}"
  LISTENERS="$LISTENERS,EXTERNAL://:$EXTERNAL_LISTEN_PORT"
  ADVERTISED="$ADVERTISED,EXTERNAL://$EXTERNAL"
  PROTOCOL_MAP="$PROTOCOL_MAP,EXTERNAL:PLAINTEXT"
fi

mkdir -p "$CONFIG_DIR" "$DATA_DIR"
SERVER_PROPERTIES="$CONFIG_DIR/server.properties"
LOG4J2_CONFIG="$CONFIG_DIR/log4j2.properties"

cat >"$SERVER_PROPERTIES" <<EOF
# Written by start-broker.sh
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$VOTERS
controller.listener.names=CONTROLLER
listeners=$LISTENERS
advertised.listeners=$ADVERTISED
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$PROTOCOL_MAP
log.dirs=$DATA_DIR
auto.create.topics.enable=false
num.partitions=${KAFKA_NUM_PARTITIONS:-1}
default.replication.factor=$RF
min.insync.replicas=${KAFKA_MIN_INSYNC_REPLICAS:-1}
offsets.topic.replication.factor=$RF
transaction.state.log.replication.factor=$RF
transaction.state.log.min.isr=$INTERNAL_MIN_ISR
share.coordinator.state.topic.replication.factor=$RF
share.coordinator.state.topic.min.isr=$INTERNAL_MIN_ISR
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
EOF
if [ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]; then
  printf '%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$SERVER_PROPERTIES"
fi

cat >"$LOG4J2_CONFIG" <<EOF
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.target = SYSTEM_OUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $LOG_LEVEL
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel\$
logger.network.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF

CP="$KAFKA_HOME/libs/*"
LOG_OPT="-Dlog4j2.configurationFile=file:$LOG4J2_CONFIG"

echo "start-broker.sh: node $NODE_ID, voters $VOTERS, advertised $ADVERTISED, replication factor $RF"

# Format the storage on first start; an already formatted log dir is kept (restarts).
java -Xmx256m -XX:TieredStopAtLevel=1 "$LOG_OPT" -cp "$CP" kafka.tools.StorageTool format \
  --cluster-id "$CLUSTER_ID" --config "$SERVER_PROPERTIES" --ignore-formatted

set -f # the option variables below are split into words on purpose, but never globbed
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} \
  -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
  -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
  ${KAFKA_JIT_OPTS--XX:TieredStopAtLevel=1} ${KAFKA_JVM_OPTS:-} "$LOG_OPT" -cp "$CP" kafka.Kafka "$SERVER_PROPERTIES"
