#!/usr/bin/env bash
# Device check of the power sampler (issue 5, section 9). See README.md.
#
#   infra/gpu/check.sh [path/to/agentwatt]      (default ./bin/agentwatt)
#
# Prints the GPU inventory, samples 30 s idle and 30 s under a bf16 matmul
# load started with the machine's PyTorch, then under load 10 s at 100 Hz (to
# resolve the energy counter's update period) and 10 s at 10 Hz reading only
# energy and power (what the other NVML reads cost), and reports per GPU: the
# counter's update period, energy by counter vs integral of instantaneous
# power (goal: at most 2% apart), the NVML calls per sample, and the
# sampler's CPU cost at 10 Hz (goal: at most 1% of one core). With $OUT set,
# everything is also written there.
#
# Every phase reads the SM clock, temperature and clock events once a second
# (--aux-every HZ), as a runner does (power.DefaultAuxPeriod); energy and
# instant power come from one NVML field call per GPU per sample.
#
# Exit status: 0 all goals met, 2 a goal missed (figures printed), 1 the
# check could not run (no binary, no driver, no PyTorch, a failed step).
#
# CHECK_SIM_URL=http://HOST:PORT runs the same steps against a sim engine with
# no GPU load (a test of the script itself; its figures are simulated).
set -euo pipefail

BIN=${1:-./bin/agentwatt}
IDLE_S=${IDLE_S:-30}
LOAD_S=${LOAD_S:-30}
FAST_S=${FAST_S:-10}
FAST_HZ=${FAST_HZ:-100}
NOAUX_S=${NOAUX_S:-10}
WARMUP_S=${WARMUP_S:-8}
MAX_DIFF_PCT=${MAX_DIFF_PCT:-2}
MAX_CPU_PCT=${MAX_CPU_PCT:-1}
SIM_URL=${CHECK_SIM_URL:-}

work=$(mktemp -d)
load_pid=""
if [ -n "${OUT:-}" ]; then
	mkdir -p "$OUT"
	exec > >(tee -a "$OUT/gpu-check.txt") 2>&1
fi

cleanup() {
	if [ -n "$load_pid" ] && kill -0 "$load_pid" 2>/dev/null; then
		kill "$load_pid" 2>/dev/null || true
		wait "$load_pid" 2>/dev/null || true
	fi
	if [ -n "${OUT:-}" ]; then
		for f in inventory.json idle.json load.json fast.json noaux.json summary.json load.power.jsonl.zst; do
			[ -f "$work/$f" ] && cp "$work/$f" "$OUT/" || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { printf '\n== %s (t=%ds)\n' "$*" "$SECONDS"; }

step "setup"
[ -x "$BIN" ] || fail "agentwatt binary '$BIN' not found or not executable: build it with 'make build' and give its path"
echo "binary: $BIN"
if ldd "$BIN" 2>/dev/null | grep -q libnvidia-ml; then
	fail "$BIN links libnvidia-ml at load time; it must dlopen it (build with 'make build': cgo, -z lazy)"
fi
command -v python3 >/dev/null || fail "python3 not found (the load needs the machine's PyTorch)"

# NVML is dlopened as libnvidia-ml.so.1: make sure the loader finds it where
# container images mount the driver.
if [ -z "$SIM_URL" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1'; then
	for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/cuda/compat; do
		if [ -e "$d/libnvidia-ml.so.1" ]; then
			export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
			echo "libnvidia-ml.so.1 found in $d (added to LD_LIBRARY_PATH)"
			break
		fi
	done
fi

sample_src=()
[ -n "$SIM_URL" ] && sample_src=(--sim "$SIM_URL") && echo "CHECK_SIM_URL set: sampling the SIMULATED engine at $SIM_URL, no GPU load"

step "inventory (agentwatt gpu info)"
if [ -z "$SIM_URL" ]; then
	"$BIN" --log-level warn gpu info || fail "agentwatt gpu info failed (see above): no NVIDIA driver?"
	"$BIN" --log-level warn gpu info -o json >"$work/inventory.json"
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi --query-gpu=index,name,driver_version,power.limit,power.draw,clocks.sm,persistence_mode --format=csv || true
	fi
else
	echo "(skipped: sim)"
fi

step "PyTorch"
if [ -z "$SIM_URL" ]; then
	set +e
	python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)' 2>"$work/torch.err"
	rc=$?
	set -e
	case $rc in
	0) python3 -c 'import torch; print("torch", torch.__version__, "sees", torch.cuda.device_count(), "GPU(s):", torch.cuda.get_device_name(0))' ;;
	3) fail "PyTorch is installed but sees no CUDA GPU (driver missing or not visible?)" ;;
	*) fail "PyTorch is missing: python3 -c 'import torch' failed: $(tail -1 "$work/torch.err")" ;;
	esac
