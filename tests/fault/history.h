/* tests/fault/history.h — a client history of the key-value store and what
 * must hold of it after a fault run.
 *
 * Text, one record a line, fields separated by one space ('#' starts a
 * comment line):
 *
 *   O CLIENT KIND KEY VALUE STATUS CALL RET NODE    an operation
 *   F NODE KEY VALUE                                a node's final value
 *
 *   KIND    W (write), R (consistent read at the leader), L (local read),
 *           through /db; through etcd's v3 API (gRPC, the same store):
 *           P (Put: a write), G (a linearizable Range: a consistent
 *           read), C and M (a Txn comparing the key's value, or its
 *           mod_revision, then putting: a compare-and-swap)
 *   VALUE   the value written or read; "-" for the empty value (a key never
 *           written reads empty, as in goraft). Written values are unique.
 *           C and M: EXPECT>NEW>RESULT: the value compared with ("-": the
 *           key absent; for M the value read with the mod_revision
 *           compared), the value put, and t (swapped), f (compare failed)
 *           or - (outcome unknown or not happened: STATUS info or fail).
 *   STATUS  ok, fail (certainly did not happen: refused, connection refused)
 *           or info (unknown: timeout, 503, connection lost)
 *   CALL    invocation, CLOCK_MONOTONIC ns; RET completion, -1 for info
 *   NODE    index of the node the client asked (0-based)
 *
 * F records are GETs of every key on every node after the cluster healed
 * and converged (tests/fault/fault_client.c final).
 *
 * history_check() runs every check and prints a line per problem to report:
 *   - each key's writes, CASes and consistent reads are linearizable
 *     (linz.h), across both APIs;
 *   - a local read returns the empty value or a value written to that key,
 *     by a write that did not fail and was invoked before the read returned;
 *   - every node ends with the same value for every key (convergence);
 *   - no acknowledged write is lost: a key's final value is not the empty
 *     value and not that of a write that returned before the acknowledged
 *     write was invoked.
 */
#ifndef RAFTD_TESTS_FAULT_HISTORY_H
#define RAFTD_TESTS_FAULT_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum hop_status { HOP_OK, HOP_FAIL, HOP_INFO };

struct hop {
	int client;
	char kind;   /* 'W', 'R', 'L', 'P', 'G', 'C', 'M' */
	char *key;
	char *value; /* "-" is the empty value; C, M: the value put */
	char *expect; /* C, M: the value compared with; else NULL */
	char cas;    /* C, M: 't', 'f' or '-'; else 0 */
	enum hop_status st;
	int64_t call, ret; /* ret = -1 when st == HOP_INFO */
	int node;
	size_t line;
};

struct hfinal {
	int node;
	char *key;
	char *value;
};

struct history {
	struct hop *ops;
	size_t n, cap;
	struct hfinal *fin;
	size_t nfin, fincap;
};

struct history_result {
	size_t ops, writes_ok, writes_fail, writes_info, reads_ok, lreads_ok;
	/* of those, through the v3 API: Puts and Txns acknowledged, Txns
	 * whose compare failed (not in writes_ok), Ranges */
	size_t v3_puts_ok, v3_txns_swapped, v3_txns_not, v3_ranges_ok;
	size_t keys;
	size_t violations;   /* keys not linearizable + bad local reads */
	size_t bad_local;    /* of which local reads */
	size_t undecided;    /* keys the search gave up on (memory limit) */
	size_t lost;         /* acknowledged writes lost (on any node) */
	size_t diverged;     /* keys whose final value differs between nodes */
	size_t final_nodes;  /* nodes with F records */
};

/* Kinds: a write (W, P, C, M), a consistent read (R, G), a CAS (C, M). */
static inline int hop_is_write(char kind) { return kind == 'W' || kind == 'P' || kind == 'C' || kind == 'M'; }
static inline int hop_is_cread(char kind) { return kind == 'R' || kind == 'G'; }
static inline int hop_is_cas(char kind) { return kind == 'C' || kind == 'M'; }

/* Parses one line (without or with its '\n') into h. 0, or -EINVAL with a
 * reason in err. */
int history_add_line(struct history *h, const char *line, size_t lineno, char *err, size_t err_len);
/* Appends every record of the file. 0 or -errno / -EINVAL (err says). */
int history_load(struct history *h, const char *path, char *err, size_t err_len);
void history_free(struct history *h);

/* 0 when every check holds; 1 otherwise; -ENOMEM. max_bytes bounds the
 * memo table of each key's search (0: 1 GiB). */
int history_check(struct history *h, FILE *report, size_t max_bytes, struct history_result *res);

#endif
