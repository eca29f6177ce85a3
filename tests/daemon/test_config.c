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
	suite_add_tcase(s, flags);
	TCase *files = tcase_create("files");
	tcase_add_checked_fixture(files, make_tmpdir, remove_tmpdir);
	tcase_add_test(files, test_config_file_then_flags);
	tcase_add_loop_test(files, test_bad_config_file_is_named, 0, sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(files, test_two_data_dirs_refused);
	tcase_add_test(files, test_data_dir_made_with_name);
	tcase_add_test(files, test_node_name_as_goraft_keeps_it);
	suite_add_tcase(s, files);
	return s;
}
