/*
 * meta.c - the SQLite metadata layer.
 *
 * How it works. Every statement cowfs runs is listed once in sql_text[],
 * indexed by enum stmt_id, and prepared when the store is opened. A call is
 * always bind, step, reset; the result comes from the step and the reset,
 * and meta_errno() is the one place where SQLite codes become errno values.
 * No SQL is ever built from a name or any other user string: names and
 * values are bound as blobs.
 *
 * The connection lives inside a transaction: meta_open() begins one and
 * meta_commit() commits it and begins the next, so cowfs decides when a
 * group of changes becomes durable (doc/DESIGN.md section 3). The database
 * runs in WAL mode with synchronous=FULL and exclusive locking: a commit is
 * durable when it returns, and only one process can use the store.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <endian.h>
#include <sqlite3.h>

#include "fs/util.h"
#include "meta/meta.h"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SUPER_GET,
	ST_SUPER_SET,
	ST_INODE_GET,
	ST_INODE_INSERT,
	ST_INODE_UPDATE,
	ST_INODE_DELETE,
	ST_INODE_XATTRS_DELETE,
	ST_INODE_FMAP_DELETE,
	ST_LINK_GET,
	ST_ORPHANS,
	ST_INODE_COUNT,
	ST_DENTRY_LOOKUP,
	ST_DENTRY_INSERT,
	ST_DENTRY_DELETE,
	ST_DENTRY_MOVE,
	ST_DENTRY_SET_INO,
	ST_DENTRY_PARENT,
	ST_DIR_ANY,
	ST_READDIR,
	ST_XATTR_GET,
	ST_XATTR_INSERT,
	ST_XATTR_UPDATE,
	ST_XATTR_DELETE,
	ST_XATTR_LIST,
	ST_XATTR_ANY,
	ST_FMAP_LOAD,
	ST_FMAP_SET,
	ST_FMAP_DELETE,
	ST_CHUNK_LOAD,
	ST_CHUNK_INSERT,
	ST_CHUNK_UPDATE,
	ST_CHUNK_DELETE,
	ST_SLOT_REFS,
	ST_SLOT_SUMMED,
	ST_SLOT_SET_SUM,
	ST_SLOT_CLEAR_SUMS,
	ST_SLOT_SUMS,
	ST_SLOT_SUM_GET,
	ST_CHUNK_ALL,
	ST_FMAP_OF_CHUNK,
	ST_DENTRY_NAME_OF,
	ST_COUNT
};

static const char *const sql_text[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SUPER_GET] = "SELECT value FROM super WHERE key = ?1",
	[ST_SUPER_SET] = "INSERT OR REPLACE INTO super(key, value) VALUES (?1, ?2)",
	[ST_INODE_GET] = "SELECT mode, uid, gid, nlink, rdev, size, atime_ns,"
			 " mtime_ns, ctime_ns, btime_ns FROM inode WHERE ino = ?1",
	[ST_INODE_INSERT] = "INSERT INTO inode(ino, mode, uid, gid, nlink, rdev,"
			    " size, atime_ns, mtime_ns, ctime_ns, btime_ns, link)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_INODE_UPDATE] = "UPDATE inode SET mode = ?2, uid = ?3, gid = ?4,"
			    " nlink = ?5, rdev = ?6, size = ?7, atime_ns = ?8,"
			    " mtime_ns = ?9, ctime_ns = ?10, btime_ns = ?11"
			    " WHERE ino = ?1",
	[ST_INODE_DELETE] = "DELETE FROM inode WHERE ino = ?1",
	[ST_INODE_XATTRS_DELETE] = "DELETE FROM xattr WHERE ino = ?1",
	[ST_INODE_FMAP_DELETE] = "DELETE FROM fmap WHERE ino = ?1",
	[ST_LINK_GET] = "SELECT link FROM inode WHERE ino = ?1",
	[ST_ORPHANS] = "SELECT ino FROM inode WHERE nlink = 0 AND NOT EXISTS"
		       " (SELECT 1 FROM dentry WHERE dentry.ino = inode.ino)",
	[ST_INODE_COUNT] = "SELECT count(*) FROM inode",
	[ST_DENTRY_LOOKUP] = "SELECT ino FROM dentry WHERE parent = ?1 AND name = ?2",
	[ST_DENTRY_INSERT] = "INSERT INTO dentry(parent, name, ino) VALUES (?1, ?2, ?3)",
	[ST_DENTRY_DELETE] = "DELETE FROM dentry WHERE parent = ?1 AND name = ?2",
	[ST_DENTRY_MOVE] = "UPDATE dentry SET parent = ?3, name = ?4"
			   " WHERE parent = ?1 AND name = ?2",
	[ST_DENTRY_SET_INO] = "UPDATE dentry SET ino = ?3 WHERE parent = ?1 AND name = ?2",
	[ST_DENTRY_PARENT] = "SELECT parent FROM dentry WHERE ino = ?1 LIMIT 1",
	[ST_DIR_ANY] = "SELECT 1 FROM dentry WHERE parent = ?1 LIMIT 1",
	[ST_READDIR] = "SELECT d.id, d.ino, d.name, i.mode FROM dentry d"
		       " JOIN inode i ON i.ino = d.ino"
		       " WHERE d.parent = ?1 AND d.id > ?2 ORDER BY d.id",
	[ST_XATTR_GET] = "SELECT value FROM xattr WHERE ino = ?1 AND name = ?2",
	[ST_XATTR_INSERT] = "INSERT INTO xattr(ino, name, value) VALUES (?1, ?2, ?3)",
	[ST_XATTR_UPDATE] = "UPDATE xattr SET value = ?3 WHERE ino = ?1 AND name = ?2",
	[ST_XATTR_DELETE] = "DELETE FROM xattr WHERE ino = ?1 AND name = ?2",
	[ST_XATTR_LIST] = "SELECT name FROM xattr WHERE ino = ?1 ORDER BY name",
	[ST_XATTR_ANY] = "SELECT 1 FROM xattr WHERE ino = ?1 LIMIT 1",
	[ST_FMAP_LOAD] = "SELECT cidx, chunk FROM fmap WHERE ino = ?1 ORDER BY cidx",
	[ST_FMAP_SET] = "INSERT OR REPLACE INTO fmap(ino, cidx, chunk) VALUES (?1, ?2, ?3)",
	[ST_FMAP_DELETE] = "DELETE FROM fmap WHERE ino = ?1 AND cidx = ?2",
	[ST_CHUNK_LOAD] = "SELECT refs, map FROM chunk WHERE id = ?1",
	[ST_CHUNK_INSERT] = "INSERT INTO chunk(refs, map) VALUES (?1, ?2)",
	[ST_CHUNK_UPDATE] = "UPDATE chunk SET refs = ?2, map = ?3 WHERE id = ?1",
	[ST_CHUNK_DELETE] = "DELETE FROM chunk WHERE id = ?1",
	/* Invariant (2): a slot's count is the map entries naming it. */
	[ST_SLOT_REFS] = "SELECT map FROM chunk WHERE refs > 0",
	[ST_SLOT_SUMMED] = "SELECT id FROM slot ORDER BY id",
	[ST_SLOT_SET_SUM] = "INSERT OR REPLACE INTO slot(id, sum) VALUES (?1, ?2)",
	[ST_SLOT_CLEAR_SUMS] = "DELETE FROM slot WHERE id BETWEEN ?1 AND ?2",
	[ST_SLOT_SUMS] = "SELECT id, sum FROM slot WHERE id >= ?1"
			 " AND sum IS NOT NULL ORDER BY id LIMIT ?2",
	[ST_SLOT_SUM_GET] = "SELECT sum FROM slot WHERE id = ?1",
	[ST_CHUNK_ALL] = "SELECT id, map FROM chunk",
	[ST_FMAP_OF_CHUNK] = "SELECT ino, cidx FROM fmap WHERE chunk = ?1",
	[ST_DENTRY_NAME_OF] = "SELECT parent, name FROM dentry WHERE ino = ?1"
			      " ORDER BY id LIMIT 1",
};

