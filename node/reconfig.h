/*
 * reconfig.h: loading larderd's options, and changing them while it runs.
 *
 * Options come from the config file and then the command line, which wins.
 * At run time CONFIG SET changes one reloadable option, and SIGHUP reloads
 * them all: it reads the config file and the command line again, as at
 * startup, and gives every reloadable option the value they now say (so a
 * CONFIG SET made since is replaced), reloading the ACL file as well.
 * Options that are not reloadable keep their value; a change to one is
 * logged as needing a restart.
 *
 * The options that shape authentication — requirepass, acl-file,
 * protected-mode — are applied to the node's user table (auth.h) and are
 * refused as a whole, leaving everything as it was, if it rejects them (a
 * bad ACL file, or no password left on a public address in protected
 * mode). Once applied, requirepass holds the password's hash, not the
 * password.
 */
#ifndef LARDER_RECONFIG_H
#define LARDER_RECONFIG_H

#include <stddef.h>

#include "node_options.h"

struct server;

/*
 * Applies "--name value" arguments, then the config file they name (if
 * any), then the arguments again. Returns 0, or -1 with the reason in err.
 */
int reconfig_load_options(struct node_options *opts, int argc, char **argv,
                          char *err, size_t errlen);

/* Startup: creates srv->auth from the options. -1 with err if refused. */
int reconfig_auth_setup(struct server *srv, char *err, size_t errlen);

/*
 * Sets option o to value (config_lock held), applying it to the user table
 * if it is an authentication option. Returns 0, or -1 with the reason in
 * err and o unchanged.
 */
int do_reconfig_set(struct server *srv, struct option *o, const char *value,
                    char *err, size_t errlen);

/*
 * SIGHUP: reloads the options from srv->argv and the config file, and the
 * ACL file. Logs what changed, or why nothing did.
 */
void reconfig_reload(struct server *srv);

#endif
