/* tests/lib/whole_response.h — for tests that read an HTTP server's
 * answers off a raw socket. */
#ifndef RAFTD_TESTS_LIB_WHOLE_RESPONSE_H
#define RAFTD_TESTS_LIB_WHOLE_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether buf holds a whole response, read by net/http_parse as every
 * client of the project reads one; its status in *status (0 until the head
 * is there). The bytes stay in buf for the tests to look at. Link
 * net/libnet.a. */
bool whole_response(const char *buf, size_t len, int *status);

#endif