static const char schema_sql[] =
	"CREATE TABLE super(key TEXT PRIMARY KEY, value NOT NULL);"
	"CREATE TABLE inode(ino INTEGER PRIMARY KEY, mode INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, gid INTEGER NOT NULL, nlink INTEGER NOT NULL,"
	" rdev INTEGER NOT NULL, size INTEGER NOT NULL,"
	" atime_ns INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	" ctime_ns INTEGER NOT NULL, btime_ns INTEGER NOT NULL, link BLOB);"
	"CREATE TABLE dentry(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL,"
	" name BLOB NOT NULL, ino INTEGER NOT NULL, UNIQUE(parent, name));"
	"CREATE INDEX dentry_ino ON dentry(ino);"
	"CREATE TABLE xattr(ino INTEGER NOT NULL, name BLOB NOT NULL,"
	" value BLOB NOT NULL, PRIMARY KEY(ino, name)) WITHOUT ROWID;"
	"CREATE TABLE fmap(ino INTEGER NOT NULL, cidx INTEGER NOT NULL,"
	" chunk INTEGER NOT NULL, PRIMARY KEY(ino, cidx)) WITHOUT ROWID;"
	"CREATE TABLE chunk(id INTEGER PRIMARY KEY, refs INTEGER NOT NULL,"
	" map BLOB NOT NULL);"
	"CREATE TABLE slot(id INTEGER PRIMARY KEY, sum BLOB NOT NULL);";

struct meta {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct meta_super sb;
	bool readonly;
	bool opening;	/* in meta_open(): errors are reported there, once */
	int lost;	/* -errno: SQLite rolled the open transaction back */
};

int meta_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	default: /* NOTADB, CORRUPT, IOERR, ... */
		return -EIO;
	}
}

/* meta_sqlite_errno(), logging the unexpected codes (those that give EIO). */
static int meta_errno(struct meta *m, int rc)
{
	int err = meta_sqlite_errno(rc);

	if (err == -EIO && !(m && m->opening))
		log_msg("metadata database: %s",
			m && m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc));
	return err;
}

/*
 * After a failed statement: SQLite rolls the whole transaction back on
 * some errors (FULL, IOERR, NOMEM, also on COMMIT). What the daemon holds
 * in memory then no longer matches the database, and every statement that
 * followed would commit on its own: remember the loss (meta_commit then
 * refuses to commit) and begin a transaction that is never committed.
 */
static void check_lost(struct meta *m, sqlite3_stmt *s, int err)
{
	if (!err || m->readonly || m->opening || m->lost ||
	    s == m->st[ST_BEGIN] || !sqlite3_get_autocommit(m->db))
		return;
	m->lost = err;
	log_msg("metadata database: the open transaction was rolled back (%s)",
		strerror(-err));
	sqlite3_exec(m->db, "BEGIN", NULL, NULL, NULL);
}

/* Resets a statement and returns the step result as -errno. */
static int done(struct meta *m, sqlite3_stmt *s, int step_rc)
{
	int rc = sqlite3_reset(s);
	int err;

	sqlite3_clear_bindings(s);
	if (step_rc != SQLITE_DONE && step_rc != SQLITE_ROW)
		err = meta_errno(m, step_rc);
	else
		err = meta_errno(m, rc);
	check_lost(m, s, err);
	return err;
}

static sqlite3_stmt *stmt(struct meta *m, enum stmt_id id)
{
	return m->st[id];
}

/* Runs a statement with no result rows. */
static int exec1(struct meta *m, sqlite3_stmt *s)
{
	return done(m, s, sqlite3_step(s));
}

