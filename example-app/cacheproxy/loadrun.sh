#!/usr/bin/env bash
# loadrun.sh: the cacheproxy-against-Varnish load run of docs/responsecache.md.
#
# Starts redis-server, the load origin (loadorigin: 2 KiB, public,
# max-age=3600), Varnish 7.1 and cacheproxy in its configurations, all on
# loopback, warms every cache, checks each answers from cache, then runs
# wrk against each target in turn, ROUNDS times (the order rotates every
# round so that all see the same machine load), and prints requests/s per
# round, the median and the ratio to Varnish's median.
#
#   example-app/cacheproxy/loadrun.sh                     # defaults below
#   ROUNDS=5 DURATION=8s CONNS=32 THREADS=2 example-app/cacheproxy/loadrun.sh
#   TARGETS="varnish local" example-app/cacheproxy/loadrun.sh
#   URLS=100 example-app/cacheproxy/loadrun.sh   # wrk cycles through /page/0../page/99
#
# Targets: origin (no cache), varnish, local (cacheproxy, Redis + 64 MiB
# in-process tier: the default flags), redis (cacheproxy, Redis only),
# redis-noap (Redis only, -autopipeline=false), mini (embedded miniredis +
# tier).
# A cacheproxy target name ending in -p1 runs with -procs 1 (GOMAXPROCS=1),
# e.g. local-p1. PROXYFLAGS are added to every cacheproxy. With
# OLDPROXY=/path/to/an/older/cacheproxy binary, a target old-NAME runs that
# binary with NAME's flags, for a before/after comparison in the same run
# (e.g. TARGETS="varnish local old-local").
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
TARGETS=${TARGETS:-"origin varnish local redis"}
BASE=${BASE:-19080} # origin BASE, cacheproxy BASE+1.., Varnish BASE+9, Redis BASE+299
URLPATH=${URLPATH:-/page}
URLS=${URLS:-1} # more than 1: every wrk connection cycles through URLPATH/0 .. URLPATH/(URLS-1)
PROXYFLAGS=${PROXYFLAGS:-}

dir=$(mktemp -d /tmp/rc-loadrun.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/cacheproxy" ./example-app/cacheproxy
go build -o "$dir/loadorigin" ./example-app/cacheproxy/loadorigin

redis_port=$((BASE + 299))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!)
"$dir/loadorigin" -addr "127.0.0.1:$BASE" >"$dir/origin.log" 2>&1 &
pids+=($!)

declare -A port
port[origin]=$BASE
n=1
for t in $TARGETS; do
	case $t in
	origin) ;;
	varnish)
		port[varnish]=$((BASE + 9))
		varnishd -a "127.0.0.1:${port[varnish]}" -b "127.0.0.1:$BASE" -s malloc,256m -F \
			-n "$dir/varnish" >"$dir/varnish.log" 2>&1 &
		pids+=($!)
		;;
	local | redis | redis-noap | mini | local-p1 | redis-p1 | redis-noap-p1 | mini-p1 | old-*)
		port[$t]=$((BASE + n))
		bin=$dir/cacheproxy
		name=$t
		if [[ $t == old-* ]]; then
			bin=${OLDPROXY:?old-* targets need OLDPROXY=path-to-binary}
			name=${t#old-}
		fi
		flags=(-upstream "http://127.0.0.1:$BASE" -addr "127.0.0.1:${port[$t]}")
		[[ $name == *-p1 ]] && flags+=(-procs 1)
		case ${name%-p1} in
		local) flags+=(-redis "redis://127.0.0.1:$redis_port/$n") ;;
		redis) flags+=(-redis "redis://127.0.0.1:$redis_port/$n" -local-bytes 0) ;;
		redis-noap) flags+=(-redis "redis://127.0.0.1:$redis_port/$n" -local-bytes 0 -autopipeline=false) ;;
		mini) ;;
		esac
		# shellcheck disable=SC2206
		flags+=($PROXYFLAGS)
		"$bin" "${flags[@]}" >"$dir/$t.log" 2>&1 &
		pids+=($!)
		n=$((n + 1))
		;;
	*)
		echo "unknown target $t" >&2
		exit 2
		;;
	esac
done

paths=("$URLPATH")
wrkscript=()
if ((URLS > 1)); then
	paths=()
	for ((i = 0; i < URLS; i++)); do paths+=("$URLPATH/$i"); done
	cat >"$dir/urls.lua" <<LUA
local n = $URLS
local i = 0
request = function()
	i = (i + 1) % n
	return wrk.format("GET", "$URLPATH/" .. i)
end
LUA
	wrkscript=(-s "$dir/urls.lua")
fi

# Wait for every listener, then warm each cache and check it answers hits.
for t in $TARGETS; do
	for _ in $(seq 100); do
		curl -fs -o /dev/null "http://127.0.0.1:${port[$t]}$URLPATH" && break
		sleep 0.1
	done
	for _ in 1 2 3; do
		for p in "${paths[@]}"; do curl -fs -o /dev/null "http://127.0.0.1:${port[$t]}$p"; done
	done
	hdrs=$(curl -fs -D - -o /dev/null "http://127.0.0.1:${port[$t]}${paths[-1]}")
	case $t in
	origin) ;;
	varnish) grep -qi '^Age: [0-9]' <<<"$hdrs" || { echo "varnish: no hit"; echo "$hdrs"; exit 1; } ;;
	*) grep -qi '^Cache-Status: .*hit' <<<"$hdrs" || { echo "$t: no hit"; echo "$hdrs"; exit 1; } ;;
	esac
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load average at start:$(uptime | sed 's/.*load average://')"
echo "# wrk -t$THREADS -c$CONNS -d$DURATION ${wrkscript[*]:+(-s urls.lua: $URLS URLs) }http://127.0.0.1:PORT$URLPATH, $ROUNDS rounds, order rotated"
declare -A res
read -r -a list <<<"$TARGETS"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#list[@]}; i++)); do
		t=${list[$(((i + r) % ${#list[@]}))]}
		rps=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "${wrkscript[@]}" "http://127.0.0.1:${port[$t]}$URLPATH" |
			awk '/Requests\/sec/ {printf "%.0f", $2}')
		res[$t]="${res[$t]:-} $rps"
	done
done
echo "# load average at end:$(uptime | sed 's/.*load average://')"

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
vmed=""
[[ -n ${res[varnish]:-} ]] && vmed=$(median <<<"${res[varnish]}")
printf '%-10s %-40s %8s %s\n' target "requests/s per round" median "vs varnish"
for t in $TARGETS; do
	m=$(median <<<"${res[$t]}")
	ratio=""
	[[ -n $vmed ]] && ratio=$(awk -v a="$m" -v b="$vmed" 'BEGIN {printf "%.2fx", a/b}')
	printf '%-10s %-40s %8s %s\n' "$t" "${res[$t]# }" "$m" "$ratio"
done
for t in $TARGETS; do
	case $t in origin | varnish) continue ;; esac
	if grep -Eqi 'error|circuit' "$dir/$t.log"; then
		echo "# $t log has errors:"
		grep -Ei 'error|circuit' "$dir/$t.log" | head -5
	fi
done
