# install.sh: make install into a DESTDIR, and the installed units, pages
# and files agree. nspawn.sh: a real systemd booted in a container
# (systemd-nspawn): units, notify, journald fields, watchdog; skips where
# nspawn is missing.
TESTS += tests/systemd/install.sh tests/systemd/nspawn.sh
EXTRA_DIST += tests/systemd/install.sh tests/systemd/nspawn.sh tests/systemd/inside.sh