static void bind_name(sqlite3_stmt *s, int i, const char *name)
{
	sqlite3_bind_blob(s, i, name, (int)strlen(name), SQLITE_STATIC);
}

static int super_get_int(struct meta *m, const char *key, int64_t *out)
{
	sqlite3_stmt *s = stmt(m, ST_SUPER_GET);
	int rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	return done(m, s, rc);
}

static int super_get_uuid(struct meta *m, uint8_t uuid[16])
{
	sqlite3_stmt *s = stmt(m, ST_SUPER_GET);
	int rc, found = 0;

	sqlite3_bind_text(s, 1, "uuid", -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 16) {
		memcpy(uuid, sqlite3_column_blob(s, 0), 16);
		found = 1;
	}
	rc = done(m, s, rc);
	return rc ? rc : found ? 0 : -ENOENT;
}

static int super_set_int(struct meta *m, const char *key, int64_t v)
{
	sqlite3_stmt *s = stmt(m, ST_SUPER_SET);

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return exec1(m, s);
}

/*
 * Older formats, upgraded in one transaction by a read-write open, before
 * the statements are prepared (they name the new schema). Format 1 had a
 * row per used slot with its reference count and no checksums; format 2
 * added slot.sum. Format 3 derives the counts from the chunk maps and
 * keeps a slot row only for a checksum: the table is rebuilt with the
 * sums that format 2 had (none from format 1: every slot then starts hot
 * and is summed as it goes quiet). A rebuild rather than DROP COLUMN, so
 * that an upgraded store has exactly the schema mkfs.cowfs writes (sum
 * NOT NULL).
 */
static int upgrade(struct meta *m, const char *path, char *err, size_t errlen)
{
	static const char to3[] =
		"BEGIN;"
		"CREATE TABLE slot3(id INTEGER PRIMARY KEY, sum BLOB NOT NULL);"
		"%s"
		"DROP TABLE slot;"
		"ALTER TABLE slot3 RENAME TO slot;"
		"UPDATE super SET value = 3 WHERE key = 'format_version';"
		"COMMIT;";
	static const char keep_sums[] =
		"INSERT INTO slot3(id, sum) SELECT id, sum FROM slot"
		" WHERE sum IS NOT NULL;";
	sqlite3_stmt *s = NULL;
	int64_t version = 0;
	char *msg = NULL, sql[512];
	int rc;

	if (sqlite3_prepare_v2(m->db, "SELECT value FROM super"
			       " WHERE key = 'format_version'", -1, &s,
			       NULL) != SQLITE_OK)
		return 0; /* not a store: prepare_all() says so */
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		version = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (version != 1 && version != 2)
		return 0;
	if (m->readonly) {
		snprintf(err, errlen,
			 "%s has format version %d; mount it read-write once to upgrade it to %d",
			 path, (int)version, META_FORMAT_VERSION);
		return -EROFS;
	}
	snprintf(sql, sizeof(sql), to3, version == 2 ? keep_sums : "");
	rc = sqlite3_exec(m->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot upgrade %s to format %d: %s",
			 path, META_FORMAT_VERSION,
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
		return meta_errno(m, rc);
	}
	log_msg("%s: upgraded from format version %d to %d", path,
		(int)version, META_FORMAT_VERSION);
	return 0;
}

static int prepare_all(struct meta *m)
{
	for (int i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v3(m->db, sql_text[i], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &m->st[i], NULL);
		if (rc != SQLITE_OK)
			return meta_errno(m, rc);
	}
	return 0;
}

/* Percent-encodes @path for a file: URI (RFC 3986 unreserved and '/'). */
static int uri_path(const char *path, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (o + 4 > outlen)
			return -ENAMETOOLONG;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p)) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int meta_sqlite_open(const char *path, bool readonly, struct sqlite3 **db)
{
	char wal[4096], uri[3 * 4096 + 32];
	struct stat sb;

	*db = NULL;
	if (readonly &&
	    snprintf(wal, sizeof(wal), "%s-wal", path) < (int)sizeof(wal) &&
	    lstat(wal, &sb) < 0 && errno == ENOENT &&
	    snprintf(uri, sizeof(uri), "file:") > 0 &&
	    uri_path(path, uri + 5, sizeof(uri) - 32) == 0) {
		/*
		 * No journal to replay and the caller holds the store's
		 * lock, so nothing can change the file: open it immutable,
		 * which needs no -shm file (a read-only directory or mount
		 * could not hold one).
		 */
		strcat(uri, "?immutable=1");
		return sqlite3_open_v2(uri, db,
				       SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
					       SQLITE_OPEN_NOFOLLOW,
				       NULL);
	}
	return sqlite3_open_v2(path, db,
			       (readonly ? SQLITE_OPEN_READONLY
					 : SQLITE_OPEN_READWRITE) |
				       SQLITE_OPEN_NOFOLLOW,
			       NULL);
}

bool meta_journal_blocks(const char *path, char *err, size_t errlen)
{
	char wal[4096];
	struct stat sb;

	if (snprintf(wal, sizeof(wal), "%s-wal", path) >= (int)sizeof(wal) ||
	    lstat(wal, &sb) < 0 || sb.st_size == 0)
		return false;
	snprintf(err, errlen,
		 "meta.db has a journal (meta.db-wal) that only a read-write open can apply; open the store read-write once, or a writable copy of it");
	return true;
}

static int connect_db(struct meta *m, const char *path, int flags, char *err,
		      size_t errlen)
{
	int rc = meta_sqlite_open(path, flags == SQLITE_OPEN_READONLY, &m->db);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 m->db ? sqlite3_errmsg(m->db) : sqlite3_errstr(rc));
		return meta_errno(NULL, rc) == -EIO ? -EIO : meta_errno(NULL, rc);
	}
	sqlite3_extended_result_codes(m->db, 0);
	return 0;
}

