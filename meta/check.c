/*
 * check.c - the SQL of fsck.cowfs.
 *
 * How it works. Like meta.c, every statement is listed once in
 * check_sql[], indexed by enum check_stmt, prepared when the database is
 * opened and used as bind, step, reset. The difference is the point of
 * view: meta.c serves a daemon that trusts the store, this file serves a
 * checker that trusts nothing. Scans return the stored values untouched
 * (as int64: a hostile row may hold anything), and nothing is validated
 * here except the things SQLite itself must know (integrity_check).
 *
 * The connection is fsck's own: fsck holds the store's lock (the flock on
 * STORE/blocks) before it opens meta.db, so no daemon can share it. A
 * repairing connection uses the same journal settings as the daemon (WAL,
 * synchronous=FULL, exclusive locking), and begins its one transaction
 * with BEGIN IMMEDIATE so that the state it checks is the state it
 * repairs.
 *
 * Hostile input. A database whose header is not SQLite's, or whose schema
 * pages are damaged, fails in prepare; a store without cowfs's tables
 * fails there too with "no such table". Both are reported by
 * meta_check_open() as one line. trusted_schema is off, so that a doctored
 * schema cannot make fsck's writes run functions through triggers or
 * views.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <endian.h>
#include <sqlite3.h>

#include "fs/util.h"
#include "meta/check.h"
#include "meta/meta.h"

enum check_stmt {
	CK_BEGIN,
	CK_BEGIN_IMMEDIATE,
	CK_COMMIT,
	CK_ROLLBACK,
	CK_INTEGRITY,
	CK_SUPER_GET,
	CK_SUPER_SET,
	CK_COUNT_INODE,
	CK_COUNT_DENTRY,
	CK_COUNT_FMAP,
	CK_COUNT_CHUNK,
	CK_COUNT_SLOT,
	CK_INODES,
	CK_DENTRIES,
	CK_DENTRY_NAME,
	CK_DENTRY_EXISTS,
	CK_FMAPS,
	CK_CHUNKS,
	CK_CHUNK_MAP,
	CK_SLOTS,
	CK_XATTR_ORPHANS,
	CK_INODE_SET_NLINK,
	CK_INODE_SET_SIZE,
	CK_INODE_INSERT_DIR,
	CK_INODE_DELETE,
	CK_INODE_XATTRS_DELETE,
	CK_INODE_FMAP_DELETE,
	CK_DENTRY_DELETE,
	CK_DENTRY_INSERT,
	CK_FMAP_DELETE,
	CK_CHUNK_SET_REFS,
	CK_CHUNK_SET_MAP,
	CK_CHUNK_DELETE,
	CK_SLOT_DELETE,
	CK_COUNT
};

static const char *const check_sql[CK_COUNT] = {
	[CK_BEGIN] = "BEGIN",
	[CK_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[CK_COMMIT] = "COMMIT",
	[CK_ROLLBACK] = "ROLLBACK",
	[CK_INTEGRITY] = "PRAGMA integrity_check(100)",
	[CK_SUPER_GET] = "SELECT value, typeof(value) FROM super WHERE key = ?1",
	[CK_SUPER_SET] = "INSERT OR REPLACE INTO super(key, value) VALUES (?1, ?2)",
	[CK_COUNT_INODE] = "SELECT count(*) FROM inode",
	[CK_COUNT_DENTRY] = "SELECT count(*) FROM dentry",
	[CK_COUNT_FMAP] = "SELECT count(*) FROM fmap",
	[CK_COUNT_CHUNK] = "SELECT count(*) FROM chunk",
	[CK_COUNT_SLOT] = "SELECT count(*) FROM slot",
	[CK_INODES] = "SELECT ino, mode, nlink, size, link IS NOT NULL,"
		      " length(CAST(link AS BLOB)) FROM inode ORDER BY ino",
	[CK_DENTRIES] = "SELECT id, parent, ino, name FROM dentry ORDER BY id",
	[CK_DENTRY_NAME] = "SELECT name FROM dentry WHERE id = ?1",
	[CK_DENTRY_EXISTS] = "SELECT 1 FROM dentry WHERE parent = ?1 AND name = ?2",
	[CK_FMAPS] = "SELECT ino, cidx, chunk FROM fmap ORDER BY ino, cidx",
	[CK_CHUNKS] = "SELECT id, refs, map FROM chunk ORDER BY id",
	[CK_CHUNK_MAP] = "SELECT map FROM chunk WHERE id = ?1",
	[CK_SLOTS] = "SELECT id FROM slot ORDER BY id",
	[CK_XATTR_ORPHANS] = "SELECT DISTINCT ino FROM xattr WHERE ino NOT IN"
			     " (SELECT ino FROM inode) ORDER BY ino",
	[CK_INODE_SET_NLINK] = "UPDATE inode SET nlink = ?2 WHERE ino = ?1",
	[CK_INODE_SET_SIZE] = "UPDATE inode SET size = ?2 WHERE ino = ?1",
	[CK_INODE_INSERT_DIR] = "INSERT INTO inode(ino, mode, uid, gid, nlink,"
				" rdev, size, atime_ns, mtime_ns, ctime_ns,"
				" btime_ns, link)"
				" VALUES (?1, ?2, 0, 0, ?3, 0, 0, ?4, ?4, ?4, ?4, NULL)",
	[CK_INODE_DELETE] = "DELETE FROM inode WHERE ino = ?1",
	[CK_INODE_XATTRS_DELETE] = "DELETE FROM xattr WHERE ino = ?1",
	[CK_INODE_FMAP_DELETE] = "DELETE FROM fmap WHERE ino = ?1",
	[CK_DENTRY_DELETE] = "DELETE FROM dentry WHERE id = ?1",
	[CK_DENTRY_INSERT] = "INSERT INTO dentry(parent, name, ino) VALUES (?1, ?2, ?3)",
	[CK_FMAP_DELETE] = "DELETE FROM fmap WHERE ino = ?1 AND cidx = ?2",
	[CK_CHUNK_SET_REFS] = "UPDATE chunk SET refs = ?2 WHERE id = ?1",
	[CK_CHUNK_SET_MAP] = "UPDATE chunk SET map = ?2 WHERE id = ?1",
	[CK_CHUNK_DELETE] = "DELETE FROM chunk WHERE id = ?1",
	[CK_SLOT_DELETE] = "DELETE FROM slot WHERE id = ?1",
};

struct meta_check {
	sqlite3 *db;
	sqlite3_stmt *st[CK_COUNT];
	bool readonly;
	uint64_t *buf;		/* a decoded chunk map, reused */
	size_t bufcap;
	void (*tick)(void *ctx);
	void *tick_ctx;
};

