#!/bin/sh
# target.sh - create or destroy the pytest-telescope "local" benchmark target.
#
# Usage: target.sh create|destroy
#
# Called by main.tf through local-exec. It may run as root, so every input is
# validated here again (main.tf validates too) and every expansion is quoted.
#
# Inputs (environment):
#   TELESCOPE_NAME          1-8 chars of [a-z0-9]
#   TELESCOPE_MODE          netns | loopback
#   TELESCOPE_STATE_DIR     absolute, normalised path; owned by this target
#   TELESCOPE_SCRATCH_DIR   absolute, normalised path (default <state_dir>/scratch)
#   TELESCOPE_RATE_MBIT     tbf rate in Mbit/s, 0 = no shaping
#   TELESCOPE_DELAY_MS      netem one-way delay in ms, 0 = none
#   TELESCOPE_LOSS_PERCENT  netem loss in percent, 0 = none
# Debug aids:
#   TELESCOPE_LOCAL_FAIL_AT=STEP      make create fail at STEP (see `step` calls)
#   TELESCOPE_LOCAL_KEEP_ON_FAILURE=1 keep what a failed create made, for
#                                     inspection (destroy removes it)
#
# create: makes <state_dir> (0700, with an ownership marker) and the scratch
# dir; in netns mode two namespaces joined by a veth pair, tbf shaping and
# netem impairment; finally writes <state_dir>/status.json (see README.md).
# Leftovers of an earlier create of the same target are removed first. If a
# step fails, what was made is rolled back and the step is named on stderr.
#
# destroy: kills the processes left in the two namespaces, deletes the veth
# pair and the namespaces, removes <state_dir>. Idempotent: whatever is
# already gone is skipped.

set -u
umask 022
LC_ALL=C
export LC_ALL
PATH="/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export PATH

PROG=telescope-local
NETNS_DIR=/var/run/netns
MARKER_NAME=.telescope-local
ADDR_SERVER=10.200.0.1
ADDR_CLIENT=10.200.0.2
PREFIX_LEN=24
TBF_LATENCY=50ms
NETEM_LIMIT=100000

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
nap() { sleep 0.05 2>/dev/null || sleep 1; }

# ---------------------------------------------------------------- validation

is_decimal() {
	case "$1" in
	'' | .* | *. | *.*.* | *[!0-9.]*) return 1 ;;
	esac
	return 0
}

# awk does the arithmetic: POSIX sh has integers only.
num() { awk -v v="$1" 'BEGIN { printf "%.10g", v + 0 }'; }
num_gt0() { awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'; }
num_le() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v + 0 <= m + 0) }'; }

check_path() { # LABEL PATH
	case "$2" in
	/*) ;;
	*) die "$1 must be an absolute path, got '$2'" ;;
	esac
	case "$2" in
	*/ | *//* | */./* | */../* | */. | */..)
		die "$1 must be a normalised path other than / (no trailing slash, //, . or ..), got '$2'"
		;;
	*[[:cntrl:]]*) die "$1 must not contain control characters" ;;
	esac
}

check_number() { # LABEL VALUE MAX
	is_decimal "$2" || die "$1 must be a non-negative decimal number, got '$2'"
	num_le "$2" "$3" || die "$1 must be at most $3, got '$2'"
}

validate() {
	NAME=${TELESCOPE_NAME-}
	case "$NAME" in
	'' | *[!a-z0-9]*) die "name must be 1-8 characters of [a-z0-9], got '$NAME'" ;;
	esac
	[ "${#NAME}" -le 8 ] || die "name must be 1-8 characters of [a-z0-9], got '$NAME'"

	MODE=${TELESCOPE_MODE-}
	case "$MODE" in
	netns | loopback) ;;
	*) die "mode must be netns or loopback, got '$MODE'" ;;
	esac

	STATE_DIR=${TELESCOPE_STATE_DIR-}
	check_path state_dir "$STATE_DIR"
	SCRATCH_DIR=${TELESCOPE_SCRATCH_DIR:-$STATE_DIR/scratch}
	check_path scratch_dir "$SCRATCH_DIR"

	RATE=${TELESCOPE_RATE_MBIT:-0}
	DELAY=${TELESCOPE_DELAY_MS:-0}
	LOSS=${TELESCOPE_LOSS_PERCENT:-0}
	check_number rate_mbit "$RATE" 100000
	check_number delay_ms "$DELAY" 60000
	check_number loss_percent "$LOSS" 100
	RATE=$(num "$RATE")
	DELAY=$(num "$DELAY")
	LOSS=$(num "$LOSS")

	NS_SERVER="telescope-$NAME-server"
	NS_CLIENT="telescope-$NAME-client"
	IF_SERVER="ts${NAME}s"
	IF_CLIENT="ts${NAME}c"
	MARKER="$STATE_DIR/$MARKER_NAME"
	STATUS_FILE="$STATE_DIR/status.json"
}