static int pragmas(struct meta *m, bool readonly, char *err, size_t errlen)
{
	static const char rw[] = "PRAGMA locking_mode = EXCLUSIVE;"
				 "PRAGMA journal_mode = WAL;"
				 "PRAGMA synchronous = FULL;"
				 "PRAGMA cache_size = -16384;"
				 "PRAGMA foreign_keys = OFF;";
	static const char ro[] = "PRAGMA cache_size = -16384;";
	char *msg = NULL;
	int rc = sqlite3_exec(m->db, readonly ? ro : rw, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return meta_errno(m, rc);
	}
	return 0;
}

int meta_create(const char *path, const struct meta_super *sb,
		const struct meta_inode *root, char *err, size_t errlen)
{
	struct meta m = { 0 };
	char *msg = NULL;
	int rc, fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	close(fd);
	rc = connect_db(&m, path, SQLITE_OPEN_READWRITE, err, errlen);
	if (rc)
		goto out;
	rc = pragmas(&m, false, err, errlen);
	if (rc)
		goto out;
	if (sqlite3_exec(m.db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "schema: %s", msg);
		sqlite3_free(msg);
		rc = -EIO;
		goto out;
	}
	rc = prepare_all(&m);
	if (rc) {
		snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(m.db));
		goto out;
	}
	m.sb = *sb;
	rc = exec1(&m, stmt(&m, ST_BEGIN));
	if (!rc)
		rc = super_set_int(&m, "format_version", sb->format_version);
	if (!rc)
		rc = super_set_int(&m, "block_size", sb->block_size);
	if (!rc)
		rc = super_set_int(&m, "chunk_blocks", sb->chunk_blocks);
	if (!rc)
		rc = super_set_int(&m, "next_ino", sb->next_ino);
	if (!rc) {
		sqlite3_stmt *s = stmt(&m, ST_SUPER_SET);

		sqlite3_bind_text(s, 1, "uuid", -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, sb->uuid, 16, SQLITE_STATIC);
		rc = exec1(&m, s);
	}
	if (!rc)
		rc = meta_inode_insert(&m, root, NULL, 0);
	if (!rc)
		rc = exec1(&m, stmt(&m, ST_COMMIT));
	if (rc)
		snprintf(err, errlen, "cannot initialise %s: %s", path,
			 strerror(-rc));
out:
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(m.st[i]);
	if (m.db)
		sqlite3_close(m.db);
	return rc;
}

/* Reads and checks the super rows. */
static int load_super(struct meta *m, char *err, size_t errlen)
{
	int64_t v[4] = { 0 };
	static const char *const keys[] = { "format_version", "block_size",
					    "chunk_blocks", "next_ino" };
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		v[i] = -1;
		rc = super_get_int(m, keys[i], &v[i]);
		if (rc) {
			snprintf(err, errlen, "cannot read the store header");
			return rc;
		}
		if (v[i] < 0) {
			snprintf(err, errlen,
				 "not a cowfs store (no %s in meta.db)",
				 keys[i]);
			return -EINVAL;
		}
	}
	if (v[0] != META_FORMAT_VERSION) {
		snprintf(err, errlen,
			 "format version %lld; this cowfs reads version %d",
			 (long long)v[0], META_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (v[1] < 4096 || v[1] > (1 << 20) || (v[1] & (v[1] - 1)) ||
	    v[2] < 1 || v[2] > 65536 || v[3] < 2) {
		snprintf(err, errlen, "store header is corrupt");
		return -EIO;
	}
	m->sb.format_version = (uint32_t)v[0];
	m->sb.block_size = (uint32_t)v[1];
	m->sb.chunk_blocks = (uint32_t)v[2];
	m->sb.next_ino = (uint64_t)v[3];
	rc = super_get_uuid(m, m->sb.uuid);
	if (rc) {
		snprintf(err, errlen, "store header has no uuid");
		return rc == -ENOENT ? -EIO : rc;
	}
	return 0;
}

int meta_open(const char *path, bool readonly, struct meta **out, char *err,
	      size_t errlen)
{
	struct meta *m;
	char why[384];
	int rc;

	*out = NULL;
	if (access(path, F_OK) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->readonly = readonly;
	m->opening = true;
	rc = connect_db(m, path,
			readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
			err, errlen);
	if (rc)
		goto fail;
	rc = pragmas(m, readonly, why, sizeof(why));
	if (rc && readonly && meta_journal_blocks(path, err, errlen)) {
		rc = -EROFS;
		goto fail;
	}
	if (rc) {
		snprintf(err, errlen, "%s is not a usable database (%s)",
			 "meta.db", why);
		goto fail;
	}
	rc = upgrade(m, path, err, errlen);
	if (rc)
		goto fail;
	rc = prepare_all(m);
	if (rc) {
		const char *msg = sqlite3_errmsg(m->db);

		if (strstr(msg, "no such table"))
			snprintf(err, errlen, "not a cowfs store (%s)", msg);
		else
			snprintf(err, errlen,
				 "meta.db is not a usable database (%s)", msg);
		rc = rc == -ENOENT ? -EINVAL : rc;
		goto fail;
	}
	rc = exec1(m, stmt(m, ST_BEGIN));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(m->db));
		goto fail;
	}
	rc = load_super(m, err, errlen);
	if (rc == -EIO && strstr(err, "cannot read"))
		snprintf(err, errlen, "%s is damaged (%s): run fsck.cowfs",
			 "meta.db", sqlite3_errmsg(m->db));
	if (rc)
		goto fail;
	m->opening = false;
	*out = m;
	return 0;
fail:
	meta_close(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	if (m->db && !sqlite3_get_autocommit(m->db))
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(m->st[i]);
	if (m->db)
		sqlite3_close(m->db);
	free(m);
}

const struct meta_super *meta_super(const struct meta *m)
{
	return &m->sb;
}

int meta_commit(struct meta *m)
{
	int rc;

	if (m->lost)
		return m->lost; /* never commit what is left of it */
	rc = exec1(m, stmt(m, ST_COMMIT));

	if (rc) {
		/* The transaction is still open: leave it for the next try. */
		if (sqlite3_get_autocommit(m->db))
			exec1(m, stmt(m, ST_BEGIN));
		return rc;
	}
	return exec1(m, stmt(m, ST_BEGIN));
}

int meta_set_next_ino(struct meta *m, uint64_t next_ino)
{
	m->sb.next_ino = next_ino;
	return super_set_int(m, "next_ino", (int64_t)next_ino);
}

/* --- inodes --- */

static void bind_inode(sqlite3_stmt *s, const struct meta_inode *in)
{
	sqlite3_bind_int64(s, 1, (int64_t)in->ino);
	sqlite3_bind_int64(s, 2, in->mode);
	sqlite3_bind_int64(s, 3, in->uid);
	sqlite3_bind_int64(s, 4, in->gid);
	sqlite3_bind_int64(s, 5, in->nlink);
	sqlite3_bind_int64(s, 6, (int64_t)in->rdev);
	sqlite3_bind_int64(s, 7, (int64_t)in->size);
	sqlite3_bind_int64(s, 8, in->atime_ns);
	sqlite3_bind_int64(s, 9, in->mtime_ns);
	sqlite3_bind_int64(s, 10, in->ctime_ns);
	sqlite3_bind_int64(s, 11, in->btime_ns);
}

int meta_inode_get(struct meta *m, uint64_t ino, struct meta_inode *out)
{
	sqlite3_stmt *s = stmt(m, ST_INODE_GET);
	int rc, found = 0;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->ino = ino;
		out->mode = (uint32_t)sqlite3_column_int64(s, 0);
		out->uid = (uint32_t)sqlite3_column_int64(s, 1);
		out->gid = (uint32_t)sqlite3_column_int64(s, 2);
		out->nlink = (uint32_t)sqlite3_column_int64(s, 3);
		out->rdev = (uint64_t)sqlite3_column_int64(s, 4);
		out->size = (uint64_t)sqlite3_column_int64(s, 5);
		out->atime_ns = sqlite3_column_int64(s, 6);
		out->mtime_ns = sqlite3_column_int64(s, 7);
		out->ctime_ns = sqlite3_column_int64(s, 8);
		out->btime_ns = sqlite3_column_int64(s, 9);
		found = 1;
	}
	rc = done(m, s, rc);
	return rc ? rc : found ? 0 : -ENOENT;
}

