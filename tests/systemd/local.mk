# install.sh: make install into a DESTDIR, and the installed units, pages
# and files agree. nspawn.sh: a real systemd booted in a container
# (systemd-nspawn): units, notify, journald fields, watchdog. deb.sh: the
# Debian package built, linted, installed into a booted container, started,
# removed and purged. The last two skip without root or nspawn (deb.sh also
# without dpkg-buildpackage and debhelper).
TESTS += tests/systemd/install.sh tests/systemd/nspawn.sh tests/systemd/deb.sh
EXTRA_DIST += tests/systemd/install.sh tests/systemd/nspawn.sh tests/systemd/inside.sh \
	tests/systemd/deb.sh tests/systemd/deb-inside.sh
