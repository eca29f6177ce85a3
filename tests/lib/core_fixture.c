/* tests/lib/core_fixture.c — see core_fixture.h. */
#include "tests/lib/core_fixture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct raft_config fx_config(const char *name)
{
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.name = name;
	cfg.seed = FX_SEED;
	return cfg;
}

/* ---- one core ------------------------------------------------------------ */

int fx_node_restore(struct fx_node *t, const struct raft_config *cfg, raft_term term,
		    const char *vote, const char *const *members, size_t n_members,
		    const raft_term *terms, size_t n, raft_index commit)
{
	memset(t, 0, sizeof(*t));
	struct raft_entry *e = calloc(n + 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		e[k].index = k + 1;
		e[k].term = terms[k];
		e[k].type = k < n_members ? RAFT_ENTRY_JOIN : RAFT_ENTRY_NOP;
		e[k].size = 50;
		if (k < n_members) {
			e[k].name = members[k];
			e[k].url = "http://localhost:1";
		}
	}
	struct raft_restore rs = {.term = term, .vote = vote, .n_entries = n, .entries = e,
				  .commit = commit};
	int rv = raft_new(cfg, &rs, 0, &t->r);
	free(e);
	return rv;
}

void fx_node_free(struct fx_node *t)
{
	raft_free(t->r);
	t->r = NULL;
}

void fx_step(struct fx_node *t, struct raft_event *ev)
{
	ev->now = t->now;
	t->rv = raft_step(t->r, ev, &t->u);
}

void fx_tick(struct fx_node *t, uint64_t ms)
{
	t->now += ms;
	struct raft_event ev = {.type = RAFT_EV_TICK};
	fx_step(t, &ev);
}

void fx_recv(struct fx_node *t, const char *from, const struct raft_msg *m)
{
	struct raft_event ev = {.type = RAFT_EV_RECV};
	ev.recv.from = from;
	ev.recv.msg = *m;
	fx_step(t, &ev);
}

void fx_persisted(struct fx_node *t, uint64_t seq)
{
	struct raft_event ev = {.type = RAFT_EV_PERSISTED};
	ev.persisted.seq = seq;
	fx_step(t, &ev);
}

void fx_durable(struct fx_node *t, uint64_t seq)
{
	struct raft_event ev = {.type = RAFT_EV_DURABLE};
	ev.durable.seq = seq;
	fx_step(t, &ev);
}

size_t fx_count_actions(const struct fx_node *t, enum raft_action_type type)
{
	size_t n = 0;
	for (size_t k = 0; k < t->u.n_actions; k++)
		n += t->u.actions[k].type == type;
	return n;
}

const struct raft_action *fx_nth_action(const struct fx_node *t, enum raft_action_type type,
					size_t i)
{
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == type && i-- == 0)
			return &t->u.actions[k];
	return NULL;
}

const struct raft_msg *fx_sent_to(const struct fx_node *t, const char *to)
{
	const struct raft_msg *m = NULL;
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == RAFT_ACT_SEND && strcmp(t->u.actions[k].send.to, to) == 0)
			m = &t->u.actions[k].send.msg;
	return m;
}

int fx_action_pos(const struct fx_node *t, enum raft_action_type type)
{
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == type)
			return (int)k;
	return -1;
}

uint64_t fx_persist_seq(const struct fx_node *t)
{
	uint64_t s = 0;
	for (size_t k = 0; k < t->u.n_actions; k++)
		if (t->u.actions[k].type == RAFT_ACT_PERSIST)
			s = t->u.actions[k].persist.seq;
	return s;
}

uint64_t fx_log_seq(const struct fx_node *t)
{
	uint64_t s = 0;
	for (size_t k = 0; k < t->u.n_actions; k++) {
		if (t->u.actions[k].type == RAFT_ACT_APPEND)
			s = t->u.actions[k].append.seq;
		if (t->u.actions[k].type == RAFT_ACT_TRUNCATE)
			s = t->u.actions[k].truncate.seq;
	}
	return s;
}