int meta_inode_insert(struct meta *m, const struct meta_inode *in,
		      const void *link, size_t linklen)
{
	sqlite3_stmt *s = stmt(m, ST_INODE_INSERT);

	bind_inode(s, in);
	if (link)
		sqlite3_bind_blob(s, 12, link, (int)linklen, SQLITE_STATIC);
	return exec1(m, s);
}

int meta_inode_update(struct meta *m, const struct meta_inode *in)
{
	sqlite3_stmt *s = stmt(m, ST_INODE_UPDATE);

	bind_inode(s, in);
	return exec1(m, s);
}

static int exec_ino(struct meta *m, enum stmt_id id, uint64_t ino)
{
	sqlite3_stmt *s = stmt(m, id);

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	return exec1(m, s);
}

int meta_inode_delete(struct meta *m, uint64_t ino)
{
	int rc = exec_ino(m, ST_INODE_XATTRS_DELETE, ino);

	if (!rc)
		rc = exec_ino(m, ST_INODE_FMAP_DELETE, ino);
	if (!rc)
		rc = exec_ino(m, ST_INODE_DELETE, ino);
	return rc;
}

int meta_link_get(struct meta *m, uint64_t ino, char *buf, size_t size)
{
	sqlite3_stmt *s = stmt(m, ST_LINK_GET);
	int rc, len = -ENOENT;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		len = sqlite3_column_bytes(s, 0);
		if ((size_t)len > size)
			len = (int)size;
		memcpy(buf, sqlite3_column_blob(s, 0), (size_t)len);
	}
	rc = done(m, s, rc);
	return rc ? rc : len;
}

int meta_orphans(struct meta *m, int (*fn)(void *ctx, uint64_t ino),
		 void *ctx)
{
	sqlite3_stmt *s = stmt(m, ST_ORPHANS);
	uint64_t *inos = NULL;
	size_t n = 0, cap = 0;
	int rc;

	/* Collect first: fn deletes rows of the table being scanned. */
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			uint64_t *p;

			cap = cap ? cap * 2 : 16;
			p = realloc(inos, cap * sizeof(*inos));
			if (!p) {
				free(inos);
				sqlite3_reset(s);
				return -ENOMEM;
			}
			inos = p;
		}
		inos[n++] = (uint64_t)sqlite3_column_int64(s, 0);
	}
	rc = done(m, s, rc);
	for (size_t i = 0; !rc && i < n; i++)
		rc = fn(ctx, inos[i]);
	free(inos);
	return rc;
}

int64_t meta_inode_count(struct meta *m)
{
	sqlite3_stmt *s = stmt(m, ST_INODE_COUNT);
	int64_t n = 0;
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	rc = done(m, s, rc);
	return rc ? rc : n;
}

/* --- directory entries --- */

int meta_dentry_lookup(struct meta *m, uint64_t parent, const char *name,
		       uint64_t *ino)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_LOOKUP);
	int rc, found = 0;

	sqlite3_bind_int64(s, 1, (int64_t)parent);
	bind_name(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ino = (uint64_t)sqlite3_column_int64(s, 0);
		found = 1;
	}
	rc = done(m, s, rc);
	return rc ? rc : found ? 0 : -ENOENT;
}