/* Resets a statement and returns the step result as -errno. */
static int done(sqlite3_stmt *s, int step_rc)
{
	int rc = sqlite3_reset(s);

	sqlite3_clear_bindings(s);
	if (step_rc != SQLITE_DONE && step_rc != SQLITE_ROW)
		return meta_sqlite_errno(step_rc);
	return meta_sqlite_errno(rc);
}

static int exec1(sqlite3_stmt *s)
{
	return done(s, sqlite3_step(s));
}

static int exec_id(struct meta_check *mc, enum check_stmt id, int64_t a)
{
	sqlite3_stmt *s = mc->st[id];

	sqlite3_bind_int64(s, 1, a);
	return exec1(s);
}

static int exec_id2(struct meta_check *mc, enum check_stmt id, int64_t a,
		    int64_t b)
{
	sqlite3_stmt *s = mc->st[id];

	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	return exec1(s);
}

static int progress_cb(void *ctx)
{
	struct meta_check *mc = ctx;

	mc->tick(mc->tick_ctx);
	return 0;
}

int meta_check_open(const char *path, bool readonly, struct meta_check **out,
		    char *err, size_t errlen)
{
	static const char rw[] = "PRAGMA trusted_schema = OFF;"
				 "PRAGMA cell_size_check = ON;"
				 "PRAGMA locking_mode = EXCLUSIVE;"
				 "PRAGMA journal_mode = WAL;"
				 "PRAGMA synchronous = FULL;"
				 "PRAGMA cache_size = -65536;";
	static const char ro[] = "PRAGMA trusted_schema = OFF;"
				 "PRAGMA cell_size_check = ON;"
				 "PRAGMA query_only = ON;"
				 "PRAGMA cache_size = -65536;";
	struct meta_check *mc;
	char *msg = NULL;
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return rc;
	}
	mc = calloc(1, sizeof(*mc));
	if (!mc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	mc->readonly = readonly;
	rc = meta_sqlite_open(path, readonly, &mc->db);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s",
			 mc->db ? sqlite3_errmsg(mc->db) : sqlite3_errstr(rc));
		rc = meta_sqlite_errno(rc);
		goto fail;
	}
	sqlite3_extended_result_codes(mc->db, 0);
	sqlite3_busy_timeout(mc->db, 2000);
	rc = sqlite3_exec(mc->db, readonly ? ro : rw, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		rc = meta_sqlite_errno(rc);
		if (readonly && meta_journal_blocks(path, err, errlen))
			rc = -EROFS;
		goto fail;
	}
	for (int i = 0; i < CK_COUNT; i++) {
		rc = sqlite3_prepare_v3(mc->db, check_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &mc->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			const char *why = sqlite3_errmsg(mc->db);

			if (strstr(why, "no such table") ||
			    strstr(why, "no such column"))
				rc = -EINVAL;
			else
				rc = meta_sqlite_errno(rc);
			snprintf(err, errlen, "%s", why);
			goto fail;
		}
	}
	*out = mc;
	return 0;
