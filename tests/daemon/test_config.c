/* tests/daemon/test_config.c — goraft's command line, long options, the
 * config file, and errors that name what is wrong. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/raftd/config.h"
#include "tests/lib/check_main.h"

static char err[512];

static int parse(struct config *cfg, const char *line)
{
	char *copy = strdup(line), *argv[32];
	int argc = 0;
	for (char *tok = strtok(copy, " "); tok && argc < 31; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	err[0] = '\0';
	int rv = config_parse(cfg, argc, argv, err, sizeof(err));
	free(copy);
	return rv;
}

START_TEST(test_goraft_command_line)
{
	struct config cfg;
	ck_assert_int_eq(parse(&cfg, "raftd -h node1 -p 4002 -join localhost:4001 -v /tmp/n1"), 0);
	ck_assert_str_eq(cfg.host, "node1");
	ck_assert_uint_eq(cfg.port, 4002);
	ck_assert_str_eq(cfg.join, "localhost:4001");
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg.data_dir, "/tmp/n1");
	char *url = config_advertise_url(&cfg);
	ck_assert_str_eq(url, "http://node1:4002");
	free(url);
	config_free(&cfg);

	/* Go's flag syntax: --flag, -flag=value, bool=false; -trace wins. */
	ck_assert_int_eq(parse(&cfg, "raftd --p=4003 -join=h:1 -v=false -trace -debug /d"), 0);
	ck_assert_uint_eq(cfg.port, 4003);
	ck_assert_str_eq(cfg.join, "h:1");
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_TRACE);
	config_free(&cfg);
}
END_TEST

START_TEST(test_defaults)
{
	struct config cfg;
	ck_assert_int_eq(parse(&cfg, "raftd /d"), 0);
	ck_assert_str_eq(cfg.host, "localhost");
	ck_assert_uint_eq(cfg.port, 4001);
	ck_assert_uint_eq(cfg.heartbeat_ms, 100);
	ck_assert_uint_eq(cfg.election_timeout_ms, 500);
	ck_assert_uint_eq(cfg.max_append_entries, 2000);
	ck_assert_uint_eq(cfg.segment_size, 64u << 20);
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_INFO);
	ck_assert_ptr_null(cfg.join);
	ck_assert(!cfg.forward_writes);
	ck_assert(!cfg.grpc_off);
	ck_assert_str_eq(cfg.grpc_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.grpc_port, 2379);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, "raftd --grpc-listen none /d"), 0);
	ck_assert(cfg.grpc_off);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, "raftd --grpc-listen [::1]:22379 /d"), 0);
	ck_assert_str_eq(cfg.grpc_host, "::1");
	ck_assert_uint_eq(cfg.grpc_port, 22379);
	config_free(&cfg);
}
END_TEST