/* ---- a cluster on a message bus ------------------------------------------ */

static void msg_free(struct fx_msg *m)
{
	if (m->entries) {
		for (size_t k = 0; k < m->msg.ae.n_entries; k++) {
			free((char *)m->entries[k].name);
			free((char *)m->entries[k].url);
		}
		free(m->entries);
	}
	m->entries = NULL;
}

int fx_cluster_init(struct fx_cluster *c, size_t n, const struct raft_config *cfg)
{
	memset(c, 0, sizeof(*c));
	if (n == 0 || n > FX_MAX_NODES)
		return -EINVAL;
	const char *members[FX_MAX_NODES];
	raft_term terms[FX_MAX_NODES];
	for (size_t i = 0; i < n; i++) {
		c->names[i][0] = (char)('a' + i);
		members[i] = c->names[i];
		terms[i] = 1;
	}
	int rv = 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		struct raft_config nc = cfg ? *cfg : fx_config(NULL);
		nc.name = c->names[i];
		nc.seed += i;
		rv = fx_node_restore(&c->nodes[i], &nc, 1, "", members, n, terms, n, 0);
		c->n = i + 1;
	}
	if (rv)
		fx_cluster_free(c);
	return rv;
}

void fx_cluster_free(struct fx_cluster *c)
{
	for (size_t k = 0; k < c->n_bus; k++)
		msg_free(&c->bus[k]);
	for (size_t i = 0; i < c->n; i++)
		if (c->nodes[i].r)
			fx_node_free(&c->nodes[i]);
	c->n = c->n_bus = 0;
}

