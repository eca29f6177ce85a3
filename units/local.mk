# units/: systemd units, the journal catalog and the default config.
# The units name the installed binary and config, so they are made from
# .in files with the configured paths.
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = units/raftd.service units/raftd@.service
catalogdir = $(prefix)/lib/systemd/catalog
dist_catalog_DATA = units/raftd.catalog
raftdconfdir = $(sysconfdir)/raftd
dist_raftdconf_DATA = units/raftd.conf
EXTRA_DIST += units/raftd.service.in units/raftd@.service.in
CLEANFILES += $(systemdsystemunit_DATA)

units/raftd.service units/raftd@.service: units/%: units/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' $(srcdir)/units/$*.in > $@