static const struct {
	const char *line;
	const char *error_part;
} bad_lines[] = {
	{ "raftd -p abc /d", "invalid value \"abc\" for flag -p" },
	{ "raftd -p 70000 /d", "must be from 1 to 65535" },
	{ "raftd -x /d", "unknown flag -x" },
	{ "raftd /d -p", "flag -p needs a value" },
	{ "raftd -v", "Data path argument required" },
	{ "raftd /a /b", "unexpected argument \"/b\"" },
	{ "raftd --heartbeat-ms 300 /d", "election-timeout-ms (500) must be at least twice heartbeat-ms (300)" },
	{ "raftd -join http://h:1 /d", "join \"http://h:1\" must be HOST:PORT" },
	{ "raftd --advertise h:1 /d", "advertise URL \"h:1\" must be http://HOST:PORT" },
	/* net/url's form, as the leader checks a /join's connectionString:
	 * refused at start, not by every /join the node then sends */
	{ "raftd --advertise http://h /d", "advertise URL \"http://h\" must be http://HOST:PORT" },
	{ "raftd --advertise http://h:1/ /d", "advertise URL \"http://h:1/\" must be http://HOST:PORT" },
	{ "raftd --advertise http://h:0 /d", "advertise URL \"http://h:0\" must be http://HOST:PORT" },
	{ "raftd -join h:x /d", "join \"h:x\" must be HOST:PORT" },
	{ "raftd -join h:1?x /d", "join \"h:1?x\" must be HOST:PORT" },
	{ "raftd --segment-size 12X /d", "expected a size" },
	{ "raftd --segment-size 2G /d", "invalid value \"2G\" for flag -segment-size: must be from 1048576 to 1073741824" },
	{ "raftd --segment-size 1048577 /d", "segment-size (1048577) must be a multiple of 4096" },
	{ "raftd --wal-spare-segments 17 /d", "invalid value \"17\" for flag -wal-spare-segments: must be from 0 to 16" },
	{ "raftd --log-level loud /d", "invalid value \"loud\" for flag -log-level" },
	{ "raftd --forward-writes=maybe /d", "expected true or false" },
	{ "raftd --config /nonexistent/raftd.conf /d", "cannot read config file /nonexistent/raftd.conf" },
	/* TLS settings that cannot work together are refused at start, each
	 * with the setting that is missing */
	{ "raftd --cert-file c.pem /d", "cert-file needs key-file" },
	{ "raftd --key-file k.pem /d", "key-file needs cert-file" },
	{ "raftd --peer-cert-file c.pem /d", "peer-cert-file needs peer-key-file" },
	{ "raftd --peer-key-file k.pem /d", "peer-key-file needs peer-cert-file" },
	{ "raftd --trusted-ca-file ca.pem /d", "trusted-ca-file needs cert-file" },
	{ "raftd --cert-file c --key-file k --peer-trusted-ca-file ca --client-cert-auth /d",
	  "client-cert-auth needs trusted-ca-file" },
	{ "raftd --cert-file c --key-file k --peer-trusted-ca-file ca --trusted-ca-file ca --client-cert-auth /d",
	  "client-cert-auth needs a [roles] section" },
	{ "raftd --cert-file c --key-file k /d", "peer-trusted-ca-file is needed" },
	{ "raftd --peer-port 4002 --peer-cert-file c --peer-key-file k /d", "peer-trusted-ca-file is needed" },
	{ "raftd --peer-trusted-ca-file ca /d", "peer-trusted-ca-file needs cert-file or peer-cert-file" },
	{ "raftd --peer-port 4002 --cert-file c --key-file k --peer-trusted-ca-file ca /d",
	  "peer-trusted-ca-file needs peer-cert-file" },
	{ "raftd --peer-allowed-cn n1 /d", "peer-allowed-cn needs peer-client-cert-auth" },
	/* a plain peer port would refuse every member */
	{ "raftd --peer-port 4002 --cert-file c --key-file k --peer-client-cert-auth /d",
	  "peer-client-cert-auth needs peer-cert-file" },
	{ "raftd --peer-client-cert-auth /d", "peer-client-cert-auth needs peer-cert-file" },
	{ "raftd --peer-cert-file c --peer-key-file k --peer-trusted-ca-file ca --peer-client-cert-auth "
	  "--peer-allowed-cn n1 --peer-allowed-hostname h /d",
	  "not both" },
	{ "raftd --peer-listen 127.0.0.1 /d", "peer-listen needs peer-port" },
	{ "raftd --peer-port 4001 /d", "peer-port 4001 is the client port" },
	{ "raftd --advertise https://h:1 /d", "advertise URL https://h:1 is https://, but peers speak plain HTTP" },
	{ "raftd --cert-file c --key-file k --peer-trusted-ca-file ca --advertise http://h:1 /d",
	  "advertise URL http://h:1 is http://, but peers speak TLS" },
	{ "raftd --cert-file= --key-file k /d", "cert-file is empty" },
	{ "raftd --grpc-listen 2379 /d", "must be HOST:PORT" },
	{ "raftd --grpc-listen 127.0.0.1:0 /d", "must be HOST:PORT" },
	{ "raftd --grpc-listen localhost:2379 /d", "localhost is not a numeric IPv4 or IPv6 address" },
	{ "raftd --grpc-listen 127.0.0.1:4001 /d", "grpc-listen port 4001 is also raftd's HTTP client port" },
};

START_TEST(test_bad_flags_are_named)
{
	struct config cfg;
	int rv = parse(&cfg, bad_lines[_i].line);
	ck_assert_int_lt(rv, 0);
	ck_assert_msg(strstr(err, bad_lines[_i].error_part), "\"%s\": got \"%s\"", bad_lines[_i].line, err);
	config_free(&cfg);
}
END_TEST

