/* src/raftd/config.h — raftd's settings: defaults, then the config file, then
 * the command line.
 *
 * The command line takes goraft raftd's form unchanged,
 *     raftd [-h HOST] [-p PORT] [-join HOST:PORT] [-v] [-debug] [-trace] DATA_DIR
 * with Go's flag syntax (-flag, --flag, -flag=value, -flag value; flags
 * before the data directory), plus long options for everything else. Every
 * long option is also a key of the INI config file (--config FILE), where
 * '-' and '_' are interchangeable and an optional [raftd] section is allowed.
 */
#ifndef RAFTD_SRC_RAFTD_CONFIG_H
#define RAFTD_SRC_RAFTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum config_log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE,
};

/* The longest request head Go's net/http reads by default (goraft raftd's
 * server): DefaultMaxHeaderBytes (1 MiB) and 4 KiB of "bufio slop". A key
 * goraft accepts is shorter. */
#define GO_MAX_HEAD (1024u * 1024u + 4096u)

/* What an identity (a certificate's CN or SAN) may do; each includes
 * the ones before it. */
enum config_role_level {
	CONFIG_ROLE_NONE,
	CONFIG_ROLE_READ,  /* GET /db, /status, /metrics, /health */
	CONFIG_ROLE_WRITE, /* + POST, PUT, DELETE /db */
	CONFIG_ROLE_ADMIN, /* + /join, /leave, snapshots, transfer, promote */
};

/* One line of the config file's [roles] section, IDENTITY = ROLE; the
 * identity "*" is any verified certificate the other lines do not name. */
struct config_role {
	char *identity;
	enum config_role_level level;
};

struct config {
	char *data_dir;
	char *config_file;
	char *name;        /* NULL: DATA_DIR/name, created on first start */
	char *host;        /* goraft -h: the host in the advertised URL */
	uint16_t port;     /* goraft -p */
	char *listen;      /* address to bind; NULL: every address, as goraft */
	char *advertise;   /* URL peers use; NULL: http://HOST:PORT */
	char *join;        /* goraft -join HOST:PORT: the leader to join */
	enum config_log_level log_level;

	uint32_t heartbeat_ms;
	uint32_t election_timeout_ms;
	uint64_t snapshot_threshold;   /* entries in the log before a snapshot */
	uint64_t segment_size;         /* WAL segment bytes */
	uint32_t wal_spare_segments;   /* compacted segments kept for reuse */
	uint32_t max_append_entries;   /* per AppendEntries request (goraft: 2000) */
	uint64_t max_append_bytes;
	uint32_t max_inflight_appends; /* per raftd peer; goraft peers get 1 */
	uint64_t max_raft_body;        /* largest /raft request body accepted */
	uint32_t max_key;                /* of a new write; reads and deletes take any */
	uint64_t max_value;
	uint32_t max_connections;
	uint32_t connection_timeout_s;
	uint32_t max_snapshot_downloads; /* GET /raftd/snapshot at once */
	uint32_t peer_connections;     /* members' connections, on top of max_connections */
	uint32_t max_connections_per_address; /* clients' connections from one address; 0 any */
	uint32_t request_head_timeout_s; /* a whole request head */
	uint32_t request_body_timeout_s; /* a whole body after its head; 0 none */
	uint64_t max_stranger_body;    /* /raft bodies from addresses that are not members' */
	uint64_t max_body_memory;      /* request bodies being read, in total; 0: max_raft_body + 256M */
	uint32_t wal_stall_ms;         /* a write or fdatasync pending longer: unhealthy */
	bool forward_writes;           /* a follower forwards client writes to the leader */
	bool force_new_cluster;        /* a data directory that lost its log may start a new cluster */

	/* TLS (issue 18). A file named without '/' is looked up in
	 * $CREDENTIALS_DIRECTORY when that is set (systemd LoadCredential=);
	 * validation has made these full names. */
	char *cert_file;               /* the client listener's certificate; NULL: plain HTTP */
	char *key_file;
	char *trusted_ca_file;         /* CAs that verify clients' certificates */
	bool client_cert_auth;         /* client routes need a verified certificate and a role */
	char *peer_cert_file;          /* ours towards peers (client and peer listener) */
	char *peer_key_file;
	char *peer_trusted_ca_file;    /* CAs that verify the members' certificates */
	bool peer_client_cert_auth;    /* peer routes need a verified member certificate */
	char *peer_allowed_cn;         /* comma-separated; NULL: any the peer CA verifies */
	char *peer_allowed_hostname;
	char *tls_priority;            /* GnuTLS priority string; NULL: TLS_DEFAULT_PRIORITY */
	char *peer_listen;             /* address of the peer listener; NULL: every address */
	uint16_t peer_port;            /* 0: peers use the client port (goraft's one URL) */
	/* etcd's v3 API: --grpc-listen as given (NULL: 127.0.0.1:2379), and
	 * as validation parsed it */
	char *grpc_listen;
	bool grpc_off;                 /* "none" */
	char grpc_host[64];            /* numeric, brackets of an IPv6 address removed */
	uint16_t grpc_port;
	struct config_role *roles;     /* the file's [roles] section, in its order */
	size_t n_roles;

	/* The command line, kept for config_reload(). */
	int argc;
	char **argv;
	bool data_dir_from_args;
	char data_dir_where[320]; /* the file and line, or the flag, that set data_dir */
};

/* Fills *cfg from defaults, the config file and argv. Returns 0; 1 when
 * --help was asked; 2 when --version was asked; or -EINVAL with a one-line reason in err
 * naming the flag, the file and line, or the value. */
int config_parse(struct config *cfg, int argc, char **argv, char *err, size_t err_len);

/* Re-reads cfg->config_file into *fresh (a SIGHUP): defaults, the file, and
 * the command line options kept from the first parse. */
int config_reload(const struct config *current, struct config *fresh, char *err, size_t err_len);

void config_free(struct config *cfg);
void config_usage(FILE *out);

/* The node's name: cfg->name, else DATA_DIR/name as goraft raftd keeps it
 * (the file's whole content), else a new 7-hex-digit name written there.
 * Creates DATA_DIR (0700) and its parents when missing. Returns a malloc'ed name or NULL
 * with the reason in err. */
char *config_node_name(const struct config *cfg, char *err, size_t err_len);

/* http://HOST:PORT or --advertise; https:// when the peer port speaks
 * TLS, and the peer port when there is one; malloc'ed. */
char *config_advertise_url(const struct config *cfg);

/* Whether the client listener, and the listener peers use (the same one
 * unless --peer-port), speak TLS; the files each side uses. */
bool config_client_tls(const struct config *cfg);
bool config_peer_tls(const struct config *cfg);
/* The peer listener's certificate and key, and ours as a client of the
 * other members (may be NULL: none presented). */
const char *config_peer_server_cert(const struct config *cfg);
const char *config_peer_server_key(const struct config *cfg);

const char *config_role_name(enum config_role_level level);

#endif
