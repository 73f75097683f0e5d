/*
 * conn.h: one client connection, owned by the worker thread whose event
 * loop it lives on. A connection reads into a query buffer, parses every
 * complete request in it, runs each, appends the replies to one output
 * buffer and writes them with one write() per read: a pipeline of 16
 * requests costs one read and one write.
 */
#ifndef LARDER_CONN_H
#define LARDER_CONN_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "buf.h"
#include "resp.h"

struct worker;

struct conn {
    struct worker *w;
    int fd;
    uint64_t id;
    struct event ev_read;
    struct event ev_write;
    bool writing;  /* ev_write is armed; reading paused */
    bool closing;  /* close once the output is flushed; run nothing more */
    bool draining; /* shutdown: run what is buffered, flush, then close */
    bool batch_cut; /* requests are left over after an output-bound batch */
    char *qbuf;    /* query buffer; the current request starts at qstart */
    size_t qlen;
    size_t qcap;
    size_t qstart;
    struct resp_parser parser;
    struct buf out;
    size_t out_sent;
    int proto;   /* 2 or 3, set by HELLO */
    char *name;  /* CLIENT SETNAME; owned */
    struct auth_session auth; /* who the client is (auth.h, cmd_auth.c) */
    int64_t created_ms;
    struct conn *prev;
    struct conn *next;
};

/* Takes ownership of fd; the connection starts reading. NULL on failure. */
struct conn *conn_create(struct worker *w, int fd);

/* Closes the socket and frees the connection; unlinks it from its worker. */
void conn_destroy(struct conn *c);

/*
 * Worker shutdown: serve whatever the client already sent, then close once
 * the replies are flushed.
 */
void conn_drain(struct conn *c);

#endif
