/* base/journal.h — the MESSAGE_IDs of raftd's journal entries: raftd sends
 * them (src/raftd/log.c), `raftctl logs` matches on them, and
 * units/raftd.catalog describes them. One list, so the two cannot drift.
 */
#ifndef RAFTD_BASE_JOURNAL_H
#define RAFTD_BASE_JOURNAL_H

/* Stable, one per kind of event: random sd-id128 strings (`systemd-id128
 * new`), as systemd asks, so that no other program's IDs can collide. */
#define LOG_ID_STARTED        "551ef98459de4f4eb3c1bfedbe3c219c"
#define LOG_ID_LEADER_ELECTED "187dbfda44a1466f9a4cfa8ac38cefcf"
#define LOG_ID_TERM_CHANGED   "76e6ae6e58854a52be6b949f92b4fe75"
#define LOG_ID_MEMBER_JOINED  "12506ff6c71b4d179722e375f0ba8012"
#define LOG_ID_MEMBER_LEFT    "ebffffbdc6a046cbad31ddee31c6d342"
#define LOG_ID_SNAPSHOT_TAKEN "5ddd3ce5dbf74cdcad56a440982887f8"
#define LOG_ID_SNAPSHOT_INSTALLED "4832d08b54aa45f1aef297aa0025b57d"
#define LOG_ID_WAL_RECOVERED  "538b23b783c34f1d805845dc124441f9"
#define LOG_ID_WAL_TRUNCATED  "db2d56b4442a459794e68d8ef9c7d021"
#define LOG_ID_PEER_UNREACHABLE "32f63167129d4ac19c9310f7dd014649"
#define LOG_ID_PEER_BACK      "23c8ed53ccb244f1804f8871b193d728"
#define LOG_ID_STOPPING       "a90d81dbfd364e4a85bfa489e4a1ca92"
#define LOG_ID_WAL_FAILED     "b7764a7de5244e2b87cb873a79c215fe"
#define LOG_ID_WAL_STALLED    "6c38504f745545579425eb1545bf0505"
#define LOG_ID_WAL_STALL_ENDED "7950930663544d6bbfaff501580f9c6b"
#define LOG_ID_REMOVED        "9be2f74920fb4008974753ef8be6d3e4"
#define LOG_ID_NO_TLS         "b109157886b5443281a352463dc94126"
#define LOG_ID_PEER_REFUSED   "3a6c3de8ec2a4580bd2bbce424283275"

#endif
