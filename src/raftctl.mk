# src/raftctl: the admin CLI. One file per command (src/raftctl_<name>.c),
# dispatched from the table in src/raftctl.c; raftctl_http.c is its HTTP
# client, raftctl_client.c what the online commands share.
bin_PROGRAMS += src/raftctl
src_raftctl_SOURCES = \
	src/raftctl.c src/raftctl.h src/raftctl_cmds.h \
	src/raftctl_http.c src/raftctl_http.h \
	src/raftctl_client.c src/raftctl_client.h \
	src/raftctl_status.c src/raftctl_members.c src/raftctl_kv.c \
	src/raftctl_snapshot.c src/raftctl_leader.c src/raftctl_import.c src/raftctl_logs.c \
	src/raftctl_loadgen.c src/raftctl_loadgen.h src/raftctl_bench.c src/raftctl_bench.h src/raftctl_check.c \
	src/raftctl_wal.c src/raftctl_wal.h \
	src/raftctl_wire.c src/raftctl_wire.h \
	src/capture.c src/capture.h
src_raftctl_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(JANSSON_CFLAGS) $(SYSTEMD_CFLAGS)
src_raftctl_LDADD = wal/libwal.a proto/libwire.a net/libnet.a base/libbase.a $(URING_LIBS) $(JANSSON_LIBS) $(SYSTEMD_LIBS) -lm

# bash completion, installed under the command's name where bash-completion
# looks for it
bashcompletiondir = $(datadir)/bash-completion/completions
EXTRA_DIST += contrib/raftctl.bash
install-data-local: install-raftctl-completion
uninstall-local: uninstall-raftctl-completion
install-raftctl-completion:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) $(srcdir)/contrib/raftctl.bash '$(DESTDIR)$(bashcompletiondir)/raftctl'
uninstall-raftctl-completion:
	rm -f '$(DESTDIR)$(bashcompletiondir)/raftctl'
.PHONY: install-raftctl-completion uninstall-raftctl-completion
