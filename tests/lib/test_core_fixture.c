/* tests/lib/test_core_fixture.c — the shared core fixture's cluster does
 * what the tests built on it rely on: a leader comes out of ticks and
 * delivered messages, a proposal commits on a majority, and a dropped
 * message is lost. */
#include "src/raft/raft.h"

#include <check.h>
#include "tests/lib/check_main.h"
#include "tests/lib/core_fixture.h"

START_TEST(test_three_nodes_elect_one_leader)
{
	struct fx_cluster c;
	ck_assert_int_eq(fx_cluster_init(&c, 3, NULL), 0);
	int l = fx_cluster_elect(&c, 10, 10000);
	ck_assert_int_ge(l, 0);
	/* everyone knows it once the heartbeats went round */
	fx_cluster_tick(&c, 100);
	fx_cluster_deliver_all(&c, 1000);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_str_eq(raft_leader(c.nodes[i].r), c.names[l]);
	ck_assert_uint_eq(c.dropped, 0);
	fx_cluster_free(&c);
}
END_TEST

START_TEST(test_proposal_commits_everywhere)
{
	struct fx_cluster c;
	ck_assert_int_eq(fx_cluster_init(&c, 3, NULL), 0);
	int l = fx_cluster_elect(&c, 10, 10000);
	ck_assert_int_ge(l, 0);
	fx_cluster_deliver_all(&c, 1000);
	raft_index first = fx_cluster_propose(&c, (size_t)l, 2);
	ck_assert_uint_gt(first, 0);
	fx_cluster_deliver_all(&c, 1000);
	ck_assert_uint_ge(fx_cluster_committed(&c, (size_t)l), first + 1);
	/* followers learn the commit with the next AppendEntries */
	fx_cluster_tick(&c, 100);
	fx_cluster_deliver_all(&c, 1000);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_uint_eq(fx_cluster_committed(&c, i), first + 1);
	/* a follower cannot propose */
	ck_assert_uint_eq(fx_cluster_propose(&c, ((size_t)l + 1) % c.n, 1), 0);
	fx_cluster_free(&c);
}
END_TEST

START_TEST(test_dropped_messages_hold_the_commit)
{
	struct fx_cluster c;
	ck_assert_int_eq(fx_cluster_init(&c, 3, NULL), 0);
	int l = fx_cluster_elect(&c, 10, 10000);
	ck_assert_int_ge(l, 0);
	fx_cluster_deliver_all(&c, 1000);
	raft_index before = fx_cluster_committed(&c, (size_t)l);
	raft_index first = fx_cluster_propose(&c, (size_t)l, 1);
	ck_assert_uint_gt(first, 0);
	ck_assert_uint_gt(c.n_bus, 0);
	while (fx_cluster_drop(&c, 0))
		;
	ck_assert_uint_eq(fx_cluster_committed(&c, (size_t)l), before);
	/* the leader sends again on its heartbeat; then it commits */
	fx_cluster_tick(&c, 100);
	fx_cluster_deliver_all(&c, 1000);
	ck_assert_uint_ge(fx_cluster_committed(&c, (size_t)l), first);
	ck_assert_int_eq(fx_cluster_leader(&c), l);
	fx_cluster_free(&c);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("core_fixture");
	TCase *tc = tcase_create("cluster");
	tcase_add_test(tc, test_three_nodes_elect_one_leader);
	tcase_add_test(tc, test_proposal_commits_everywhere);
	tcase_add_test(tc, test_dropped_messages_hold_the_commit);
	suite_add_tcase(s, tc);
	return s;
}