int meta_dentry_insert(struct meta *m, uint64_t parent, const char *name,
		       uint64_t ino)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_INSERT);

	sqlite3_bind_int64(s, 1, (int64_t)parent);
	bind_name(s, 2, name);
	sqlite3_bind_int64(s, 3, (int64_t)ino);
	return exec1(m, s);
}

/* Runs a statement and fails with -ENOENT if it changed no row. */
static int exec_changed(struct meta *m, sqlite3_stmt *s)
{
	int rc = exec1(m, s);

	if (!rc && sqlite3_changes(m->db) == 0)
		rc = -ENOENT;
	return rc;
}

int meta_dentry_delete(struct meta *m, uint64_t parent, const char *name)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_DELETE);

	sqlite3_bind_int64(s, 1, (int64_t)parent);
	bind_name(s, 2, name);
	return exec_changed(m, s);
}

int meta_dentry_move(struct meta *m, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_MOVE);

	sqlite3_bind_int64(s, 1, (int64_t)parent);
	bind_name(s, 2, name);
	sqlite3_bind_int64(s, 3, (int64_t)newparent);
	bind_name(s, 4, newname);
	return exec_changed(m, s);
}

int meta_dentry_set_ino(struct meta *m, uint64_t parent, const char *name,
			uint64_t ino)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_SET_INO);

	sqlite3_bind_int64(s, 1, (int64_t)parent);
	bind_name(s, 2, name);
	sqlite3_bind_int64(s, 3, (int64_t)ino);
	return exec_changed(m, s);
}

int meta_dentry_parent(struct meta *m, uint64_t ino, uint64_t *parent)
{
	sqlite3_stmt *s = stmt(m, ST_DENTRY_PARENT);
	int rc, found = 0;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*parent = (uint64_t)sqlite3_column_int64(s, 0);
		found = 1;
	}
	rc = done(m, s, rc);
	return rc ? rc : found ? 0 : -ENOENT;
}

int meta_dir_is_empty(struct meta *m, uint64_t dir)
{
	sqlite3_stmt *s = stmt(m, ST_DIR_ANY);
	int rc, any;

	sqlite3_bind_int64(s, 1, (int64_t)dir);
	rc = sqlite3_step(s);
	any = rc == SQLITE_ROW;
	rc = done(m, s, rc);
	return rc ? rc : !any;
}

int meta_readdir(struct meta *m, uint64_t dir, uint64_t after,
		 int (*fn)(void *ctx, const struct meta_dirent *de),
		 void *ctx)
{
	sqlite3_stmt *s = stmt(m, ST_READDIR);
	char name[META_NAME_MAX + 1];
	int rc, stop = 0;

	sqlite3_bind_int64(s, 1, (int64_t)dir);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct meta_dirent de;
		int len = sqlite3_column_bytes(s, 2);

		if (len > META_NAME_MAX)
			len = META_NAME_MAX;
		memcpy(name, sqlite3_column_blob(s, 2), (size_t)len);
		name[len] = '\0';
		de.cookie = (uint64_t)sqlite3_column_int64(s, 0);
		de.ino = (uint64_t)sqlite3_column_int64(s, 1);
		de.mode = (uint32_t)sqlite3_column_int64(s, 3);
		de.name = name;
		stop = fn(ctx, &de);
		if (stop)
			break;
	}
	rc = done(m, s, rc);
	return rc ? rc : stop;
}

/* --- extended attributes --- */

int meta_xattr_get(struct meta *m, uint64_t ino, const char *name, void *buf,
		   size_t size)
{
	sqlite3_stmt *s = stmt(m, ST_XATTR_GET);
	int rc, len = -ENODATA;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	bind_name(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		len = sqlite3_column_bytes(s, 0);
		if (size && (size_t)len > size)
			len = -ERANGE;
		else if (size && len > 0)
			memcpy(buf, sqlite3_column_blob(s, 0), (size_t)len);
	}
	rc = done(m, s, rc);
	return rc ? rc : len;
}

int meta_xattr_set(struct meta *m, uint64_t ino, const char *name,
		   const void *value, size_t size, int flags)
{
	sqlite3_stmt *s;
	int rc;

	s = stmt(m, flags & XATTR_CREATE ? ST_XATTR_INSERT : ST_XATTR_UPDATE);
	sqlite3_bind_int64(s, 1, (int64_t)ino);
	bind_name(s, 2, name);
	/* An empty value is stored as a zero-length blob, not NULL. */
	sqlite3_bind_blob(s, 3, size ? value : "", (int)size, SQLITE_STATIC);
	rc = exec1(m, s);
	if (flags & XATTR_CREATE)
		return rc; /* -EEXIST from the primary key */
	if (rc)
		return rc;
	if (sqlite3_changes(m->db) > 0)
		return 0;
	if (flags & XATTR_REPLACE)
		return -ENODATA;
	s = stmt(m, ST_XATTR_INSERT);
	sqlite3_bind_int64(s, 1, (int64_t)ino);
	bind_name(s, 2, name);
	sqlite3_bind_blob(s, 3, size ? value : "", (int)size, SQLITE_STATIC);
	return exec1(m, s);
}

int meta_xattr_remove(struct meta *m, uint64_t ino, const char *name)
{
	sqlite3_stmt *s = stmt(m, ST_XATTR_DELETE);
	int rc;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	bind_name(s, 2, name);
	rc = exec_changed(m, s);
	return rc == -ENOENT ? -ENODATA : rc;
}

int meta_xattr_list(struct meta *m, uint64_t ino, char *buf, size_t size)
{
	sqlite3_stmt *s = stmt(m, ST_XATTR_LIST);
	size_t total = 0;
	int rc, err = 0;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(s, 0);

		if (size && !err) {
			if (total + len + 1 > size) {
				err = -ERANGE;
			} else {
				memcpy(buf + total, sqlite3_column_blob(s, 0),
				       len);
				buf[total + len] = '\0';
			}
		}
		total += len + 1;
	}
	rc = done(m, s, rc);
	if (rc)
		return rc;
	if (err)
		return err;
	return total > INT32_MAX ? -E2BIG : (int)total;
}