START_TEST(test_help)
{
	struct config cfg;
	ck_assert_int_eq(parse(&cfg, "raftd --help"), 1);
	config_free(&cfg);
}
END_TEST

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/raftd-config-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_config_file_then_flags)
{
	char path[128], line[256];
	snprintf(path, sizeof(path), "%s/raftd.conf", tmpdir);
	write_file(path, "# a node\n[raftd]\ndata-dir = /var/lib/raftd/n1\nport = 5001\nsegment_size = 32M\n"
			 "heartbeat-ms = 20 ; inline comment\nforward-writes = true\nlog-level = debug\n");
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --config %s -p 5002", path);
	ck_assert_msg(parse(&cfg, line) == 0, "%s", err);
	ck_assert_str_eq(cfg.data_dir, "/var/lib/raftd/n1");
	ck_assert_uint_eq(cfg.port, 5002); /* the flag overrides the file */
	ck_assert_uint_eq(cfg.segment_size, 32u << 20);
	ck_assert_uint_eq(cfg.heartbeat_ms, 20);
	ck_assert(cfg.forward_writes);
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_DEBUG);

	/* SIGHUP: the file changed; flags still win. */
	write_file(path, "data-dir = /var/lib/raftd/n1\nport = 6001\nheartbeat-ms = 30\n");
	struct config fresh;
	ck_assert_msg(config_reload(&cfg, &fresh, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(fresh.heartbeat_ms, 30);
	ck_assert_uint_eq(fresh.port, 5002);
	ck_assert(!fresh.forward_writes);
	config_free(&fresh);
	config_free(&cfg);
}
END_TEST

static const struct {
	const char *text;
	const char *error_part;
} bad_files[] = {
	{ "data-dir = /d\nportt = 1\n", "raftd.conf:2 key \"portt\": unknown setting" },
	{ "data-dir = /d\n\nport = many\n", "invalid value \"many\" for " },
	{ "[other]\nport = 1\n", "raftd.conf:2: unknown section [other]" },
	{ "data-dir = /d\njust words\n", "raftd.conf:2: not a setting" },
	{ "v = true\n", "unknown setting" },
};

START_TEST(test_bad_config_file_is_named)
{
	char path[128], line[256];
	snprintf(path, sizeof(path), "%s/raftd.conf", tmpdir);
	write_file(path, bad_files[_i].text);
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --config %s", path);
	ck_assert_int_lt(parse(&cfg, line), 0);
	ck_assert_msg(strstr(err, bad_files[_i].error_part), "got \"%s\"", err);
	ck_assert_ptr_nonnull(strstr(err, path));
	config_free(&cfg);
}
END_TEST

/* One data directory: the DATA_DIR argument and data-dir (file or flag)
 * must agree, or the node would silently be another one. */
START_TEST(test_two_data_dirs_refused)
{
	char path[128], line[384];
	snprintf(path, sizeof(path), "%s/raftd.conf", tmpdir);
	write_file(path, "data-dir = /var/lib/raftd/n1\n");
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --config %s /var/lib/raftd-n1", path);
	ck_assert_int_lt(parse(&cfg, line), 0);
	ck_assert_msg(strstr(err, "/var/lib/raftd/n1") && strstr(err, "/var/lib/raftd-n1") && strstr(err, path),
		      "got \"%s\"", err);
	config_free(&cfg);

	snprintf(line, sizeof(line), "raftd --config %s /var/lib/raftd/n1", path);
	ck_assert_msg(parse(&cfg, line) == 0, "%s", err);
	ck_assert_str_eq(cfg.data_dir, "/var/lib/raftd/n1");
	config_free(&cfg);

	ck_assert_int_lt(parse(&cfg, "raftd --data-dir /a /b"), 0);
	ck_assert_ptr_nonnull(strstr(err, "flag -data-dir"));
	config_free(&cfg);
	ck_assert_int_lt(parse(&cfg, "raftd /b --data-dir /a"), 0);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, "raftd --data-dir /a"), 0);
	ck_assert_str_eq(cfg.data_dir, "/a");
	config_free(&cfg);
}
END_TEST

/* Every TLS option is a config key too; [roles] maps identities to roles;
 * the peer side gets https:// and its own port. */
