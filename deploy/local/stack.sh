#!/usr/bin/env bash
# The local stack without Docker: a real Apache Kafka broker (KRaft, single node) assembled
# from Maven Central jars and run with the local JDK, and Debian's redis-server with AOF.
#
#   deploy/local/stack.sh up       install what is missing, start both (reuses running ones)
#   deploy/local/stack.sh down     stop what this script started
#   deploy/local/stack.sh status   say what answers where
#   ... --redis-cluster            also a Redis Cluster: 3 primaries + 3 replicas of redis-server
#                                  on 127.0.0.1:7001-7006 (AOF on; STOCKLINE_REDIS_CLUSTER_PORT
#                                  moves the first port); `down --redis-cluster` stops only it
#
# Everything outside the repository: jars in $STOCKLINE_CACHE (default ~/.cache/stockline),
# data and logs in $STOCKLINE_STATE (default $STOCKLINE_CACHE/state).
set -euo pipefail
# a step that fails says which one (set -e alone exits without a word)
trap 'echo "[stack] error: \"$BASH_COMMAND\" failed (exit $?, line $LINENO of $0)" >&2' ERR

here=$(cd "$(dirname "$0")" && pwd)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
CACHE=${STOCKLINE_CACHE:-$HOME/.cache/stockline}
STATE=${STOCKLINE_STATE:-$CACHE/state}
KAFKA_PORT=${STOCKLINE_KAFKA_PORT:-9092}
CONTROLLER_PORT=${STOCKLINE_KAFKA_CONTROLLER_PORT:-9093}
REDIS_PORT=${STOCKLINE_REDIS_PORT:-6379}
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$STATE/kafka-$KAFKA_PORT"
REDIS_DIR="$STATE/redis-$REDIS_PORT"
CLUSTER_PORT=${STOCKLINE_REDIS_CLUSTER_PORT:-7001}
CLUSTER_NODES=6 # 3 primaries, each with one replica
CLUSTER_NODE_TIMEOUT_MS=${STOCKLINE_REDIS_CLUSTER_NODE_TIMEOUT_MS:-5000}
CLUSTER_DIR="$STATE/redis-cluster-$CLUSTER_PORT"

say() { printf '[stack] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds what logfile
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    port_open "$1" && return 0
    sleep 0.2
  done
  [ -f "$4" ] && tail -n 30 "$4" >&2
  die "$3 did not open 127.0.0.1:$1 within $2 s (log: $4)"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_redis_installed() {
  command -v redis-server >/dev/null && return 0
  say "installing redis-server from Debian's packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
}

ensure_java() {
  command -v java >/dev/null || die "java not found: Kafka $KAFKA_VERSION needs a JDK 17+"
  command -v mvn >/dev/null || die "mvn not found: it assembles the broker from Maven Central"
}

ensure_kafka_jars() {
  [ -f "$LIBS/.complete" ] && return 0
  say "assembling Kafka $KAFKA_VERSION from Maven Central into $LIBS"
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  if ! mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS"; then
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
  fi
  touch "$LIBS/.complete"
}

write_kafka_properties() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.enable=true
EOF
}

kafka_java() {
  java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -cp "$LIBS/*" "$@"
}

start_kafka() {
  if port_open "$KAFKA_PORT"; then say "Kafka already answers on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  ensure_java
  ensure_kafka_jars
  write_kafka_properties
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
      >"$KAFKA_DIR/format.log" 2>&1 || { cat "$KAFKA_DIR/format.log" >&2; die "formatting KRaft storage failed"; }
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $KAFKA_DIR/server.log)"
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -cp "$LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/server.log" 2>&1 </dev/null &
  echo $! >"$KAFKA_DIR/pid"
  wait_port "$KAFKA_PORT" 90 "Kafka" "$KAFKA_DIR/server.log"
}

# Redis persisted as a production deployment would run it (README, "Running Redis for
# stockline"): AOF fsynced every second; rewrites rare, because each one forks a child that
# competes with the pipeline for the cores (~1 s stalls on a 2-core box), and compact,
# because the rewritten AOF starts with an RDB image; fsync kept on during a rewrite, so
# a host crash then loses one second, not the rewrite's duration; no RDB snapshots (the
# AOF is the persistence, and each snapshot would be one more fork).
REDIS_PERSISTENCE=(
  appendonly yes
  appendfsync everysec
  aof-use-rdb-preamble yes
  auto-aof-rewrite-percentage 100
  auto-aof-rewrite-min-size 1gb
  no-appendfsync-on-rewrite no
  save ""
)

redis_args() { # the persistence settings as redis-server options
  local i
  for ((i = 0; i < ${#REDIS_PERSISTENCE[@]}; i += 2)); do
    printf -- '--%s\n%s\n' "${REDIS_PERSISTENCE[i]}" "${REDIS_PERSISTENCE[i + 1]}"
  done
}

as_config_value() { # how CONFIG GET prints a setting: sizes in bytes
  case "$1" in
    *gb) echo $(("${1%gb}" * 1024 * 1024 * 1024)) ;;
    *mb) echo $(("${1%mb}" * 1024 * 1024)) ;;
    *) echo "$1" ;;
  esac
}

