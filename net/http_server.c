/* net/http_server.c — libmicrohttpd driven by the event loop; see the header. */
#include "net/http_server.h"

#include "net/http_request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct httpd_request {
	struct httpd *server;
	struct MHD_Connection *conn;
	const struct httpd_route *route;
	const char *method; /* MHD's, valid for the request's life */
	const char *path;
	uint8_t *body;
	size_t body_len, body_cap;
	bool too_large;
	bool handled;       /* the handler has seen it */
	bool suspended;
	bool active;        /* counted in its route's active requests */
	struct MHD_Response *response; /* answered, waiting to be queued */
	unsigned status;
	void *user;
	struct httpd_request *prev, *next; /* on the suspended list */
};

struct httpd {
	struct loop *loop;
	struct MHD_Daemon *mhd;
	const struct httpd_route *routes;
	size_t n_routes;
	unsigned *active; /* per route: requests between head and response sent */
	struct loop_poll poll;
	struct loop_timer timer;
	struct loop_hook hook;
	bool need_run; /* a suspended request was answered */
	struct httpd_request *suspended;
	struct httpd_stats stats;
	char last_error[256];
};

#define SERVER_OF(ptr, member) ((struct httpd *)((char *)(ptr) - offsetof(struct httpd, member)))

static void run_mhd(struct httpd *server)
{
	server->need_run = false;
	MHD_run(server->mhd);
	MHD_UNSIGNED_LONG_LONG timeout_ms;
	if (MHD_get_timeout(server->mhd, &timeout_ms) == MHD_YES)
		loop_timer_arm(server->loop, &server->timer, timeout_ms);
	else
		loop_timer_cancel(server->loop, &server->timer);
}

static void on_epoll_ready(struct loop_poll *poll, int res)
{
	(void)res;
	run_mhd(SERVER_OF(poll, poll));
}

static void on_timer(struct loop_timer *timer)
{
	run_mhd(SERVER_OF(timer, timer));
}

static void on_idle(struct loop_hook *hook)
{
	struct httpd *server = SERVER_OF(hook, hook);
	if (server->need_run)
		run_mhd(server);
}

/* --- replies ---------------------------------------------------------------- */

static void unlink_suspended(struct httpd_request *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		req->server->suspended = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

static int finish_reply(struct httpd_request *req, unsigned status, struct MHD_Response *resp,
			const char *content_type, const char *const *extra_headers)
{
	int rv = 0;
	if (resp && content_type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES)
		rv = -ENOMEM;
	for (size_t i = 0; resp && rv == 0 && extra_headers && extra_headers[i]; i += 2)
		if (MHD_add_response_header(resp, extra_headers[i], extra_headers[i + 1]) != MHD_YES)
			rv = -ENOMEM;
	if (!resp || rv < 0) {
		if (resp)
			MHD_destroy_response(resp);
		/* An empty 500 needs no allocation of ours; MHD may still fail. */
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		rv = -ENOMEM;
	}
	req->response = resp;
	req->status = status;
	if (status / 100 < 6)
		req->server->stats.responses_by_class[status / 100]++;
	if (req->suspended) {
		req->suspended = false;
		unlink_suspended(req);
		req->server->stats.suspended_now--;
		MHD_resume_connection(req->conn);
		req->server->need_run = true;
	}
	return rv;
}

int httpd_reply(struct httpd_request *req, unsigned status, const char *content_type, const void *body,
		size_t len, const char *const *extra_headers)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	return finish_reply(req, status, resp, content_type, extra_headers);
}

int httpd_reply_fd(struct httpd_request *req, unsigned status, const char *content_type, int fd,
		   uint64_t size, const char *const *extra_headers)
{
	/* MHD closes fd when the response is destroyed, or now on failure. */
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	return finish_reply(req, status, resp, content_type, extra_headers);
}

int httpd_reply_text(struct httpd_request *req, unsigned status, const char *text)
{
	static const char *const error_headers[] = { "X-Content-Type-Options", "nosniff", NULL };
	size_t len = strlen(text);
	char *body = malloc(len + 2);
	if (!body)
		return httpd_reply(req, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "", 0, NULL);
	memcpy(body, text, len);
	body[len] = '\n';
	/* goraft's http.Error: text/plain, nosniff, a trailing newline. */
	int rv = httpd_reply(req, status, "text/plain; charset=utf-8", body, len + 1,
			     status >= 400 ? error_headers : NULL);
	free(body);
	return rv;
}