# ---------------------------------------------------------------- teardown

ns_exists() { [ -e "$NETNS_DIR/$1" ]; }

ns_pids() { ip netns pids "$1" 2>/dev/null; }

signal_pids() { # SIGNAL PIDS(newline separated)
	printf '%s\n' "$2" | while IFS= read -r pid; do
		case "$pid" in
		'' | *[!0-9]*) continue ;;
		esac
		kill "-$1" "$pid" 2>/dev/null || :
	done
}

# Kill every process left in namespace $1 (only our own namespaces get here):
# SIGTERM, up to 1 s grace, then SIGKILL.
kill_ns_procs() {
	pids=$(ns_pids "$1")
	[ -n "$pids" ] || return 0
	log "stopping processes left in namespace $1: $(printf '%s' "$pids" | tr '\n' ' ')"
	signal_pids TERM "$pids"
	i=0
	while [ "$i" -lt 20 ]; do
		pids=$(ns_pids "$1")
		[ -n "$pids" ] || return 0
		nap
		i=$((i + 1))
	done
	signal_pids KILL "$pids"
	i=0
	while [ "$i" -lt 20 ]; do
		[ -n "$(ns_pids "$1")" ] || return 0
		nap
		i=$((i + 1))
	done
	log "warning: processes still in namespace $1 after SIGKILL"
}

teardown_netns() {
	_rc_ns=0
	for side in server client; do
		if [ "$side" = server ]; then
			ns=$NS_SERVER
			ifname=$IF_SERVER
		else
			ns=$NS_CLIENT
			ifname=$IF_CLIENT
		fi
		ns_exists "$ns" || continue
		kill_ns_procs "$ns"
		# Deleting one end deletes the pair, synchronously (namespace
		# cleanup in the kernel is asynchronous).
		if ip -n "$ns" link show dev "$ifname" >/dev/null 2>&1; then
			ip -n "$ns" link del dev "$ifname" 2>/dev/null || :
		fi
		if ! err=$(ip netns del "$ns" 2>&1); then
			ns_exists "$ns" && {
				log "error: could not delete namespace $ns: $err"
				_rc_ns=1
			}
		fi
	done
	return "$_rc_ns"
}

marker_owner() { # prints the name recorded in the marker, if any
	[ -f "$MARKER" ] || return 1
	sed -n 's/^name=//p' "$MARKER" | head -n 1
}

remove_state_dir() {
	if [ -L "$STATE_DIR" ]; then
		log "warning: state_dir $STATE_DIR is a symlink, not removing it"
		return 0
	fi
	[ -d "$STATE_DIR" ] || return 0
	if [ "$(marker_owner)" = "$NAME" ]; then
		rm -rf -- "$STATE_DIR" || {
			log "error: could not remove state_dir $STATE_DIR"
			return 1
		}
	elif [ -z "$(ls -A -- "$STATE_DIR")" ]; then
		rmdir -- "$STATE_DIR" 2>/dev/null || :
	else
		log "warning: not removing state_dir $STATE_DIR: it was not created by target $NAME"
	fi
	return 0
}

teardown() {
	_rc=0
	if [ "$MODE" = netns ]; then
		teardown_netns || _rc=1
	fi
	remove_state_dir || _rc=1
	return "$_rc"
}

# ---------------------------------------------------------------- create

CREATING=0

create_failed() { # STEP DETAIL
	trap - INT TERM HUP
	log "error: create of target '$NAME' ($MODE) failed at step '$1': $2"
	if [ "$CREATING" = 1 ]; then
		if [ -n "${TELESCOPE_LOCAL_KEEP_ON_FAILURE:-}" ]; then
			log "TELESCOPE_LOCAL_KEEP_ON_FAILURE is set: leaving the partial target for inspection; terraform destroy removes it"
		elif teardown; then
			log "rolled back: the partial target was removed"
		else
			log "error: rollback incomplete; run terraform destroy"
		fi
	fi
	exit 1
}

# step NAME COMMAND...: run COMMAND; on failure roll back and exit, naming
# the step and quoting the command's own error output.
step() {
	_step=$1
	shift
	if [ "${TELESCOPE_LOCAL_FAIL_AT:-}" = "$_step" ]; then
		create_failed "$_step" "injected failure (TELESCOPE_LOCAL_FAIL_AT=$_step)"
	fi
	if _err=$("$@" 2>&1); then
		return 0
	fi
	create_failed "$_step" "'$*' failed: $(printf '%s' "$_err" | tr '\n' ' ')"
}