fail:
	meta_check_close(mc);
	return rc;
}

void meta_check_close(struct meta_check *mc)
{
	if (!mc)
		return;
	if (mc->db && !sqlite3_get_autocommit(mc->db))
		sqlite3_exec(mc->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < CK_COUNT; i++)
		sqlite3_finalize(mc->st[i]);
	if (mc->db)
		sqlite3_close(mc->db);
	free(mc->buf);
	free(mc);
}

const char *meta_check_error(struct meta_check *mc)
{
	return mc && mc->db ? sqlite3_errmsg(mc->db) : "no database";
}

void meta_check_set_tick(struct meta_check *mc, void (*tick)(void *ctx),
			 void *ctx)
{
	mc->tick = tick;
	mc->tick_ctx = ctx;
	sqlite3_progress_handler(mc->db, tick ? 100000 : 0,
				 tick ? progress_cb : NULL, mc);
}

int meta_check_begin(struct meta_check *mc)
{
	return exec1(mc->st[mc->readonly ? CK_BEGIN : CK_BEGIN_IMMEDIATE]);
}

int meta_check_commit(struct meta_check *mc)
{
	return exec1(mc->st[CK_COMMIT]);
}

int meta_check_rollback(struct meta_check *mc)
{
	if (sqlite3_get_autocommit(mc->db))
		return 0;
	return exec1(mc->st[CK_ROLLBACK]);
}

int meta_check_integrity(struct meta_check *mc,
			 int (*fn)(void *ctx, const char *msg), void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_INTEGRITY];
	int rc, n = 0, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(s, 0);

		if (msg && !strcmp(msg, "ok"))
			continue;
		n++;
		stop = fn(ctx, msg ? msg : "(no message)");
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop ? stop : n;
}

/* Reads one integer super row; *@have tells whether it exists as one. */
static int super_int(struct meta_check *mc, const char *key, bool *have,
		     int64_t *v)
{
	sqlite3_stmt *s = mc->st[CK_SUPER_GET];
	int rc;

	*have = false;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) == SQLITE_INTEGER) {
		*v = sqlite3_column_int64(s, 0);
		*have = true;
	}
	return done(s, rc);
}

int meta_check_super(struct meta_check *mc, struct meta_check_super *out)
{
	sqlite3_stmt *s = mc->st[CK_SUPER_GET];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = super_int(mc, "format_version", &out->have_format_version,
		       &out->format_version);
	if (!rc)
		rc = super_int(mc, "block_size", &out->have_block_size,
			       &out->block_size);
	if (!rc)
		rc = super_int(mc, "chunk_blocks", &out->have_chunk_blocks,
			       &out->chunk_blocks);
	if (!rc)
		rc = super_int(mc, "next_ino", &out->have_next_ino,
			       &out->next_ino);
	if (rc)
		return rc;
	out->uuid_len = -1;
	sqlite3_bind_text(s, 1, "uuid", -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int len = sqlite3_column_bytes(s, 0);
		const void *p = sqlite3_column_blob(s, 0);

		out->uuid_len = len;
		if (p)
			memcpy(out->uuid, p, (size_t)MIN(len, 16));
	}
	return done(s, rc);
}

int64_t meta_check_count(struct meta_check *mc, enum meta_check_table t)
{
	static const enum check_stmt ids[MC_TABLE_COUNT] = {
		[MC_INODE] = CK_COUNT_INODE,   [MC_DENTRY] = CK_COUNT_DENTRY,
		[MC_FMAP] = CK_COUNT_FMAP,     [MC_CHUNK] = CK_COUNT_CHUNK,
		[MC_SLOT] = CK_COUNT_SLOT,
	};
	sqlite3_stmt *s = mc->st[ids[t]];
	int64_t n = 0;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	rc = done(s, rc);
	return rc ? rc : n;
}

int meta_check_inodes(struct meta_check *mc,
		      int (*fn)(void *ctx, const struct meta_check_inode *in),
		      void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_INODES];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct meta_check_inode in = {
			.ino = sqlite3_column_int64(s, 0),
			.mode = sqlite3_column_int64(s, 1),
			.nlink = sqlite3_column_int64(s, 2),
			.size = sqlite3_column_int64(s, 3),
			.linklen = sqlite3_column_int64(s, 4)
					   ? sqlite3_column_int64(s, 5)
					   : -1,
		};

		stop = fn(ctx, &in);
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

