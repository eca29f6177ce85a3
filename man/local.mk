# man/: manual pages (groff -man -ww and mandoc -T lint are clean:
# tests/raftctl/man.sh). Made from .in files with the configured paths
# (SUBST_PATHS, units/local.mk), so that they name the files the units read.
man8_MANS = man/raftd.8 man/raftctl.8
man5_MANS = man/raftd.conf.5
EXTRA_DIST += man/raftd.8.in man/raftctl.8.in man/raftd.conf.5.in
CLEANFILES += $(man8_MANS) $(man5_MANS)

man/raftd.8 man/raftctl.8 man/raftd.conf.5: man/%: man/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(SUBST_PATHS) $(srcdir)/man/$*.in > $@