write_marker() { printf 'name=%s\n' "$NAME" >"$MARKER"; }

# Checks that need no rollback: state_dir must be ours (or empty), and the
# namespaces must not belong to somebody else.
prepare() {
	if [ "$MODE" = netns ] && [ "$(id -u)" != 0 ]; then
		die "mode netns needs root (network namespaces, veth, tc)"
	fi
	if [ -L "$STATE_DIR" ] || { [ -e "$STATE_DIR" ] && [ ! -d "$STATE_DIR" ]; }; then
		die "state_dir $STATE_DIR exists and is not a directory"
	fi
	if [ -d "$STATE_DIR" ]; then
		owner=$(marker_owner) || owner=
		if [ "$owner" = "$NAME" ]; then
			log "removing leftovers of an earlier create of target '$NAME'"
			teardown || die "could not remove the leftovers of an earlier create of target '$NAME'"
		elif [ -n "$owner" ]; then
			die "state_dir $STATE_DIR belongs to target '$owner', not '$NAME'"
		elif [ -n "$(ls -A -- "$STATE_DIR")" ]; then
			die "state_dir $STATE_DIR is not empty and was not created by this module; refusing to take it over"
		fi
	fi
	if [ "$MODE" = netns ]; then
		for ns in "$NS_SERVER" "$NS_CLIENT"; do
			if ns_exists "$ns"; then
				die "namespace $ns already exists: another target uses name '$NAME' (names must be unique), or a crashed run left it (ip netns del $ns)"
			fi
		done
	fi
}

# netem: try it; a kernel without it is recorded, not fatal.
IMP_AVAILABLE=false
IMP_APPLIED=false
IMP_REASON=

netem_try() { # NS IF ARGS...
	_ns=$1
	_if=$2
	shift 2
	if _err=$(tc -n "$_ns" qdisc add dev "$_if" root handle 1: netem "$@" 2>&1); then
		return 0
	fi
	IMP_REASON="netem qdisc unavailable: $(printf '%s' "$_err" | head -n 1)"
	return 1
}

setup_impairment() {
	requested=false
	if num_gt0 "$DELAY" || num_gt0 "$LOSS"; then
		requested=true
	fi
	if [ "$requested" = false ]; then
		# Probe only, so status.json tells whether impairment could be used.
		if netem_try "$NS_SERVER" "$IF_SERVER"; then
			tc -n "$NS_SERVER" qdisc del dev "$IF_SERVER" root 2>/dev/null || :
			IMP_AVAILABLE=true
		fi
		return 0
	fi
	set -- limit "$NETEM_LIMIT"
	if num_gt0 "$DELAY"; then set -- "$@" delay "${DELAY}ms"; fi
	if num_gt0 "$LOSS"; then set -- "$@" loss "${LOSS}%"; fi
	if netem_try "$NS_SERVER" "$IF_SERVER" "$@"; then
		if netem_try "$NS_CLIENT" "$IF_CLIENT" "$@"; then
			IMP_AVAILABLE=true
			IMP_APPLIED=true
		else
			tc -n "$NS_SERVER" qdisc del dev "$IF_SERVER" root 2>/dev/null || :
		fi
	fi
	if [ "$IMP_APPLIED" = false ]; then
		log "warning: delay/loss requested but not applied: $IMP_REASON"
	fi
}

SHAPING_APPLIED=false
SHAPING_REASON=
BURST=

# tbf on the egress of both ends. The burst covers 4 ms at the rate (timer
# and scheduling slack; 1 Gbit/s needs >= 64 KiB to be reached) but at least
# 10 full-size frames.
setup_shaping() {
	num_gt0 "$RATE" || return 0
	BURST=$(awk -v r="$RATE" 'BEGIN { b = r * 1000000 / 8 * 0.004; if (b < 15140) b = 15140; printf "%d", b + 0.5 }')
	if [ "$IMP_APPLIED" = true ]; then
		set -- parent 1:1 handle 10:
	else
		set -- root handle 1:
	fi
	step shaping-server tc -n "$NS_SERVER" qdisc add dev "$IF_SERVER" "$@" \
		tbf rate "${RATE}mbit" burst "$BURST" latency "$TBF_LATENCY"
	step shaping-client tc -n "$NS_CLIENT" qdisc add dev "$IF_CLIENT" "$@" \
		tbf rate "${RATE}mbit" burst "$BURST" latency "$TBF_LATENCY"
	SHAPING_APPLIED=true
}

