/* src/raftctl/raftctl_bench.h — what `bench` shares with `check perf`. */
#ifndef RAFTD_SRC_RAFTCTL_RAFTCTL_BENCH_H
#define RAFTD_SRC_RAFTCTL_RAFTCTL_BENCH_H

#include <jansson.h>

#include "src/raftctl/raftctl_loadgen.h"

/* cfg->target := NODE (a member name or URL), or the leader when NULL (the
 * load then follows the leader when it changes); its name into name. 0 or
 * -errno with err set. */
int rc_bench_target(const char *node, struct lg_config *cfg, char *name, size_t name_len, char *err,
		    size_t err_len);
/* Deletes the keys a put load r wrote (through the leader, at full speed).
 * 0, or -errno with err set. */
int rc_bench_cleanup(const struct lg_config *cfg, const struct lg_result *r, char *err, size_t err_len);
void rc_bench_print(const struct lg_config *cfg, const struct lg_result *r, const char *node);
json_t *rc_bench_json(const struct lg_config *cfg, const struct lg_result *r, const char *node);

#endif