check_redis_persistence() { # a Redis reused as it runs: say which settings differ
  command -v redis-cli >/dev/null || return 0
  local i name want got
  for ((i = 0; i < ${#REDIS_PERSISTENCE[@]}; i += 2)); do
    name=${REDIS_PERSISTENCE[i]}
    want=$(as_config_value "${REDIS_PERSISTENCE[i + 1]}")
    got=$(redis-cli -p "$REDIS_PORT" --raw config get "$name" 2>/dev/null | sed -n 2p) || return 0
    [ "$got" = "$want" ] || say "note: the running Redis has $name '$got', this script sets '$want' (applies when it is started here)"
  done
}

start_redis() {
  if port_open "$REDIS_PORT"; then
    say "Redis already answers on 127.0.0.1:$REDIS_PORT"
    check_redis_persistence
    return 0
  fi
  ensure_redis_installed
  mkdir -p "$REDIS_DIR"
  say "starting redis-server on 127.0.0.1:$REDIS_PORT (AOF everysec, dir: $REDIS_DIR)"
  local args
  mapfile -t args < <(redis_args)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" "${args[@]}" \
    --daemonize yes --pidfile "$REDIS_DIR/pid" --logfile "$REDIS_DIR/redis.log"
  wait_port "$REDIS_PORT" 20 "redis-server" "$REDIS_DIR/redis.log"
}

cluster_ports() { seq "$CLUSTER_PORT" $((CLUSTER_PORT + CLUSTER_NODES - 1)); }

# empty when nothing answers there (never fails: status runs under set -e -o pipefail)
cluster_state() { { redis-cli -p "$CLUSTER_PORT" cluster info 2>/dev/null || true; } | tr -d '\r' | sed -n 's/^cluster_state://p'; }

start_redis_cluster() {
  local port
  if [ "$(cluster_state)" = ok ]; then
    say "Redis Cluster already answers on 127.0.0.1:$CLUSTER_PORT (state ok)"
    return 0
  fi
  ensure_redis_installed
  for port in $(cluster_ports); do
    if port_open "$port"; then continue; fi
    mkdir -p "$CLUSTER_DIR/$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$CLUSTER_DIR/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "$CLUSTER_NODE_TIMEOUT_MS" \
      --appendonly yes --appendfsync everysec --save "" \
      --daemonize yes --pidfile "$CLUSTER_DIR/$port/pid" --logfile "$CLUSTER_DIR/$port/redis.log"
  done
  for port in $(cluster_ports); do
    wait_port "$port" 20 "redis-server (cluster node)" "$CLUSTER_DIR/$port/redis.log"
  done
  # nodes that kept their nodes.conf rejoin by themselves; a fresh set needs creating
  if [ "$(redis-cli -p "$CLUSTER_PORT" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" -lt "$CLUSTER_NODES" ]; then
    say "creating the Redis Cluster on 127.0.0.1:$CLUSTER_PORT-$((CLUSTER_PORT + CLUSTER_NODES - 1))"
    # shellcheck disable=SC2046
    redis-cli --cluster create $(cluster_ports | sed 's/^/127.0.0.1:/') \
      --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 \
      || { cat "$CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  for _ in $(seq 1 100); do
    [ "$(cluster_state)" = ok ] && { say "Redis Cluster up on 127.0.0.1:$CLUSTER_PORT (state ok)"; return 0; }
    sleep 0.2
  done
  die "the Redis Cluster on 127.0.0.1:$CLUSTER_PORT did not reach state ok (logs: $CLUSTER_DIR)"
}

stop_redis_cluster() {
  local port
  for port in $(cluster_ports); do stop_pidfile "$CLUSTER_DIR/$port/pid" "redis-server :$port"; done
}

stop_pidfile() { # pidfile what
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  if kill "$pid" 2>/dev/null; then
    say "stopping $2 (pid $pid)"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

status() {
  port_open "$KAFKA_PORT" && say "Kafka: up on 127.0.0.1:$KAFKA_PORT" || say "Kafka: down (127.0.0.1:$KAFKA_PORT)"
  port_open "$REDIS_PORT" && say "Redis: up on 127.0.0.1:$REDIS_PORT" || say "Redis: down (127.0.0.1:$REDIS_PORT)"
  local state
  state=$(cluster_state)
  [ -n "$state" ] && say "Redis Cluster: $state on 127.0.0.1:$CLUSTER_PORT" || say "Redis Cluster: down (127.0.0.1:$CLUSTER_PORT)"
}

with_cluster=
case "${2:-}" in
  "") ;;
  --redis-cluster) with_cluster=1 ;;
  *) echo "usage: $0 up|down|status|install [--redis-cluster]" >&2; exit 2 ;;
esac

case "${1:-}" in
  up) start_redis; start_kafka; [ -z "$with_cluster" ] || start_redis_cluster; status ;;
  down)
    if [ -n "$with_cluster" ]; then stop_redis_cluster; exit 0; fi
    stop_pidfile "$KAFKA_DIR/pid" Kafka; stop_pidfile "$REDIS_DIR/pid" redis-server; stop_redis_cluster ;;
  status) status ;;
  install) ensure_redis_installed; ensure_java; ensure_kafka_jars ;;
  *) echo "usage: $0 up|down|status|install [--redis-cluster]" >&2; exit 2 ;;
esac
