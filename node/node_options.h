/*
 * node_options.h: every larderd option, declared once. The table drives
 * command-line parsing, the config file, --help and CONFIG GET/SET.
 */
#ifndef LARDER_NODE_OPTIONS_H
#define LARDER_NODE_OPTIONS_H

#include "option.h"

#define NODE_POLICIES \
    "noeviction|allkeys-lru|allkeys-random|volatile-lru|volatile-ttl"
#define NODE_LOGLEVELS "debug|verbose|notice|warning"
#define NODE_LOGFORMATS "text|json"

/* X(id, name, type, default, choices, flags, help) */
#define NODE_OPTIONS(X)                                                        \
    X(config, "config", OPTION_STR, "", NULL, 0,                               \
      "read options from this file first (lines of 'name value')")            \
    X(port, "port", OPTION_UINT, "7379", NULL, 0, "TCP port for clients")      \
    X(bind, "bind", OPTION_STR, "127.0.0.1", NULL, 0,                          \
      "IP address to listen on")                                               \
    X(protected_mode, "protected-mode", OPTION_BOOL, "yes", NULL,              \
      OPTION_RELOADABLE, "refuse a non-loopback --bind unless requirepass or " \
      "acl-file is set (no: let anyone who reaches the port in)")              \
    X(requirepass, "requirepass", OPTION_STR, "", NULL, OPTION_RELOADABLE,     \
      "password of the user 'default' (an admin); kept only as a hash, "       \
      "which CONFIG GET shows")                                                \
    X(acl_file, "acl-file", OPTION_STR, "", NULL, OPTION_RELOADABLE,           \
      "users, one line 'user NAME reader|admin HASH' each, HASH made by "      \
      "larderd --hash-password")                                               \
    X(hash_iterations, "hash-iterations", OPTION_UINT, "10000", NULL, 0,       \
      "PBKDF2-SHA256 rounds of --hash-password and of requirepass's hash")     \
    X(threads, "threads", OPTION_UINT, "0", NULL, 0,                           \
      "worker threads, each with its own event loop (0: one per core)")        \
    X(maxmemory, "maxmemory", OPTION_BYTES, "0", NULL, OPTION_RELOADABLE,      \
      "memory limit for live tables in bytes (0: none); e.g. 4gb")             \
    X(maxmemory_policy, "maxmemory-policy", OPTION_ENUM, "noeviction",         \
      NODE_POLICIES, OPTION_RELOADABLE, "what to do when maxmemory is reached") \
    X(maxmemory_samples, "maxmemory-samples", OPTION_UINT, "5", NULL, 0,       \
      "keys sampled per eviction")                                             \
    X(hz, "hz", OPTION_UINT, "10", NULL, 0,                                    \
      "active expiry cycles per second")                                      \
    X(active_expire_effort, "active-expire-effort", OPTION_UINT, "20000",      \
      NULL, 0, "hash slots examined per active expiry cycle")                  \
    X(maxclients, "maxclients", OPTION_UINT, "10000", NULL, OPTION_RELOADABLE, \
      "maximum simultaneous client connections")                               \
    X(proto_max_bulk_len, "proto-max-bulk-len", OPTION_BYTES, "512mb", NULL,   \
      0, "largest bulk string (key or value) in a request")                   \
    X(proto_max_multibulk_len, "proto-max-multibulk-len", OPTION_UINT,         \
      "1048576", NULL, 0, "most arguments in one request")                    \
    X(proto_inline_max_size, "proto-inline-max-size", OPTION_BYTES, "64kb",    \
      NULL, 0, "longest inline (telnet-style) command line")                  \
    X(client_query_buffer_limit, "client-query-buffer-limit", OPTION_BYTES,    \
      "1gb", NULL, 0, "unparsed input a client may have buffered")             \
    X(client_output_buffer_limit, "client-output-buffer-limit", OPTION_BYTES,  \
      "1gb", NULL, 0, "unsent replies a client may have pending")              \
    X(shutdown_timeout, "shutdown-timeout", OPTION_UINT, "10", NULL, 0,        \
      "seconds SIGTERM waits for in-flight replies to be sent")                \
    X(loglevel, "loglevel", OPTION_ENUM, "notice", NODE_LOGLEVELS,             \
      OPTION_RELOADABLE, "lowest level of log lines written to stderr")        \
    X(log_format, "log-format", OPTION_ENUM, "text", NODE_LOGFORMATS, 0,       \
      "log lines as text or as one JSON object each (ts, level, pid, msg)")    \
    X(http_port, "http-port", OPTION_UINT, "0", NULL, 0,                       \
      "TCP port for HTTP /metrics and /health (0: no HTTP)")                   \
    X(http_bind, "http-bind", OPTION_STR, "", NULL, 0,                         \
      "IP address for HTTP (empty: the same as --bind)")                       \
    X(max_age, "max-age", OPTION_UINT, "0", NULL, OPTION_RELOADABLE,           \
      "seconds a batch table's active version may age before /health says "    \
      "degraded, unless its table config sets max_age_s (0: no limit)")        \
    X(hotkey_sample, "hotkey-sample", OPTION_UINT, "16", NULL, 0,              \
      "offer one key read in N to the hot-key sketch (1: every read; 0: off)") \
    X(latency_sample, "latency-sample", OPTION_UINT, "16", NULL, 0,            \
      "time one request in N for the latency histograms (1: every request; "   \
      "0: off)")                                                               \
    X(data_dir, "data-dir", OPTION_STR, "larder-data", NULL, 0,                \
      "directory for batch segments, the saved view and the default "          \
      "membership and store")                                                  \
    X(membership, "membership", OPTION_STR, "", NULL, 0,                       \
      "membership URI, e.g. local:DIR (empty: local:<data-dir>/membership)")   \
    X(store, "store", OPTION_STR, "", NULL, 0,                                 \
      "snapshot store URI, e.g. file:///DIR (empty: file://<data-dir>/store)") \
    X(node_id, "node-id", OPTION_STR, "local", NULL, 0,                        \
      "this node's member id in membership")                                   \
    X(zone, "zone", OPTION_STR, "", NULL, 0,                                   \
      "this node's zone: placement spreads a partition's replicas over "       \
      "zones first (empty: none)")                                             \
    X(capacity, "capacity", OPTION_UINT, "100", NULL, 0,                       \
      "this node's relative weight in placement (1 to 1000)")                  \
    X(advertise, "advertise", OPTION_STR, "", NULL, 0,                         \
      "IP:PORT clients use to reach this node, registered in membership "      \
      "(empty: --bind and the port bound)")                                    \
    X(batch_memory, "batch-memory", OPTION_BYTES, "0", NULL, 0,                \
      "memory for batch versions (active, incoming, in grace, hot retained); " \
      "a pull that would not fit is refused (0: half of physical RAM)")        \
    X(retain_hot, "retain-hot", OPTION_UINT, "1", NULL, 0,                     \
      "previously active versions kept mapped and locked for rollback")        \
    X(retain, "retain", OPTION_UINT, "2", NULL, 0,                             \
      "previously active versions kept on local disk (hot ones included)")     \
    X(retire_grace, "retire-grace", OPTION_UINT, "60", NULL, 0,                \
      "seconds a version stays readable (VERSION v) after it was last active") \
    X(require_mlock, "require-mlock", OPTION_BOOL, "no", NULL, 0,              \
      "exit if batch segments cannot be locked in memory (mlock)")             \
    X(watch_interval_ms, "watch-interval-ms", OPTION_UINT, "100", NULL, 0,     \
      "how often the puller checks membership, in milliseconds")               \
    X(placement_controller, "placement-controller", OPTION_BOOL, "yes", NULL,  \
      0, "stand for the placement controller: the node holding its lock "      \
      "finishes moves and re-places dead members' partitions")                 \
    X(rebalance_delay, "rebalance-delay", OPTION_UINT, "600", NULL, 0,         \
      "seconds a member may be dead before the controlling node re-places "    \
      "its partitions (larder rebalance does it at once)")                     \
    X(pull_bandwidth, "pull-bandwidth", OPTION_BYTES, "0", NULL, 0,            \
      "bytes per second pulls from the store may use (e.g. 100mb; 0: no "      \
      "limit)")                                                                \
    X(pull_threads, "pull-threads", OPTION_UINT, "4", NULL, 0,                 \
      "partitions of a version fetched and verified at once, 1 to 64")         \
    X(zk_auth, "zk-auth", OPTION_STR, "", NULL, 0,                             \
      "USER:PASSWORD for a zk:// membership's digest ACLs (default: "          \
      "$LARDER_ZK_AUTH, which the process list does not show)")                \
    X(s3_endpoint, "s3-endpoint", OPTION_STR, "", NULL, 0,                     \
      "S3 endpoint URL for an s3:// store (MinIO, Ceph...); overrides "        \
      "$AWS_ENDPOINT_URL_S3 and $AWS_ENDPOINT_URL")

struct node_options {
    NODE_OPTIONS(OPTION_DECLARE)
};

#endif
