/* base/journal.h — the MESSAGE_IDs of raftd's journal entries: raftd sends
 * them (src/raftd/log.c), `raftctl logs` matches on them, and
 * units/raftd.catalog describes them. One list, so the two cannot drift.
 */
#ifndef RAFTD_BASE_JOURNAL_H
#define RAFTD_BASE_JOURNAL_H

/* Stable, one per kind of event (sd-id128 strings). */
#define LOG_ID_STARTED        "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f01"
#define LOG_ID_LEADER_ELECTED "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f02"
#define LOG_ID_TERM_CHANGED   "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f03"
#define LOG_ID_MEMBER_JOINED  "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f04"
#define LOG_ID_MEMBER_LEFT    "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f05"
#define LOG_ID_SNAPSHOT_TAKEN "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f06"
#define LOG_ID_SNAPSHOT_INSTALLED "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f07"
#define LOG_ID_WAL_RECOVERED  "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f08"
#define LOG_ID_WAL_TRUNCATED  "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f09"
#define LOG_ID_PEER_UNREACHABLE "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f0a"
#define LOG_ID_PEER_BACK      "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f0b"
#define LOG_ID_STOPPING       "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f0c"
#define LOG_ID_WAL_FAILED     "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f0d"
#define LOG_ID_REMOVED        "4b1f3f0e6a8c4d7f9a1e2b3c4d5e6f0e"

#endif
