/*
 * sql.h - sqlite3 on a closed store's meta.db, for unit tests that look
 * at or change what cowfs stored, beside its own API. Include from one
 * translation unit, after tap.h.
 */
#ifndef COWFS_UNIT_SQL_H
#define COWFS_UNIT_SQL_H

#include <stdint.h>

#include <sqlite3.h>

#include "tests/unit/tap.h"

/* Runs one SQL statement on a database file; SQLITE_OK or its error. */
static inline int sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				 NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		diag("sqlite3 \"%s\": %s", sql, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

/* The integer result of a one-value query, or @dflt if there is no row. */
static inline int64_t sql_int(const char *path, const char *sql,
			      int64_t dflt)
{
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	int64_t v = dflt;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		diag("sqlite3 \"%s\": %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

#endif
