# man/: manual pages (groff -man -ww is clean).
dist_man8_MANS = man/raftd.8
