/* src/mvcc/index.c — the ordered key index of the MVCC store: a B+tree.
 *
 * Why a B+tree written here rather than GLib's GTree (an AVL tree): a GTree
 * node is a separate allocation of five words per key (key, value, two
 * children, balance and flags), so about 48 bytes per key with malloc's
 * header, and a lookup or an ordered walk chases one pointer per level,
 * each to a different cache line (about 20 levels at a million keys). Here a
 * leaf holds 32 key pointers in one block and the leaves are linked, so the
 * index costs about one pointer per key plus the node headers, a range walk
 * reads consecutive slots, and a lookup touches a handful of nodes. GTree
 * would also bring GLib into a pure module for one structure.
 *
 * Layout. Leaves hold pointers to struct mvcc_key in key order and are
 * linked both ways. An inner node of n children holds n - 1 separators:
 * child i holds the keys in [sep[i-1], sep[i]). Separators are copies of a
 * key (the first key of the right node when it was split), because the key
 * itself may be freed by compaction while the separator still bounds the
 * nodes around it.
 *
 * Splits. A full node splits in halves, except when the tree grows at its
 * right end (keys inserted in order, as a restore or sequential keys do):
 * then the old node stays full and the new one takes only the new key, so
 * such trees are packed full instead of half full. Every allocation an
 * insert may need is made before the tree is touched, so -ENOMEM leaves it
 * as it was.
 *
 * Removal (compaction and rollback only) never allocates: an empty node is
 * freed, and a node under a quarter full is merged into a neighbour under
 * the same parent when both fit in three quarters of a node; nodes are never
 * rebalanced otherwise. All leaves stay at the same depth, so the height
 * stays logarithmic.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "src/mvcc/mvcc_int.h"

enum {
	LEAF_MAX = 32,
	INNER_MAX = 32,
	MAX_HEIGHT = 48,
};

struct idx_node {
	uint16_t n; /* keys in a leaf, children in an inner node */
	uint8_t leaf;
};

struct idx_leaf {
	struct idx_node h;
	struct idx_leaf *prev, *next;
	struct mvcc_key *k[LEAF_MAX];
};

struct sep {
	uint32_t len;
	uint8_t b[];
};

struct idx_inner {
	struct idx_node h;
	struct sep *sep[INNER_MAX - 1];
	struct idx_node *child[INNER_MAX];
};

#define LEAF(nd) ((struct idx_leaf *)(nd))
#define INNER(nd) ((struct idx_inner *)(nd))

static int sep_cmp(const struct sep *s, const void *key, size_t len)
{
	return key_cmp(s->b, s->len, key, len);
}

