/*
 * cluster_fixture.h: one fixed cluster for the unit tests of the admin
 * CLI's cluster view and cluster output: a placement of table "items" (4
 * partitions, replication 2) over members a, b, c and the former member d,
 * with partition 3 moving from d to c, wrapped in a LARDER.VIEW document
 * where a is live and ready, b live and joining, c down and draining, and
 * items version 7 is active with partition 1 on one ready replica only,
 * built at FIXTURE_CREATED_MS, with a max age of one day.
 */
#ifndef LARDER_TEST_CLUSTER_FIXTURE_H
#define LARDER_TEST_CLUSTER_FIXTURE_H

#define FIXTURE_PLACEMENT                                                    \
    "{\"format\":1,\"generation\":9,\"nodes\":["                             \
    "{\"id\":\"a\",\"zone\":\"z1\",\"capacity\":100,\"member\":true},"       \
    "{\"id\":\"b\",\"zone\":\"z2\",\"capacity\":100,\"member\":true},"       \
    "{\"id\":\"c\",\"zone\":\"z1\",\"capacity\":200,\"member\":true},"       \
    "{\"id\":\"d\",\"zone\":\"\",\"capacity\":100,\"member\":false}],"       \
    "\"tables\":[{\"name\":\"items\",\"partitions\":4,\"replication\":2,"    \
    "\"replicas\":2,\"current\":[[0,1],[1,2],[2,0],[3,1]],"                  \
    "\"target\":[[0,1],[1,2],[2,0],[2,1]]}]}"

/* When items version 7 was built (Unix ms). */
#define FIXTURE_CREATED_MS 1700000000000LL

/* The nodes of the view; READY is the "ready" member's value. */
#define FIXTURE_VIEW_WITH(READY)                                             \
    "{\"generation\":31,"                                                    \
    "\"active\":{\"generation\":4,\"tables\":{\"items\":7}},"                \
    "\"placement\":" FIXTURE_PLACEMENT ","                                   \
    "\"nodes\":["                                                            \
    "{\"id\":\"a\",\"addr\":\"10.0.0.1:7000\",\"zone\":\"z1\","              \
    "\"capacity\":100,\"live\":true,\"state\":\"ready\","                    \
    "\"draining\":false,\"batch_memory\":4294967296,"                        \
    "\"batch_used\":1073741824},"                                            \
    "{\"id\":\"b\",\"addr\":\"10.0.0.2:7000\",\"zone\":\"z2\","              \
    "\"capacity\":100,\"live\":true,\"state\":\"joining\","                  \
    "\"draining\":false},"                                                   \
    "{\"id\":\"c\",\"addr\":\"10.0.0.3:7000\",\"zone\":\"z1\","              \
    "\"capacity\":200,\"live\":false,\"state\":\"\",\"draining\":true}],"    \
    "\"ready\":" READY ","                                                  \
    "\"freshness\":{\"items\":{\"created_ms\":1700000000000,"              \
    "\"max_age_s\":86400}}}"

/* Readiness as counts per partition. */
#define FIXTURE_VIEW FIXTURE_VIEW_WITH("{\"items\":{\"7\":[2,1,2,2]}}")

/* The same readiness as node -> partitions (c is down: not counted). */
#define FIXTURE_VIEW_BY_NODE                                                 \
    FIXTURE_VIEW_WITH("{\"items\":{\"7\":{\"a\":[0,1,2,3],\"b\":[0,2,3],"   \
                      "\"c\":[1]}}}")

#endif
