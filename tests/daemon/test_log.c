/* tests/daemon/test_log.c — the fields of raftd's journal entries
 * (src/raftd/log.c): the caller's CODE_FILE, CODE_LINE and CODE_FUNC, the
 * Raft context and MESSAGE_ID. sd-journal is replaced by a stub that keeps
 * the last entry, so no journald is needed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "src/raftd/log.h"
#include "tests/lib/check_main.h"

static char fields[32][1200];
static int n_fields;

static void keep(const char *s, size_t len)
{
	if (n_fields < 32)
		snprintf(fields[n_fields++], sizeof(fields[0]), "%.*s", (int)len, s);
}

/* log.c's way into the journal; libsystemd is not linked */
int sd_journal_sendv_with_location(const char *file, const char *line, const char *func, const struct iovec *iov,
				   int n)
{
	char f[256];
	n_fields = 0;
	keep(file, strlen(file));
	keep(line, strlen(line));
	snprintf(f, sizeof(f), "CODE_FUNC=%s", func);
	keep(f, strlen(f));
	for (int i = 0; i < n; i++)
		keep(iov[i].iov_base, iov[i].iov_len);
	return 0;
}

static int count(const char *name)
{
	int c = 0;
	for (int i = 0; i < n_fields; i++)
		c += !strncmp(fields[i], name, strlen(name)) && fields[i][strlen(name)] == '=';
	return c;
}

static const char *value(const char *name)
{
	for (int i = 0; i < n_fields; i++)
		if (!strncmp(fields[i], name, strlen(name)) && fields[i][strlen(name)] == '=')
			return fields[i] + strlen(name) + 1;
	return "";
}

/* stderr "is" the journal when JOURNAL_STREAM names it, as systemd sets it */
static void journal_setup(void)
{
	struct stat st;
	char v[64];
	ck_assert_int_eq(fstat(2, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	log_init("n1", LOG_DEBUG);
	log_set_state(7, "leader", "n1");
	n_fields = 0;
}

static int line_of_log_call;

static void a_caller(void)
{
	line_of_log_call = __LINE__ + 1;
	log_msg(LOG_INFO, LOG_ID_LEADER_ELECTED, "RAFT_INDEX=42\nRAFT_PEER=n2", "became leader (term %d)", 7);
}

START_TEST(test_code_location_is_the_callers)
{
	a_caller();
	ck_assert_int_eq(count("CODE_FILE"), 1);
	ck_assert_int_eq(count("CODE_LINE"), 1);
	ck_assert_int_eq(count("CODE_FUNC"), 1);
	ck_assert_str_eq(value("CODE_FILE"), "tests/daemon/test_log.c");
	ck_assert_int_eq(atoi(value("CODE_LINE")), line_of_log_call);
	ck_assert_str_eq(value("CODE_FUNC"), "a_caller");

	int line = __LINE__ + 1;
	log_warning("a warning from the test");
	ck_assert_str_eq(value("CODE_FILE"), "tests/daemon/test_log.c");
	ck_assert_int_eq(atoi(value("CODE_LINE")), line);
	ck_assert_str_eq(value("CODE_FUNC"), __func__);
}
END_TEST

START_TEST(test_context_and_id)
{
	a_caller();
	ck_assert_str_eq(value("MESSAGE"), "became leader (term 7)");
	ck_assert_str_eq(value("PRIORITY"), "6");
	ck_assert_str_eq(value("MESSAGE_ID"), LOG_ID_LEADER_ELECTED);
	ck_assert_str_eq(value("RAFT_NODE"), "n1");
	ck_assert_str_eq(value("RAFT_TERM"), "7");
	ck_assert_str_eq(value("RAFT_ROLE"), "leader");
	ck_assert_str_eq(value("RAFT_INDEX"), "42");
	ck_assert_str_eq(value("RAFT_PEER"), "n2");
	ck_assert_int_eq(count("MESSAGE"), 1);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, journal_setup, NULL);
	tcase_add_test(tc, test_code_location_is_the_callers);
	tcase_add_test(tc, test_context_and_id);
	suite_add_tcase(s, tc);
	return s;
}
