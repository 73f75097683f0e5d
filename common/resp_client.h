/*
 * resp_client.h: a small blocking RESP client for tools (the admin CLI, the
 * loader): connect to one node, send a command, read its one reply.
 *
 * Every call is bounded by the client's timeout: a connect, and a command
 * (sending the request and reading the whole reply) each finish within
 * timeout_ms or fail with RESP_CLIENT_TIMEOUT, whatever the peer does.
 * Errors come with a message naming what failed ("connection refused to
 * 127.0.0.1:7379", "timeout after 2000 ms waiting for a reply from
 * 127.0.0.1:7379"). After any failure other than RESP_CLIENT_OK the
 * connection is closed and further commands fail at once: the stream may
 * hold half a reply. A RESP error reply (-ERR, -NOTABLE ...) is not a
 * failure: it is returned as a reply of type RESP_REPLY_ERRORMSG.
 *
 * Name resolution of a host name is the one step the timeout cannot bound
 * (getaddrinfo blocks); numeric addresses, which nodes register, resolve
 * without a lookup. Not thread-safe: one client per thread. SIGPIPE is
 * never raised (sends use MSG_NOSIGNAL).
 */
#ifndef LARDER_RESP_CLIENT_H
#define LARDER_RESP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "resp_reply.h"

enum resp_client_status {
    RESP_CLIENT_OK = 0,
    RESP_CLIENT_CONNECT,  /* refused, unreachable, bad address */
    RESP_CLIENT_TIMEOUT,  /* the deadline passed */
    RESP_CLIENT_IO,       /* the peer closed or reset; a send/recv error */
    RESP_CLIENT_PROTOCOL, /* the reply is not valid RESP or over a limit */
    RESP_CLIENT_NOMEM,
};

struct resp_client;

/*
 * Connects to host:port (a name or a numeric IPv4/IPv6 address; every
 * address it resolves to is tried until one accepts, all within
 * timeout_ms). timeout_ms also bounds each later command; 0 means 2000.
 * On success *out is a client the caller closes with resp_client_close().
 */
enum resp_client_status resp_client_connect(const char *host, uint16_t port,
                                            int timeout_ms,
                                            struct resp_client **out,
                                            char *err, size_t errlen);

/*
 * Like resp_client_connect() with an address "host:port" or "[v6]:port".
 * A malformed address fails with RESP_CLIENT_CONNECT and says so.
 */
enum resp_client_status resp_client_connect_addr(const char *addr,
                                                 int timeout_ms,
                                                 struct resp_client **out,
                                                 char *err, size_t errlen);

/*
 * Sends one command (argc arguments, argv[i] of argvlen[i] bytes, binary
 * safe; argvlen NULL means strlen of each) as a RESP multibulk request and
 * reads its reply. On RESP_CLIENT_OK *reply is the reply (the caller frees
 * it with resp_reply_free()); otherwise *reply is NULL and err says why.
 */
enum resp_client_status resp_client_command(struct resp_client *c, int argc,
                                            const char *const *argv,
                                            const size_t *argvlen,
                                            struct resp_reply **reply,
                                            char *err, size_t errlen);

/* The peer's address as given to connect ("127.0.0.1:7379"). */
const char *resp_client_peer(const struct resp_client *c);

/* Closes the connection and frees the client; sets *c to NULL. */
void resp_client_close(struct resp_client **c);

#endif
