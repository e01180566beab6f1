#!/usr/bin/env bash
# compare.sh — vigil scan against sshguard's parser and fail2ban-regex on
# the same 500k-line auth log, on this machine, in one run.
#
#   docs/bench/compare.sh [REPS]        (default 3 repetitions per tool)
#
# It builds vigil from this checkout, builds the input from the shared
# corpus (loghub OpenSSH_2k.log repeated 250 times = 500,000 lines), runs
# every tool REPS times, interleaved so that load from other processes
# hits them alike, and prints the minimum wall and CPU (user+sys) time of
# each. Tools that are not installed are skipped. CORPUS overrides the
# corpus directory (default: ../shared/corpus next to the repository).
# VIGIL=path runs that vigil binary instead of building this checkout;
# BEFORE=path adds a row for another vigil binary (a build before a
# change), measured in the same interleaved runs.
set -euo pipefail

reps=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${CORPUS:-$root/../shared/corpus}
src=$corpus/loghub/OpenSSH_2k.log
if [[ ! -f $src ]]; then
	echo "compare.sh: $src not found (set CORPUS)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/auth-500k.log
for _ in $(seq 250); do awk 1 "$src"; done >"$log"
lines=$(wc -l <"$log")

if [[ -n ${VIGIL:-} ]]; then
	cp "$VIGIL" "$work/vigil"
else
	echo "building vigil..." >&2
	(cd "$root" && go build -o "$work/vigil" ./cmd/vigil)
fi

# name → command line reading $log, output discarded.
names=()
declare -A cmds
add() { names+=("$1"); cmds[$1]=$2; }
add "vigil scan (parse + 69-rule pack)" "'$work/vigil' scan -f sshd '$log' >/dev/null 2>'$work/scan.err'"
add "vigil scan, --format auto (default)" "'$work/vigil' scan '$log' >/dev/null 2>/dev/null"
if [[ -n ${BEFORE:-} ]]; then
	cp "$BEFORE" "$work/vigil-before"
	add "vigil scan, BEFORE binary" "'$work/vigil-before' scan -f sshd '$log' >/dev/null 2>/dev/null"
fi
add "vigil parse (parse + ECS JSON out)" "'$work/vigil' parse -f sshd '$log' >/dev/null 2>/dev/null"
if [[ -x /usr/libexec/sshguard/sshg-parser ]]; then
	add "sshguard sshg-parser (parse only)" "/usr/libexec/sshguard/sshg-parser <'$log' >/dev/null"
else
	echo "skipping sshguard: /usr/libexec/sshguard/sshg-parser not installed" >&2
fi
if command -v fail2ban-regex >/dev/null; then
	add "fail2ban-regex sshd filter" "fail2ban-regex '$log' sshd >/dev/null 2>&1"
else
	echo "skipping fail2ban: fail2ban-regex not installed" >&2
fi

declare -A wall cpu
TIMEFORMAT='%R %U %S'
for ((r = 1; r <= reps; r++)); do
	for n in "${names[@]}"; do
		echo "run $r/$reps: $n" >&2
		t=$({ time bash -c "${cmds[$n]}" >/dev/null 2>&1; } 2>&1 | tail -1)
		read -r w u s <<<"$t"
		c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
		if [[ -z ${wall[$n]:-} ]] || awk -v a="$w" -v b="${wall[$n]}" 'BEGIN { exit !(a < b) }'; then wall[$n]=$w; fi
		if [[ -z ${cpu[$n]:-} ]] || awk -v a="$c" -v b="${cpu[$n]}" 'BEGIN { exit !(a < b) }'; then cpu[$n]=$c; fi
	done
done

ref="${names[0]}"
echo
echo "$lines lines of sshd log, $(nproc) CPUs, min of $reps runs; ratio = tool time / vigil scan time"
printf '| %-36s | %8s | %8s | %9s | %10s | %8s |\n' tool "wall s" "CPU s" "lines/s" "wall ratio" "CPU ratio"
printf '| %-36s | %8s | %8s | %9s | %10s | %8s |\n' --- ---: ---: ---: ---: ---:
for n in "${names[@]}"; do
	awk -v n="$n" -v w="${wall[$n]}" -v c="${cpu[$n]}" -v rw="${wall[$ref]}" -v rc="${cpu[$ref]}" -v l="$lines" \
		'BEGIN { printf "| %-36s | %8.2f | %8.2f | %9.0f | %9.2fx | %7.2fx |\n", n, w, c, l / w, w / rw, c / rc }'
done
echo
echo "last vigil scan run: $(tail -1 "$work/scan.err")"
