#!/usr/bin/env bash
# Runs `mpirun -np 2 RNNKIT ARGS...` as two hosts would: each rank in a network namespace of its
# own, the two joined only by a veth pair (10.77.N.1 and 10.77.N.2), MPI's messages over TCP on it.
# mpirun starts in the first namespace and reaches the second through an rsh agent that enters the
# namespace instead of logging in over ssh, the way it reaches a second machine.
#
#   sudo bash scripts/mpi-two-hosts.sh .build/release/rnnkit train mnist --hidden 8 --epochs 2 --out runs/two-hosts --distributed
#
# Needs root (ip netns) and openmpi-bin. Exits 77 when the namespaces cannot be made here.
set -euo pipefail
rnnkit="$(realpath "$1")"; shift
tag="rk$$"; subnet=$(( $$ % 200 + 20 ))
work="$(mktemp -d)"
cleanup() { ip netns del "${tag}a" 2>/dev/null || true; ip netns del "${tag}b" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
{
  ip netns add "${tag}a" && ip netns add "${tag}b" &&
  ip link add "${tag}x" type veth peer name "${tag}y" &&
  ip link set "${tag}x" netns "${tag}a" && ip link set "${tag}y" netns "${tag}b" &&
  ip -n "${tag}a" addr add "10.77.$subnet.1/24" dev "${tag}x" && ip -n "${tag}b" addr add "10.77.$subnet.2/24" dev "${tag}y" &&
  for ns in a b; do ip -n "$tag$ns" link set lo up; done &&
  ip -n "${tag}a" link set "${tag}x" up && ip -n "${tag}b" link set "${tag}y" up
} 2>"$work/setup.log" || { echo "cannot make network namespaces here: $(cat "$work/setup.log")" >&2; exit 77; }

cat > "$work/agent" <<AGENT
#!/bin/sh
# mpirun's rsh agent: "log in" to the second host by entering its namespace.
shift
exec ip netns exec ${tag}b /bin/sh -c "\$*"
AGENT
chmod +x "$work/agent"
printf '10.77.%s.1 slots=1\n10.77.%s.2 slots=1\n' "$subnet" "$subnet" > "$work/hosts"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ip netns exec "${tag}a" mpirun --hostfile "$work/hosts" -np 2 --mca plm_rsh_agent "$work/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include "10.77.$subnet.0/24" --mca oob_tcp_if_include "10.77.$subnet.0/24" \
  "$rnnkit" "$@"