fi
[ -n "$SIM_URL" ] && echo "(skipped: sim)"

sample() { # name seconds hz [extra args]
	local name=$1 secs=$2 hz=$3
	shift 3
	# --aux-every HZ: the SM clock, temperature and clock events once a
	# second, as a runner reads them; a later --aux-every in "$@" wins.
	timeout $((${secs%.*} + 60)) "$BIN" --log-level warn gpu sample --seconds "$secs" --hz "$hz" --aux-every "${hz%.*}" "${sample_src[@]}" -o json "$@" >"$work/$name.json" ||
		fail "agentwatt gpu sample ($name) failed"
	echo "$name: $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); c=m.get("calls_per_sample"); print(len(m["gpus"]), "GPU(s),", sum(g["samples"] for g in m["gpus"]), "samples, CPU %.2f%% of one core," % m["cpu_pct_of_core"], ("%.2f NVML calls per GPU sample" % c) if c else "NVML calls not counted")' "$work/$name.json")"
}

step "idle: ${IDLE_S}s at 10 Hz"
sample idle "$IDLE_S" 10

step "load: start a bf16 matmul loop on every GPU"
LOAD_PY=$(
	cat <<'PY'
import sys, time, torch
dur = float(sys.argv[1])
devs = list(range(torch.cuda.device_count()))
n = 8192
mats = []
for d in devs:
    dev = torch.device("cuda", d)
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    mats.append((a, b, torch.empty(n, n, device=dev, dtype=torch.bfloat16)))
for d in devs:
    torch.cuda.synchronize(d)
print(f"ready: {len(devs)} GPU(s), {n}x{n} bf16 matmuls", flush=True)
t0 = last = time.time()
iters = 0
while time.time() - t0 < dur:
    for a, b, c in mats:
        for _ in range(10):
            torch.matmul(a, b, out=c)
    for d in devs:
        torch.cuda.synchronize(d)
    iters += 10
    now = time.time()
    if now - last >= 5:
        print(f"load: {2 * n**3 * iters / (now - t0) / 1e12:.0f} TFLOP/s per GPU", flush=True)
        last = now
PY
)
load_for=$((WARMUP_S + LOAD_S + FAST_S + NOAUX_S + 30))
if [ -z "$SIM_URL" ]; then
	python3 -u -c "$LOAD_PY" "$load_for" >"$work/load.log" 2>&1 &
else
	(echo "ready: no load (sim)"; sleep "$load_for") >"$work/load.log" 2>&1 &
fi
load_pid=$!
for _ in $(seq 1 240); do
	grep -q '^ready' "$work/load.log" && break
	kill -0 "$load_pid" 2>/dev/null || fail "the load exited early: $(tail -5 "$work/load.log")"
	sleep 0.5
done
grep -q '^ready' "$work/load.log" || fail "the load did not start within 120 s: $(tail -5 "$work/load.log")"
head -1 "$work/load.log"
echo "warming up ${WARMUP_S}s"
sleep "$WARMUP_S"

step "load: ${LOAD_S}s at 10 Hz"
sample load "$LOAD_S" 10 --out "$work/load.power.jsonl.zst"
if [ -z "$SIM_URL" ] && command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=index,power.draw,clocks.sm,temperature.gpu,clocks_event_reasons.active --format=csv 2>/dev/null ||
		nvidia-smi --query-gpu=index,power.draw,clocks.sm,temperature.gpu --format=csv || true
fi

step "load: ${FAST_S}s at ${FAST_HZ} Hz (to resolve the update periods)"
sample fast "$FAST_S" "$FAST_HZ"

step "load: ${NOAUX_S}s at 10 Hz reading energy and power only (--aux-every 0: what the once-a-second clock, temperature and clock-event reads cost)"
sample noaux "$NOAUX_S" 10 --aux-every 0