int meta_xattr_any(struct meta *m, uint64_t ino)
{
	sqlite3_stmt *s = stmt(m, ST_XATTR_ANY);
	int rc, any;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	rc = sqlite3_step(s);
	any = rc == SQLITE_ROW;
	rc = done(m, s, rc);
	return rc ? rc : any;
}

/* --- file maps and chunks --- */

int meta_fmap_load(struct meta *m, uint64_t ino,
		   int (*fn)(void *ctx, uint64_t cidx, uint64_t chunk),
		   void *ctx)
{
	sqlite3_stmt *s = stmt(m, ST_FMAP_LOAD);
	int rc, stop = 0;

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, (uint64_t)sqlite3_column_int64(s, 0),
			  (uint64_t)sqlite3_column_int64(s, 1));
		if (stop)
			break;
	}
	rc = done(m, s, rc);
	return rc ? rc : stop;
}

int meta_fmap_set(struct meta *m, uint64_t ino, uint64_t cidx, uint64_t chunk)
{
	sqlite3_stmt *s = stmt(m, ST_FMAP_SET);

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	sqlite3_bind_int64(s, 2, (int64_t)cidx);
	sqlite3_bind_int64(s, 3, (int64_t)chunk);
	return exec1(m, s);
}

int meta_fmap_delete(struct meta *m, uint64_t ino, uint64_t cidx)
{
	sqlite3_stmt *s = stmt(m, ST_FMAP_DELETE);

	sqlite3_bind_int64(s, 1, (int64_t)ino);
	sqlite3_bind_int64(s, 2, (int64_t)cidx);
	return exec1(m, s);
}

/*
 * Encodes a chunk map little-endian with trailing holes trimmed, into a
 * buffer the caller frees. Returns the byte length, or -ENOMEM.
 */
static int encode_map(const uint64_t *map, uint32_t n, uint64_t **out)
{
	uint64_t *le;

	while (n && map[n - 1] == 0)
		n--;
	le = malloc(n ? n * sizeof(*le) : 1);
	if (!le)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		le[i] = htole64(map[i]);
	*out = le;
	return (int)(n * sizeof(*le));
}

int meta_chunk_load(struct meta *m, uint64_t id, uint32_t *refs,
		    uint64_t **map, uint32_t *n)
{
	sqlite3_stmt *s = stmt(m, ST_CHUNK_LOAD);
	int rc, err = -ENOENT;

	*map = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, (int64_t)id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int bytes = sqlite3_column_bytes(s, 1);
		const uint64_t *le = sqlite3_column_blob(s, 1);
		uint32_t cnt = (uint32_t)bytes / sizeof(uint64_t);

		*refs = (uint32_t)sqlite3_column_int64(s, 0);
		err = 0;
		if (bytes % sizeof(uint64_t) ||
		    cnt > m->sb.chunk_blocks) {
			log_msg("chunk %llu: map of %d bytes is corrupt",
				(unsigned long long)id, bytes);
			err = -EIO;
		} else {
			*map = calloc(cnt ? cnt : 1, sizeof(uint64_t));
			if (!*map) {
				err = -ENOMEM;
			} else {
				for (uint32_t i = 0; i < cnt; i++) {
					uint64_t v;

					memcpy(&v, le + i, sizeof(v));
					(*map)[i] = le64toh(v);
				}
				*n = cnt;
			}
		}
	}
	rc = done(m, s, rc);
	if (rc || err) {
		free(*map);
		*map = NULL;
		*n = 0;
	}
	return rc ? rc : err;
}

static int chunk_write(struct meta *m, enum stmt_id id_stmt, uint64_t id,
		       uint32_t refs, const uint64_t *map, uint32_t n)
{
	sqlite3_stmt *s = stmt(m, id_stmt);
	uint64_t *le;
	int bytes = encode_map(map, n, &le);
	int rc;

	if (bytes < 0)
		return bytes;
	if (id_stmt == ST_CHUNK_UPDATE) {
		sqlite3_bind_int64(s, 1, (int64_t)id);
		sqlite3_bind_int64(s, 2, refs);
		sqlite3_bind_blob(s, 3, le, bytes, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(s, 1, refs);
		sqlite3_bind_blob(s, 2, le, bytes, SQLITE_STATIC);
	}
	rc = exec1(m, s);
	free(le);
	return rc;
}

int meta_chunk_insert(struct meta *m, uint32_t refs, const uint64_t *map,
		      uint32_t n, uint64_t *id)
{
	int rc = chunk_write(m, ST_CHUNK_INSERT, 0, refs, map, n);

	if (!rc)
		*id = (uint64_t)sqlite3_last_insert_rowid(m->db);
	return rc;
}

int meta_chunk_update(struct meta *m, uint64_t id, uint32_t refs,
		      const uint64_t *map, uint32_t n)
{
	return chunk_write(m, ST_CHUNK_UPDATE, id, refs, map, n);
}

int meta_chunk_delete(struct meta *m, uint64_t id)
{
	return exec_ino(m, ST_CHUNK_DELETE, id);
}

int meta_slot_refs(struct meta *m, int (*fn)(void *ctx, uint64_t slot),
		   void *ctx)
{
	sqlite3_stmt *s = stmt(m, ST_SLOT_REFS);
	int rc, stop = 0;

	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *map = sqlite3_column_blob(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0) / 8;

		/* Whole entries of a damaged map too: never reuse them. */
		for (size_t i = 0; i < n && !stop; i++) {
			uint64_t v;

			memcpy(&v, map + i * sizeof(v), sizeof(v));
			if (v)
				stop = fn(ctx, le64toh(v));
		}
	}
	rc = done(m, s, rc);
	return rc ? rc : stop;
}