/* Hands a ready response to MHD. MHD keeps its own reference. */
static enum MHD_Result queue_reply(struct httpd_request *req)
{
	enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
	MHD_destroy_response(req->response);
	req->response = NULL;
	return r;
}

/* --- request flow ------------------------------------------------------------ */

static const struct httpd_route *find_route(const struct httpd *server, const char *method,
					    const char *path, bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < server->n_routes; i++) {
		const struct httpd_route *r = &server->routes[i];
		size_t plen = strlen(r->path);
		bool match = r->prefix ? strncmp(path, r->path, plen) == 0 && path[plen] != '\0'
				       : strcmp(path, r->path) == 0;
		if (!match)
			continue;
		*ret_path_known = true;
		if (!r->method || strcmp(r->method, method) == 0)
			return r;
	}
	return NULL;
}

static bool append_body(struct httpd_request *req, const char *data, size_t len)
{
	if (req->body_len + len > req->route->max_body)
		return false;
	if (req->body_len + len > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 4096;
		while (cap < req->body_len + len)
			cap *= 2;
		if (cap > req->route->max_body)
			cap = req->route->max_body;
		uint8_t *grown = realloc(req->body, cap);
		if (!grown)
			return false;
		req->body = grown;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, len);
	req->body_len += len;
	return true;
}

static enum MHD_Result add_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
					    const char *value)
{
	(void)kind;
	http_framing_add(cls, key, value ? value : "");
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct httpd *server = cls;
	struct httpd_request *req = *con_cls;

	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO; /* MHD closes the connection */
		req->server = server;
		req->conn = conn;
		req->method = method;
		req->path = url;
		*con_cls = req;
		server->stats.requests++;

		/* Before MHD reads a byte of the body: see net/http_request.h. */
		struct http_framing framing = { 0 };
		const char *why;
		MHD_get_connection_values(conn, MHD_HEADER_KIND, add_framing_header, &framing);
		unsigned refuse = http_framing_verdict(&framing, &why);
		if (refuse) {
			server->stats.bad_framing++;
			httpd_reply_text(req, refuse, why);
			return queue_reply(req);
		}

		bool path_known;
		req->route = find_route(server, method, url, &path_known);
		if (!req->route) {
			/* Answered once the request is read: a response queued
			 * earlier makes MHD close a keep-alive connection. */
			httpd_reply_text(req, path_known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
					 path_known ? "405 method not allowed" : "404 page not found");
			return MHD_YES;
		}
		size_t ri = (size_t)(req->route - server->routes);
		if (req->route->max_active && server->active[ri] >= req->route->max_active) {
			static const char *const retry[] = { "Retry-After", "1", NULL };
			static const char busy[] = "busy: too many of these requests at once; retry\n";
			server->stats.route_busy++;
			httpd_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", busy,
				    sizeof(busy) - 1, retry);
			return queue_reply(req);
		}
		server->active[ri]++;
		req->active = true;
		/* A body we would refuse anyway is not worth reading. */
		const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (clen && strtoull(clen, NULL, 10) > req->route->max_body) {
			server->stats.body_too_large++;
			httpd_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
			return queue_reply(req);
		}
		return MHD_YES;
	}

	if (*upload_data_size) {
		if (!req->response && !req->too_large && !append_body(req, upload_data, *upload_data_size))
			req->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in. */
	if (req->response)
		return queue_reply(req);
	if (req->too_large) {
		server->stats.body_too_large++;
		httpd_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		return queue_reply(req);
	}
	if (req->handled)
		return MHD_YES; /* a wake-up while still waiting */
	req->handled = true;
	req->route->handler(req, req->route->data);
	if (req->response)
		return queue_reply(req);

	/* Answered later: park the connection. */
	MHD_suspend_connection(conn);
	req->suspended = true;
	req->next = server->suspended;
	if (req->next)
		req->next->prev = req;
	server->suspended = req;
	server->stats.suspended_now++;
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)conn, (void)toe;
	struct httpd_request *req = *con_cls;
	if (!req)
		return;
	if (req->active)
		req->server->active[req->route - req->server->routes]--;
	if (req->response)
		MHD_destroy_response(req->response);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct httpd *server = cls;
	vsnprintf(server->last_error, sizeof(server->last_error), fmt, ap);
	/* MHD ends its messages with a newline. */
	size_t n = strlen(server->last_error);
	if (n && server->last_error[n - 1] == '\n')
		server->last_error[n - 1] = '\0';
}

