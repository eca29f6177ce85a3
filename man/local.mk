# man/: manual pages (groff -man -ww and mandoc -T lint are clean:
# tests/raftctl/man.sh).
dist_man8_MANS = man/raftd.8 man/raftctl.8
dist_man5_MANS = man/raftd.conf.5