kill "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
load_pid=""
grep '^load:' "$work/load.log" | tail -1 || true

step "report"
set +e
python3 - "$work" "$MAX_DIFF_PCT" "$MAX_CPU_PCT" <<'PY'
import json, os, sys

work, max_diff, max_cpu = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
phases = {}
for name in ("idle", "load", "fast", "noaux"):
    with open(os.path.join(work, name + ".json")) as f:
        phases[name] = json.load(f)

def ms(ns):
    return ns / 1e6

hdr = ("phase", "gpu", "samples", "rate Hz", "counter upd ms", "power upd ms", "counter J", "integral J",
       "diff %", "avg W", "min W", "max W", "max gap ms", "resets", "errors", "read ms", "calls/sample",
       "energy source", "power source", "clock events")
rows = []
def calls(m):
    c = m.get("calls_per_sample")
    return f"{c:.2f}" if c else "-"

for name, m in phases.items():
    for g in m["gpus"]:
        rows.append((name, g["gpu"], g["samples"], f'{g["rate_hz"]:.2f}', f'{ms(g["counter_update_period_ns"]):.1f}',
                     f'{ms(g["power_update_period_ns"]):.1f}', f'{g["counter_j"]:.1f}', f'{g["integral_j"]:.1f}',
                     f'{100 * g["rel_diff"]:.3f}', f'{g["avg_w"]:.1f}', f'{g["min_w"]:.1f}', f'{g["max_w"]:.1f}',
                     f'{ms(g["max_gap_ns"]):.1f}', g["resets"], g["errors"], f'{ms(g["median_read_ns"]):.2f}',
                     calls(m), g.get("energy_source") or "-", g["power_source"], ",".join(g["clock_event_names"]) or "-"))
widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
for r in [hdr] + rows:
    print("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))
print()
for m in phases.values():
    m["events"] = m.get("events") or []
for name, m in phases.items():
    hz = 1e9 / m["interval_ns"]
    print(f'{name}: source {m["source"]} ({m["boundary"]}), {m["wall_ns"] / 1e9:.1f} s at {hz:g} Hz, '
          f'sampler CPU {m["cpu_pct_of_core"]:.3f}% of one core, {calls(m)} NVML calls per GPU sample, {len(m["events"])} event(s)')
    for e in m["events"][:10]:
        print(f'  event gpu {e["gpu"]} {e["kind"]}: {e["detail"]}')

goals = []
for name in ("idle", "load"):
    m = phases[name]
    for g in m["gpus"]:
        d = 100 * g["rel_diff"]
        goals.append((f"{name} gpu {g['gpu']}: counter vs integral {d:.3f}% (goal <= {max_diff:g}%)", d <= max_diff))
        goals.append((f"{name} gpu {g['gpu']}: resets {g['resets']}, errors {g['errors']} (goal 0)", g["resets"] == 0 and g["errors"] == 0))
    c = m["cpu_pct_of_core"]
    goals.append((f"{name}: sampler CPU {c:.3f}% of one core at 10 Hz (goal <= {max_cpu:g}%)", c <= max_cpu))
print()
for text, ok in goals:
    print(("PASS  " if ok else "MISS  ") + text)
summary = {
    "goals": [{"check": t, "ok": ok} for t, ok in goals],
    "phases": {n: {"source": m["source"], "boundary": m["boundary"], "interval_ns": m["interval_ns"],
                   "wall_ns": m["wall_ns"], "cpu_pct_of_core": m["cpu_pct_of_core"],
                   "source_calls": m.get("source_calls"), "calls_per_sample": m.get("calls_per_sample"), "gpus": m["gpus"]}
               for n, m in phases.items()},
}
if os.path.exists(os.path.join(work, "inventory.json")):
    with open(os.path.join(work, "inventory.json")) as f:
        summary["inventory"] = json.load(f)
with open(os.path.join(work, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
sys.exit(0 if all(ok for _, ok in goals) else 2)
PY
rc=$?
set -e
echo
echo "done in ${SECONDS}s"
case $rc in
0) echo "RESULT: all goals met" ;;
2) echo "RESULT: a goal was missed (see MISS lines)" ;;
*) fail "the report failed (python exit $rc)" ;;
esac
exit "$rc"