/* --- lifecycle --------------------------------------------------------------- */

int httpd_start(struct loop *loop, const struct httpd_config *cfg, struct httpd **ret, char *err,
		size_t err_len)
{
	struct httpd *server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->routes = cfg->routes;
	server->n_routes = cfg->n_routes;
	server->active = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*server->active));
	if (!server->active) {
		free(server);
		return -ENOMEM;
	}
	loop_timer_init(&server->timer, on_timer);
	server->hook.run = on_idle;

	struct sockaddr_storage addr = { 0 };
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (cfg->listen_host && *cfg->listen_host) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
		if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
			in4->sin_family = AF_INET;
			in4->sin_port = htons(cfg->port);
		} else if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(cfg->port);
			flags |= MHD_USE_IPv6;
		} else {
			snprintf(err, err_len, "listen address '%s' is not a numeric IPv4 or IPv6 address",
				 cfg->listen_host);
			free(server);
			return -EINVAL;
		}
	}

	struct MHD_OptionItem opts[8];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, server };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, server };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					     cfg->max_connections ? cfg->max_connections : 1024, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
					     cfg->connection_timeout_s ? cfg->connection_timeout_s : 60, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL };
	if (cfg->listen_fd >= 0)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd, NULL };
	else if (addr.ss_family)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &addr };
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	server->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, server, MHD_OPTION_ARRAY, opts,
				       MHD_OPTION_END);
	if (!server->mhd) {
		snprintf(err, err_len, "cannot listen on %s:%u: %s",
			 cfg->listen_host && *cfg->listen_host ? cfg->listen_host : "*", cfg->port,
			 server->last_error[0] ? server->last_error : "libmicrohttpd refused to start");
		free(server->active);
		free(server);
		return -EADDRNOTAVAIL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int rv = loop_poll_start(loop, &server->poll, info->epoll_fd, POLLIN, on_epoll_ready);
	if (rv < 0) {
		snprintf(err, err_len, "cannot poll the HTTP server: %s", strerror(-rv));
		MHD_stop_daemon(server->mhd);
		free(server->active);
		free(server);
		return rv;
	}
	loop_add_hook(loop, &server->hook);
	*ret = server;
	return 0;
}

uint16_t httpd_port(const struct httpd *server)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_BIND_PORT);
	return info ? info->port : 0;
}

const struct httpd_stats *httpd_stats(const struct httpd *server)
{
	return &server->stats;
}

static void remove_hook(struct loop *loop, struct loop_hook *hook)
{
	for (struct loop_hook **p = &loop->hooks; *p; p = &(*p)->next) {
		if (*p == hook) {
			*p = hook->next;
			return;
		}
	}
}

void httpd_stop(struct httpd *server)
{
	if (!server)
		return;
	while (server->suspended)
		httpd_reply_text(server->suspended, MHD_HTTP_SERVICE_UNAVAILABLE, "raftd is shutting down");
	/* Let MHD deliver what was just answered before it closes everything. */
	MHD_run(server->mhd);
	loop_poll_cancel(server->loop, &server->poll);
	/* The kernel still holds the poll until its cancellation completes. */
	loop_drain(server->loop, &server->poll.inflight, 1000);
	loop_timer_cancel(server->loop, &server->timer);
	remove_hook(server->loop, &server->hook);
	MHD_stop_daemon(server->mhd);
	free(server->active);
	free(server);
}

/* --- request accessors ----------------------------------------------------- */

const char *httpd_method(const struct httpd_request *req)
{
	return req->method;
}

const char *httpd_path(const struct httpd_request *req)
{
	return req->path;
}

const char *httpd_query(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *httpd_header(const struct httpd_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const uint8_t *httpd_body(const struct httpd_request *req, size_t *ret_len)
{
	*ret_len = req->body_len;
	return req->body ? req->body : (const uint8_t *)"";
}

void httpd_set_user(struct httpd_request *req, void *user)
{
	req->user = user;
}

void *httpd_user(const struct httpd_request *req)
{
	return req->user;
}
