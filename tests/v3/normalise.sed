# tests/v3/normalise.sed — what may differ between two clusters that behave
# alike, in etcdctl's output (tests/v3/etcdctl-compare.sh). Each rule says
# why the difference is legitimate; anything else must be equal. Member and
# cluster IDs are mapped to <NAME> and <cluster> before these rules run (the
# map is made from each cluster's own member list).

# etcdctl's client log lines (zap JSON on stderr): the time, the source line
# of the client and the client's connection name change with every run. The
# level, the message and the server's error (its gRPC code and message) are
# kept: they are what the server caused.
# (The script marks what etcdctl wrote on stderr with "! ".)
/^! {"level":/ {
	s/^! {"level":"\([a-z]*\)".*"msg":"\([^"]*\)".*"error":"\([^"]*\)".*$/! [\1] \2: \3/
	t
	s/^! {"level":"\([a-z]*\)".*"msg":"\([^"]*\)".*$/! [\1] \2/
	t
}

# In JSON the placeholders are strings, to keep JSON JSON (the script sorts
# lists of members in it).
#
# Raft terms and log indexes count each cluster's own elections and entries
# (a membership change, a heartbeat entry of etcd's, a leadership transfer):
# two clusters of the same history in the key space differ there.
s/"raft_term":[0-9]*/"raft_term":"<term>"/g
s/"raftTerm":[0-9]*/"raftTerm":"<term>"/g
s/"raftIndex":[0-9]*/"raftIndex":"<index>"/g
s/"raftAppliedIndex":[0-9]*/"raftAppliedIndex":"<index>"/g
s/^"RaftTerm" : [0-9]*$/"RaftTerm" : <term>/
# raftd's first member leads at term 0 until the cluster's first election,
# as goraft's does (docs/goraft-protocol.md §6.8); JSON leaves a header's
# term out when it is 0
s/\("header":{"cluster_id":"[^"]*","member_id":"[^"]*","revision":[0-9]*\)}/\1,"raft_term":"<term>"}/g
# (a Cluster header has no revision, as etcd's)
s/\("header":{"cluster_id":"[^"]*","member_id":"[^"]*"\)}/\1,"raft_term":"<term>"}/g

# The server's version and the size of its database file are the server's
# own (etcd's bbolt file grows in pages; raftd has no such file).
s/"version":"[^"]*"/"version":"<version>"/g
s/"dbSize":[0-9]*/"dbSize":"<size>"/g
s/"dbSizeInUse":[0-9]*/"dbSizeInUse":"<size>"/g

# A member added by MemberAdd: etcd names it when it starts, and etcdctl
# shows a member without a name as unstarted; raftd names it at once, after
# its URL's HOST:PORT (src/raftd/v3_cluster.c), so that the new node can
# start under that name. (The script calls added members <new@PORT>.)
s/^\(<new@[0-9]*>\), started, [0-9.]*:[0-9]*, /\1, unstarted, , /

# endpoint status, simple and table: "EP, ID, VERSION, DB SIZE, IS LEADER,
# IS LEARNER, RAFT TERM, RAFT INDEX, RAFT APPLIED INDEX, ERRORS". The
# columns of version, size, term and indexes as above.
s/^\(\(http:\/\/\)\{0,1\}[0-9.]*:[0-9]*, [^,]*\), [^,]*, [^,]*, \(true\|false\), \(true\|false\), [0-9]*, [0-9]*, [0-9]*, /\1, <version>, <size>, \3, \4, <term>, <index>, <index>, /
s/^\(| *[0-9.]*:[0-9]* | [^|]*|\) [^|]* | [^|]* | \( *true\| *false\) | \( *true\| *false\) | *[0-9]* | *[0-9]* | *[0-9]* |/\1 <version> | <size> | \2 | \3 | <term> | <index> | <index> |/

# A table's columns are as wide as their widest cell, which the rules above
# changed: padding and rules are compared collapsed.
/^[|+]/ {
	s/  */ /g
	s/--*/-/g
}

# The KV hash of endpoint hashkv: etcd hashes its bbolt pages' contents,
# raftd its own encoding of the same versions. The script prints whether
# every member's hash is equal (the property that matters) next to it.
s/"hash":[0-9]*/"hash":"<hash>"/g
s/^\([0-9.]*:[0-9]*\), [0-9]*$/\1, <hash>/

# etcdctl check perf (V3_CHECK_PERF=1): its progress bar (one line of
# carriage returns), and its figures
# and verdicts, which measure the machine and its load as much as the server
/^\r.*%/d
s/^\(PASS\|FAIL\): Throughput .*/<verdict>: Throughput <figures>/
s/^\(PASS\|FAIL\): Slowest request .*/<verdict>: Slowest request <figures>/
s/^\(PASS\|FAIL\): Stddev .*/<verdict>: Stddev <figures>/
s/^\(PASS\|FAIL\)$/<verdict>/

# endpoint health's latency of one write
s/took = [0-9.]*[a-zµ]*$/took = <time>/
s/"took":"[0-9.]*[a-zµ]*"/"took":"<time>"/g