int fx_cluster_index(const struct fx_cluster *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return (int)i;
	return -1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* SEND: onto the bus, AE entries copied now (the log may change before the
 * message is delivered, and the real daemon reads it at send time too). */
static void post(struct fx_cluster *c, size_t from, const struct raft_action *a)
{
	int to = fx_cluster_index(c, a->send.to);
	if (to < 0 || c->n_bus == FX_MAX_MSGS) {
		c->dropped++;
		return;
	}
	struct fx_msg *m = &c->bus[c->n_bus];
	memset(m, 0, sizeof(*m));
	m->from = (int)from;
	m->to = to;
	m->msg = a->send.msg;
	if (m->msg.type == RAFT_MSG_AE_REQ && m->msg.ae.n_entries) {
		size_t n = m->msg.ae.n_entries;
		m->entries = calloc(n, sizeof(*m->entries));
		if (!m->entries)
			abort();
		for (size_t k = 0; k < n; k++) {
			struct raft_entry e;
			if (!raft_get_entry(c->nodes[from].r, m->msg.ae.prev_index + 1 + k, &e))
				abort(); /* the core sent what it does not hold */
			e.name = dup_or_null(e.name);
			e.url = dup_or_null(e.url);
			m->entries[k] = e;
		}
		m->msg.ae.entries = m->entries;
	}
	c->n_bus++;
}

/* Does what node i's last update asks, as a daemon whose disk is instant:
 * the whole update is read before the next step replaces it. */
static void execute(struct fx_cluster *c, size_t i)
{
	struct fx_node *t = &c->nodes[i];
	if (t->rv == -ENOMEM)
		return;
	uint64_t persisted = 0, durable = 0;
	for (size_t k = 0; k < t->u.n_actions; k++) {
		const struct raft_action *a = &t->u.actions[k];
		switch (a->type) {
		case RAFT_ACT_PERSIST:
			persisted = a->persist.seq;
			break;
		case RAFT_ACT_APPEND:
			durable = a->append.seq;
			break;
		case RAFT_ACT_TRUNCATE:
			durable = a->truncate.seq;
			break;
		case RAFT_ACT_INSTALL:
			durable = a->install.seq;
			break;
		case RAFT_ACT_SEND:
			post(c, i, a);
			break;
		default:
			break;
		}
	}
	if (persisted) {
		struct raft_event p = {.type = RAFT_EV_PERSISTED, .persisted.seq = persisted};
		fx_cluster_step(c, i, &p);
	}
	if (durable) {
		struct raft_event d = {.type = RAFT_EV_DURABLE, .durable.seq = durable};
		fx_cluster_step(c, i, &d);
	}
}

void fx_cluster_step(struct fx_cluster *c, size_t i, struct raft_event *ev)
{
	fx_step(&c->nodes[i], ev);
	execute(c, i);
}

void fx_cluster_tick(struct fx_cluster *c, uint64_t ms)
{
	for (size_t i = 0; i < c->n; i++) {
		c->nodes[i].now += ms;
		struct raft_event ev = {.type = RAFT_EV_TICK};
		fx_cluster_step(c, i, &ev);
	}
}

static void unqueue(struct fx_cluster *c, size_t k)
{
	memmove(&c->bus[k], &c->bus[k + 1], (c->n_bus - k - 1) * sizeof(c->bus[0]));
	c->n_bus--;
}

bool fx_cluster_deliver_one(struct fx_cluster *c, size_t k)
{
	if (k >= c->n_bus)
		return false;
	struct fx_msg m = c->bus[k];
	unqueue(c, k);
	struct raft_event ev = {.type = RAFT_EV_RECV};
	ev.recv.from = c->names[m.from];
	ev.recv.msg = m.msg;
	fx_cluster_step(c, (size_t)m.to, &ev);
	msg_free(&m);
	return true;
}

bool fx_cluster_drop(struct fx_cluster *c, size_t k)
{
	if (k >= c->n_bus)
		return false;
	msg_free(&c->bus[k]);
	unqueue(c, k);
	return true;
}

size_t fx_cluster_deliver_all(struct fx_cluster *c, size_t max)
{
	size_t n = 0;
	while (n < max && fx_cluster_deliver_one(c, 0))
		n++;
	return n;
}

raft_index fx_cluster_propose(struct fx_cluster *c, size_t i, size_t n)
{
	struct raft_entry *cmd = calloc(n + 1, sizeof(*cmd));
	if (!cmd)
		return 0;
	for (size_t k = 0; k < n; k++)
		cmd[k] = (struct raft_entry){.type = RAFT_ENTRY_COMMAND, .size = 10};
	struct raft_event ev = {.type = RAFT_EV_PROPOSE};
	ev.propose.n = n;
	ev.propose.entries = cmd;
	/* The answer is in the first update, before execute()'s steps replace it. */
	struct fx_node *t = &c->nodes[i];
	fx_step(t, &ev);
	free(cmd);
	raft_index first = t->rv == 0 ? t->u.proposed : 0;
	execute(c, i);
	return first;
}

int fx_cluster_leader(const struct fx_cluster *c)
{
	raft_term top = 0;
	for (size_t i = 0; i < c->n; i++)
		if (raft_current_term(c->nodes[i].r) > top)
			top = raft_current_term(c->nodes[i].r);
	int leader = -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct raft *r = c->nodes[i].r;
		if (raft_role(r) != RAFT_LEADER || raft_current_term(r) != top)
			continue;
		if (leader >= 0)
			return -1;
		leader = (int)i;
	}
	return leader;
}

raft_index fx_cluster_committed(const struct fx_cluster *c, size_t i)
{
	return raft_commit_index(c->nodes[i].r);
}

int fx_cluster_elect(struct fx_cluster *c, uint64_t step_ms, uint64_t max_ms)
{
	if (step_ms == 0)
		return -1;
	for (uint64_t t = 0; t <= max_ms; t += step_ms) {
		fx_cluster_deliver_all(c, 100000);
		int l = fx_cluster_leader(c);
		if (l >= 0)
			return l;
		fx_cluster_tick(c, step_ms);
	}
	return -1;
}