create_netns() {
	step netns-server ip netns add "$NS_SERVER"
	step netns-client ip netns add "$NS_CLIENT"
	step veth ip link add "$IF_SERVER" netns "$NS_SERVER" type veth \
		peer name "$IF_CLIENT" netns "$NS_CLIENT"
	step addr-server ip -n "$NS_SERVER" addr add "$ADDR_SERVER/$PREFIX_LEN" dev "$IF_SERVER"
	step addr-client ip -n "$NS_CLIENT" addr add "$ADDR_CLIENT/$PREFIX_LEN" dev "$IF_CLIENT"
	step lo-server ip -n "$NS_SERVER" link set dev lo up
	step lo-client ip -n "$NS_CLIENT" link set dev lo up
	setup_impairment
	setup_shaping
	step link-server ip -n "$NS_SERVER" link set dev "$IF_SERVER" up
	step link-client ip -n "$NS_CLIENT" link set dev "$IF_CLIENT" up
}

json_str() { # "..." with \ and " escaped, control characters dropped
	printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037\177' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
json_str_or_null() { if [ -n "$1" ]; then json_str "$1"; else printf null; fi; }

json_endpoint() { # NAMESPACE ADDRESS INTERFACE
	printf '{"namespace": %s, "address": %s, "interface": %s}' \
		"$(json_str_or_null "$1")" "$(json_str "$2")" "$(json_str "$3")"
}

write_status() {
	if [ "$MODE" = netns ]; then
		server=$(json_endpoint "$NS_SERVER" "$ADDR_SERVER" "$IF_SERVER")
		client=$(json_endpoint "$NS_CLIENT" "$ADDR_CLIENT" "$IF_CLIENT")
	else
		server=$(json_endpoint "" 127.0.0.1 lo)
		client=$server
	fi
	requested=false
	if num_gt0 "$DELAY" || num_gt0 "$LOSS"; then requested=true; fi
	if [ "$SHAPING_APPLIED" = true ]; then qdisc='"tbf"'; else qdisc=null; fi
	tmp="$STATUS_FILE.tmp"
	{
		printf '{\n'
		printf '  "schema_version": 1,\n'
		printf '  "name": %s,\n' "$(json_str "$NAME")"
		printf '  "mode": %s,\n' "$(json_str "$MODE")"
		printf '  "created_at": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
		printf '  "state_dir": %s,\n' "$(json_str "$STATE_DIR")"
		printf '  "scratch_dir": %s,\n' "$(json_str "$SCRATCH_DIR")"
		printf '  "endpoints": {\n    "server": %s,\n    "client": %s\n  },\n' "$server" "$client"
		printf '  "shaping": {"rate_mbit": %s, "applied": %s, "qdisc": %s, "burst_bytes": %s, "reason": %s},\n' \
			"$RATE" "$SHAPING_APPLIED" "$qdisc" "${BURST:-null}" "$(json_str_or_null "$SHAPING_REASON")"
		printf '  "impairment": {"delay_ms": %s, "loss_percent": %s, "requested": %s, "available": %s, "applied": %s, "reason": %s}\n' \
			"$DELAY" "$LOSS" "$requested" "$IMP_AVAILABLE" "$IMP_APPLIED" "$(json_str_or_null "$IMP_REASON")"
		printf '}\n'
	} >"$tmp" && mv -f -- "$tmp" "$STATUS_FILE"
}

do_create() {
	prepare
	CREATING=1
	trap 'create_failed signal "interrupted by a signal"' INT TERM HUP
	step state-dir mkdir -p -- "$STATE_DIR"
	step state-dir chmod 0700 -- "$STATE_DIR"
	step marker write_marker
	step scratch-dir mkdir -p -- "$SCRATCH_DIR"
	if [ "$MODE" = netns ]; then
		create_netns
	else
		if num_gt0 "$RATE"; then
			SHAPING_REASON="loopback mode: shaping needs mode = \"netns\""
			log "warning: rate_mbit ignored: $SHAPING_REASON"
		fi
		IMP_REASON="loopback mode: impairment needs mode = \"netns\""
		if num_gt0 "$DELAY" || num_gt0 "$LOSS"; then
			log "warning: delay_ms/loss_percent ignored: $IMP_REASON"
		fi
	fi
	step status write_status
	trap - INT TERM HUP
	log "created $MODE target '$NAME' (shaping applied: $SHAPING_APPLIED, impairment applied: $IMP_APPLIED)"
}

do_destroy() {
	teardown || die "destroy of target '$NAME' incomplete (see above)"
	log "destroyed $MODE target '$NAME'"
}

case "${1-}" in
create)
	validate
	do_create
	;;
destroy)
	validate
	do_destroy
	;;
*)
	die "usage: target.sh create|destroy (inputs in TELESCOPE_* environment variables)"
	;;
esac
