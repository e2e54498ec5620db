#!/bin/bash
# A/B: the issue10 base (aefabdd) server against this branch's, the same bench client (this branch).
set -u
W=/work/wt/issue10-browser
export HF_HUB_OFFLINE=1
start() {  # $1: name, $2: PYTHONPATH
  PYTHONPATH=$2 $W/.venv/bin/python -P -m voicegate serve --anonymous --store memory --port 0 > /tmp/ib-$1.out 2> /tmp/ib-$1.log &
  echo $! > /tmp/ib-$1.pid
  for i in $(seq 120); do grep -q "listening on" /tmp/ib-$1.out && break; sleep 1; done
  grep -o "http://[^ ]*" /tmp/ib-$1.out | head -1
}
BASE=$(start base /tmp/ib-base)
BRANCH=$(start branch "")
echo base $BASE branch $BRANCH
for round in 1 2; do
  for side in base branch; do
    url=$BASE; [ $side = branch ] && url=$BRANCH
    echo "== $side round $round load $(cat /proc/loadavg)"
    cd $W && .venv/bin/voicegate bench --url "$url" --clients 1 --turns 5 --transports websocket,webrtc,browser --out /tmp/ib-ab/$side-$round 2>&1 | grep -E "^(websocket|webrtc|browser|client_first|client_trans|server_total|turns)"
  done
done
echo "== end load $(cat /proc/loadavg)"
kill -INT $(cat /tmp/ib-base.pid) $(cat /tmp/ib-branch.pid)
