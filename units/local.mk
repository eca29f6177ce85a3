# units/: systemd units, the journal catalog and the default config.
# The units name the installed binary and config, so they are made from
# .in files with the configured paths (at make time, as the GNU standards
# ask, so that `make prefix=...` is honoured). Their data directories are
# systemd's StateDirectory (always below /var/lib), not localstatedir.
# systemdsystemunitdir and systemdcatalogdir come from configure
# (systemd.pc).
systemdsystemunit_DATA = units/raftd.service units/raftd@.service
catalogdir = $(systemdcatalogdir)
dist_catalog_DATA = units/raftd.catalog
raftdconfdir = $(sysconfdir)/raftd
dist_raftdconf_DATA = units/raftd.conf
EXTRA_DIST += units/raftd.service.in units/raftd@.service.in
CLEANFILES += $(systemdsystemunit_DATA)

# The same substitutions for the units and the man pages.
SUBST_PATHS = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' -e 's|@catalogdir[@]|$(catalogdir)|g' \
	-e 's|@systemdsystemunitdir[@]|$(systemdsystemunitdir)|g' \
	-e 's|@bashcompletiondir[@]|$(bashcompletiondir)|g'

units/raftd.service units/raftd@.service: units/%: units/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(SUBST_PATHS) $(srcdir)/units/$*.in > $@

# journalctl -x reads the compiled catalog, not the file: compile it when
# installing for real. Under DESTDIR (a package, a staging tree) the
# package's own trigger or the admin does it.
install-data-hook: install-catalog-update
install-catalog-update:
	@if test -n '$(DESTDIR)'; then \
		echo "journal catalog: not compiled under DESTDIR (run journalctl --update-catalog on the target)"; \
	elif test "$$(id -u)" != 0; then \
		echo "journal catalog: not root, not compiled (run journalctl --update-catalog as root)"; \
	elif ! command -v journalctl >/dev/null; then \
		echo "journal catalog: no journalctl, not compiled"; \
	elif test '$(catalogdir)' != /usr/lib/systemd/catalog && \
	     test '$(catalogdir)' != /usr/local/lib/systemd/catalog; then \
		echo "journal catalog: journalctl does not read $(catalogdir), not compiled"; \
	else \
		echo "journalctl --update-catalog"; journalctl --update-catalog; \
	fi
uninstall-hook: install-catalog-update
.PHONY: install-catalog-update
