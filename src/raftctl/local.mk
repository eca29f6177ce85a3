# src/raftctl/: the admin CLI, the program src/raftctl/raftctl. One file per
# command (src/raftctl/raftctl_<name>.c), dispatched from the table in
# src/raftctl/raftctl.c; raftctl_http.c is its HTTP client, raftctl_client.c
# what the online commands share, capture.c the reader of captured goraft
# exchanges (`raftctl wire vectors`, and the codec tests).
bin_PROGRAMS += src/raftctl/raftctl
src_raftctl_raftctl_SOURCES = \
	src/raftctl/raftctl.c src/raftctl/raftctl.h src/raftctl/raftctl_cmds.h \
	src/raftctl/raftctl_http.c src/raftctl/raftctl_http.h \
	src/raftctl/raftctl_client.c src/raftctl/raftctl_client.h \
	src/raftctl/raftctl_status.c src/raftctl/raftctl_members.c \
	src/raftctl/raftctl_kv.c src/raftctl/raftctl_v3.c src/raftctl/raftctl_v3.h \
	src/raftctl/raftctl_session.c src/raftctl/raftctl_session.h src/raftctl/raftctl_watch.c \
	src/raftctl/raftctl_lease.c src/raftctl/raftctl_lock.c \
	src/raftctl/raftctl_snapshot.c src/raftctl/raftctl_restore.c \
	src/raftctl/raftctl_v3snap.c src/raftctl/raftctl_v3snap.h \
	src/raftctl/raftctl_leader.c src/raftctl/raftctl_endpoint.c src/raftctl/raftctl_import.c \
	src/raftctl/raftctl_logs.c \
	src/raftctl/raftctl_loadgen.c src/raftctl/raftctl_loadgen.h \
	src/raftctl/raftctl_bench.c src/raftctl/raftctl_bench.h \
	src/raftctl/raftctl_check.c \
	src/raftctl/raftctl_wal.c src/raftctl/raftctl_wal.h \
	src/raftctl/raftctl_wire.c src/raftctl/raftctl_wire.h \
	src/raftctl/capture.c src/raftctl/capture.h
src_raftctl_raftctl_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/proto $(PROTOBUFC_CFLAGS)
src_raftctl_raftctl_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS) $(JANSSON_CFLAGS) $(SYSTEMD_CFLAGS) $(GNUTLS_CFLAGS) $(NGHTTP2_CFLAGS)
src_raftctl_raftctl_LDADD = src/kv/libkv.a wal/libwal.a proto/libwire.a net/libgrpc.a proto/libetcdpb.a net/libnet.a base/libbase.a \
	$(NGHTTP2_LIBS) $(PROTOBUFC_LIBS) $(URING_LIBS) $(JANSSON_LIBS) $(SYSTEMD_LIBS) $(GNUTLS_LIBS) -lm

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
