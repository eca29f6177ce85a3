# A real systemd booted in a container (systemd-nspawn): units, notify,
# journald fields, watchdog. Skips where nspawn is missing.
TESTS += tests/systemd/nspawn.sh
EXTRA_DIST += tests/systemd/nspawn.sh tests/systemd/inside.sh