START_TEST(test_tls_settings_and_roles)
{
	char path[128], line[256];
	snprintf(path, sizeof(path), "%s/raftd.conf", tmpdir);
	write_file(path, "[raftd]\ncert-file = /etc/raftd/n1.pem\nkey_file = /etc/raftd/n1-key.pem\n"
			 "trusted-ca-file = /etc/raftd/ca.pem\nclient-cert-auth = true\n"
			 "peer-cert-file = /etc/raftd/p1.pem\npeer-key-file = /etc/raftd/p1-key.pem\n"
			 "peer-trusted-ca-file = /etc/raftd/peer-ca.pem\npeer-client-cert-auth = true\n"
			 "peer-allowed-cn = n1,n2,n3\ntls-priority = SECURE256\n"
			 "peer-listen = 10.0.0.1\npeer-port = 4002\nhost = node1\n"
			 "[roles]\nalice = read\nBob = Write\nops.example.com = admin\n* = read\n");
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --config %s /d", path);
	ck_assert_msg(parse(&cfg, line) == 0, "%s", err);
	ck_assert_str_eq(cfg.cert_file, "/etc/raftd/n1.pem");
	ck_assert_str_eq(cfg.key_file, "/etc/raftd/n1-key.pem");
	ck_assert_str_eq(cfg.trusted_ca_file, "/etc/raftd/ca.pem");
	ck_assert(cfg.client_cert_auth);
	ck_assert(cfg.peer_client_cert_auth);
	ck_assert_str_eq(cfg.peer_allowed_cn, "n1,n2,n3");
	ck_assert_str_eq(cfg.tls_priority, "SECURE256");
	ck_assert_str_eq(cfg.peer_listen, "10.0.0.1");
	ck_assert_uint_eq(cfg.peer_port, 4002);
	ck_assert(config_client_tls(&cfg) && config_peer_tls(&cfg));
	ck_assert_str_eq(config_peer_server_cert(&cfg), "/etc/raftd/p1.pem");
	ck_assert_str_eq(config_peer_server_key(&cfg), "/etc/raftd/p1-key.pem");
	char *url = config_advertise_url(&cfg);
	ck_assert_str_eq(url, "https://node1:4002");
	free(url);
	ck_assert_uint_eq(cfg.n_roles, 4);
	ck_assert_str_eq(cfg.roles[0].identity, "alice");
	ck_assert_int_eq(cfg.roles[0].level, CONFIG_ROLE_READ);
	ck_assert_str_eq(cfg.roles[1].identity, "Bob");
	ck_assert_int_eq(cfg.roles[1].level, CONFIG_ROLE_WRITE);
	ck_assert_int_eq(cfg.roles[2].level, CONFIG_ROLE_ADMIN);
	ck_assert_str_eq(cfg.roles[3].identity, "*");

	/* SIGHUP re-reads the roles with the rest */
	write_file(path, "[raftd]\ncert-file = /etc/raftd/n1.pem\nkey_file = /etc/raftd/n1-key.pem\n"
			 "trusted-ca-file = /etc/raftd/ca.pem\nclient-cert-auth = true\n"
			 "peer-trusted-ca-file = /etc/raftd/ca.pem\n[roles]\nalice = admin\n");
	struct config fresh;
	ck_assert_msg(config_reload(&cfg, &fresh, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(fresh.n_roles, 1);
	ck_assert_int_eq(fresh.roles[0].level, CONFIG_ROLE_ADMIN);
	/* one port: the client certificate serves peers too */
	ck_assert_str_eq(config_peer_server_cert(&fresh), "/etc/raftd/n1.pem");
	url = config_advertise_url(&fresh);
	ck_assert_str_eq(url, "https://localhost:4001");
	free(url);
	config_free(&fresh);
	config_free(&cfg);

	/* without TLS: goraft's URL, as before */
	ck_assert_int_eq(parse(&cfg, "raftd --peer-port 4002 /d"), 0);
	ck_assert(!config_client_tls(&cfg) && !config_peer_tls(&cfg));
	url = config_advertise_url(&cfg);
	ck_assert_str_eq(url, "http://localhost:4002");
	free(url);
	config_free(&cfg);
}
END_TEST

static const struct {
	const char *text;
	const char *error_part;
} bad_roles[] = {
	{ "[roles]\nalice = root\n", ":7 key \"alice\": role \"root\" must be read, write or admin" },
	{ "[roles]\nalice = read\nALICE = write\n", ":8 key \"ALICE\": identity ALICE has a role already" },
	{ "[rolls]\nalice = read\n", "unknown section [rolls]" },
};

START_TEST(test_bad_roles_are_named)
{
	char path[128], line[256], text[512];
	snprintf(path, sizeof(path), "%s/raftd.conf", tmpdir);
	snprintf(text, sizeof(text), "cert-file = c\nkey-file = k\ntrusted-ca-file = ca\npeer-trusted-ca-file = ca\n"
				     "client-cert-auth = 1\n%s", bad_roles[_i].text);
	write_file(path, text);
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --config %s /d", path);
	ck_assert_int_lt(parse(&cfg, line), 0);
	ck_assert_msg(strstr(err, bad_roles[_i].error_part), "got \"%s\"", err);
	config_free(&cfg);

	/* roles without client-cert-auth would be a lie: every client may
	 * do everything */
	write_file(path, "[roles]\nalice = read\n");
	ck_assert_int_lt(parse(&cfg, line), 0);
	ck_assert_msg(strstr(err, "[roles] need client-cert-auth"), "got \"%s\"", err);
	config_free(&cfg);
}
END_TEST

/* systemd's LoadCredential=: bare names are found in $CREDENTIALS_DIRECTORY;
 * paths stay as they are. */
START_TEST(test_credentials_directory)
{
	struct config cfg;
	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/raftd.service", 1);
	ck_assert_msg(parse(&cfg, "raftd --cert-file n1.pem --key-file n1-key.pem --peer-trusted-ca-file ./ca.pem /d") ==
			      0,
		      "%s", err);
	ck_assert_str_eq(cfg.cert_file, "/run/credentials/raftd.service/n1.pem");
	ck_assert_str_eq(cfg.key_file, "/run/credentials/raftd.service/n1-key.pem");
	ck_assert_str_eq(cfg.peer_trusted_ca_file, "./ca.pem");
	config_free(&cfg);
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(parse(&cfg, "raftd --cert-file n1.pem --key-file n1-key.pem --peer-trusted-ca-file ca.pem /d"),
			 0);
	ck_assert_str_eq(cfg.cert_file, "n1.pem");
	config_free(&cfg);
}
END_TEST

/* --name does not spare making DATA_DIR: as mkdir -p, the directory 0700. */
START_TEST(test_data_dir_made_with_name)
{
	char dir[160], line[256];
	snprintf(dir, sizeof(dir), "%s/a/b/n1", tmpdir);
	struct config cfg;
	snprintf(line, sizeof(line), "raftd --name n1 %s", dir);
	ck_assert_int_eq(parse(&cfg, line), 0);
	char *name = config_node_name(&cfg, err, sizeof(err));
	ck_assert_msg(name != NULL, "%s", err);
	ck_assert_str_eq(name, "n1");
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	free(name);
	config_free(&cfg);
}
END_TEST

START_TEST(test_node_name_as_goraft_keeps_it)
{
	char dir[128], line[256], path[160];
	snprintf(dir, sizeof(dir), "%s/data", tmpdir);
	struct config cfg;
	snprintf(line, sizeof(line), "raftd %s", dir);
	ck_assert_int_eq(parse(&cfg, line), 0);

	/* First start: 7 hex digits, written with no newline. */
	char *name = config_node_name(&cfg, err, sizeof(err));
	ck_assert_msg(name != NULL, "%s", err);
	ck_assert_uint_eq(strlen(name), 7);
	ck_assert_uint_eq(strspn(name, "0123456789abcdef"), 7);
	char *again = config_node_name(&cfg, err, sizeof(err));
	ck_assert_str_eq(again, name);
	struct stat st;
	snprintf(path, sizeof(path), "%s/name", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 7);
	free(name);
	free(again);

	/* An existing file is the name byte for byte, newline included. */
	write_file(path, "custom\n");
	name = config_node_name(&cfg, err, sizeof(err));
	ck_assert_str_eq(name, "custom\n");
	free(name);
	config_free(&cfg);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("config");
	TCase *flags = tcase_create("flags");
	tcase_add_test(flags, test_goraft_command_line);
	tcase_add_test(flags, test_defaults);
	tcase_add_loop_test(flags, test_bad_flags_are_named, 0, sizeof(bad_lines) / sizeof(bad_lines[0]));
	tcase_add_test(flags, test_help);
	tcase_add_test(flags, test_credentials_directory);
	suite_add_tcase(s, flags);
	TCase *files = tcase_create("files");
	tcase_add_checked_fixture(files, make_tmpdir, remove_tmpdir);
	tcase_add_test(files, test_config_file_then_flags);
	tcase_add_loop_test(files, test_bad_config_file_is_named, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(files, test_two_data_dirs_refused);
	tcase_add_test(files, test_tls_settings_and_roles);
	tcase_add_loop_test(files, test_bad_roles_are_named, 0, sizeof(bad_roles) / sizeof(bad_roles[0]));
	tcase_add_test(files, test_data_dir_made_with_name);
	tcase_add_test(files, test_node_name_as_goraft_keeps_it);
	suite_add_tcase(s, files);
	return s;
}