int meta_slot_summed(struct meta *m, int (*fn)(void *ctx, uint64_t slot),
		     void *ctx)
{
	sqlite3_stmt *s = stmt(m, ST_SLOT_SUMMED);
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		stop = fn(ctx, (uint64_t)sqlite3_column_int64(s, 0));
		if (stop)
			break;
	}
	rc = done(m, s, rc);
	return rc ? rc : stop;
}

/* Binds the run [@first, @first + @n) as ?1 and ?2 of @s. */
static void bind_run(sqlite3_stmt *s, uint64_t first, uint64_t n)
{
	sqlite3_bind_int64(s, 1, (int64_t)first);
	sqlite3_bind_int64(s, 2, (int64_t)(first + n - 1));
}

int meta_slot_clear_sums(struct meta *m, uint64_t first, uint64_t n)
{
	sqlite3_stmt *s = stmt(m, ST_SLOT_CLEAR_SUMS);

	if (n == 0)
		return 0;
	bind_run(s, first, n);
	return exec1(m, s);
}

int meta_slot_set_sum(struct meta *m, uint64_t slot,
		      const uint8_t sum[META_SUM_SIZE])
{
	sqlite3_stmt *s;

	if (!sum)
		return meta_slot_clear_sums(m, slot, 1);
	s = stmt(m, ST_SLOT_SET_SUM);
	sqlite3_bind_int64(s, 1, (int64_t)slot);
	sqlite3_bind_blob(s, 2, sum, META_SUM_SIZE, SQLITE_STATIC);
	return exec1(m, s);
}

int meta_slot_get_sum(struct meta *m, uint64_t slot,
		      uint8_t sum[META_SUM_SIZE])
{
	sqlite3_stmt *s = stmt(m, ST_SLOT_SUM_GET);
	int rc, found = 0;

	sqlite3_bind_int64(s, 1, (int64_t)slot);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW &&
	    sqlite3_column_bytes(s, 0) == META_SUM_SIZE) {
		memcpy(sum, sqlite3_column_blob(s, 0), META_SUM_SIZE);
		found = 1;
	}
	rc = done(m, s, rc);
	return rc ? rc : found;
}

int meta_slot_sums(struct meta *m, uint64_t from, uint32_t max,
		   uint64_t *slots, uint8_t (*sums)[META_SUM_SIZE])
{
	sqlite3_stmt *s = stmt(m, ST_SLOT_SUMS);
	int rc, n = 0;

	sqlite3_bind_int64(s, 1, (int64_t)from);
	sqlite3_bind_int64(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 1) != META_SUM_SIZE)
			continue; /* a damaged sum: nothing to compare with */
		slots[n] = (uint64_t)sqlite3_column_int64(s, 0);
		memcpy(sums[n], sqlite3_column_blob(s, 1), META_SUM_SIZE);
		n++;
	}
	rc = done(m, s, rc);
	return rc ? rc : n;
}

int meta_slot_owners(struct meta *m, uint64_t slot,
		     int (*fn)(void *ctx, uint64_t ino, uint64_t block),
		     void *ctx, uint32_t chunk_blocks)
{
	sqlite3_stmt *s = stmt(m, ST_CHUNK_ALL);
	struct { uint64_t chunk, idx; } *hit = NULL;
	size_t n = 0, cap = 0;
	int rc, stop = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *map = sqlite3_column_blob(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1) / 8;

		for (size_t i = 0; i < len; i++) {
			uint64_t v;

			memcpy(&v, map + i * 8, 8);
			if (le64toh(v) != slot)
				continue;
			void *p = grow_array(hit, &cap, n, sizeof(*hit));

			if (!p) {
				sqlite3_reset(s);
				free(hit);
				return -ENOMEM;
			}
			hit = p;
			hit[n].chunk = (uint64_t)sqlite3_column_int64(s, 0);
			hit[n++].idx = i;
		}
	}
	rc = done(m, s, rc);
	for (size_t k = 0; !rc && !stop && k < n; k++) {
		s = stmt(m, ST_FMAP_OF_CHUNK);
		sqlite3_bind_int64(s, 1, (int64_t)hit[k].chunk);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW && !stop)
			stop = fn(ctx, (uint64_t)sqlite3_column_int64(s, 0),
				  (uint64_t)sqlite3_column_int64(s, 1) *
					  chunk_blocks + hit[k].idx);
		rc = done(m, s, rc);
	}
	free(hit);
	return rc ? rc : stop;
}

int meta_path(struct meta *m, uint64_t ino, char *buf, size_t size)
{
	size_t len = 0;
	int rc = 0;

	/* Built from the end of @buf toward its start, then moved down. */
	buf[size - 1] = '\0';
	for (int depth = 0; ino != META_ROOT_INO && depth < 4096; depth++) {
		sqlite3_stmt *s = stmt(m, ST_DENTRY_NAME_OF);
		size_t nlen;

		sqlite3_bind_int64(s, 1, (int64_t)ino);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW) {
			rc = done(m, s, rc);
			return rc ? rc : -ENOENT; /* unlinked: no path */
		}
		nlen = (size_t)sqlite3_column_bytes(s, 1);
		if (len + nlen + 2 > size) {
			done(m, s, rc);
			return -ENAMETOOLONG;
		}
		len += nlen + 1;
		memcpy(buf + size - 1 - len + 1, sqlite3_column_blob(s, 1),
		       nlen);
		buf[size - 1 - len] = '/';
		ino = (uint64_t)sqlite3_column_int64(s, 0);
		rc = done(m, s, rc);
		if (rc)
			return rc;
	}
	if (len == 0) {
		snprintf(buf, size, "/");
		return 0;
	}
	memmove(buf, buf + size - 1 - len, len + 1);
	return 0;
}
