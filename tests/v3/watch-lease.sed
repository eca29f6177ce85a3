# tests/v3/watch-lease.sed — what may differ between two clusters that
# behave alike in etcdctl's watch, lease, lock and elect output
# (tests/v3/etcdctl-watch-lease.sh). Each rule says why the difference is
# legitimate; anything else must be equal. Member and cluster IDs are mapped
# to <NAME> and <cluster> before these rules run, lease IDs after them
# (tests/v3/watch-lease-ids.py).

# etcdctl's client log lines (zap JSON on stderr): the time, the source line
# and the connection's name change with every run; the level, the message
# and the server's error are kept.
/^! {"level":/ {
	s/^! {"level":"\([a-z]*\)".*"msg":"\([^"]*\)".*"error":"\([^"]*\)".*$/! [\1] \2: \3/
	t
	s/^! {"level":"\([a-z]*\)".*"msg":"\([^"]*\)".*$/! [\1] \2/
	t
}

# Raft terms count each cluster's own elections. raftd's first member leads
# at term 0 until the cluster's first election, as goraft's does, and JSON
# leaves a header's term out when it is 0.
s/"raft_term":[0-9]*/"raft_term":"<term>"/g
s/\("cluster_id":"[^"]*","member_id":"[^"]*","revision":[0-9]*\)\([,}]\)/\1,"raft_term":"<term>"\2/g
s/"raft_term":"<term>","raft_term":"<term>"/"raft_term":"<term>"/g

# The time a lease has left when asked is the clock's: the script checks
# the keys' deletion against the TTL itself.
s/, remaining([0-9-]*s)/, remaining(<s>)/
s/"ttl":[0-9-]*,"granted-ttl"/"ttl":"<s>","granted-ttl"/

# A watch response's header revision is the store's when it was sent: a
# watch of the script's that starts at the next revision (--rev) may be
# created after some of the writes it gets, and then hears of them with a
# later header (etcd itself differs between runs). The events' own
# revisions are compared.
/^{"Header":/s/"revision":[0-9]*/"revision":"<now>"/
s/^\(exec: "[A-Z]*" ".*" ".*"\) [0-9]*$/\1 <now>/