int meta_check_dentries(struct meta_check *mc,
			int (*fn)(void *ctx,
				  const struct meta_check_dentry *de),
			void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_DENTRIES];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct meta_check_dentry de = {
			.id = sqlite3_column_int64(s, 0),
			.parent = sqlite3_column_int64(s, 1),
			.ino = sqlite3_column_int64(s, 2),
		};

		de.name = sqlite3_column_blob(s, 3);
		de.namelen = (size_t)sqlite3_column_bytes(s, 3);
		stop = fn(ctx, &de);
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

int meta_check_dentry_name(struct meta_check *mc, int64_t id, void *buf,
			   size_t size)
{
	sqlite3_stmt *s = mc->st[CK_DENTRY_NAME];
	int rc, len = -ENOENT;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 0);

		len = sqlite3_column_bytes(s, 0);
		if (p && len > 0)
			memcpy(buf, p, MIN((size_t)len, size));
	}
	rc = done(s, rc);
	return rc ? rc : len;
}

int meta_check_dentry_exists(struct meta_check *mc, int64_t parent,
			     const void *name, size_t namelen)
{
	sqlite3_stmt *s = mc->st[CK_DENTRY_EXISTS];
	int rc, found;

	sqlite3_bind_int64(s, 1, parent);
	sqlite3_bind_blob(s, 2, name, (int)namelen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	found = rc == SQLITE_ROW;
	rc = done(s, rc);
	return rc ? rc : found;
}

int meta_check_fmaps(struct meta_check *mc,
		     int (*fn)(void *ctx, int64_t ino, int64_t cidx,
			       int64_t chunk),
		     void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_FMAPS];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, sqlite3_column_int64(s, 0),
			  sqlite3_column_int64(s, 1),
			  sqlite3_column_int64(s, 2));
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

/*
 * Decodes a stored map (little-endian u64 entries, doc/DESIGN.md section
 * 2) into @out, which holds at least bytes / 8 entries. A trailing partial
 * entry is not decoded.
 */
static size_t decode_map(const void *blob, size_t bytes, uint64_t *out)
{
	const unsigned char *p = blob;
	size_t n = bytes / sizeof(uint64_t);

	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, p + i * sizeof(v), sizeof(v));
		out[i] = le64toh(v);
	}
	return n;
}

static int reserve_buf(struct meta_check *mc, size_t n)
{
	uint64_t *p;

	if (n <= mc->bufcap)
		return 0;
	p = realloc(mc->buf, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	mc->buf = p;
	mc->bufcap = n;
	return 0;
}

int meta_check_chunks(struct meta_check *mc,
		      int (*fn)(void *ctx, const struct meta_check_chunk *c),
		      void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_CHUNKS];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct meta_check_chunk c = {
			.id = sqlite3_column_int64(s, 0),
			.refs = sqlite3_column_int64(s, 1),
		};
		const void *blob = sqlite3_column_blob(s, 2);

		c.bytes = (size_t)sqlite3_column_bytes(s, 2);
		stop = reserve_buf(mc, c.bytes / sizeof(uint64_t) + 1);
		if (stop)
			break;
		c.n = blob ? decode_map(blob, c.bytes, mc->buf) : 0;
		c.map = mc->buf;
		stop = fn(ctx, &c);
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

int meta_check_chunk_map(struct meta_check *mc, int64_t id, uint64_t **map,
			 size_t *n, size_t *bytes)
{
	sqlite3_stmt *s = mc->st[CK_CHUNK_MAP];
	int rc, err = -ENOENT;

	*map = NULL;
	*n = *bytes = 0;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 0);

		*map = calloc(len / sizeof(uint64_t) + 1, sizeof(uint64_t));
		err = *map ? 0 : -ENOMEM;
		if (*map && blob)
			*n = decode_map(blob, len, *map);
		*bytes = len;
	}
	rc = done(s, rc);
	if (rc || err) {
		free(*map);
		*map = NULL;
		*n = 0;
	}
	return rc ? rc : err;
}

int meta_check_slots(struct meta_check *mc,
		     int (*fn)(void *ctx, int64_t id), void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_SLOTS];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, sqlite3_column_int64(s, 0));
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

