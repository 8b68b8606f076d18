#!/usr/bin/env bash
# Test infrastructure only: start a Docker engine suited to this sandbox (vfs, no iptables,
# no bridge: containers use the host network) unless one already answers.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
mkdir -p /var/lib/docker
nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/var/log/kagura-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not start; see /var/log/kagura-dockerd.log" >&2
tail -20 /var/log/kagura-dockerd.log >&2
exit 1