/* The child of in that may hold key: the number of separators <= key. */
static unsigned child_index(const struct idx_inner *in, const void *key, size_t len)
{
	unsigned lo = 0, hi = in->h.n - 1u;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (sep_cmp(in->sep[mid], key, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first slot of lf whose key is >= key. */
static unsigned leaf_lower(const struct idx_leaf *lf, const void *key, size_t len)
{
	unsigned lo = 0, hi = lf->h.n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct mvcc_key *k = lf->k[mid];
		if (key_cmp(k->key, k->key_len, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct idx_leaf *leaf_new(void)
{
	struct idx_leaf *lf = base_calloc(1, sizeof(*lf));
	if (lf)
		lf->h.leaf = 1;
	return lf;
}

int mvcc_idx_init(struct idx *t)
{
	struct idx_leaf *lf = leaf_new();
	if (!lf)
		return -ENOMEM;
	t->root = &lf->h;
	t->count = 0;
	t->height = 1;
	return 0;
}

static void node_free(struct idx_node *nd, void (*free_key)(struct mvcc_key *k))
{
	if (nd->leaf) {
		if (free_key)
			for (unsigned i = 0; i < nd->n; i++)
				free_key(LEAF(nd)->k[i]);
	} else {
		struct idx_inner *in = INNER(nd);
		for (unsigned i = 0; i < nd->n; i++) {
			node_free(in->child[i], free_key);
			if (i)
				free(in->sep[i - 1]);
		}
	}
	free(nd);
}

void mvcc_idx_destroy(struct idx *t, void (*free_key)(struct mvcc_key *k))
{
	if (t->root)
		node_free(t->root, free_key);
	t->root = NULL;
	t->count = 0;
	t->height = 0;
}

static const struct idx_leaf *descend(const struct idx *t, const void *key, size_t len)
{
	const struct idx_node *nd = t->root;
	while (!nd->leaf)
		nd = INNER(nd)->child[child_index(INNER(nd), key, len)];
	return LEAF(nd);
}

struct mvcc_key *mvcc_idx_find(const struct idx *t, const void *key, size_t len)
{
	const struct idx_leaf *lf = descend(t, key, len);
	unsigned i = leaf_lower(lf, key, len);
	if (i < lf->h.n && !key_cmp(lf->k[i]->key, lf->k[i]->key_len, key, len))
		return lf->k[i];
	return NULL;
}

void mvcc_idx_seek(const struct idx *t, const void *key, size_t len, struct idx_pos *pos)
{
	const struct idx_leaf *lf = descend(t, key, len);
	pos->leaf = lf;
	pos->slot = leaf_lower(lf, key, len);
}

struct mvcc_key *mvcc_idx_next(struct idx_pos *pos)
{
	while (pos->leaf && pos->slot >= pos->leaf->h.n) {
		pos->leaf = pos->leaf->next;
		pos->slot = 0;
	}
	if (!pos->leaf)
		return NULL;
	return pos->leaf->k[pos->slot++];
}

static struct sep *sep_of(const struct mvcc_key *k)
{
	struct sep *s = base_malloc(sizeof(*s) + k->key_len);
	if (s) {
		s->len = k->key_len;
		if (k->key_len)
			memcpy(s->b, k->key, k->key_len);
	}
	return s;
}

/* Puts (s, c) into in as separator s before child c at child position ci;
 * in has room. */
static void inner_put(struct idx_inner *in, unsigned ci, struct sep *s, struct idx_node *c)
{
	unsigned n = in->h.n;
	memmove(&in->child[ci + 1], &in->child[ci], (n - ci) * sizeof(in->child[0]));
	memmove(&in->sep[ci], &in->sep[ci - 1], (n - ci) * sizeof(in->sep[0]));
	in->child[ci] = c;
	in->sep[ci - 1] = s;
	in->h.n++;
}

int mvcc_idx_insert(struct idx *t, struct mvcc_key *k)
{
	struct idx_inner *path[MAX_HEIGHT];
	unsigned at[MAX_HEIGHT];
	struct idx_inner *spare[MAX_HEIGHT + 1];
	unsigned depth = 0, n_spare = 0, need = 0;
	struct idx_node *nd = t->root;
	struct idx_leaf *lf, *right = NULL;
	struct sep *s = NULL;
	int rv = -ENOMEM;

	while (!nd->leaf) {
		assert(depth < MAX_HEIGHT - 1);
		path[depth] = INNER(nd);
		at[depth] = child_index(INNER(nd), k->key, k->key_len);
		nd = INNER(nd)->child[at[depth]];
		depth++;
	}
	lf = LEAF(nd);
	unsigned pos = leaf_lower(lf, k->key, k->key_len);
	assert(pos == lf->h.n || key_cmp(lf->k[pos]->key, lf->k[pos]->key_len, k->key, k->key_len));
	if (lf->h.n < LEAF_MAX) {
		memmove(&lf->k[pos + 1], &lf->k[pos], (lf->h.n - pos) * sizeof(lf->k[0]));
		lf->k[pos] = k;
		lf->h.n++;
		t->count++;
		return 0;
	}

	/* Full: every allocation first (a new leaf, its separator, one node per
	 * full ancestor and a root if they all are). */
	for (need = 0; need < depth && path[depth - 1 - need]->h.n == INNER_MAX; need++)
		;
	if (need == depth)
		need++;
	right = leaf_new();
	if (!right)
		goto out;
	for (n_spare = 0; n_spare < need; n_spare++) {
		spare[n_spare] = base_calloc(1, sizeof(struct idx_inner));
		if (!spare[n_spare])
			goto out;
	}
	bool append = pos == LEAF_MAX && !lf->next;
	unsigned split = append ? LEAF_MAX : LEAF_MAX / 2;
	right->h.n = (uint16_t)(LEAF_MAX - split);
	memcpy(right->k, &lf->k[split], right->h.n * sizeof(lf->k[0]));
	lf->h.n = (uint16_t)split;
	struct idx_leaf *into = pos <= split && !append ? lf : right;
	unsigned ipos = into == lf ? pos : pos - split;
	memmove(&into->k[ipos + 1], &into->k[ipos], (into->h.n - ipos) * sizeof(lf->k[0]));
	into->k[ipos] = k;
	into->h.n++;
	s = sep_of(right->k[0]);
	if (!s) {
		/* undo the split: nothing else has changed */
		memmove(&into->k[ipos], &into->k[ipos + 1], (into->h.n - ipos - 1) * sizeof(lf->k[0]));
		into->h.n--;
		memcpy(&lf->k[lf->h.n], right->k, right->h.n * sizeof(lf->k[0]));
		lf->h.n = LEAF_MAX;
		goto out;
	}
	right->prev = lf;
	right->next = lf->next;
	if (lf->next)
		lf->next->prev = right;
	lf->next = right;
	t->count++;

	/* Carry (s, new node) up. */
	struct idx_node *carry = &right->h;
	while (depth > 0) {
		depth--;
		struct idx_inner *in = path[depth];
		unsigned ci = at[depth] + 1;
		if (in->h.n < INNER_MAX) {
			inner_put(in, ci, s, carry);
			carry = NULL;
			break;
		}
		/* Split in: all children with the new one, then cut. */
		struct idx_node *ch[INNER_MAX + 1];
		struct sep *sp[INNER_MAX];
		memcpy(ch, in->child, ci * sizeof(ch[0]));
		ch[ci] = carry;
		memcpy(&ch[ci + 1], &in->child[ci], (INNER_MAX - ci) * sizeof(ch[0]));
		memcpy(sp, in->sep, (ci - 1) * sizeof(sp[0]));
		sp[ci - 1] = s;
		memcpy(&sp[ci], &in->sep[ci - 1], (INNER_MAX - ci) * sizeof(sp[0]));
		unsigned l = append && ci == INNER_MAX ? INNER_MAX : (INNER_MAX + 2) / 2;
		struct idx_inner *rn = spare[--n_spare];
		memcpy(in->child, ch, l * sizeof(ch[0]));
		memcpy(in->sep, sp, (l - 1) * sizeof(sp[0]));
		in->h.n = (uint16_t)l;
		rn->h.n = (uint16_t)(INNER_MAX + 1 - l);
		memcpy(rn->child, &ch[l], rn->h.n * sizeof(ch[0]));
		memcpy(rn->sep, &sp[l], (rn->h.n - 1u) * sizeof(sp[0]));
		s = sp[l - 1];
		carry = &rn->h;
	}
	if (carry) {
		struct idx_inner *root = spare[--n_spare];
		root->h.n = 2;
		root->child[0] = t->root;
		root->child[1] = carry;
		root->sep[0] = s;
		t->root = &root->h;
		t->height++;
		assert(t->height < MAX_HEIGHT);
	}
	assert(n_spare == 0);
	right = NULL;
	rv = 0;
out:
	while (n_spare)
		free(spare[--n_spare]);
	free(right);
	return rv;
}

/* Takes child ci (and the separator that bounds it) out of in; the
 * separator is freed unless keep_sep. */
static struct sep *inner_cut(struct idx_inner *in, unsigned ci)
{
	unsigned n = in->h.n;
	struct sep *s = NULL;
	if (n > 1) {
		unsigned si = ci ? ci - 1 : 0;
		s = in->sep[si];
		memmove(&in->sep[si], &in->sep[si + 1], (n - 2 - si) * sizeof(in->sep[0]));
	}
	memmove(&in->child[ci], &in->child[ci + 1], (n - 1 - ci) * sizeof(in->child[0]));
	in->h.n--;
	return s;
}

static void leaf_unlink(struct idx_leaf *lf)
{
	if (lf->prev)
		lf->prev->next = lf->next;
	if (lf->next)
		lf->next->prev = lf->prev;
}

/* Merges child j + 1 of p into child j, if both fit in three quarters of a
 * node. */
static bool merge(struct idx_inner *p, unsigned j)
{
	struct idx_node *a = p->child[j], *b = p->child[j + 1];
	if (a->leaf) {
		if (a->n + b->n > LEAF_MAX * 3 / 4)
			return false;
		memcpy(&LEAF(a)->k[a->n], LEAF(b)->k, b->n * sizeof(LEAF(a)->k[0]));
		a->n = (uint16_t)(a->n + b->n);
		leaf_unlink(LEAF(b));
		free(inner_cut(p, j + 1));
	} else {
		if (a->n + b->n > INNER_MAX * 3 / 4)
			return false;
		struct idx_inner *ia = INNER(a), *ib = INNER(b);
		struct sep *down = inner_cut(p, j + 1);
		ia->sep[a->n - 1] = down;
		memcpy(&ia->sep[a->n], ib->sep, (b->n - 1u) * sizeof(ia->sep[0]));
		memcpy(&ia->child[a->n], ib->child, b->n * sizeof(ia->child[0]));
		a->n = (uint16_t)(a->n + b->n);
	}
	free(b);
	return true;
}

void mvcc_idx_remove(struct idx *t, const struct mvcc_key *k)
{
	struct idx_inner *path[MAX_HEIGHT];
	unsigned at[MAX_HEIGHT];
	unsigned depth = 0;
	struct idx_node *nd = t->root;

	while (!nd->leaf) {
		path[depth] = INNER(nd);
		at[depth] = child_index(INNER(nd), k->key, k->key_len);
		nd = INNER(nd)->child[at[depth]];
		depth++;
	}
	struct idx_leaf *lf = LEAF(nd);
	unsigned pos = leaf_lower(lf, k->key, k->key_len);
	assert(pos < lf->h.n && lf->k[pos] == k);
	memmove(&lf->k[pos], &lf->k[pos + 1], (lf->h.n - pos - 1u) * sizeof(lf->k[0]));
	lf->h.n--;
	t->count--;

	while (depth > 0) {
		struct idx_inner *p = path[depth - 1];
		unsigned ci = at[depth - 1];
		unsigned max = nd->leaf ? LEAF_MAX : INNER_MAX;
		if (nd->n == 0) {
			if (nd->leaf)
				leaf_unlink(LEAF(nd));
			free(nd);
			free(inner_cut(p, ci));
		} else if (nd->n >= max / 4 || !((ci > 0 && merge(p, ci - 1)) ||
						 (ci + 1u < p->h.n && merge(p, ci)))) {
			break;
		}
		nd = &p->h;
		depth--;
	}
	while (!t->root->leaf && t->root->n == 1) {
		struct idx_node *old = t->root;
		t->root = INNER(old)->child[0];
		free(old);
		t->height--;
	}
	if (!t->root->leaf && t->root->n == 0) {
		/* cannot happen: the last key's leaf is the root by then */
		assert(0);
	}
}

/* ---- invariants ---- */

struct check {
	const struct idx_leaf *next_leaf; /* the leaf the in-order walk expects next */
	size_t count;
	bool first;
	const struct idx_leaf *last_leaf;
};

static int check_node(const struct idx_node *nd, unsigned depth, unsigned height, const struct sep *lo,
		      const struct sep *hi, struct check *c, bool root)
{
	if (nd->leaf) {
		const struct idx_leaf *lf = LEAF(nd);
		if (depth != height - 1 || nd->n > LEAF_MAX || (!root && nd->n == 0))
			return -EINVAL;
		if (lf != c->next_leaf && !(c->first && !lf->prev))
			return -EINVAL;
		if (!c->first && lf->prev != c->last_leaf)
			return -EINVAL;
		c->first = false;
		c->last_leaf = lf;
		c->next_leaf = lf->next;
		for (unsigned i = 0; i < nd->n; i++) {
			const struct mvcc_key *k = lf->k[i];
			if (lo && sep_cmp(lo, k->key, k->key_len) > 0)
				return -EINVAL;
			if (hi && sep_cmp(hi, k->key, k->key_len) <= 0)
				return -EINVAL;
			if (i && key_cmp(lf->k[i - 1]->key, lf->k[i - 1]->key_len, k->key, k->key_len) >= 0)
				return -EINVAL;
		}
		c->count += nd->n;
		return 0;
	}
	const struct idx_inner *in = INNER(nd);
	if (nd->n == 0 || nd->n > INNER_MAX || (root && nd->n < 2))
		return -EINVAL;
	for (unsigned i = 0; i < nd->n; i++) {
		const struct sep *l = i ? in->sep[i - 1] : lo, *h = i + 1u < nd->n ? in->sep[i] : hi;
		if (i && i + 1u < nd->n && key_cmp(in->sep[i - 1]->b, in->sep[i - 1]->len, in->sep[i]->b,
						   in->sep[i]->len) >= 0)
			return -EINVAL;
		int rv = check_node(in->child[i], depth + 1, height, l, h, c, false);
		if (rv)
			return rv;
	}
	return 0;
}

int mvcc_idx_check(const struct idx *t)
{
	struct check c = { .first = true };
	int rv = check_node(t->root, 0, t->height, NULL, NULL, &c, true);
	if (rv)
		return rv;
	if (c.next_leaf || c.count != t->count)
		return -EINVAL;
	return 0;
}