int meta_check_sums(struct meta_check *mc,
		    int (*fn)(void *ctx, int64_t id, const void *sum,
			      size_t len),
		    void *ctx)
{
	sqlite3_stmt *s = NULL;
	int rc, stop = 0;

	/*
	 * Prepared here, not with the others: format 1 has no column, and
	 * fsck must open such a store to say that it wants an upgrade.
	 */
	rc = sqlite3_prepare_v2(mc->db, "SELECT id, sum FROM slot"
				" WHERE sum IS NOT NULL ORDER BY id",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return meta_sqlite_errno(rc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, sqlite3_column_int64(s, 0),
			  sqlite3_column_blob(s, 1),
			  (size_t)sqlite3_column_bytes(s, 1));
		if (stop)
			break;
	}
	rc = done(s, rc);
	sqlite3_finalize(s);
	return rc ? rc : stop;
}

int meta_check_xattr_orphans(struct meta_check *mc,
			     int (*fn)(void *ctx, int64_t ino), void *ctx)
{
	sqlite3_stmt *s = mc->st[CK_XATTR_ORPHANS];
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, sqlite3_column_int64(s, 0));
		if (stop)
			break;
	}
	rc = done(s, rc);
	return rc ? rc : stop;
}

/* --- repairs --- */

int meta_check_set_next_ino(struct meta_check *mc, int64_t next_ino)
{
	sqlite3_stmt *s = mc->st[CK_SUPER_SET];

	sqlite3_bind_text(s, 1, "next_ino", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, next_ino);
	return exec1(s);
}

int meta_check_inode_set_nlink(struct meta_check *mc, int64_t ino,
			       int64_t nlink)
{
	return exec_id2(mc, CK_INODE_SET_NLINK, ino, nlink);
}

int meta_check_inode_set_size(struct meta_check *mc, int64_t ino,
			      int64_t size)
{
	return exec_id2(mc, CK_INODE_SET_SIZE, ino, size);
}

int meta_check_mkdir(struct meta_check *mc, int64_t ino, uint32_t mode,
		     int64_t nlink, int64_t now_ns)
{
	sqlite3_stmt *s = mc->st[CK_INODE_INSERT_DIR];

	sqlite3_bind_int64(s, 1, ino);
	sqlite3_bind_int64(s, 2, mode);
	sqlite3_bind_int64(s, 3, nlink);
	sqlite3_bind_int64(s, 4, now_ns);
	return exec1(s);
}

int meta_check_inode_delete(struct meta_check *mc, int64_t ino)
{
	int rc = exec_id(mc, CK_INODE_XATTRS_DELETE, ino);

	if (!rc)
		rc = exec_id(mc, CK_INODE_FMAP_DELETE, ino);
	if (!rc)
		rc = exec_id(mc, CK_INODE_DELETE, ino);
	return rc;
}

int meta_check_xattrs_delete(struct meta_check *mc, int64_t ino)
{
	return exec_id(mc, CK_INODE_XATTRS_DELETE, ino);
}

int meta_check_dentry_delete(struct meta_check *mc, int64_t id)
{
	return exec_id(mc, CK_DENTRY_DELETE, id);
}

int meta_check_dentry_insert(struct meta_check *mc, int64_t parent,
			     const void *name, size_t namelen, int64_t ino)
{
	sqlite3_stmt *s = mc->st[CK_DENTRY_INSERT];

	sqlite3_bind_int64(s, 1, parent);
	sqlite3_bind_blob(s, 2, name, (int)namelen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, ino);
	return exec1(s);
}

int meta_check_fmap_delete(struct meta_check *mc, int64_t ino, int64_t cidx)
{
	return exec_id2(mc, CK_FMAP_DELETE, ino, cidx);
}

int meta_check_chunk_set_refs(struct meta_check *mc, int64_t id,
			      int64_t refs)
{
	return exec_id2(mc, CK_CHUNK_SET_REFS, id, refs);
}

int meta_check_chunk_set_map(struct meta_check *mc, int64_t id,
			     const uint64_t *map, size_t n)
{
	sqlite3_stmt *s = mc->st[CK_CHUNK_SET_MAP];
	uint64_t *le;
	int rc;

	while (n && map[n - 1] == 0)
		n--;
	le = malloc(n ? n * sizeof(*le) : 1);
	if (!le)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		le[i] = htole64(map[i]);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob(s, 2, le, (int)(n * sizeof(*le)), SQLITE_STATIC);
	rc = exec1(s);
	free(le);
	return rc;
}

int meta_check_chunk_delete(struct meta_check *mc, int64_t id)
{
	return exec_id(mc, CK_CHUNK_DELETE, id);
}

int meta_check_slot_delete(struct meta_check *mc, int64_t id)
{
	return exec_id(mc, CK_SLOT_DELETE, id);
}
